// Recommend stage, drift: the estate against the rules in place (the baseline), for a scheduled
// job. Per profile: flows the perimeter now denies (ranked by how legitimate they look, each with
// the rule that would admit it), blockers the baseline does not cover, rules and elements unused
// in the window; plus the history comparison (history.ts) and the --fail-on verdict. Pure.

import { NspError } from '../errors.js';
import { lookupCategory, type DecisionClass, type Direction } from '../model/category.js';
import type { ExistingRule } from '../model/existing-rules.js';
import type { Flow, FlowSummary } from '../model/flow-summary.js';
import { classifyAddress, formatPrefix, parseLoggedIp, prefixMask, type IpAddress } from '../model/ip.js';
import type { PeerKind } from '../model/record.js';
import type { RecommendedRule, UnresolvedReason } from '../model/rule-set.js';
import { summaryWindow } from '../analyze/aggregate.js';
import { ProfileCoverage, perimeterMembers, subscriptionOf } from './coverage.js';
import { diffRules, type UnusedElement } from './diff.js';
import { EvidenceBuilder, isoTime } from './evidence.js';
import { sourceKey, sourcesOf, type DriftHistory } from './history.js';
import { fqdnRuleName, prefixRuleName, subscriptionRuleName, unusedName } from './rule-names.js';
import { judgeFlow } from './simulate.js';
import { byCodeUnit, shortName } from '../model/text.js';

/** Conditions `--fail-on` can name; `none` (never fail) is spelled only on the command line. */
export const FAIL_CONDITIONS = ['new-blockers', 'denied-legitimate', 'unused-rules', 'new-sources'] as const;
export type FailCondition = (typeof FAIL_CONDITIONS)[number];
export const DEFAULT_FAIL_ON: readonly FailCondition[] = ['new-blockers', 'denied-legitimate'];

/**
 * Reads `--fail-on` values (repeatable, comma-separated). `none` alone means never fail.
 * @throws NspError usage for an unknown condition, or `none` mixed with others
 */
export function parseFailOn(values: readonly string[]): FailCondition[] {
  const names = values.flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase()).filter((v) => v !== '');
  if (names.includes('none')) {
    if (names.some((n) => n !== 'none')) throw new NspError('usage', `Cannot combine --fail-on none with other conditions: ${names.join(',')}`);
    return [];
  }
  const result: FailCondition[] = [];
  for (const name of names) {
    if (!(FAIL_CONDITIONS as readonly string[]).includes(name)) {
      throw new NspError('usage', `Cannot read --fail-on "${name}": choose from ${[...FAIL_CONDITIONS, 'none'].join(', ')}`);
    }
    if (!result.includes(name as FailCondition)) result.push(name as FailCondition);
  }
  // Order of the table, not of the command line, so the report does not depend on flag order.
  return FAIL_CONDITIONS.filter((c) => result.includes(c));
}

/**
 * How a profile's associations run, judged from log categories alone (logs do not carry the
 * access mode; nsp-reference.md §6):
 * - `enforced`: `…PerimeterRulesDenied` appears (logged only in Enforced), and no Transition-only
 *   `…ResourceRules…` category; or neither appears (evidence `none`): nothing falls back to the
 *   resource's own rules, so enforcing would change nothing either way.
 * - `learning`: Transition-only `NspPublic…ResourceRules…` categories appear, and no perimeter denial.
 * - `mixed`: both: some associations Enforced and others not, or switched during the window.
 * Findings come from the categories themselves, so every profile gets both analyses: perimeter
 * denials exist only where something is Enforced, blockers only where something is learning.
 */
export type ProfileMode = 'enforced' | 'learning' | 'mixed';
export type ModeEvidence = 'perimeter-denied' | 'resource-rules' | 'both' | 'none';

/** Categories only an Enforced association logs: the perimeter denied public traffic. */
export const PERIMETER_DENIED_CATEGORIES: ReadonlySet<string> = new Set(['NspPublicInboundPerimeterRulesDenied', 'NspPublicOutboundPerimeterRulesDenied']);
/** Categories only a Transition (Learning) association logs: the resource's own rules decided. */
export const TRANSITION_ONLY_CATEGORIES: ReadonlySet<string> = new Set([
  'NspPublicInboundResourceRulesAllowed', 'NspPublicOutboundResourceRulesAllowed',
  'NspPublicInboundResourceRulesDenied', 'NspPublicOutboundResourceRulesDenied',
]);

/** Decides a profile's mode from its flows' categories (see ProfileMode). */
export function detectProfileMode(flows: Iterable<Flow>): { mode: ProfileMode; evidence: ModeEvidence } {
  let denied = false;
  let transition = false;
  for (const f of flows) {
    if (PERIMETER_DENIED_CATEGORIES.has(f.category)) denied = true;
    if (TRANSITION_ONLY_CATEGORIES.has(f.category)) transition = true;
  }
  if (denied && transition) return { mode: 'mixed', evidence: 'both' };
  if (denied) return { mode: 'enforced', evidence: 'perimeter-denied' };
  if (transition) return { mode: 'learning', evidence: 'resource-rules' };
  return { mode: 'enforced', evidence: 'none' };
}

/**
 * "Legitimate-looking" thresholds. A denied flow looks legitimate when ANY of these holds:
 * - seen before: the same source (profile, direction, peer) had allowed (covered) or blocker
 *   flows in the previous run's snapshot or elsewhere in this window: it used to work;
 * - neighbour: another source of the same profile and direction that works (covered or blocker,
 *   now or in the previous run) shares its IPv4 /24, IPv6 /64, caller subscription, or parent
 *   domain (FQDN minus its first label, at least two labels left);
 * - recurring: seen on at least `minDays` distinct UTC days;
 * - busy: at least `minHits` hits.
 */
export interface LegitimacyThresholds {
  minDays: number;
  minHits: number;
}
export const DEFAULT_LEGITIMACY: LegitimacyThresholds = { minDays: 2, minHits: 10 };

export interface LegitimacySignals {
  /** How the same source worked before: 'allowed' (an NSP rule admitted it) or 'blocker'. */
  seenBefore: 'allowed' | 'blocker' | null;
  /** A working source sharing its /24, /64, subscription or parent domain. */
  neighbour: string | null;
  recurring: boolean;
  busy: boolean;
}

/** What would make a finding work: a rule in the baseline already does, a rule to add, or nothing can. */
export type DriftFix =
  | { kind: 'baseline-admits'; rule: string }
  | { kind: 'add-rule'; rule: RecommendedRule }
  | { kind: 'unresolved'; reason: UnresolvedReason };

interface FlowFacts {
  direction: Direction;
  category: string;
  peerKind: PeerKind;
  peer: string;
  hits: number;
  daysSeen: number;
  firstSeen: string;
  lastSeen: string;
  resources: string[];
  operations: string[];
}

/** A flow the perimeter denied (an Enforced association), with why it may be legitimate. */
export interface DeniedFinding extends FlowFacts {
  legitimate: boolean;
  signals: LegitimacySignals;
  fix: DriftFix;
}

/** A blocker (works today only through the resource's own rules) the baseline does not admit. */
export interface UncoveredBlocker extends FlowFacts {
  fix: Exclude<DriftFix, { kind: 'baseline-admits' }>;
}

export interface DriftProfile {
  perimeterId: string;
  profile: string;
  mode: ProfileMode;
  modeEvidence: ModeEvidence;
  resources: string[];
  hits: Record<DecisionClass, number>;
  /** Perimeter denials, most legitimate-looking first. */
  denied: DeniedFinding[];
  /** Blockers the baseline does not admit, busiest first. */
  uncoveredBlockers: UncoveredBlocker[];
  /** Blockers a baseline rule admits (fine once enforced). */
  blockersCoveredByBaseline: number;
  /** Baseline rules that admitted nothing in the window (diffRules). */
  unusedRules: string[];
  unusedElements: UnusedElement[];
}

export interface DriftReport {
  version: 1;
  window: { start: string; end: string } | null;
  legitimacy: LegitimacyThresholds;
  /** Rules and profiles in the baseline. */
  baseline: { rules: number; profiles: number };
  profiles: DriftProfile[];
  /** Baseline profiles with no flow in the logs: not judged (their rules are not called unused). */
  baselineProfilesWithoutLogs: { perimeterId: string; profile: string; rules: number }[];
  history: DriftHistory | null;
  /** Findings per condition, whether or not --fail-on names it. */
  conditions: Record<FailCondition, number>;
  failOn: FailCondition[];
  /** Conditions named by --fail-on that hold: the run exits 1 when this is not empty. */
  failed: FailCondition[];
}

export interface DriftOptions {
  /** Rules in place (review document or az/ARM listing, via readRuleFiles). */
  baseline: readonly ExistingRule[];
  /** The previous run's flows (history), for "seen before" and neighbours. */
  previous?: FlowSummary | null;
  /** The history comparison (compareWithHistory), included as is. */
  history?: DriftHistory | null;
  legitimacy?: Partial<LegitimacyThresholds>;
  failOn?: readonly FailCondition[];
}

const profileKeyOf = (perimeterId: string, profile: string): string => `${perimeterId}\u0001${profile}`;

/** Neighbourhood key of a peer: IPv4 /24, IPv6 /64, caller subscription, parent domain; '' if none. */
export function neighbourhood(peerKind: PeerKind, peer: string): string {
  if (peerKind === 'ip') {
    const a = parseLoggedIp(peer);
    if (!a) return '';
    const length = a.version === 4 ? 24 : 64;
    return `ip:${formatPrefix({ version: a.version, base: a.value & prefixMask(a.version, length), length })}`;
  }
  if (peerKind === 'resource') {
    const sub = subscriptionOf(peer);
    return sub === '' ? '' : `sub:${sub}`;
  }
  if (peerKind === 'fqdn') {
    const labels = peer.split('.');
    return labels.length >= 3 ? `dns:${labels.slice(1).join('.')}` : '';
  }
  return '';
}

/** Working sources (covered or blocker) of a summary: sourceKey → best class, and neighbourhoods. */
function workingSources(summaries: readonly FlowSummary[]): { classes: Map<string, 'allowed' | 'blocker'>; near: Map<string, string[]> } {
  const classes = new Map<string, 'allowed' | 'blocker'>();
  const near = new Map<string, string[]>();
  for (const summary of summaries) {
    for (const [key, s] of sourcesOf(summary)) {
      const cls = s.decisions.includes('covered') ? 'allowed' : s.decisions.includes('blocker') ? 'blocker' : null;
      if (!cls) continue;
      if (classes.get(key) !== 'allowed') classes.set(key, cls);
      const hood = neighbourhood(s.peerKind, s.peer);
      if (hood === '') continue;
      const nearKey = `${profileKeyOf(s.perimeterId, s.profile)}\u0001${s.direction}\u0001${hood}`;
      const list = near.get(nearKey) ?? [];
      if (!list.includes(s.peer)) list.push(s.peer);
      near.set(nearKey, list);
    }
  }
  return { classes, near };
}

function facts(flow: Flow, direction: Direction): FlowFacts {
  return {
    direction, category: flow.category, peerKind: flow.peerKind, peer: flow.peer, hits: flow.hits,
    daysSeen: flow.dayHits.size, firstSeen: isoTime(flow.firstSeen), lastSeen: isoTime(flow.lastSeen),
    resources: [...flow.resources].sort(byCodeUnit), operations: [...flow.operations].sort(byCodeUnit),
  };
}

/** Suggests the rule that would admit one flow, with the element recommend() would use. */
class RuleSuggester {
  readonly #taken: Set<string>;
  readonly #names = new Map<string, string>();

  constructor(baselineNames: readonly string[]) {
    this.#taken = new Set(baselineNames.map((n) => n.toLowerCase()));
  }

  #name(stem: string, element: string): string {
    let name = this.#names.get(element);
    if (name === undefined) {
      name = unusedName(stem, this.#taken);
      this.#taken.add(name.toLowerCase());
      this.#names.set(element, name);
    }
    return name;
  }

  /**
   * The rule for a flow no baseline rule admits (judgeFlow said 'no-rule'): the exact FQDN, the
   * caller's subscription, or the address as a /32 (/128). Drift names single sources, so it never
   * merges them into wider prefixes: a reviewer decides that with `recommend`.
   */
  suggest(flow: Flow, direction: Direction): Exclude<DriftFix, { kind: 'baseline-admits' }> {
    const evidence = new EvidenceBuilder().add(flow, flow.peer).build();
    if (direction === 'Outbound') {
      if (flow.peerKind !== 'fqdn') return { kind: 'unresolved', reason: 'empty-destination' };
      return { kind: 'add-rule', rule: { name: this.#name(fqdnRuleName(flow.peer), `fqdn:${flow.peer}`), direction, fullyQualifiedDomainNames: [flow.peer], evidence } };
    }
    if (flow.peerKind === 'resource') {
      const sub = subscriptionOf(flow.peer);
      if (sub !== '') return { kind: 'add-rule', rule: { name: this.#name(subscriptionRuleName(sub), `sub:${sub}`), direction, subscriptions: [{ id: sub }], evidence } };
      // An Azure caller without a subscription in its id: its public source addresses, if any.
      const addresses = [...flow.sourceIps].sort(byCodeUnit).map((ip) => parseLoggedIp(ip)).filter((a): a is IpAddress => a !== null && classifyAddress(a) === 'public');
      if (addresses.length === 0) return { kind: 'unresolved', reason: 'empty-source-ip' };
      const prefixes = addresses.map((a) => formatPrefix({ version: a.version, base: a.value, length: a.version === 4 ? 32 : 128 }));
      return { kind: 'add-rule', rule: { name: this.#name(prefixRuleName(prefixes[0]!), `ip:${prefixes.join(',')}`), direction, addressPrefixes: prefixes, evidence } };
    }
    if (flow.peerKind !== 'ip') return { kind: 'unresolved', reason: 'empty-source-ip' };
    const address = parseLoggedIp(flow.peer);
    if (!address) return { kind: 'unresolved', reason: 'reserved-address' };
    const cls = classifyAddress(address);
    if (cls !== 'public') return { kind: 'unresolved', reason: cls === 'private' ? 'private-address' : 'reserved-address' };
    const prefix = formatPrefix({ version: address.version, base: address.value, length: address.version === 4 ? 32 : 128 });
    return { kind: 'add-rule', rule: { name: this.#name(prefixRuleName(prefix), `ip:${prefix}`), direction, addressPrefixes: [prefix], evidence } };
  }
}

/** The fix for a flow under the baseline: judged like simulate does, then suggested. */
function fixFor(flow: Flow, direction: Direction, coverage: ProfileCoverage, members: ReadonlySet<string>, suggester: RuleSuggester): DriftFix {
  const verdict = judgeFlow(flow, coverage, members);
  if (verdict.allowed) return { kind: 'baseline-admits', rule: verdict.rule };
  if (verdict.reason !== 'no-rule') return { kind: 'unresolved', reason: verdict.reason };
  return suggester.suggest(flow, direction);
}

/** Orders denied findings: legitimate first, then the strength of each signal, then volume. */
function compareDenied(a: DeniedFinding, b: DeniedFinding): number {
  const rankSeen = (s: LegitimacySignals['seenBefore']): number => (s === 'allowed' ? 2 : s === 'blocker' ? 1 : 0);
  return Number(b.legitimate) - Number(a.legitimate)
    || rankSeen(b.signals.seenBefore) - rankSeen(a.signals.seenBefore)
    || Number(b.signals.neighbour !== null) - Number(a.signals.neighbour !== null)
    || b.daysSeen - a.daysSeen
    || b.hits - a.hits
    || byCodeUnit(a.peer, b.peer)
    || byCodeUnit(a.category, b.category);
}

/**
 * Drift of the estate in `summary` against the baseline rules.
 * @returns the report; `failed` lists the --fail-on conditions that hold
 */
export function drift(summary: FlowSummary, options: DriftOptions): DriftReport {
  const legitimacy: LegitimacyThresholds = { ...DEFAULT_LEGITIMACY, ...options.legitimacy };
  const failOn = [...(options.failOn ?? DEFAULT_FAIL_ON)];
  const members = perimeterMembers(summary);
  const working = workingSources([summary, ...(options.previous ? [options.previous] : [])]);

  const groups = new Map<string, Flow[]>();
  for (const flow of summary.flows.values()) {
    const key = profileKeyOf(flow.perimeterId, flow.profile);
    const list = groups.get(key);
    if (list) list.push(flow); else groups.set(key, [flow]);
  }
  const unused = diffRules(summary, options.baseline, { version: 1, window: null, profiles: [] });

  const profiles: DriftProfile[] = [];
  for (const [key, flows] of [...groups].sort((a, b) => byCodeUnit(a[0], b[0]))) {
    const { perimeterId, profile } = flows[0]!;
    flows.sort((a, b) => byCodeUnit(`${a.category}\u0001${a.peerKind}\u0001${a.peer}`, `${b.category}\u0001${b.peerKind}\u0001${b.peer}`));
    const baselineHere = options.baseline.filter((r) => r.perimeterId === perimeterId && r.profile === profile);
    const coverage = new ProfileCoverage(baselineHere);
    const suggester = new RuleSuggester(baselineHere.map((r) => r.name));
    const perimeterResources = members.get(perimeterId) ?? new Set<string>();
    const { mode, evidence } = detectProfileMode(flows);
    const hits: Record<DecisionClass, number> = { blocker: 0, covered: 0, denied: 0, exempt: 0 };
    const resources = new Set<string>();
    const denied: DeniedFinding[] = [];
    const uncoveredBlockers: UncoveredBlocker[] = [];
    let blockersCoveredByBaseline = 0;

    for (const flow of flows) {
      const info = lookupCategory(flow.category)!;
      hits[info.decision] += flow.hits;
      for (const r of flow.resources) resources.add(r);
      if (PERIMETER_DENIED_CATEGORIES.has(flow.category)) {
        const sKey = sourceKey({ perimeterId, profile, direction: info.direction, peerKind: flow.peerKind, peer: flow.peer });
        const hood = neighbourhood(flow.peerKind, flow.peer);
        const neighbours = hood === '' ? [] : (working.near.get(`${key}\u0001${info.direction}\u0001${hood}`) ?? []).filter((p) => p !== flow.peer);
        const signals: LegitimacySignals = {
          seenBefore: flow.peerKind === 'none' ? null : working.classes.get(sKey) ?? null,
          neighbour: neighbours.length ? [...neighbours].sort(byCodeUnit)[0]! : null,
          recurring: flow.dayHits.size >= legitimacy.minDays,
          busy: flow.hits >= legitimacy.minHits,
        };
        const legitimate = signals.seenBefore !== null || signals.neighbour !== null || signals.recurring || signals.busy;
        denied.push({ ...facts(flow, info.direction), legitimate, signals, fix: fixFor(flow, info.direction, coverage, perimeterResources, suggester) });
      } else if (info.decision === 'blocker') {
        const fix = fixFor(flow, info.direction, coverage, perimeterResources, suggester);
        if (fix.kind === 'baseline-admits') { blockersCoveredByBaseline++; continue; }
        uncoveredBlockers.push({ ...facts(flow, info.direction), fix });
      }
    }
    denied.sort(compareDenied);
    uncoveredBlockers.sort((a, b) => Number(b.fix.kind === 'add-rule') - Number(a.fix.kind === 'add-rule') || b.hits - a.hits || byCodeUnit(a.peer, b.peer) || byCodeUnit(a.category, b.category));
    const diff = unused.profiles.find((p) => p.perimeterId === perimeterId && p.profile === profile);
    profiles.push({
      perimeterId, profile, mode, modeEvidence: evidence, resources: [...resources].sort(byCodeUnit), hits,
      denied, uncoveredBlockers, blockersCoveredByBaseline,
      unusedRules: diff?.unusedRules ?? [], unusedElements: diff?.unusedElements ?? [],
    });
  }

  const baselineProfiles = new Map<string, { perimeterId: string; profile: string; rules: number }>();
  for (const r of options.baseline) {
    const key = profileKeyOf(r.perimeterId, r.profile);
    const entry = baselineProfiles.get(key) ?? { perimeterId: r.perimeterId, profile: r.profile, rules: 0 };
    entry.rules++;
    baselineProfiles.set(key, entry);
  }
  const baselineProfilesWithoutLogs = [...baselineProfiles].filter(([k]) => !groups.has(k)).sort((a, b) => byCodeUnit(a[0], b[0])).map(([, v]) => v);

  const conditions: Record<FailCondition, number> = {
    'new-blockers': profiles.reduce((n, p) => n + p.uncoveredBlockers.filter((b) => b.fix.kind === 'add-rule').length, 0),
    'denied-legitimate': profiles.reduce((n, p) => n + p.denied.filter((d) => d.legitimate && d.fix.kind !== 'baseline-admits').length, 0),
    'unused-rules': profiles.reduce((n, p) => n + p.unusedRules.length + p.unusedElements.length, 0),
    'new-sources': options.history?.newSources.length ?? 0,
  };
  const window = summaryWindow(summary);
  return {
    version: 1,
    window: window ? { start: isoTime(window.start), end: isoTime(window.end) } : null,
    legitimacy,
    baseline: { rules: options.baseline.length, profiles: baselineProfiles.size },
    profiles,
    baselineProfilesWithoutLogs,
    history: options.history ?? null,
    conditions,
    failOn,
    failed: failOn.filter((c) => conditions[c] > 0),
  };
}

// ── Markdown ────────────────────────────────────────────────────────────────────────────────

/** Inline code in a Markdown table cell: backticks cannot end the span, pipes cannot end the cell. */
const code = (text: string): string => `\`${text.replace(/`/g, "'").replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ')}\``;
const peerText = (kind: PeerKind, peer: string): string => (peer === '' ? `${kind}:(empty)` : peer);

/** The fix in words, for Markdown. */
function fixText(fix: DriftFix): string {
  if (fix.kind === 'baseline-admits') return `baseline rule ${code(fix.rule)} admits it now`;
  if (fix.kind === 'unresolved') return `no rule can admit it (${fix.reason})`;
  const r = fix.rule;
  const elements = 'addressPrefixes' in r ? r.addressPrefixes : 'subscriptions' in r ? r.subscriptions.map((s) => s.id) : r.fullyQualifiedDomainNames;
  return `add ${elements.map(code).join(', ')} as rule ${code(r.name)}`;
}

function signalText(s: LegitimacySignals): string {
  const parts: string[] = [];
  if (s.seenBefore) parts.push(`seen before (${s.seenBefore})`);
  if (s.neighbour) parts.push(`neighbour of ${code(s.neighbour)}`);
  if (s.recurring) parts.push('recurring');
  if (s.busy) parts.push('busy');
  return parts.length ? parts.join(', ') : '—';
}

const MODE_TEXT: Record<ModeEvidence, string> = {
  'perimeter-denied': 'perimeter denials seen',
  'resource-rules': 'Transition-only resource-rule categories seen',
  both: 'perimeter denials and Transition-only categories both seen',
  none: 'no Transition-only category seen',
};

/** The drift report as Markdown (for a job summary, an issue or a chat message). Deterministic. */
export function driftToMarkdown(report: DriftReport): string {
  const out: string[] = ['# NSP drift report', ''];
  out.push(report.window ? `Logs from ${report.window.start} to ${report.window.end}.` : 'No flows in the logs.');
  out.push(`Baseline: ${report.baseline.rules} rules in ${report.baseline.profiles} profiles. ` +
    `Legitimate-looking: seen before, a working neighbour, ≥ ${report.legitimacy.minDays} days or ≥ ${report.legitimacy.minHits} hits.`, '');

  out.push('## Result', '', '| condition | findings | fails the run |', '|---|---:|---|');
  for (const c of FAIL_CONDITIONS) out.push(`| ${c} | ${report.conditions[c]} | ${report.failOn.includes(c) ? (report.conditions[c] > 0 ? '**yes**' : 'no') : 'not checked'} |`);
  out.push('', report.failed.length ? `**Exit 1**: ${report.failed.join(', ')}.` : 'Exit 0: no --fail-on condition holds.', '');

  for (const p of report.profiles) {
    out.push(`## ${code(`${shortName(p.perimeterId)}/${p.profile}`)}: ${p.mode}`, '');
    out.push(`Mode ${p.mode} (${MODE_TEXT[p.modeEvidence]}). Hits: ${p.hits.blocker} blocker, ${p.hits.covered} allowed by rules, ${p.hits.denied} denied, ${p.hits.exempt} exempt. ${p.resources.length} resources.`, '');
    const legit = p.denied.filter((d) => d.legitimate).length;
    out.push(`### Denied by the perimeter (${p.denied.length}, ${legit} legitimate-looking)`, '');
    if (p.denied.length === 0) out.push('None.');
    else {
      out.push('| # | legitimate | direction | source | hits | days | last seen | signals | fix |', '|---:|---|---|---|---:|---:|---|---|---|');
      p.denied.forEach((d, i) => out.push(`| ${i + 1} | ${d.legitimate ? 'yes' : 'no'} | ${d.direction} | ${code(peerText(d.peerKind, d.peer))} | ${d.hits} | ${d.daysSeen} | ${d.lastSeen} | ${signalText(d.signals)} | ${fixText(d.fix)} |`));
    }
    out.push('', `### Blockers the baseline does not cover (${p.uncoveredBlockers.length}; ${p.blockersCoveredByBaseline} covered)`, '');
    if (p.uncoveredBlockers.length === 0) out.push('None.');
    else {
      out.push('| direction | source | hits | days | last seen | fix |', '|---|---|---:|---:|---|---|');
      for (const b of p.uncoveredBlockers) out.push(`| ${b.direction} | ${code(peerText(b.peerKind, b.peer))} | ${b.hits} | ${b.daysSeen} | ${b.lastSeen} | ${fixText(b.fix)} |`);
    }
    out.push('', `### Unused in the window: ${p.unusedRules.length} rules, ${p.unusedElements.length} elements`, '');
    if (p.unusedRules.length + p.unusedElements.length === 0) out.push('None.');
    for (const r of p.unusedRules) out.push(`- rule ${code(r)}: admitted nothing`);
    for (const e of p.unusedElements) out.push(`- ${code(e.element)} in rule ${code(e.rule)}: admitted nothing`);
    out.push('');
  }
  if (report.baselineProfilesWithoutLogs.length) {
    out.push('## Baseline profiles without logs (not judged)', '');
    for (const b of report.baselineProfilesWithoutLogs) out.push(`- ${code(`${shortName(b.perimeterId)}/${b.profile}`)}: ${b.rules} rules`);
    out.push('');
  }

  const h = report.history;
  if (h) {
    out.push('## History', '', h.previous ? `This run: ${code(h.current)}, compared with ${code(h.previous)}.` : `This run: ${code(h.current)}; no earlier run to compare with.`, '');
    if (h.previous) {
      const sourceLines = (title: string, list: typeof h.newSources): void => {
        out.push(`### ${title} (${list.length})`, '');
        if (list.length === 0) out.push('None.');
        else {
          out.push('| profile | direction | source | decisions | hits |', '|---|---|---|---|---:|');
          for (const s of list) out.push(`| ${code(`${shortName(s.perimeterId)}/${s.profile}`)} | ${s.direction} | ${code(peerText(s.peerKind, s.peer))} | ${s.decisions.join(', ')} | ${s.hits} |`);
        }
        out.push('');
      };
      sourceLines('New sources', h.newSources);
      sourceLines('Vanished sources', h.vanishedSources);
      out.push('### Volume per profile', '', '| profile | hits before | hits now | change |', '|---|---:|---:|---:|');
      for (const v of h.volume) out.push(`| ${code(`${shortName(v.perimeterId)}/${v.profile}`)} | ${v.hitsBefore} | ${v.hitsNow} | ${v.change === null ? 'new' : `${v.change >= 0 ? '+' : ''}${(v.change * 100).toFixed(1)}%`} |`);
      out.push('');
    }
    out.push('### New-source rate', '', '| run | last day | sources | first seen in this run |', '|---|---|---:|---:|');
    for (const r of h.newSourceRate) out.push(`| ${code(r.run)} | ${r.lastDay} | ${r.sources} | ${r.newSources} |`);
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** The drift report as pretty JSON (key order is construction order: byte-stable). */
export function driftToJson(report: DriftReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
