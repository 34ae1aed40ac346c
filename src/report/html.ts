// Report stage (after recommend): one self-contained HTML file per run: per-profile overview,
// charts (server-rendered SVG), the recommended rules with their evidence, and drift findings.
// Offline by construction: inline CSS and one hashed inline script, a CSP that forbids fetches.

import { createHash } from 'node:crypto';
import { lookupCategory, type DecisionClass } from '../model/category.js';
import type { ExistingRule } from '../model/existing-rules.js';
import type { PeerKind } from '../model/record.js';
import { DAY_MS, type Flow, type FlowSummary } from '../model/flow-summary.js';
import { ruleElements, type RecommendedRule, type RuleSet } from '../model/rule-set.js';
import { summaryWindow } from '../analyze/aggregate.js';
import { ProfileCoverage, perimeterMembers } from '../recommend/coverage.js';
import { isoTime } from '../recommend/evidence.js';
import { judgeFlow } from '../recommend/simulate.js';
import { detectProfileMode, FAIL_CONDITIONS, type DeniedFinding, type DriftFix, type DriftReport, type DriftProfile, type ProfileMode, type UncoveredBlocker } from '../recommend/drift.js';
import type { SourceInfo } from '../recommend/history.js';
import { barChart, horizontalBarChart, sparkline, truncateLabel } from './charts.js';
import { escapeHtml as esc, jsonForScript } from './escape.js';
import { byCodeUnit, formatCount, shortName } from '../model/text.js';

export interface HtmlReportInput {
  summary: FlowSummary;
  /** recommend() on the same summary (and baseline); null when it could not be made. */
  ruleSet: RuleSet | null;
  /** Why ruleSet is null (e.g. an over-limit profile), shown in the report. */
  recommendError?: string;
  /** Rules in place: their zero-hit rules show up in the rule-usage chart. */
  baseline?: readonly ExistingRule[];
  /** Drift findings, for `drift --format html`. */
  drift?: DriftReport;
  /** Page title; default "NSP access report" (or "NSP drift report" with drift). */
  title?: string;
}

const DECISIONS: readonly DecisionClass[] = ['blocker', 'covered', 'denied', 'exempt'];
const DECISION_LABEL: Record<DecisionClass, string> = {
  blocker: 'blocker (needs a rule)', covered: 'allowed by NSP rule', denied: 'denied', exempt: 'exempt (private, same perimeter, links)',
};

/** Per-profile figures embedded in the page (and drawn from). */
export interface ReportProfileData {
  /** `perimeter-name/profile`, for the filter. */
  name: string;
  perimeterId: string;
  profile: string;
  mode: ProfileMode;
  resources: string[];
  hits: Record<DecisionClass, number>;
  /** Hits per day over `ReportData.days`, all classes together. */
  hitsPerDay: number[];
  rulesToAdd: number;
  unresolved: number;
}

/** Everything the charts are drawn from, also embedded as JSON for the page script and for reuse. */
export interface ReportData {
  title: string;
  window: { start: string; end: string } | null;
  /** Every UTC day from the first to the last day with data (YYYY-MM-DD). */
  days: string[];
  hitsPerDay: Record<DecisionClass, number[]>;
  /** Sources (public-path peers per profile and direction) by the day they first appear. */
  newSourcesPerDay: number[];
  topBlockers: { profile: string; direction: string; peerKind: PeerKind; peer: string; hits: number; daysSeen: number }[];
  ruleUsage: { profile: string; rule: string; hits: number }[];
  profiles: ReportProfileData[];
}

const profileName = (perimeterId: string, profile: string): string => `${shortName(perimeterId)}/${profile}`;
const dayText = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);
const fmt = formatCount;

/** Builds the chart and overview figures from the flows (pure, deterministic). */
/** Longest day axis drawn day by day; longer spans chart only the days with data. */
const MAX_CONTIGUOUS_DAYS = 400;

export function buildReportData(input: HtmlReportInput): ReportData {
  const { summary } = input;
  const flows = [...summary.flows.entries()].sort((a, b) => byCodeUnit(a[0], b[0])).map(([, f]) => f);
  let firstDay = Infinity;
  let lastDay = -Infinity;
  for (const f of flows) for (const d of f.dayHits.keys()) { firstDay = Math.min(firstDay, d); lastDay = Math.max(lastDay, d); }
  const dayNumbers: number[] = [];
  if (firstDay !== Infinity && lastDay - firstDay <= MAX_CONTIGUOUS_DAYS) for (let d = firstDay; d <= lastDay; d++) dayNumbers.push(d);
  else if (firstDay !== Infinity) {
    // Logs spread over years (a stray timestamp): chart only the days that have data.
    const days = new Set<number>();
    for (const f of flows) for (const d of f.dayHits.keys()) days.add(d);
    dayNumbers.push(...[...days].sort((a, b) => a - b));
  }
  const dayIndex = new Map(dayNumbers.map((d, i) => [d, i]));
  const zeros = (): number[] => dayNumbers.map(() => 0);

  const hitsPerDay = { blocker: zeros(), covered: zeros(), denied: zeros(), exempt: zeros() } satisfies Record<DecisionClass, number[]>;
  const sourceFirstDay = new Map<string, number>();
  const blockers = new Map<string, { profile: string; direction: string; peerKind: PeerKind; peer: string; hits: number; days: Set<number> }>();
  const ruleHits = new Map<string, { profile: string; rule: string; hits: number }>();
  const groups = new Map<string, Flow[]>();
  for (const f of flows) {
    const info = lookupCategory(f.category);
    if (!info) continue;
    const pKey = `${f.perimeterId}\u0001${f.profile}`;
    const group = groups.get(pKey);
    if (group) group.push(f); else groups.set(pKey, [f]);
    for (const [d, h] of f.dayHits) hitsPerDay[info.decision][dayIndex.get(d)!]! += h;
    if (info.decision !== 'exempt' && f.peerKind !== 'none') {
      const sKey = `${pKey}\u0001${info.direction}\u0001${f.peerKind}\u0001${f.peer}`;
      let first = Infinity;
      for (const d of f.dayHits.keys()) if (d < first) first = d;
      sourceFirstDay.set(sKey, Math.min(sourceFirstDay.get(sKey) ?? Infinity, first));
    }
    if (info.decision === 'blocker') {
      const bKey = `${pKey}\u0001${info.direction}\u0001${f.peerKind}\u0001${f.peer}`;
      const b = blockers.get(bKey) ?? { profile: profileName(f.perimeterId, f.profile), direction: info.direction, peerKind: f.peerKind, peer: f.peer, hits: 0, days: new Set<number>() };
      b.hits += f.hits;
      for (const d of f.dayHits.keys()) b.days.add(d);
      blockers.set(bKey, b);
    }
    if (info.decision === 'covered') {
      for (const [rule, hits] of f.matchedRules) {
        const rKey = `${pKey}\u0001${rule.toLowerCase()}`;
        const r = ruleHits.get(rKey) ?? { profile: profileName(f.perimeterId, f.profile), rule, hits: 0 };
        r.hits += hits;
        ruleHits.set(rKey, r);
      }
    }
  }
  // Rules in place: besides the hits logged against them (covered flows, above), the blockers
  // they would admit once enforced (as diff counts them). Rules nothing used show as zero bars.
  const members = perimeterMembers(summary);
  for (const r of input.baseline ?? []) {
    const pKey = `${r.perimeterId}\u0001${r.profile}`;
    const pf = groups.get(pKey);
    if (!pf) continue;
    const rKey = `${pKey}\u0001${r.name.toLowerCase()}`;
    const usage = ruleHits.get(rKey) ?? { profile: profileName(r.perimeterId, r.profile), rule: r.name, hits: 0 };
    const coverage = new ProfileCoverage([r]);
    for (const f of pf) {
      const info = lookupCategory(f.category)!;
      if (info.decision !== 'blocker' || info.direction !== r.direction) continue;
      if (judgeFlow(f, coverage, members.get(f.perimeterId) ?? new Set()).allowed) usage.hits += f.hits;
    }
    ruleHits.set(rKey, usage);
  }
  const newSourcesPerDay = zeros();
  for (const d of sourceFirstDay.values()) newSourcesPerDay[dayIndex.get(d)!]! += 1;

  const topBlockers = [...blockers.entries()]
    .sort((a, b) => b[1].hits - a[1].hits || byCodeUnit(a[0], b[0]))
    .slice(0, 12)
    .map(([, b]) => ({ profile: b.profile, direction: b.direction, peerKind: b.peerKind, peer: b.peer, hits: b.hits, daysSeen: b.days.size }));
  const usageSorted = [...ruleHits.entries()].sort((a, b) => b[1].hits - a[1].hits || byCodeUnit(a[0], b[0])).map(([, r]) => r);
  const ruleUsage = [...usageSorted.filter((r) => r.hits > 0).slice(0, 15), ...usageSorted.filter((r) => r.hits === 0).slice(0, 5)];

  const profiles: ReportProfileData[] = [...groups.entries()].sort((a, b) => byCodeUnit(a[0], b[0])).map(([, pf]) => {
    const { perimeterId, profile } = pf[0]!;
    const hits: Record<DecisionClass, number> = { blocker: 0, covered: 0, denied: 0, exempt: 0 };
    const perDay = zeros();
    const resources = new Set<string>();
    for (const f of pf) {
      hits[lookupCategory(f.category)!.decision] += f.hits;
      for (const [d, h] of f.dayHits) perDay[dayIndex.get(d)!]! += h;
      for (const r of f.resources) resources.add(r);
    }
    const rules = input.ruleSet?.profiles.find((p) => p.perimeterId === perimeterId && p.profile === profile);
    return {
      name: profileName(perimeterId, profile), perimeterId, profile, mode: detectProfileMode(pf).mode,
      resources: [...resources].sort(byCodeUnit), hits, hitsPerDay: perDay,
      rulesToAdd: rules?.rules.length ?? 0, unresolved: rules?.unresolved.length ?? 0,
    };
  });

  const window = summaryWindow(summary);
  return {
    title: input.title ?? (input.drift ? 'NSP drift report' : 'NSP access report'),
    window: window ? { start: isoTime(window.start), end: isoTime(window.end) } : null,
    days: dayNumbers.map(dayText),
    hitsPerDay,
    newSourcesPerDay,
    topBlockers,
    ruleUsage,
    profiles,
  };
}

// ── Page pieces ──────────────────────────────────────────────────────────────────────────────

/**
 * A table whose rows can be sorted by clicking a header (the page script). Cells do not wrap
 * (times, addresses) except the `wrap` columns of free text; wide tables scroll sideways.
 */
function table(headers: string[], rows: string[][], numeric: ReadonlySet<number> = new Set(), wrap: ReadonlySet<number> = new Set()): string {
  const cls = (i: number): string => (numeric.has(i) ? ' class="num"' : wrap.has(i) ? ' class="wrap"' : '');
  const head = headers.map((h, i) => `<th scope="col"${numeric.has(i) ? ' class="num"' : ''}>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((cell, i) => `<td${cls(i)}>${cell}</td>`).join('')}</tr>`).join('');
  return `<div class="scroll"><table class="sortable"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

/** A value from the logs in code style; long ones cut, the full text in a tooltip. */
function codeCell(text: string, max = 60): string {
  const shown = truncateLabel(text, max);
  return `<code${shown !== text ? ` title="${esc(text)}"` : ''}>${esc(shown)}</code>`;
}

/** Resource ids by short name, the full ids in the tooltip. */
function resourcesCell(ids: readonly string[]): string {
  if (ids.length === 0) return '<span class="muted">—</span>';
  return `<span title="${esc(ids.join('\n'))}">${esc(ids.map(shortName).join(', '))}</span>`;
}

const peerLabel = (peerKind: string, peer: string): string => (peer === '' ? `(empty ${peerKind === 'none' ? 'source' : peerKind})` : peer);

function fixCell(fix: DriftFix): string {
  if (fix.kind === 'baseline-admits') return `<span class="ok">baseline rule ${codeCell(fix.rule)} admits it</span>`;
  if (fix.kind === 'unresolved') return `<span class="warn">no rule can admit it (${esc(fix.reason)})</span>`;
  return `add ${ruleElements(fix.rule).map((e) => codeCell(e)).join(', ')} <span class="muted">as</span> ${codeCell(fix.rule.name)}`;
}

function deniedTable(denied: readonly DeniedFinding[]): string {
  if (denied.length === 0) return '<p class="muted">None.</p>';
  return table(['#', 'legitimate', 'direction', 'source', 'hits', 'days', 'last seen', 'signals', 'operations', 'fix'], denied.map((d, i) => {
    const s = d.signals;
    const signals = [
      s.seenBefore ? `seen before (${s.seenBefore})` : '', s.neighbour ? `neighbour of ${s.neighbour}` : '',
      s.recurring ? 'recurring' : '', s.busy ? 'busy' : '',
    ].filter((x) => x !== '');
    return [
      String(i + 1), d.legitimate ? '<span class="badge bad">yes</span>' : '<span class="badge">no</span>', esc(d.direction),
      codeCell(peerLabel(d.peerKind, d.peer)), fmt(d.hits), String(d.daysSeen), esc(d.lastSeen),
      signals.length ? esc(signals.join(', ')) : '<span class="muted">—</span>',
      d.operations.length ? esc(d.operations.join(', ')) : '<span class="muted">—</span>', fixCell(d.fix),
    ];
  }), new Set([0, 4, 5]), new Set([7, 8, 9]));
}

function blockersTable(blockers: readonly UncoveredBlocker[]): string {
  if (blockers.length === 0) return '<p class="muted">None.</p>';
  return table(['direction', 'source', 'hits', 'days', 'last seen', 'resources', 'fix'], blockers.map((b) => [
    esc(b.direction), codeCell(peerLabel(b.peerKind, b.peer)), fmt(b.hits), String(b.daysSeen), esc(b.lastSeen), resourcesCell(b.resources), fixCell(b.fix),
  ]), new Set([2, 3]), new Set([5, 6]));
}

function rulesTable(rules: readonly RecommendedRule[]): string {
  if (rules.length === 0) return '<p class="muted">No rules to add.</p>';
  return table(['rule', 'direction', 'elements', 'hits', 'days', 'first seen', 'last seen', 'sources', 'resources', 'cover'], rules.map((r) => {
    const e = r.evidence;
    const cover = e.ratio !== undefined ? `${fmt(e.observedAddresses ?? 0)} of ${esc(e.admittedAddresses ?? '')} addresses seen` : 'exact';
    return [
      codeCell(r.name), esc(r.direction), ruleElements(r).map((x) => codeCell(x)).join(' '), fmt(e.hits), String(e.daysSeen),
      esc(e.firstSeen), esc(e.lastSeen), String(e.sources), resourcesCell(e.resources), esc(cover),
    ];
  }), new Set([3, 4, 7]), new Set([2, 8]));
}

function sourcesTable(list: readonly SourceInfo[]): string {
  if (list.length === 0) return '<p class="muted">None.</p>';
  return table(['profile', 'direction', 'source', 'decisions', 'hits'], list.map((s) => [
    codeCell(profileName(s.perimeterId, s.profile)), esc(s.direction), codeCell(peerLabel(s.peerKind, s.peer)), esc(s.decisions.join(', ')), fmt(s.hits),
  ]), new Set([4]));
}

function profileSection(index: number, p: ReportProfileData, data: ReportData, input: HtmlReportInput): string {
  const rules = input.ruleSet?.profiles.find((r) => r.perimeterId === p.perimeterId && r.profile === p.profile);
  const drift: DriftProfile | undefined = input.drift?.profiles.find((d) => d.perimeterId === p.perimeterId && d.profile === p.profile);
  const parts: string[] = [];
  parts.push(`<h2><span class="mode ${esc(p.mode)}">${esc(p.mode)}</span> ${esc(p.name)}</h2>`);
  parts.push(`<p class="muted perimeter">${esc(p.perimeterId)}</p>`);
  parts.push(`<ul class="facts">${DECISIONS.map((d) => `<li><i class="swatch ${d}"></i>${esc(DECISION_LABEL[d])}: <b>${fmt(p.hits[d])}</b> hits</li>`).join('')}</ul>`);
  parts.push(`<details><summary>${p.resources.length} resources</summary><ul class="resources">${p.resources.map((r) => `<li><code>${esc(r)}</code></li>`).join('')}</ul></details>`);
  parts.push(sparkline({ id: `profile-${index}-hits`, title: 'Hits per day', labels: data.days, values: p.hitsPerDay, unit: 'hits', className: 'total' }));
  if (drift) {
    const legit = drift.denied.filter((d) => d.legitimate).length;
    parts.push(`<h3>Denied by the perimeter <small>${drift.denied.length} flows, ${legit} legitimate-looking</small></h3>`, deniedTable(drift.denied));
    parts.push(`<h3>Blockers the baseline does not cover <small>${drift.uncoveredBlockers.length} flows; ${drift.blockersCoveredByBaseline} covered</small></h3>`, blockersTable(drift.uncoveredBlockers));
    const unused = [...drift.unusedRules.map((r) => `<li>rule ${codeCell(r)}: admitted nothing</li>`), ...drift.unusedElements.map((e) => `<li>${codeCell(e.element)} in rule ${codeCell(e.rule)}: admitted nothing</li>`)];
    parts.push(`<h3>Unused in the window <small>${drift.unusedRules.length} rules, ${drift.unusedElements.length} elements</small></h3>`, unused.length ? `<ul>${unused.join('')}</ul>` : '<p class="muted">None.</p>');
  }
  if (rules) {
    parts.push(`<h3>Rules to add <small>${rules.rules.length}</small></h3>`, rulesTable(rules.rules));
    if (rules.unresolved.length) {
      parts.push(`<h3>Unresolved <small>no rule can admit these</small></h3>`, table(['direction', 'source / destination', 'reason', 'hits', 'resources'], rules.unresolved.map((u) => [
        esc(u.direction), codeCell(u.source ?? u.destination ?? ''), esc(u.reason), fmt(u.hits), resourcesCell(u.resources),
      ]), new Set([3]), new Set([4])));
    }
    if (rules.review?.length) {
      parts.push(`<h3>Held for review <small>below --min-hits / --min-days</small></h3>`, table(['direction', 'source', 'reason', 'hits', 'days'], rules.review.map((r) => [
        esc(r.direction), codeCell(r.peer), esc(r.reason), fmt(r.evidence.hits), String(r.evidence.daysSeen),
      ]), new Set([3, 4])));
    }
  }
  return `<section class="profile" id="profile-${index}" data-profile="${index}">${parts.join('')}</section>`;
}

function driftSummarySection(report: DriftReport): string {
  const rows = FAIL_CONDITIONS.map((c) => {
    const checked = report.failOn.includes(c);
    const held = report.conditions[c] > 0;
    return [esc(c), fmt(report.conditions[c]), checked ? (held ? '<span class="badge bad">fails</span>' : '<span class="badge good">passes</span>') : '<span class="muted">not checked</span>'];
  });
  const verdict = report.failed.length
    ? `<p class="verdict bad">Exit 1: ${esc(report.failed.join(', '))}</p>`
    : '<p class="verdict good">Exit 0: no --fail-on condition holds</p>';
  const withoutLogs = report.baselineProfilesWithoutLogs.length
    ? `<p class="muted">Baseline profiles without logs (not judged): ${report.baselineProfilesWithoutLogs.map((b) => codeCell(profileName(b.perimeterId, b.profile))).join(', ')}</p>`
    : '';
  return `<section id="drift"><h2>Drift</h2>${verdict}<p class="muted">Baseline: ${report.baseline.rules} rules in ${report.baseline.profiles} profiles. ` +
    `Legitimate-looking: seen before, a working neighbour (same /24, /64, subscription or parent domain), ≥ ${report.legitimacy.minDays} days or ≥ ${report.legitimacy.minHits} hits.</p>` +
    `${table(['condition', 'findings', '--fail-on'], rows, new Set([1]))}${withoutLogs}</section>`;
}

function historySection(report: DriftReport): string {
  const h = report.history;
  if (!h) return '';
  const parts = [`<h2>History</h2><p>This run: ${codeCell(h.current)}${h.previous ? `, compared with ${codeCell(h.previous)}` : '; no earlier run to compare with'}.</p>`];
  parts.push(barChart({
    id: 'new-source-rate', title: 'New sources per run (first seen in that run)', unit: 'new sources',
    labels: h.newSourceRate.map((r) => r.lastDay), series: [{ name: 'new sources', className: 'fresh', values: h.newSourceRate.map((r) => r.newSources) }],
  }));
  if (h.previous) {
    parts.push(`<h3>New sources <small>${h.newSources.length}</small></h3>`, sourcesTable(h.newSources));
    parts.push(`<h3>Vanished sources <small>${h.vanishedSources.length}</small></h3>`, sourcesTable(h.vanishedSources));
    parts.push('<h3>Volume per profile</h3>', table(['profile', 'hits before', 'hits now', 'change'], h.volume.map((v) => [
      codeCell(profileName(v.perimeterId, v.profile)), fmt(v.hitsBefore), fmt(v.hitsNow), v.change === null ? 'new' : `${v.change >= 0 ? '+' : ''}${(v.change * 100).toFixed(1)}%`,
    ]), new Set([1, 2])));
  }
  return `<section id="history">${parts.join('')}</section>`;
}

// ── The page ─────────────────────────────────────────────────────────────────────────────────

const STYLE = `
:root{color-scheme:light;--fg:#1f2933;--muted:#616e7c;--line:#d9dee4;--bg:#fff;--panel:#f5f7fa;
--blocker:#d97706;--covered:#15803d;--denied:#dc2626;--exempt:#94a3b8;--total:#2563eb;--fresh:#7c3aed;--bar:#2563eb}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{padding:16px 24px;border-bottom:1px solid var(--line);background:var(--panel);display:flex;flex-wrap:wrap;gap:8px 24px;align-items:baseline}
header h1{margin:0;font-size:20px}
main{padding:8px 24px 32px;max-width:1280px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:14px;margin:18px 0 6px}
h3 small,.muted{color:var(--muted);font-weight:normal}
code{font:12px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--panel);padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:4px 0 8px;min-width:50%}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top;white-space:nowrap}
td.wrap{white-space:normal;min-width:180px;max-width:420px}
th{background:var(--panel);cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
.num{text-align:right;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}
figure.chart{margin:0;padding:8px 12px;border:1px solid var(--line);border-radius:6px;background:#fff}
figcaption{font-weight:600;margin-bottom:4px}
figure.spark,section>figure.chart{max-width:760px;margin:8px 0}
svg{width:100%;height:auto;display:block}
svg text{font-size:11px;fill:var(--muted)}
svg .grid{stroke:#eef1f4}svg .axis{stroke:#9aa5b1}
.datum:hover,.datum:focus{opacity:.75;outline:none}
.blocker{fill:var(--blocker);background:var(--blocker)}.covered{fill:var(--covered);background:var(--covered)}
.denied{fill:var(--denied);background:var(--denied)}.exempt{fill:var(--exempt);background:var(--exempt)}
.fresh{fill:var(--fresh)}.bar{fill:var(--bar)}.unused{fill:var(--denied)}
path.line{stroke:var(--total);stroke-width:2}circle.dot{fill:var(--total)}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:var(--muted)}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.facts{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 18px;margin:6px 0}
.resources{margin:4px 0}
.mode{display:inline-block;font-size:11px;text-transform:uppercase;letter-spacing:.04em;padding:1px 6px;border-radius:3px;color:#fff;background:var(--muted);vertical-align:2px}
.mode.enforced{background:var(--covered)}.mode.learning{background:var(--blocker)}.mode.mixed{background:var(--fresh)}
.badge{display:inline-block;padding:0 6px;border-radius:3px;background:var(--panel);font-size:12px}
.badge.bad{background:#fde2e1;color:#991b1b}.badge.good{background:#dcfce7;color:#166534}
.verdict{font-weight:600;font-size:15px}.verdict.bad{color:#b91c1c}.verdict.good{color:#15803d}
.ok{color:#166534}.warn{color:#b45309}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{border:1px solid var(--line);border-radius:6px;padding:8px 14px;background:var(--panel);min-width:140px}
.card b{display:block;font-size:20px}
.perimeter{margin:0;font-size:12px;word-break:break-all}
#tip{position:fixed;pointer-events:none;background:#1f2933;color:#fff;padding:4px 8px;border-radius:4px;font-size:12px;max-width:420px;z-index:10}
select{font:inherit}
@media print{header{position:static}#tip,.controls{display:none}section.profile{break-inside:avoid-page}}
`;

/**
 * The page script: profile filter, sortable tables, a readout for chart marks. It only reads the
 * JSON data block and the DOM, sets text with textContent (never HTML), and fetches nothing.
 */
const SCRIPT = `(() => {
  'use strict';
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const select = document.getElementById('profile-filter');
  data.profiles.forEach((p, i) => {
    const option = document.createElement('option');
    option.value = String(i);
    option.textContent = p.name + ' (' + p.mode + ')';
    select.appendChild(option);
  });
  select.addEventListener('change', () => {
    for (const section of document.querySelectorAll('section.profile')) {
      section.hidden = select.value !== 'all' && section.dataset.profile !== select.value;
    }
  });
  const cellValue = (row, column) => {
    const cell = row.cells[column];
    const text = cell ? cell.textContent.trim() : '';
    const number = Number(text.replace(/,/g, ''));
    return text !== '' && Number.isFinite(number) ? number : text;
  };
  for (const table of document.querySelectorAll('table.sortable')) {
    const headers = [...table.tHead.rows[0].cells];
    headers.forEach((th, column) => {
      th.tabIndex = 0;
      const sort = () => {
        const ascending = th.getAttribute('aria-sort') !== 'ascending';
        headers.forEach((h) => h.removeAttribute('aria-sort'));
        th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
        const body = table.tBodies[0];
        const rows = [...body.rows];
        rows.sort((a, b) => {
          const x = cellValue(a, column);
          const y = cellValue(b, column);
          const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
          return ascending ? order : -order;
        });
        for (const row of rows) body.appendChild(row);
      };
      th.addEventListener('click', sort);
      th.addEventListener('keydown', (event) => { if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); sort(); } });
    });
  }
  const tip = document.getElementById('tip');
  const show = (mark, x, y) => {
    tip.textContent = mark.getAttribute('data-tip');
    tip.hidden = false;
    tip.style.left = Math.min(x + 12, window.innerWidth - tip.offsetWidth - 8) + 'px';
    tip.style.top = (y + 14) + 'px';
  };
  document.addEventListener('mousemove', (event) => {
    const mark = event.target instanceof Element ? event.target.closest('.datum') : null;
    if (mark) show(mark, event.clientX, event.clientY); else tip.hidden = true;
  });
  document.addEventListener('focusin', (event) => {
    const mark = event.target instanceof Element ? event.target.closest('.datum') : null;
    if (!mark) { tip.hidden = true; return; }
    const box = mark.getBoundingClientRect();
    show(mark, box.left, box.bottom);
  });
  document.documentElement.dataset.ready = 'true';
})();`;

/** CSP hash of the page script: the only script the page may run. */
const SCRIPT_HASH = `sha256-${createHash('sha256').update(SCRIPT, 'utf8').digest('base64')}`;

/**
 * Content-Security-Policy of the report: nothing may be fetched (default-src 'none'), only the
 * page's own script runs (by hash: no injected script or event handler can), inline styles and
 * data: images only, no <base> and no form submission.
 */
export const REPORT_CSP = `default-src 'none'; script-src '${SCRIPT_HASH}'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'`;

/** Renders the report as one self-contained HTML document. Deterministic for the same input. */
export function renderHtmlReport(input: HtmlReportInput): string {
  const data = buildReportData(input);
  const totals = DECISIONS.map((d) => data.hitsPerDay[d].reduce((a, b) => a + b, 0));
  const cards = [
    `<div class="card"><b>${fmt(data.profiles.length)}</b>profiles</div>`,
    ...DECISIONS.map((d, i) => `<div class="card"><b>${fmt(totals[i]!)}</b><i class="swatch ${d}"></i>${esc(DECISION_LABEL[d])}</div>`),
    `<div class="card"><b>${fmt(input.ruleSet?.profiles.reduce((n, p) => n + p.rules.length, 0) ?? 0)}</b>rules to add</div>`,
  ];
  const overview = table(['profile', 'mode', 'resources', 'blocker hits', 'allowed hits', 'denied hits', 'exempt hits', 'rules to add', 'unresolved'],
    data.profiles.map((p, i) => [
      `<a href="#profile-${i}">${esc(p.name)}</a>`, `<span class="mode ${esc(p.mode)}">${esc(p.mode)}</span>`, String(p.resources.length),
      fmt(p.hits.blocker), fmt(p.hits.covered), fmt(p.hits.denied), fmt(p.hits.exempt), String(p.rulesToAdd), String(p.unresolved),
    ]), new Set([2, 3, 4, 5, 6, 7, 8]), new Set([0]));

  const charts = [
    barChart({
      id: 'hits-per-day', title: 'Hits per day', unit: 'hits', labels: data.days,
      series: DECISIONS.map((d) => ({ name: DECISION_LABEL[d], className: d, values: data.hitsPerDay[d] })),
    }),
    barChart({
      id: 'new-sources-per-day', title: 'New sources per day (first seen in the window)', unit: 'new sources', labels: data.days,
      series: [{ name: 'new sources', className: 'fresh', values: data.newSourcesPerDay }],
    }),
    horizontalBarChart({
      id: 'top-blockers', title: 'Top blockers (traffic that needs a rule)', unit: 'hits', items: data.topBlockers.map((b) => ({
        // An Azure caller by its resource name: ids share a long /subscriptions/… prefix.
        label: b.peerKind === 'resource' ? shortName(b.peer) : peerLabel(b.peerKind, b.peer), value: b.hits, className: 'blocker',
        detail: `${b.profile} · ${b.direction} · ${peerLabel(b.peerKind, b.peer)} · ${b.daysSeen} days`,
      })),
    }),
    horizontalBarChart({
      id: 'rule-usage', title: 'NSP rule usage (hits each rule admits: logged, or blockers once enforced)', unit: 'hits', items: data.ruleUsage.map((r) => ({
        label: r.rule, value: r.hits, className: r.hits > 0 ? 'covered' : 'unused', detail: `${r.profile} · ${r.rule}`,
      })),
    }),
  ];

  const windowText = data.window ? `Logs from ${data.window.start} to ${data.window.end}` : 'No flows in the logs';
  const body = [
    `<header><h1>${esc(data.title)}</h1><span class="muted">${esc(windowText)}</span>`,
    `<label class="controls">Profile <select id="profile-filter"><option value="all">All profiles</option></select></label></header>`,
    '<main>',
    `<div class="cards">${cards.join('')}</div>`,
    input.recommendError ? `<p class="verdict bad">No rules recommended: ${esc(input.recommendError)}</p>` : '',
    input.drift ? driftSummarySection(input.drift) : '',
    `<section id="overview"><h2>Profiles</h2>${overview}</section>`,
    `<section id="charts"><h2>Traffic</h2><div class="grid">${charts.join('')}</div></section>`,
    input.drift ? historySection(input.drift) : '',
    ...data.profiles.map((p, i) => profileSection(i, p, data, input)),
    '</main>',
    '<div id="tip" role="status" hidden></div>',
  ].join('\n');

  const embedded = { ...data, ruleSet: input.ruleSet, drift: input.drift ?? null };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(REPORT_CSP)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(data.title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
<script type="application/json" id="report-data">${jsonForScript(embedded)}</script>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
