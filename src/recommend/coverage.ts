// Recommend stage: what a set of access rules admits. Used to subtract rules already in place
// (recommend), to replay logs as if Enforced (simulate, backtest) and to find unused rules (diff).

import { canonicalFqdn } from '../model/fqdn.js';
import type { ExistingRule } from '../model/existing-rules.js';
import type { FlowSummary } from '../model/flow-summary.js';
import { parsePrefix, prefixContains, type IpAddress, type IpPrefix } from '../model/ip.js';

/** An FQDN element in the form log FQDNs are compared in: lower case, no trailing dot. */
export function canonicalFqdnElement(element: string): string {
  const e = element.trim().toLowerCase().replace(/\.+$/, '');
  if (e === '*' || e.startsWith('*.')) return e;
  return canonicalFqdn(e) || e;
}

/** True when an outbound FQDN element (exact, `*.suffix` or `*`, as written) admits the name. */
export function fqdnCovers(element: string, fqdn: string): boolean {
  const e = canonicalFqdnElement(element);
  if (e === '*') return true;
  if (e.startsWith('*.')) return fqdn.endsWith(e.slice(1));
  return e === fqdn;
}

/** `/subscriptions/<guid>` of an ARM id, lower case, or '' when the id has none. */
export function subscriptionOf(resourceId: string): string {
  const m = /^\/subscriptions\/([0-9a-f-]{36})(?:\/|$)/i.exec(resourceId);
  return m ? `/subscriptions/${m[1]!.toLowerCase()}` : '';
}

/** The elements of one profile's rules, ready for membership questions. */
export class ProfileCoverage {
  readonly prefixes: { prefix: IpPrefix; rule: string }[] = [];
  readonly subscriptions = new Map<string, string>();
  readonly fqdns: { element: string; rule: string }[] = [];

  constructor(rules: readonly ExistingRule[]) {
    for (const r of rules) {
      if (r.direction === 'Inbound') {
        for (const text of r.addressPrefixes) {
          const prefix = parsePrefix(text);
          if (prefix) this.prefixes.push({ prefix, rule: r.name });
        }
        for (const s of r.subscriptions) if (!this.subscriptions.has(s)) this.subscriptions.set(s, r.name);
      } else {
        for (const f of r.fullyQualifiedDomainNames) this.fqdns.push({ element: f, rule: r.name });
      }
    }
  }

  /** Name of the first rule admitting the address, or undefined. */
  ruleForAddress(address: IpAddress): string | undefined {
    return this.prefixes.find((p) => prefixContains(p.prefix, address))?.rule;
  }

  /** Name of the rule admitting the caller's subscription, or undefined. */
  ruleForSubscription(subscriptionId: string): string | undefined {
    return this.subscriptions.get(subscriptionId);
  }

  /** Name of the first rule admitting the FQDN, or undefined. */
  ruleForFqdn(fqdn: string): string | undefined {
    return this.fqdns.find((f) => fqdnCovers(f.element, fqdn))?.rule;
  }
}

/** Resources seen in each perimeter (any profile, any category): its members. */
export function perimeterMembers(summary: FlowSummary): Map<string, Set<string>> {
  const members = new Map<string, Set<string>>();
  for (const flow of summary.flows.values()) {
    let set = members.get(flow.perimeterId);
    if (!set) { set = new Set(); members.set(flow.perimeterId, set); }
    for (const r of flow.resources) set.add(r);
  }
  return members;
}
