// Model: the recommender's output, the rules review document of architecture.md. Property names
// inside a rule are the ARM access-rule property names (nsp-reference.md §4.2).

import type { Direction } from './category.js';

export interface RuleEvidence {
  hits: number;
  firstSeen: string;
  lastSeen: string;
  daysSeen: number;
  /** Distinct peers (addresses, resources or FQDNs) behind the rule. */
  sources: number;
  resources: string[];
  /** Lossy prefixes only: observed addresses, addresses admitted and observed/admitted. */
  observedAddresses?: number;
  admittedAddresses?: string;
  ratio?: number;
}

interface RuleBase {
  name: string;
  direction: Direction;
  evidence: RuleEvidence;
  /**
   * Set when the rule is a rule in place extended with new elements (--extend-existing): it holds
   * the full merged content and its evidence covers the new elements only.
   */
  extendsExisting?: boolean;
}
export interface AddressRule extends RuleBase { direction: 'Inbound'; addressPrefixes: string[] }
export interface SubscriptionRule extends RuleBase { direction: 'Inbound'; subscriptions: { id: string }[] }
export interface FqdnRule extends RuleBase { direction: 'Outbound'; fullyQualifiedDomainNames: string[] }
export type RecommendedRule = AddressRule | SubscriptionRule | FqdnRule;

export type UnresolvedReason =
  | 'empty-source-ip'        // no IP and no resource: service endpoint traffic, which IP rules cannot admit
  | 'private-address'        // RFC 1918 / ULA: private traffic never reaches NSP through public rules
  | 'reserved-address'       // loopback, link-local, documentation-free special ranges
  | 'same-perimeter-caller'  // a member of the same perimeter: use managed identity, not a rule
  | 'empty-destination';     // outbound with no FQDN

export interface UnresolvedSource {
  direction: Direction;
  /** Inbound: caller IP or resource id ('' when empty). */
  source?: string;
  /** Outbound: destination resource id or ''. */
  destination?: string;
  reason: UnresolvedReason;
  hits: number;
  resources: string[];
}

/** A blocker held back by a noise gate (--min-hits / --min-days), with its evidence. */
export interface ReviewItem {
  direction: Direction;
  peer: string;
  reason: 'below-min-hits' | 'below-min-days';
  evidence: RuleEvidence;
}

export interface ProfileRules {
  perimeterId: string;
  profile: string;
  resources: string[];
  rules: RecommendedRule[];
  unresolved: UnresolvedSource[];
  review?: ReviewItem[];
}

export interface RuleSet {
  version: 1;
  window: { start: string; end: string } | null;
  profiles: ProfileRules[];
}

/** Number of elements a rule holds (prefixes, subscriptions or FQDNs). */
export function ruleElements(rule: RecommendedRule): string[] {
  if ('addressPrefixes' in rule) return rule.addressPrefixes;
  if ('subscriptions' in rule) return rule.subscriptions.map((s) => s.id);
  return rule.fullyQualifiedDomainNames;
}

/** Azure's hard limit of rule elements per profile per direction (nsp-reference.md §5). */
export const MAX_ELEMENTS_PER_DIRECTION = 200;
