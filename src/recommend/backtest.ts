// Recommend stage: a held-out backtest. Rules are recommended from the earlier days of the window
// and the last days are replayed against them (simulate), per profile: what would break
// (under-privilege), what the rules admit beyond what was seen (over-breadth), and whether new
// sources are still appearing, with a readiness verdict.

import { DAY_MS, type Flow, type FlowSummary } from '../model/flow-summary.js';
import { lookupCategory } from '../model/category.js';
import type { ExistingRule } from '../model/existing-rules.js';
import { parseLoggedIp, parsePrefix, prefixContains, prefixSize, type IpAddress } from '../model/ip.js';
import { ruleElements } from '../model/rule-set.js';
import { recommend, type RecommendOptions } from './index.js';
import { simulate, type SimulatedDenial } from './simulate.js';

export interface BacktestOptions extends RecommendOptions {
  /** Whole UTC days at the end of the window to hold out. */
  holdoutDays: number;
  existing?: readonly ExistingRule[];
}

export interface BacktestProfile {
  perimeterId: string;
  profile: string;
  /** Elements recommended from the training days. */
  trainedElements: number;
  /** Holdout flows the trained rules would deny because no rule admits them. */
  underPrivilege: { flows: number; hits: number; denied: SimulatedDenial[] };
  /** Holdout flows no rule could admit anyway (private, empty, same-perimeter…). */
  unfixable: { flows: number; hits: number };
  /** Addresses the trained prefixes admit that were never seen in the window. */
  overBreadth: { admittedAddresses: string; observedAddresses: number; unseenAddresses: string };
  /** New blocker sources per day (day → count), over the whole window. */
  newSourcesPerDay: { day: string; newSources: number }[];
  verdict: 'ready' | 'not-yet';
  reasons: string[];
}

export interface BacktestReport {
  window: { start: string; cutoff: string; end: string };
  profiles: BacktestProfile[];
}

const day = (n: number): string => new Date(n * DAY_MS).toISOString().slice(0, 10);

/** Keeps the part of a flow on days in [fromDay, toDay). @returns null when nothing is left */
function sliceFlow(flow: Flow, fromDay: number, toDay: number): Flow | null {
  const dayHits = new Map([...flow.dayHits].filter(([d]) => d >= fromDay && d < toDay));
  if (dayHits.size === 0) return null;
  let first = Infinity;
  let last = -Infinity;
  for (const d of dayHits.keys()) { if (d < first) first = d; if (d > last) last = d; }
  return {
    ...flow,
    dayHits,
    hits: [...dayHits.values()].reduce((a, b) => a + b, 0),
    // Within a day the exact times are unknown after slicing: clamp to the kept days.
    firstSeen: Math.max(flow.firstSeen, first * DAY_MS),
    lastSeen: Math.min(flow.lastSeen, (last + 1) * DAY_MS - 1),
    resources: new Set(flow.resources), matchedRules: new Map(flow.matchedRules),
    sourceIps: new Set(flow.sourceIps), operations: new Set(flow.operations),
  };
}

/** Splits a summary at a UTC day: [start, cutoffDay) and [cutoffDay, end]. */
export function splitSummaryAtDay(summary: FlowSummary, cutoffDay: number): { train: FlowSummary; holdout: FlowSummary } {
  const train: FlowSummary = { flows: new Map() };
  const holdout: FlowSummary = { flows: new Map() };
  for (const [key, flow] of summary.flows) {
    const a = sliceFlow(flow, -Infinity, cutoffDay);
    const b = sliceFlow(flow, cutoffDay, Infinity);
    if (a) train.flows.set(key, a);
    if (b) holdout.flows.set(key, b);
  }
  return { train, holdout };
}

/** Recommends from the training days and replays the holdout days against those rules. */
export function backtest(summary: FlowSummary, options: BacktestOptions): BacktestReport {
  let lastDay = -Infinity;
  let firstDay = Infinity;
  for (const f of summary.flows.values()) for (const d of f.dayHits.keys()) { lastDay = Math.max(lastDay, d); firstDay = Math.min(firstDay, d); }
  if (lastDay === -Infinity) return { window: { start: '', cutoff: '', end: '' }, profiles: [] };
  const dataDaySet = new Set<number>();
  for (const f of summary.flows.values()) for (const d of f.dayHits.keys()) dataDaySet.add(d);
  const dataDays = [...dataDaySet].sort((a, b) => a - b);
  const cutoffDay = lastDay - options.holdoutDays + 1;
  const { train, holdout } = splitSummaryAtDay(summary, cutoffDay);
  const existing = options.existing ?? [];
  const trained = recommend(train, existing, options).ruleSet;
  const trainedRules: ExistingRule[] = trained.profiles.flatMap((p) => p.rules.map((r) => ({
    perimeterId: p.perimeterId, profile: p.profile, name: r.name, direction: r.direction,
    addressPrefixes: 'addressPrefixes' in r ? r.addressPrefixes : [],
    subscriptions: 'subscriptions' in r ? r.subscriptions.map((s) => s.id) : [],
    fullyQualifiedDomainNames: 'fullyQualifiedDomainNames' in r ? r.fullyQualifiedDomainNames : [],
    serviceTags: [],
  })));
  const replay = simulate(holdout, { rules: [...existing, ...trainedRules] });

  // Every profile of the window, trained or not.
  const profileKeys = new Map<string, { perimeterId: string; profile: string; flows: Flow[] }>();
  for (const f of summary.flows.values()) {
    const key = `${f.perimeterId}\u0001${f.profile}`;
    const entry = profileKeys.get(key) ?? { perimeterId: f.perimeterId, profile: f.profile, flows: [] };
    entry.flows.push(f);
    profileKeys.set(key, entry);
  }
  const profiles: BacktestProfile[] = [];
  for (const [, { perimeterId, profile, flows }] of [...profileKeys].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const trainedProfile = trained.profiles.find((p) => p.perimeterId === perimeterId && p.profile === profile);
    const replayed = replay.profiles.find((p) => p.perimeterId === perimeterId && p.profile === profile);
    const denied = replayed?.denied ?? [];
    const fixable = denied.filter((d) => d.reason === 'no-rule');
    const unfixable = denied.filter((d) => d.reason !== 'no-rule');

    // Over-breadth: addresses inside the trained prefixes never seen as blocker sources.
    const blockers = flows.filter((f) => lookupCategory(f.category)!.decision === 'blocker');
    const seen: IpAddress[] = blockers.filter((f) => f.peerKind === 'ip').map((f) => parseLoggedIp(f.peer)).filter((a): a is IpAddress => a !== null);
    let admitted = 0n;
    let observed = 0;
    for (const r of trainedProfile?.rules ?? []) {
      if (!('addressPrefixes' in r)) continue;
      for (const text of r.addressPrefixes) {
        const prefix = parsePrefix(text)!;
        admitted += prefixSize(prefix);
        observed += seen.filter((a) => prefixContains(prefix, a)).length;
      }
    }

    // Discovery: the first day each blocker source appeared.
    const firstDayOf = new Map<string, number>();
    for (const f of blockers) {
      const key = `${f.peerKind}:${f.peer}`;
      let d = Infinity;
      for (const x of f.dayHits.keys()) if (x < d) d = x;
      firstDayOf.set(key, Math.min(firstDayOf.get(key) ?? Infinity, d));
    }
    const newSourcesPerDay: BacktestProfile['newSourcesPerDay'] = [];
    // Days that have data (not every calendar day between a stray early timestamp and today).
    const counts = new Map<number, number>();
    for (const d of firstDayOf.values()) counts.set(d, (counts.get(d) ?? 0) + 1);
    for (const d of dataDays) newSourcesPerDay.push({ day: day(d), newSources: counts.get(d) ?? 0 });
    const lateSources = newSourcesPerDay.filter((x) => x.day >= day(cutoffDay) && x.newSources > 0);

    const reasons: string[] = [];
    if (fixable.length > 0) reasons.push(`${fixable.length} holdout flow${fixable.length === 1 ? '' : 's'} (${fixable.reduce((n, d) => n + d.hits, 0)} hits) would be denied by the trained rules`);
    if (unfixable.length > 0) reasons.push(`${unfixable.length} holdout flow${unfixable.length === 1 ? '' : 's'} no rule can admit would break (see unresolved)`);
    if (lateSources.length > 0) reasons.push(`new sources still appearing: ${lateSources.map((x) => `${x.newSources} on ${x.day}`).join(', ')}`);
    profiles.push({
      perimeterId, profile,
      trainedElements: (trainedProfile?.rules ?? []).reduce((n, r) => n + ruleElements(r).length, 0),
      underPrivilege: { flows: fixable.length, hits: fixable.reduce((n, d) => n + d.hits, 0), denied: fixable },
      unfixable: { flows: unfixable.length, hits: unfixable.reduce((n, d) => n + d.hits, 0) },
      overBreadth: { admittedAddresses: admitted.toString(), observedAddresses: observed, unseenAddresses: (admitted - BigInt(observed)).toString() },
      newSourcesPerDay,
      verdict: reasons.length === 0 ? 'ready' : 'not-yet',
      reasons,
    });
  }
  return { window: { start: day(firstDay), cutoff: day(cutoffDay), end: day(lastDay) }, profiles };
}
