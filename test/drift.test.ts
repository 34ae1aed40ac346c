// drift (recommend stage + CLI command): each finding on small logs built here for it (perimeter
// denials ranked by legitimacy, uncovered blockers, unused rules), the exit code of every
// --fail-on condition, determinism, and the history across three runs in one --history folder.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { addRecord, emptySummary, summaryToJSON } from '../src/analyze/index.js';
import { loadSnapshot } from '../src/analyze/snapshot.js';
import { driftCommand } from '../src/cli/commands/drift.js';
import { createTestIO } from '../src/cli/io.js';
import type { CommandSpec } from '../src/cli/command.js';
import { listInputFiles, readRecords } from '../src/ingest/index.js';
import type { Flow, FlowSummary } from '../src/model/flow-summary.js';
import { detectProfileMode, parseFailOn, type DriftReport } from '../src/recommend/drift.js';
import { historySnapshotName } from '../src/recommend/history.js';

// ── Fixtures built for each finding ─────────────────────────────────────────────────────────

const ZERO_SUB = '/subscriptions/00000000-0000-0000-0000-000000000000';
const P = `${ZERO_SUB}/resourceGroups/rg-test/providers/Microsoft.Network/networkSecurityPerimeters/nsp-test`;
const STORAGE = `${ZERO_SUB}/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/st1`;
const VAULT = `${ZERO_SUB}/resourceGroups/rg-app/providers/Microsoft.KeyVault/vaults/kv1`;
const CALLER_SUB = '/subscriptions/22222222-2222-2222-2222-222222222222';
const DAY0 = Date.UTC(2026, 2, 1); // day 0 = 2026-03-01

const IN_BLOCK = 'NspPublicInboundResourceRulesAllowed';
const OUT_BLOCK = 'NspPublicOutboundResourceRulesAllowed';
const IN_OK = 'NspPublicInboundPerimeterRulesAllowed';
const OUT_OK = 'NspPublicOutboundPerimeterRulesAllowed';
const IN_DENY = 'NspPublicInboundPerimeterRulesDenied';
const OUT_DENY = 'NspPublicOutboundPerimeterRulesDenied';

interface Event {
  day: number;
  category: string;
  profile: string;
  ip?: string;
  caller?: string;
  fqdn?: string;
  count?: number;
  rule?: string;
  resource?: string;
  op?: string;
}

/** One Log Analytics-shaped row (NSPAccessLogs columns). */
function row(e: Event): Record<string, unknown> {
  return {
    TimeGenerated: new Date(DAY0 + e.day * 86_400_000 + 10 * 3_600_000).toISOString(),
    Category: e.category, _ResourceId: P, Profile: e.profile,
    ServiceResourceId: e.resource ?? (e.profile.startsWith('learning') ? VAULT : STORAGE),
    OperationName: e.op ?? 'GetBlob', Count: e.count ?? 1, SourceIpAddress: e.ip, SourceResourceId: e.caller,
    DestinationFqdn: e.fqdn, MatchedRule: e.rule,
  };
}

/** The same event on several days. */
const days = (list: number[], e: Omit<Event, 'day'>): Event[] => list.map((day) => ({ ...e, day }));

function writeLogs(dir: string, name: string, events: Event[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${events.map((e) => JSON.stringify(row(e))).join('\n')}\n`);
  return path;
}

interface RuleSpec { profile: string; name: string; direction?: 'Inbound' | 'Outbound'; prefixes?: string[]; fqdns?: string[]; subscriptions?: string[] }

/** Rules in place as `az network perimeter profile access-rule list` prints them. */
function writeBaseline(dir: string, name: string, rules: RuleSpec[]): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(rules.map((r) => ({
    id: `${P}/profiles/${r.profile}/accessRules/${r.name}`, name: r.name, direction: r.direction ?? 'Inbound',
    addressPrefixes: r.prefixes ?? [], fullyQualifiedDomainNames: r.fqdns ?? [], subscriptions: (r.subscriptions ?? []).map((id) => ({ id })),
  }))));
  return path;
}

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'nspa-drift-'));

/** Runs the drift command in-process (it is registered in main.ts by the lead). */
async function runDrift(args: Record<string, unknown>): Promise<{ code: number; out: string; err: string }> {
  const io = createTestIO();
  const code = await driftCommand.run({ 'fail-on': ['new-blockers,denied-legitimate'], 'legit-min-days': 2, 'legit-min-hits': 10, format: 'md', quiet: true, ...args }, io, {});
  return { code, out: io.out(), err: io.err() };
}
const json = (out: string): DriftReport => JSON.parse(out) as DriftReport;

/** The previous run: the enforced profile was still learning, 198.51.100.5 a blocker. */
const PREVIOUS_EVENTS: Event[] = [
  ...days([4, 5], { category: IN_BLOCK, profile: 'enforced-app', ip: '198.51.100.5', count: 3 }),
  ...days([4, 5, 6], { category: IN_OK, profile: 'enforced-app', ip: '198.51.100.20', rule: 'allow-ci', count: 2 }),
];

/** The current window (days 7–9): an Enforced profile with perimeter denials, a learning one with blockers. */
const CURRENT_EVENTS: Event[] = [
  // enforced-app: working sources, then denials with each legitimacy signal.
  ...days([7, 8], { category: IN_OK, profile: 'enforced-app', ip: '198.51.100.20', rule: 'allow-ci', count: 5 }),
  ...days([7], { category: OUT_OK, profile: 'enforced-app', fqdn: 'hooks.partner.example', rule: 'allow-hooks', op: 'Webhook' }),
  { day: 8, category: IN_DENY, profile: 'enforced-app', ip: '198.51.100.5' },              // seen before (blocker, previous run)
  { day: 8, category: IN_DENY, profile: 'enforced-app', ip: '198.51.100.77' },             // neighbour of 198.51.100.20
  { day: 8, category: OUT_DENY, profile: 'enforced-app', fqdn: 'api.partner.example' },    // neighbour of hooks.partner.example
  ...days([7, 8, 9], { category: IN_DENY, profile: 'enforced-app', ip: '192.0.2.50' }),    // recurring (3 days)
  ...days([7, 8], { category: IN_DENY, profile: 'enforced-app', ip: '10.1.2.3' }),         // recurring, but private
  ...days([7, 8], { category: IN_DENY, profile: 'enforced-app', ip: '203.0.113.9' }),      // recurring, baseline admits it now
  { day: 9, category: IN_DENY, profile: 'enforced-app', ip: '203.0.113.200', count: 25 },  // busy
  { day: 9, category: IN_DENY, profile: 'enforced-app', ip: '192.0.2.251' },               // nothing: a one-off
  { day: 9, category: OUT_DENY, profile: 'enforced-app', fqdn: 'evil.example.net' },       // nothing: a one-off
  // learning-app: blockers, one covered by the baseline, three fixable, two no rule can fix.
  ...days([7, 8], { category: IN_BLOCK, profile: 'learning-app', ip: '203.0.113.10', count: 4 }),
  ...days([7, 8, 9], { category: IN_BLOCK, profile: 'learning-app', ip: '203.0.113.99', count: 6 }),
  { day: 8, category: IN_BLOCK, profile: 'learning-app', caller: `${CALLER_SUB}/resourceGroups/rg-x/providers/Microsoft.Web/sites/app1`, count: 2 },
  { day: 9, category: OUT_BLOCK, profile: 'learning-app', fqdn: 'API.Example.com.', count: 7 },
  { day: 9, category: IN_BLOCK, profile: 'learning-app', ip: '10.0.0.5' },
  { day: 9, category: IN_BLOCK, profile: 'learning-app', caller: STORAGE, ip: '198.51.100.90' },
  // quiet-app: only traffic a rule admits (no Transition-only category): enforced by absence.
  { day: 8, category: IN_OK, profile: 'quiet-app', ip: '198.51.100.20', rule: 'allow-ci-q' },
];

const CURRENT_BASELINE: RuleSpec[] = [
  { profile: 'enforced-app', name: 'allow-ci', prefixes: ['198.51.100.20/32', '192.0.2.128/25'] }, // second element unused
  { profile: 'enforced-app', name: 'allow-hooks', direction: 'Outbound', fqdns: ['hooks.partner.example'] },
  { profile: 'enforced-app', name: 'allow-new', prefixes: ['203.0.113.9/32'] },                 // added after the denials: unused
  { profile: 'learning-app', name: 'allow-range', prefixes: ['203.0.113.0/28'] },
  { profile: 'learning-app', name: 'in-ip-203.0.113.99_32', prefixes: ['198.51.100.250/32'] },   // takes the name; unused
  { profile: 'quiet-app', name: 'allow-ci-q', prefixes: ['198.51.100.20/32'] },
  { profile: 'ghost', name: 'allow-ghost', prefixes: ['192.0.2.1/32'] },                          // profile not in the logs
];

/** Runs the previous window into a history folder, then returns the current run's JSON report. */
async function currentReport(extra: Record<string, unknown> = {}): Promise<{ report: DriftReport; code: number; dir: string }> {
  const dir = tempDir();
  const history = join(dir, 'history');
  const baseline = writeBaseline(dir, 'baseline.json', CURRENT_BASELINE);
  const first = await runDrift({ paths: [writeLogs(dir, 'previous.jsonl', PREVIOUS_EVENTS)], baseline: [baseline], history, 'fail-on': ['none'] });
  expect(first.code).toBe(0);
  const r = await runDrift({ paths: [writeLogs(dir, 'current.jsonl', CURRENT_EVENTS)], baseline: [baseline], history, format: 'json', ...extra });
  return { report: json(r.out), code: r.code, dir };
}

// ── Findings ─────────────────────────────────────────────────────────────────────────────────

describe('drift findings', () => {
  it('ranks perimeter denials by how legitimate they look, each with the rule that would admit it', async () => {
    const { report } = await currentReport();
    const enforced = report.profiles.find((p) => p.profile === 'enforced-app')!;
    expect(enforced).toMatchObject({ mode: 'enforced', modeEvidence: 'perimeter-denied' });
    expect(enforced.denied.map((d) => [d.peer, d.legitimate])).toEqual([
      ['198.51.100.5', true],          // seen before beats everything
      ['198.51.100.77', true],         // neighbours next (ties by peer)
      ['api.partner.example', true],
      ['192.0.2.50', true],            // then days seen, then hits
      ['10.1.2.3', true],
      ['203.0.113.9', true],
      ['203.0.113.200', true],
      ['192.0.2.251', false],
      ['evil.example.net', false],
    ]);
    const by = (peer: string) => enforced.denied.find((d) => d.peer === peer)!;
    expect(by('198.51.100.5').signals).toEqual({ seenBefore: 'blocker', neighbour: '198.51.100.20', recurring: false, busy: false });
    expect(by('198.51.100.77').signals).toEqual({ seenBefore: null, neighbour: '198.51.100.20', recurring: false, busy: false });
    expect(by('api.partner.example').signals.neighbour).toBe('hooks.partner.example');
    expect(by('192.0.2.50').signals).toEqual({ seenBefore: null, neighbour: null, recurring: true, busy: false });
    expect(by('203.0.113.200').signals).toEqual({ seenBefore: null, neighbour: null, recurring: false, busy: true });
    expect(by('192.0.2.251').signals).toEqual({ seenBefore: null, neighbour: null, recurring: false, busy: false });

    expect(by('198.51.100.5').fix).toMatchObject({ kind: 'add-rule', rule: { name: 'in-ip-198.51.100.5_32', direction: 'Inbound', addressPrefixes: ['198.51.100.5/32'], evidence: { hits: 1, daysSeen: 1 } } });
    expect(by('api.partner.example').fix).toMatchObject({ kind: 'add-rule', rule: { name: 'out-fqdn-api.partner.example', direction: 'Outbound', fullyQualifiedDomainNames: ['api.partner.example'] } });
    expect(by('10.1.2.3').fix).toEqual({ kind: 'unresolved', reason: 'private-address' });
    expect(by('203.0.113.9').fix).toEqual({ kind: 'baseline-admits', rule: 'allow-new' });
    // Legitimate-looking and not already admitted by the baseline: everything above the one-offs but 203.0.113.9.
    expect(report.conditions['denied-legitimate']).toBe(6);
  });

  it('lists the blockers of learning profiles that the baseline does not cover', async () => {
    const { report } = await currentReport();
    const learning = report.profiles.find((p) => p.profile === 'learning-app')!;
    expect(learning).toMatchObject({ mode: 'learning', modeEvidence: 'resource-rules', blockersCoveredByBaseline: 1, denied: [] });
    expect(learning.uncoveredBlockers.map((b) => [b.peer, b.fix.kind === 'add-rule' ? b.fix.rule.name : b.fix.reason])).toEqual([
      ['203.0.113.99', 'in-ip-203.0.113.99_32-2'], // the baseline already has a rule of that name holding another address
      ['api.example.com', 'out-fqdn-api.example.com'],
      [`${CALLER_SUB}/resourcegroups/rg-x/providers/microsoft.web/sites/app1`, 'in-sub-22222222-2222-2222-2222-222222222222'],
      [STORAGE.toLowerCase(), 'same-perimeter-caller'], // fixable first, then by hits, then by peer
      ['10.0.0.5', 'private-address'],
    ]);
    const sub = learning.uncoveredBlockers[2]!;
    expect(sub.fix).toMatchObject({ kind: 'add-rule', rule: { subscriptions: [{ id: CALLER_SUB }] } });
    // Only blockers a rule can fix count: no rule admits a private or same-perimeter caller.
    expect(report.conditions['new-blockers']).toBe(3);
  });

  it('lists rules and elements unused in the window, and leaves profiles without logs unjudged', async () => {
    const { report } = await currentReport();
    const enforced = report.profiles.find((p) => p.profile === 'enforced-app')!;
    const learning = report.profiles.find((p) => p.profile === 'learning-app')!;
    expect(enforced.unusedRules).toEqual(['allow-new']);
    expect(enforced.unusedElements).toEqual([{ rule: 'allow-ci', element: '192.0.2.128/25' }]);
    expect(learning.unusedRules).toEqual(['in-ip-203.0.113.99_32']);
    expect(learning.unusedElements).toEqual([]);
    expect(report.conditions['unused-rules']).toBe(3);
    expect(report.baselineProfilesWithoutLogs).toEqual([{ perimeterId: P, profile: 'ghost', rules: 1 }]);
    expect(report.profiles.find((p) => p.profile === 'quiet-app')).toMatchObject({ mode: 'enforced', modeEvidence: 'none', unusedRules: [], denied: [], uncoveredBlockers: [] });
  });

  it('decides a profile mode from its categories', () => {
    const flows = (...categories: string[]): Flow[] => categories.map((category) => ({ category }) as Flow);
    expect(detectProfileMode(flows(IN_DENY, IN_OK))).toEqual({ mode: 'enforced', evidence: 'perimeter-denied' });
    expect(detectProfileMode(flows(IN_BLOCK, 'NspPublicInboundResourceRulesDenied'))).toEqual({ mode: 'learning', evidence: 'resource-rules' });
    expect(detectProfileMode(flows(OUT_DENY, OUT_BLOCK))).toEqual({ mode: 'mixed', evidence: 'both' });
    expect(detectProfileMode(flows(IN_OK, 'NspPrivateInboundAllowed'))).toEqual({ mode: 'enforced', evidence: 'none' });
  });

  it('prints Markdown with every section, byte-identical on every run and free of run timestamps', async () => {
    const dir = tempDir();
    const logs = writeLogs(dir, 'current.jsonl', CURRENT_EVENTS);
    const baseline = writeBaseline(dir, 'baseline.json', CURRENT_BASELINE);
    const a = await runDrift({ paths: [logs], baseline: [baseline] });
    const b = await runDrift({ paths: [logs], baseline: [baseline] });
    expect(a.out).toBe(b.out);
    const j1 = await runDrift({ paths: [logs], baseline: [baseline], format: 'json' });
    const j2 = await runDrift({ paths: [logs], baseline: [baseline], format: 'json' });
    expect(j1.out).toBe(j2.out);
    const today = new Date().toISOString().slice(0, 10);
    for (const out of [a.out, j1.out]) expect(out).not.toContain(today);
    expect(a.out).toContain('Logs from 2026-03-08T10:00:00Z to 2026-03-10T10:00:00Z.');
    expect(a.out).toContain('**Exit 1**: new-blockers, denied-legitimate.');
    expect(a.out).toContain('## `nsp-test/enforced-app`: enforced');
    expect(a.out).toContain('| 4 | yes | Inbound | `192.0.2.50` | 3 | 3 | 2026-03-10T10:00:00Z | recurring | add `192.0.2.50/32` as rule `in-ip-192.0.2.50_32` |');
    expect(a.out).toContain('- `192.0.2.128/25` in rule `allow-ci`: admitted nothing');
    expect(a.out).toContain('## Baseline profiles without logs (not judged)');
    expect(a.out).not.toContain('## History'); // no --history
    // --out writes the same bytes atomically.
    const out = join(dir, 'drift.md');
    await runDrift({ paths: [logs], baseline: [baseline], out });
    expect(readFileSync(out, 'utf8')).toBe(a.out);
  });
});

// ── --fail-on ────────────────────────────────────────────────────────────────────────────────

describe('drift --fail-on', () => {
  it('reads the condition list', () => {
    expect(parseFailOn(['new-blockers,denied-legitimate'])).toEqual(['new-blockers', 'denied-legitimate']);
    expect(parseFailOn(['new-sources', 'unused-rules,new-blockers'])).toEqual(['new-blockers', 'unused-rules', 'new-sources']);
    expect(parseFailOn(['none'])).toEqual([]);
    expect(() => parseFailOn(['new-blockers,bogus'])).toThrow(/Cannot read --fail-on "bogus"/);
    expect(() => parseFailOn(['none,unused-rules'])).toThrow(/Cannot combine --fail-on none/);
  });

  it('new-blockers: exit 1 while a blocker has no rule in the baseline, 0 once it has', async () => {
    const dir = tempDir();
    const logs = writeLogs(dir, 'l.jsonl', days([1, 2], { category: IN_BLOCK, profile: 'learning-app', ip: '203.0.113.99' }));
    const none = writeBaseline(dir, 'none.json', []);
    const full = writeBaseline(dir, 'full.json', [{ profile: 'learning-app', name: 'ci', prefixes: ['203.0.113.99/32'] }]);
    expect((await runDrift({ paths: [logs], baseline: [none], 'fail-on': ['new-blockers'] })).code).toBe(1);
    expect((await runDrift({ paths: [logs], baseline: [full], 'fail-on': ['new-blockers'] })).code).toBe(0);
  });

  it('denied-legitimate: exit 1 for a recurring denial, 0 when the thresholds call it noise', async () => {
    const dir = tempDir();
    const logs = writeLogs(dir, 'l.jsonl', days([1, 2, 3], { category: IN_DENY, profile: 'enforced-app', ip: '192.0.2.50' }));
    const none = writeBaseline(dir, 'none.json', []);
    expect((await runDrift({ paths: [logs], baseline: [none], 'fail-on': ['denied-legitimate'] })).code).toBe(1);
    expect((await runDrift({ paths: [logs], baseline: [none], 'fail-on': ['denied-legitimate'], 'legit-min-days': 4 })).code).toBe(0);
  });

  it('unused-rules: exit 1 while a rule admits nothing, 0 when every rule is used', async () => {
    const dir = tempDir();
    const logs = writeLogs(dir, 'l.jsonl', days([1, 2], { category: IN_OK, profile: 'enforced-app', ip: '198.51.100.20', rule: 'allow-ci' }));
    const used = writeBaseline(dir, 'used.json', [{ profile: 'enforced-app', name: 'allow-ci', prefixes: ['198.51.100.20/32'] }]);
    const stale = writeBaseline(dir, 'stale.json', [{ profile: 'enforced-app', name: 'allow-ci', prefixes: ['198.51.100.20/32'] }, { profile: 'enforced-app', name: 'allow-old', prefixes: ['192.0.2.0/28'] }]);
    expect((await runDrift({ paths: [logs], baseline: [used], 'fail-on': ['unused-rules'] })).code).toBe(0);
    const r = await runDrift({ paths: [logs], baseline: [stale], 'fail-on': ['unused-rules'], format: 'json' });
    expect(r.code).toBe(1);
    expect(json(r.out).failed).toEqual(['unused-rules']);
  });

  it('new-sources: exit 0 on the first run and on the same sources, 1 when a source appears', async () => {
    const dir = tempDir();
    const history = join(dir, 'history');
    const baseline = writeBaseline(dir, 'b.json', [{ profile: 'enforced-app', name: 'allow-ci', prefixes: ['198.51.100.20/32'] }]);
    const same = (d: number[]): Event[] => days(d, { category: IN_OK, profile: 'enforced-app', ip: '198.51.100.20', rule: 'allow-ci' });
    const run = (name: string, events: Event[]) => runDrift({ paths: [writeLogs(dir, name, events)], baseline: [baseline], history, 'fail-on': ['new-sources'] });
    expect((await run('1.jsonl', same([1, 2]))).code).toBe(0);
    expect((await run('2.jsonl', same([3, 4]))).code).toBe(0);
    expect((await run('3.jsonl', [...same([5, 6]), { day: 6, category: IN_DENY, profile: 'enforced-app', ip: '192.0.2.7' }])).code).toBe(1);
  });

  it('none never fails, and the default fails on new blockers and legitimate-looking denials', async () => {
    const dir = tempDir();
    const logs = writeLogs(dir, 'current.jsonl', CURRENT_EVENTS);
    const baseline = writeBaseline(dir, 'baseline.json', CURRENT_BASELINE);
    expect((await runDrift({ paths: [logs], baseline: [baseline], 'fail-on': ['none'] })).code).toBe(0);
    const io = createTestIO();
    const args = await parseWith(driftCommand, ['drift', logs, '--baseline', baseline, '--format', 'json', '-q']);
    const code = await driftCommand.run(args, io, {});
    expect(code).toBe(1);
    expect(json(io.out())).toMatchObject({ failOn: ['new-blockers', 'denied-legitimate'], failed: ['new-blockers', 'denied-legitimate'] });
    await expect(parseWith(driftCommand, ['drift', logs, '--baseline', baseline, '--fail-on', 'everything'])).rejects.toThrow(/Cannot read --fail-on "everything"/);
    await expect(parseWith(driftCommand, ['drift', logs])).rejects.toThrow(/baseline/);
  });
});

/** Parses argv with the command's own yargs builder, as main.ts will once the command is registered. */
async function parseWith(spec: CommandSpec, argv: string[]): Promise<Record<string, unknown>> {
  let parsed: Record<string, unknown> | null = null;
  await yargs().exitProcess(false).strict().fail((message, error) => { throw error ?? new Error(message); })
    .command(spec.command, spec.describe, (y) => spec.builder(y), (args) => { parsed = args as Record<string, unknown>; })
    .parseAsync(argv);
  if (!parsed) throw new Error('no command parsed');
  return parsed;
}

// ── History ──────────────────────────────────────────────────────────────────────────────────

describe('drift --history', () => {
  // Three windows; sources: S1 203.0.113.1 and S3 a.example.com (learning blockers), S2 198.51.100.20
  // (allowed), S4 203.0.113.2, S5 203.0.113.3, S6 192.0.2.50 (denied).
  const S1 = (d: number[]) => days(d, { category: IN_BLOCK, profile: 'learning-app', ip: '203.0.113.1', count: 2 });
  const S2 = (d: number[]) => days(d, { category: IN_OK, profile: 'enforced-app', ip: '198.51.100.20', rule: 'allow-ci', count: 5 });
  const S3 = (d: number[]) => days(d, { category: OUT_BLOCK, profile: 'learning-app', fqdn: 'a.example.com' });
  const S4 = (d: number[]) => days(d, { category: IN_BLOCK, profile: 'learning-app', ip: '203.0.113.2' });
  const S5 = (d: number[]) => days(d, { category: IN_BLOCK, profile: 'learning-app', ip: '203.0.113.3' });
  const S6 = (d: number[]) => days(d, { category: IN_DENY, profile: 'enforced-app', ip: '192.0.2.50' });
  const WINDOWS: Event[][] = [
    [...S1([0, 1, 2]), ...S2([0, 1, 2]), ...S3([1])],
    [...S1([3, 4]), ...S2([3, 4, 5]), ...S4([5])],
    [...S2([6, 7, 8]), ...S4([6]), ...S5([7, 8]), ...S6([8])],
  ];

  it('keeps one snapshot per run and compares the third run with the second', async () => {
    const dir = tempDir();
    const history = join(dir, 'history');
    const baseline = writeBaseline(dir, 'b.json', [{ profile: 'enforced-app', name: 'allow-ci', prefixes: ['198.51.100.20/32'] }]);
    const reports: DriftReport[] = [];
    const listings: string[][] = [];
    const names = ['flows-2026-03-03.arrow', 'flows-2026-03-06.arrow', 'flows-2026-03-09.arrow'];
    for (const [i, events] of WINDOWS.entries()) {
      const r = await runDrift({ paths: [writeLogs(dir, `w${i + 1}.jsonl`, events)], baseline: [baseline], history, format: 'json', 'fail-on': ['none'], quiet: false });
      expect(r.code).toBe(0);
      expect(r.err).toContain(`kept this run as ${join(history, names[i]!)}`);
      reports.push(json(r.out));
      listings.push(readdirSync(history).sort());
    }
    // Snapshots accumulate, named after the last day of data in each window (sortable, deterministic).
    expect(listings).toEqual([
      ['flows-2026-03-03.arrow'],
      ['flows-2026-03-03.arrow', 'flows-2026-03-06.arrow'],
      ['flows-2026-03-03.arrow', 'flows-2026-03-06.arrow', 'flows-2026-03-09.arrow'],
    ]);
    expect(reports[0]!.history).toMatchObject({ current: 'flows-2026-03-03.arrow', previous: null, newSources: [], vanishedSources: [] });
    expect(reports[1]!.history!.previous).toBe('flows-2026-03-03.arrow');
    expect(reports[1]!.history!.newSources.map((s) => s.peer)).toEqual(['203.0.113.2']);
    expect(reports[1]!.history!.vanishedSources.map((s) => s.peer)).toEqual(['a.example.com']);

    const third = reports[2]!.history!;
    expect(third.current).toBe('flows-2026-03-09.arrow');
    expect(third.previous).toBe('flows-2026-03-06.arrow');
    expect(third.newSources.map((s) => [s.profile, s.direction, s.peer, s.decisions, s.hits])).toEqual([
      ['enforced-app', 'Inbound', '192.0.2.50', ['denied'], 1],
      ['learning-app', 'Inbound', '203.0.113.3', ['blocker'], 2],
    ]);
    expect(third.vanishedSources.map((s) => [s.profile, s.peer, s.hits])).toEqual([['learning-app', '203.0.113.1', 4]]);
    expect(third.volume.map((v) => [v.profile, v.hitsBefore, v.hitsNow, v.change])).toEqual([
      ['enforced-app', 15, 16, 0.0667],
      ['learning-app', 5, 3, -0.4],
    ]);
    expect(third.volume[0]!.byDecision.denied).toEqual({ before: 0, now: 1 });
    expect(third.newSourceRate).toEqual([
      { run: 'flows-2026-03-03.arrow', lastDay: '2026-03-03', sources: 3, newSources: 3 },
      { run: 'flows-2026-03-06.arrow', lastDay: '2026-03-06', sources: 3, newSources: 1 },
      { run: 'flows-2026-03-09.arrow', lastDay: '2026-03-09', sources: 4, newSources: 2 },
    ]);
    expect(reports[2]!.conditions['new-sources']).toBe(2);

    // The kept snapshot is the run's flows, readable like any `analyze --out` snapshot.
    const s3 = await loadSnapshot(join(history, 'flows-2026-03-09.arrow'));
    expect(summaryToJSON(s3)).toEqual(summaryToJSON(await summaryOf(join(dir, 'w3.jsonl'))));

    // Re-running the third window replaces its own snapshot and reports the same bytes.
    const again = await runDrift({ paths: [join(dir, 'w3.jsonl')], baseline: [baseline], history, format: 'json', 'fail-on': ['none'] });
    expect(json(again.out)).toEqual(reports[2]);
    expect(readdirSync(history).sort()).toHaveLength(3);

    // The Markdown report carries the history sections.
    const md = await runDrift({ paths: [join(dir, 'w3.jsonl')], baseline: [baseline], history, 'fail-on': ['none'] });
    expect(md.out).toContain('This run: `flows-2026-03-09.arrow`, compared with `flows-2026-03-06.arrow`.');
    expect(md.out).toContain('| `nsp-test/learning-app` | 5 | 3 | -40.0% |');
    expect(md.out).toContain('| `flows-2026-03-06.arrow` | 2026-03-06 | 3 | 1 |');
  });

  it('names a snapshot after the last day with data, and writes none for empty logs', async () => {
    expect(historySnapshotName(emptySummary())).toBeNull();
    const dir = tempDir();
    expect(historySnapshotName(await summaryOf(writeLogs(dir, 'w.jsonl', WINDOWS[1]!)))).toBe('flows-2026-03-06.arrow');
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '');
    const history = join(dir, 'history');
    const r = await runDrift({ paths: [empty], baseline: [writeBaseline(dir, 'b.json', [])], history, quiet: false });
    expect(r.code).toBe(0);
    expect(r.err).toContain('no history snapshot is written');
  });
});

describe('drift --history guard', () => {
  it('refuses a history folder inside a log folder (its snapshots would be read as logs)', async () => {
    const dir = tempDir();
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    writeLogs(logs, 'l.jsonl', days([1], { category: IN_OK, profile: 'enforced-app', ip: '198.51.100.20' }));
    const baseline = writeBaseline(dir, 'b.json', []);
    await expect(runDrift({ paths: [logs], baseline: [baseline], history: join(logs, 'history') })).rejects.toMatchObject({ code: 'usage' });
    expect((await runDrift({ paths: [logs], baseline: [baseline], history: join(dir, 'logs-history') })).code).toBe(0);
  });
});

async function summaryOf(path: string): Promise<FlowSummary> {
  const s = emptySummary();
  for await (const r of readRecords(await listInputFiles([path]))) addRecord(s, r);
  return s;
}
