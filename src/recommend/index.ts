// Recommend stage entry point: (FlowSummary, existing rules, options) → RuleSet, a pure function.
// Blockers (…ResourceRulesAllowed flows) become rules: a subscription rule for Azure callers, the
// caller's IP otherwise (merged losslessly, or covered optimally when over the budget), the exact
// FQDN outbound. What no rule can fix goes to `unresolved`; what the noise gates hold back to `review`.

import { NspError } from '../errors.js';
import { lookupCategory } from '../model/category.js';
import type { ExistingRule } from '../model/existing-rules.js';
import { existingElementCount } from '../model/existing-rules.js';
import type { Flow, FlowSummary } from '../model/flow-summary.js';
import { classifyAddress, formatPrefix, parseLoggedIp, prefixContains, type IpAddress } from '../model/ip.js';
import {
  MAX_ELEMENTS_PER_DIRECTION, type ProfileRules, type RecommendedRule, type ReviewItem, type RuleEvidence, type RuleSet,
  type UnresolvedReason, type UnresolvedSource,
} from '../model/rule-set.js';
import { ProfileCoverage, canonicalFqdnElement, perimeterMembers, subscriptionOf } from './coverage.js';
import { EvidenceBuilder, isoTime } from './evidence.js';
import { planAddressPrefixes, type AddressPlan } from './address-plan.js';
import { fqdnRuleName, prefixRuleName, subscriptionRuleName, unusedName } from './rule-names.js';
import { byCodeUnit } from '../model/text.js';

export interface RecommendOptions {
  /** Elements per profile per direction, existing ones included (Azure's hard limit is 200). */
  maxElements?: number;
  /** Shortest IPv4 prefix a lossy cover may use (default 24). */
  minPrefixV4?: number;
  /** Shortest IPv6 prefix a lossy cover may use (default 64). */
  minPrefixV6?: number;
  /** Blockers with fewer hits go to the profile's review list instead of rules. */
  minHits?: number;
  /** Blockers seen on fewer distinct days go to the review list. */
  minDays?: number;
  /**
   * Add new elements to the first rule in place of the same type (emitted with its full content)
   * instead of creating rules of their own.
   */
  extendExisting?: boolean;
}

/** What the stderr summary shows per profile besides the rules themselves. */
export interface ProfileNotes {
  perimeterId: string;
  profile: string;
  blockerFlows: number;
  blockerHits: number;
  existingInbound: number;
  existingOutbound: number;
  /** Elements added (in rules of their own, or into rules in place with --extend-existing). */
  newInbound: number;
  newOutbound: number;
  address: AddressPlan | null;
}

export interface Recommendation {
  ruleSet: RuleSet;
  notes: ProfileNotes[];
}


interface ProfileGroup {
  perimeterId: string;
  profile: string;
  flows: Flow[];
}

function groupByProfile(summary: FlowSummary): ProfileGroup[] {
  // Keyed by perimeter, then profile: no key string made per flow (a large summary has many).
  const groups = new Map<string, Map<string, ProfileGroup>>();
  for (const flow of summary.flows.values()) {
    let byProfile = groups.get(flow.perimeterId);
    if (!byProfile) { byProfile = new Map(); groups.set(flow.perimeterId, byProfile); }
    let g = byProfile.get(flow.profile);
    if (!g) { g = { perimeterId: flow.perimeterId, profile: flow.profile, flows: [] }; byProfile.set(flow.profile, g); }
    g.flows.push(flow);
  }
  return [...groups.values()].flatMap((p) => [...p.values()])
    .map((g) => ({ key: `${g.perimeterId}\u0001${g.profile}`, g })).sort((a, b) => byCodeUnit(a.key, b.key)).map(({ g }) => g);
}

/**
 * Recommends the rules to add per profile.
 * @throws NspError over-limit when a profile cannot fit its blockers under the element limit
 */
export function recommend(summary: FlowSummary, existing: readonly ExistingRule[] = [], options: RecommendOptions = {}): Recommendation {
  const maxElements = options.maxElements ?? MAX_ELEMENTS_PER_DIRECTION;
  const members = perimeterMembers(summary);
  const profiles: ProfileRules[] = [];
  const notes: ProfileNotes[] = [];
  let windowStart = Infinity;
  let windowEnd = -Infinity;

  for (const group of groupByProfile(summary)) {
    const existingHere = existing.filter((r) => r.perimeterId === group.perimeterId && r.profile === group.profile);
    const inPlace = new ProfileCoverage(existingHere);
    const existingInbound = existingHere.filter((r) => r.direction === 'Inbound').reduce((n, r) => n + existingElementCount(r), 0);
    const existingOutbound = existingHere.filter((r) => r.direction === 'Outbound').reduce((n, r) => n + existingElementCount(r), 0);
    const perimeterResources = members.get(group.perimeterId) ?? new Set<string>();

    const resources = new Set<string>();
    const addresses = new Map<string, { address: IpAddress; evidence: EvidenceBuilder }>();
    const subscriptions = new Map<string, EvidenceBuilder>();
    const fqdns = new Map<string, EvidenceBuilder>();
    const unresolved = new Map<string, { entry: UnresolvedSource; resources: Set<string> }>();
    let blockerFlows = 0;
    let blockerHits = 0;

    const addUnresolved = (flow: Flow, reason: UnresolvedReason, value: string): void => {
      const inbound = lookupCategory(flow.category)!.direction === 'Inbound';
      const key = `${inbound ? 'I' : 'O'}\u0001${reason}\u0001${value}`;
      let u = unresolved.get(key);
      if (!u) {
        const entry: UnresolvedSource = inbound
          ? { direction: 'Inbound', source: value, reason, hits: 0, resources: [] }
          : { direction: 'Outbound', destination: value, reason, hits: 0, resources: [] };
        u = { entry, resources: new Set() };
        unresolved.set(key, u);
      }
      u.entry.hits += flow.hits;
      for (const r of flow.resources) u.resources.add(r);
    };
    const evidenceFor = <K>(map: Map<K, EvidenceBuilder>, key: K): EvidenceBuilder => {
      let e = map.get(key);
      if (!e) { e = new EvidenceBuilder(); map.set(key, e); }
      return e;
    };

    for (const flow of group.flows) {
      for (const r of flow.resources) resources.add(r);
      windowStart = Math.min(windowStart, flow.firstSeen);
      windowEnd = Math.max(windowEnd, flow.lastSeen);
      const category = lookupCategory(flow.category);
      if (!category || category.decision !== 'blocker') continue;
      blockerFlows++;
      blockerHits += flow.hits;
      if (category.direction === 'Outbound') {
        if (flow.peerKind !== 'fqdn') { addUnresolved(flow, 'empty-destination', flow.peer); continue; }
        if (inPlace.ruleForFqdn(flow.peer) !== undefined) continue;
        evidenceFor(fqdns, flow.peer).add(flow, flow.peer);
        continue;
      }
      if (flow.peerKind === 'resource') {
        // Already admitted by IP rules in place for every address it called from: nothing to add.
        const ips = [...flow.sourceIps].map((ip) => parseLoggedIp(ip));
        if (ips.length > 0 && ips.every((ip) => ip !== null && inPlace.ruleForAddress(ip) !== undefined)) continue;
        // A member of the same perimeter is let in by the perimeter itself once it calls with a
        // managed identity; a rule would be the wrong fix (nsp-reference.md §9).
        if (perimeterResources.has(flow.peer)) { addUnresolved(flow, 'same-perimeter-caller', flow.peer); continue; }
        const subscription = subscriptionOf(flow.peer);
        if (subscription !== '') {
          if (inPlace.ruleForSubscription(subscription) === undefined) evidenceFor(subscriptions, subscription).add(flow, flow.peer);
          continue;
        }
        addUnresolved(flow, 'empty-source-ip', flow.peer);
        continue;
      }
      if (flow.peerKind !== 'ip') { addUnresolved(flow, 'empty-source-ip', ''); continue; }
      const address = parseLoggedIp(flow.peer);
      if (!address) { addUnresolved(flow, 'reserved-address', flow.peer); continue; }
      const cls = classifyAddress(address);
      if (cls !== 'public') { addUnresolved(flow, cls === 'private' ? 'private-address' : 'reserved-address', flow.peer); continue; }
      if (inPlace.ruleForAddress(address) !== undefined) continue;
      let a = addresses.get(flow.peer);
      if (!a) { a = { address, evidence: new EvidenceBuilder() }; addresses.set(flow.peer, a); }
      a.evidence.add(flow, flow.peer);
    }

    // Noise gates: rare blockers are held for review, never dropped and never made rules.
    const review: ReviewItem[] = [];
    const gate = (direction: 'Inbound' | 'Outbound', peer: string, e: EvidenceBuilder): boolean => {
      let reason: ReviewItem['reason'] | null = null;
      if (options.minHits !== undefined && e.hits < options.minHits) reason = 'below-min-hits';
      else if (options.minDays !== undefined && e.days.size < options.minDays) reason = 'below-min-days';
      if (reason) review.push({ direction, peer, reason, evidence: e.build() });
      return reason === null;
    };
    for (const [peer, a] of [...addresses]) if (!gate('Inbound', peer, a.evidence)) addresses.delete(peer);
    for (const [sub, e] of [...subscriptions]) if (!gate('Inbound', sub, e)) subscriptions.delete(sub);
    for (const [fqdn, e] of [...fqdns]) if (!gate('Outbound', fqdn, e)) fqdns.delete(fqdn);

    const where = `profile "${group.profile}" of perimeter "${group.perimeterId}"`;
    if (existingOutbound + fqdns.size > maxElements) {
      throw new NspError('over-limit', `Cannot fit outbound rules for ${where}: ${fqdns.size} new FQDNs + ${existingOutbound} existing elements exceed the limit of ${maxElements}`, {
        hint: 'Split the profile (move resources with other destinations to a profile of their own), remove unused outbound rules, or hold rare destinations back with --min-hits/--min-days',
      });
    }
    const addressBudget = maxElements - existingInbound - subscriptions.size;
    const plan = planAddressPrefixes([...addresses.values()].map((a) => a.address), {
      budget: addressBudget,
      minPrefixV4: options.minPrefixV4 ?? 24,
      minPrefixV6: options.minPrefixV6 ?? 64,
      where,
      otherElements: existingInbound + subscriptions.size,
      maxElements,
    });

    const taken = new Set(existingHere.map((r) => r.name.toLowerCase()));
    const name = (n: string): string => { const u = unusedName(n, taken); taken.add(u.toLowerCase()); return u; };
    // One element per rule, so each can be reviewed and removed on its own; with --extend-existing
    // the new elements join the first rule in place of the same type, emitted with its full content
    // (a PUT replaces a rule whole, nsp-reference.md §7.4).
    const prefixElements = plan.prefixes.map((prefix) => {
      const e = new EvidenceBuilder();
      let observed = 0;
      for (const a of addresses.values()) if (prefixContains(prefix, a.address)) { e.addAll(a.evidence); observed++; }
      const size = 1n << BigInt((prefix.version === 4 ? 32 : 128) - prefix.length);
      const lossy = BigInt(observed) !== size
        ? { observedAddresses: observed, admittedAddresses: size.toString(), ratio: Number((observed / Number(size)).toPrecision(6)) }
        : null;
      return { element: formatPrefix(prefix), evidence: e, lossy };
    });
    const subscriptionElements = [...subscriptions].sort((a, b) => byCodeUnit(a[0], b[0])).map(([element, evidence]) => ({ element, evidence, lossy: null }));
    const fqdnElements = [...fqdns].sort((a, b) => byCodeUnit(a[0], b[0])).map(([element, evidence]) => ({ element, evidence, lossy: null }));
    type Element = (typeof prefixElements)[number];
    const rules: RecommendedRule[] = [];
    const emit = (kind: 'addressPrefixes' | 'subscriptions' | 'fullyQualifiedDomainNames', elements: Element[], ruleNameOf: (element: string) => string): void => {
      const direction = kind === 'fullyQualifiedDomainNames' ? 'Outbound' : 'Inbound';
      const target = options.extendExisting
        ? existingHere.filter((r) => r.direction === direction && (kind === 'addressPrefixes' ? r.addressPrefixes : kind === 'subscriptions' ? r.subscriptions : r.fullyQualifiedDomainNames).length > 0)
          .sort((a, b) => byCodeUnit(a.name, b.name))[0]
        : undefined;
      const make = (name: string, values: string[], evidence: RuleEvidence): RecommendedRule => kind === 'addressPrefixes'
        ? { name, direction: 'Inbound', addressPrefixes: values, evidence }
        : kind === 'subscriptions'
          ? { name, direction: 'Inbound', subscriptions: values.map((id) => ({ id })), evidence }
          : { name, direction: 'Outbound', fullyQualifiedDomainNames: values, evidence };
      if (target && elements.length > 0) {
        const inPlace = kind === 'addressPrefixes' ? target.addressPrefixes : kind === 'subscriptions' ? target.subscriptions : target.fullyQualifiedDomainNames;
        const merged = new EvidenceBuilder();
        for (const e of elements) merged.addAll(e.evidence);
        // The elements in place stay exactly as written; only new ones are added.
        const same = (element: string): string => (kind === 'fullyQualifiedDomainNames' ? canonicalFqdnElement(element) : kind === 'subscriptions' ? element.toLowerCase() : element);
        const present = new Set(inPlace.map(same));
        const rule = make(target.name, [...inPlace, ...elements.map((e) => e.element).filter((e) => !present.has(same(e)))], merged.build());
        rule.extendsExisting = true;
        rules.push(rule);
        return;
      }
      for (const e of elements) rules.push(make(name(ruleNameOf(e.element)), [e.element], { ...e.evidence.build(), ...e.lossy }));
    };
    emit('addressPrefixes', prefixElements, prefixRuleName);
    emit('subscriptions', subscriptionElements, subscriptionRuleName);
    emit('fullyQualifiedDomainNames', fqdnElements, fqdnRuleName);

    const unresolvedList = [...unresolved.entries()].sort((a, b) => byCodeUnit(a[0], b[0]))
      .map(([, u]) => ({ ...u.entry, resources: [...u.resources].sort(byCodeUnit) }));
    review.sort((a, b) => byCodeUnit(`${a.direction}\u0001${a.peer}`, `${b.direction}\u0001${b.peer}`));
    const profile: ProfileRules = {
      perimeterId: group.perimeterId,
      profile: group.profile,
      resources: [...resources].sort(byCodeUnit),
      rules,
      unresolved: unresolvedList,
    };
    if (options.minHits !== undefined || options.minDays !== undefined) profile.review = review;
    profiles.push(profile);
    notes.push({
      perimeterId: group.perimeterId, profile: group.profile, blockerFlows, blockerHits, existingInbound, existingOutbound,
      newInbound: prefixElements.length + subscriptionElements.length, newOutbound: fqdnElements.length, address: addresses.size ? plan : null,
    });
  }

  return {
    ruleSet: {
      version: 1,
      window: windowStart === Infinity ? null : { start: isoTime(windowStart), end: isoTime(windowEnd) },
      profiles,
    },
    notes,
  };
}
