// Recommend stage: names for recommended rules. Names come from the rule's content, so the same
// input always gives the same names, and they always satisfy ARM's pattern for access-rule names
// (≤ 80 chars, `^[a-zA-Z0-9]+[a-zA-Z0-9_.-]*[a-zA-Z0-9_]+$`, nsp-reference.md §4.4).

import { createHash } from 'node:crypto';

export const RULE_NAME_PATTERN = /^(?:[a-zA-Z0-9]+[a-zA-Z0-9_.-]*[a-zA-Z0-9_]+|[a-zA-Z0-9])$/;
export const RULE_NAME_MAX = 80;

/** True when ARM accepts the name for an access rule. */
export function isValidRuleName(name: string): boolean {
  return name.length <= RULE_NAME_MAX && RULE_NAME_PATTERN.test(name);
}

/**
 * Makes a valid rule name from a readable stem: characters ARM refuses become `-`, and a stem too
 * long keeps its start plus a short hash of the whole stem, so distinct stems stay distinct.
 */
export function ruleName(stem: string): string {
  let name = stem.replace(/[^a-zA-Z0-9_.-]/g, '-').replace(/^[^a-zA-Z0-9]+/, '');
  if (!/[a-zA-Z0-9_]$/.test(name)) name = `${name}_`;
  if (name.length > RULE_NAME_MAX) {
    const hash = createHash('sha256').update(stem).digest('hex').slice(0, 10);
    name = `${name.slice(0, RULE_NAME_MAX - hash.length - 1)}-${hash}`;
  }
  return name;
}

/** Name stem for an inbound prefix rule: `in-ip-198.51.100.16_31`, `in-ip-2001-db8--1_128`. */
export function prefixRuleName(prefix: string): string {
  return ruleName(`in-ip-${prefix.replace(/:/g, '-').replace('/', '_')}`);
}

/** Name for an inbound subscription rule: `in-sub-<guid>`. */
export function subscriptionRuleName(subscriptionId: string): string {
  return ruleName(`in-sub-${subscriptionId.replace(/^\/subscriptions\//i, '')}`);
}

/** Name for an outbound FQDN rule: `out-fqdn-api.contoso.com`. */
export function fqdnRuleName(fqdn: string): string {
  return ruleName(`out-fqdn-${fqdn.replace(/^\*\./, 'wildcard.')}`);
}

/**
 * Returns `name`, or `name-2`, `name-3`, … the first not in `taken` (existing rules of the profile
 * with other content: a PUT under their name would silently replace them).
 */
export function unusedName(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name.toLowerCase())) return name;
  for (let i = 2; ; i++) {
    const suffix = `-${i}`;
    const candidate = name.length + suffix.length > RULE_NAME_MAX ? `${name.slice(0, RULE_NAME_MAX - suffix.length)}${suffix}` : `${name}${suffix}`;
    if (!taken.has(candidate.toLowerCase())) return candidate;
  }
}
