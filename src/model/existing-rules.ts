// Model: access rules already in place on a profile (from `az network perimeter profile
// access-rule list` output or ARM GET responses). The recommender subtracts what they cover
// and counts their elements against the 200 limit.

import type { Direction } from './category.js';

export interface ExistingRule {
  /** Canonical perimeter id (as NspRecord.perimeterId). */
  perimeterId: string;
  /** Profile name, lower case. */
  profile: string;
  name: string;
  direction: Direction;
  addressPrefixes: string[];
  /** Subscription ids in ARM form, lower case: /subscriptions/<guid>. */
  subscriptions: string[];
  fullyQualifiedDomainNames: string[];
  serviceTags: string[];
}

/** Elements a rule holds, all types together (what counts against the 200 limit). */
export function existingElementCount(rule: ExistingRule): number {
  return rule.addressPrefixes.length + rule.subscriptions.length + rule.fullyQualifiedDomainNames.length + rule.serviceTags.length;
}
