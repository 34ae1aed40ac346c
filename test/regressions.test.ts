// Regression tests for problems found in review: each names the failure it guards against.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Float64, RecordBatch, Schema, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { FlowTable } from '../src/analyze/flow-table.js';
import { addRecord, emptySummary, snapshotBytes } from '../src/analyze/index.js';
import { lookupCategory } from '../src/model/category.js';
import type { ExistingRule } from '../src/model/existing-rules.js';
import type { NspRecord } from '../src/model/record.js';
import { ruleElements } from '../src/model/rule-set.js';
import { recommend } from '../src/recommend/index.js';
import { simulate } from '../src/recommend/simulate.js';
import { runCli } from './helpers/run-cli.js';

const PERIMETER = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/networkSecurityPerimeters/nsp';
const tempDir = (): string => mkdtempSync(join(tmpdir(), 'nspa-reg-'));

function record(over: Partial<NspRecord>): NspRecord {
  const c = lookupCategory(over.category ?? 'NspPublicInboundResourceRulesAllowed')!;
  return {
    time: Date.UTC(2026, 10, 2), endTime: Date.UTC(2026, 10, 2), count: 1, perimeterId: PERIMETER, profile: 'p',
    category: c.name, direction: c.direction, decision: c.decision, resourceId: '/subscriptions/x/res', peerKind: 'ip', peer: '198.51.100.1',
    sourceIp: '', matchedRule: '', operation: '', ...over,
  };
}

describe('review findings', () => {
  it('flows stay in their own profile however many strings are interned (group key collision)', () => {
    const t = new FlowTable();
    t.addRecord(record({ perimeterId: `${PERIMETER}0`, profile: 'a', peer: '198.51.100.1' }));
    t.addRecord(record({ perimeterId: `${PERIMETER}1`, profile: 'b', peer: '198.51.100.2' }));
    for (let i = 0; i < 140_000; i++) t.interner.id(`filler-${i}`);
    t.addRecord(record({ perimeterId: `${PERIMETER}0`, profile: 'c', peer: '203.0.113.9' }));
    const flows = [...t.toSummary().flows.values()].map((f) => `${f.perimeterId.slice(-4)} ${f.profile} ${f.peer}`).sort();
    expect(flows).toEqual([`nsp0 a 198.51.100.1`, `nsp0 c 203.0.113.9`, `nsp1 b 198.51.100.2`]);
  });

  it('a snapshot edited elsewhere never turns denied traffic into rules', async () => {
    const dir = tempDir();
    const s = emptySummary();
    addRecord(s, record({ category: 'NspPublicInboundPerimeterRulesDenied', peer: '203.0.113.66' }));
    const table = tableFromIPC(snapshotBytes(s));
    // Re-write the category column in lower case, as another tool might.
    const columns = Object.fromEntries(table.schema.fields.map((f) => [f.name, f.name === 'category'
      ? vectorFromArray(['nsppublicinboundperimeterrulesdenied'], new Utf8())
      : table.getChild(f.name)!]));
    const edited = new Table(columns);
    const withMeta = new Table(new Schema(edited.schema.fields, table.schema.metadata), edited.batches.map((b) => new RecordBatch(new Schema(edited.schema.fields, table.schema.metadata), b.data)));
    writeFileSync(join(dir, 'edited.arrow'), tableToIPC(withMeta, 'file'));
    const r = await runCli('recommend', '--flows', join(dir, 'edited.arrow'), '-q');
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('203.0.113.66');
  });

  it('a snapshot whose hits are not the sum of its hits per day is refused, not merged', async () => {
    const dir = tempDir();
    const s = emptySummary();
    addRecord(s, record({ peer: '203.0.113.67' }));
    const table = tableFromIPC(snapshotBytes(s));
    const columns = Object.fromEntries(table.schema.fields.map((f) => [f.name, f.name === 'hits'
      ? vectorFromArray([999], new Float64())
      : table.getChild(f.name)!]));
    const edited = new Table(columns);
    const schema = new Schema(edited.schema.fields, table.schema.metadata);
    writeFileSync(join(dir, 'edited.arrow'), tableToIPC(new Table(schema, edited.batches.map((b) => new RecordBatch(schema, b.data))), 'file'));
    const r = await runCli('recommend', '--flows', join(dir, 'edited.arrow'), '-q');
    expect(r.code).toBe(2);
    expect(r.err).toContain('are not the sum of the hits per day');
  });

  it('a same-perimeter caller admitted by an IP rule is not reported as denied', () => {
    const member = '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg/providers/microsoft.web/sites/app';
    const s = emptySummary();
    addRecord(s, record({ resourceId: member, peer: '198.51.100.50' }));
    addRecord(s, record({ category: 'NspPublicInboundPerimeterRulesAllowed', peerKind: 'resource', peer: member, sourceIp: '198.51.100.9', matchedRule: 'allow-ip' }));
    const rules: ExistingRule[] = [{ perimeterId: PERIMETER, profile: 'p', name: 'allow-ip', direction: 'Inbound', addressPrefixes: ['198.51.100.0/24'], subscriptions: [], fullyQualifiedDomainNames: [], serviceTags: [] }];
    const report = simulate(s, { rules, listedProfiles: new Set([`${PERIMETER}\u0001p`]) });
    expect(report.deniedFlows).toBe(0);
  });

  it('--extend-existing re-emits the elements in place exactly as written', () => {
    const s = emptySummary();
    addRecord(s, record({ category: 'NspPublicOutboundResourceRulesAllowed', peerKind: 'fqdn', peer: 'api.contoso.org' }));
    addRecord(s, record({ category: 'NspPublicOutboundResourceRulesAllowed', peerKind: 'fqdn', peer: 'x.example.com' }));
    const existing: ExistingRule[] = [{ perimeterId: PERIMETER, profile: 'p', name: 'out', direction: 'Outbound', addressPrefixes: [], subscriptions: [], fullyQualifiedDomainNames: ['*.com', 'Partner.Example.NET.'], serviceTags: [] }];
    const { ruleSet } = recommend(s, existing, { extendExisting: true });
    const rules = ruleSet.profiles[0]!.rules;
    expect(rules.map((r) => [r.name, ruleElements(r)])).toEqual([['out', ['*.com', 'Partner.Example.NET.', 'api.contoso.org']]]);
  });

  it('rows with far-off timestamps are bad rows, and report still renders', async () => {
    const dir = tempDir();
    const path = join(dir, 'odd.jsonl');
    const line = (time: string): string => JSON.stringify({ time, category: 'NspPublicInboundResourceRulesAllowed', resourceId: PERIMETER, properties: { profile: 'p', source: { ipAddress: '198.51.100.1' } } });
    writeFileSync(path, `${line('1000-01-01T00:00:00Z')}\n${line('2026-11-02T00:00:00Z')}\n${line('2400-01-01T00:00:00Z')}\n`);
    const r = await runCli('report', path, '--out', join(dir, 'r.html'));
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/odd\.jsonl:1: invalid-time/);
    expect(r.err).toMatch(/odd\.jsonl:3: invalid-time/);
  });

  it('reads an input reached twice only once, and skips snapshots met inside folders', async () => {
    const dir = tempDir();
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    copyFileSync('fixtures/estate/portal/NSPAccessLogs.csv', join(logs, 'a.csv'));
    const once = await runCli('recommend', logs, '-q');
    const twice = await runCli('recommend', logs, join(logs, 'a.csv'), `${logs}/../logs`, '-q');
    expect(twice.out).toBe(once.out);
    expect((await runCli('analyze', logs, '--out', join(logs, 'flows.arrow'), '-q')).code).toBe(0);
    const after = await runCli('recommend', logs);
    expect(after.out).toBe(once.out);
    expect(after.err).toContain('Skipped a flow snapshot found in a folder');
    expect(readFileSync(join(logs, 'a.csv'), 'utf8').length).toBeGreaterThan(0);
  });
});
