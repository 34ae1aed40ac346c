// The byte scanner (fast path) against the careful path (JSON.parse + normalizeRow): the same
// summary, the same accounts and the same issues at the same lines, on every fixture and on
// generated edge cases (escapes, unicode, key order, both casings, missing fields, nested noise,
// broken lines), in one thread and split into byte ranges over worker threads.

import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { analyze, snapshotBytes, summaryToJSON } from '../src/analyze/index.js';
import { snapshotBytesFromTable, writeSnapshotRows } from '../src/analyze/snapshot.js';
import { mergedRows } from '../src/analyze/sorted-runs.js';
import { sortedRunOfTable } from '../src/analyze/flow-order.js';
import { analyzeFiles } from '../src/analyze/parallel.js';
import { endIdleWorkers, idleWorkerCount, prestartWorkers, prestartWorkersFor, WORKERS_FROM_BYTES } from '../src/analyze/worker-pool.js';
import { FlowTable, type FlowColumns } from '../src/analyze/flow-table.js';
import { runRegions } from '../src/analyze/run-memory.js';
import { listInputFiles, readRecords } from '../src/ingest/index.js';
import type { Issue, SourceAccount } from '../src/model/issue.js';

async function careful(paths: string[]): Promise<{ summary: string; accounts: SourceAccount[]; issues: Issue[] }> {
  const issues: Issue[] = [];
  const accounts: SourceAccount[] = [];
  const s = await analyze(readRecords(await listInputFiles(paths), { onIssue: (i) => issues.push(i), accounts }));
  return { summary: JSON.stringify(summaryToJSON(s)), accounts, issues };
}

async function fast(paths: string[], options: { workers?: number; rangeBytes?: number } = {}): Promise<{ summary: string; accounts: SourceAccount[]; issues: Issue[]; carefulLines: number }> {
  const issues: Issue[] = [];
  const r = await analyzeFiles(await listInputFiles(paths), { onIssue: (i) => issues.push(i), workers: options.workers ?? 0, rangeBytes: options.rangeBytes });
  return { summary: JSON.stringify(summaryToJSON(r.table.toSummary())), accounts: r.accounts, issues, carefulLines: r.carefulLines };
}

const PERIMETER = '/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYPERIMETERS/NSP';

/**
 * Seeded: rows of a few hundred flows in random order, each flow seen on several days, with
 * several resources, rules (a second rule, then the first again) and operations (more than the
 * sample keeps), callers behind source resources; 60 perimeters × 4 profiles of pairs.
 */
function manyValuedLines(seed: number, count: number): string[] {
  const next = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const inbound = next(3) > 0;
    const day = 1 + next(9);
    const row: Record<string, unknown> = {
      time: `2026-11-0${day}T${String(next(24)).padStart(2, '0')}:${String(next(60)).padStart(2, '0')}:00.${next(1000)}Z`,
      resourceId: `${PERIMETER}${next(10) ? next(3) : next(60)}`, count: 1 + next(50),
      category: inbound ? 'NspPublicInboundResourceRulesAllowed' : 'NspPublicOutboundPerimeterRulesAllowed',
      operationName: `Op${String.fromCharCode(65 + next(14))}`,
      properties: {
        profile: `profile${next(4)}`, serviceResourceId: `/subscriptions/0/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/s${next(5)}`,
        matchedRule: next(4) === 0 ? undefined : { accessRule: `rule${next(3)}` },
        ...(inbound
          ? { source: { ipAddress: `198.51.${next(2)}.${next(8)}`, ...(next(4) === 0 ? { resourceId: `/subscriptions/1/resourceGroups/r/providers/Microsoft.Web/sites/app${next(3)}` } : {}) } }
          : { destination: { fullyQualifiedDomainName: `h${next(6)}.contoso.com` } }),
      },
    };
    lines.push(JSON.stringify(row));
  }
  return lines;
}

/** Random casing of a key. */
const casing = (key: string, mode: number): string => (mode === 0 ? key : mode === 1 ? key[0]!.toUpperCase() + key.slice(1) : key.toUpperCase());

/** A JSON string literal of `value`, with some characters written as \u escapes. */
const escaped = (value: string, every: number): string => {
  const json = JSON.stringify(value);
  if (every === 0) return json;
  let out = '';
  for (let i = 0; i < json.length; i++) {
    const c = json[i]!;
    out += i > 0 && i < json.length - 1 && i % every === 0 && /[a-z0-9]/i.test(c) ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c;
  }
  return out;
};

const lineArb = fc.record({
  shape: fc.constantFrom('raw', 'la'),
  casing: fc.integer({ min: 0, max: 2 }),
  category: fc.constantFrom('NspPublicInboundResourceRulesAllowed', 'nsppublicoutboundresourcerulesallowed', 'NspPublicInboundPerimeterRulesAllowed', 'NspPrivateInboundAllowed', 'perimeterPublicInboundResourceRulesAllowed', 'NspUnknown', ' NspPublicInboundResourceRulesAllowed'),
  time: fc.constantFrom('2026-11-02T08:00:00', '2026-11-02T08:00:00.1234567Z', '2026-11-03T23:59:59Z', '11/12/2026, 8:03:02.000 PM', '2026-02-30T00:00:00Z', '2026-11-02 08:00:00', 'garbage', ''),
  end: fc.option(fc.constantFrom('2026-11-02T08:10:00Z', '2026-11-01T00:00:00Z', 'bad'), { nil: undefined }),
  count: fc.option(fc.oneof(fc.integer({ min: 0, max: 99 }), fc.constantFrom('7', '', ' 3 ', 'x', '1.5', '-1', null)), { nil: undefined }),
  profile: fc.constantFrom('defaultProfile', 'Prof\u00e9', '', 'p'),
  ip: fc.option(fc.constantFrom('198.51.100.1', '198.51.100.1:443', '[2001:DB8::1]', '2001:db8::1', '10.0.0.1', '::ffff:198.51.100.2', '999.1.1.1', '', ' 198.51.100.1'), { nil: undefined }),
  sourceResource: fc.option(fc.constantFrom('/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/R/providers/Microsoft.Web/sites/F', '', '/'), { nil: undefined }),
  fqdn: fc.option(fc.constantFrom('API.Contoso.com.', 'https://x.example/p', 'not a host', ''), { nil: undefined }),
  rule: fc.option(fc.constantFrom('IP firewall', '{"accessRule":"r1"}', ''), { nil: undefined }),
  operation: fc.option(fc.constantFrom('GetBlob', 'PutBlob', 'a', 'z', 'Ω'), { nil: undefined }),
  escapeEvery: fc.constantFrom(0, 0, 0, 3),
  noise: fc.boolean(),
  breakIt: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
});

/** Renders a generated record as one JSON line, by hand, so key order, escapes and noise vary. */
type Generated = typeof lineArb extends fc.Arbitrary<infer T> ? T : never;

function render(r: Generated): string {
  const k = (key: string): string => JSON.stringify(casing(key, r.casing));
  const v = (value: string): string => escaped(value, r.escapeEvery);
  const fields: string[] = [];
  if (r.shape === 'raw') {
    fields.push(`${k('time')}:${v(r.time)}`);
    if (r.end !== undefined) fields.push(`${k('timeGeneratedEndTime')}:${v(r.end)}`);
    if (r.count !== undefined) fields.push(`${k('count')}:${typeof r.count === 'string' ? v(r.count) : JSON.stringify(r.count)}`);
    fields.push(`${k('resourceId')}:${v(PERIMETER)}`, `${k('category')}:${v(r.category)}`);
    if (r.operation !== undefined) fields.push(`${k('operationName')}:${v(r.operation)}`);
    const props: string[] = [`${k('profile')}:${v(r.profile)}`, `${k('serviceResourceId')}:${v('/subscriptions/x/RES')}`];
    if (r.rule !== undefined) props.push(r.rule.startsWith('{') ? `${k('matchedRule')}:${v(r.rule)}` : `${k('matchedRule')}:{${k('accessRule')}:${v(r.rule)}}`);
    const source: string[] = [];
    if (r.ip !== undefined) source.push(`${k('ipAddress')}:${v(r.ip)}`);
    if (r.sourceResource !== undefined) source.push(`${k('resourceId')}:${v(r.sourceResource)}`);
    if (r.noise) source.push(`"extra":{"deep":[1,{"x":null},true,"s\\"q"]}`);
    props.push(`${k('source')}:{${source.join(',')}}`);
    if (r.fqdn !== undefined) props.push(`${k('destination')}:{${k('fullyQualifiedDomainName')}:${v(r.fqdn)}}`);
    if (r.noise) props.push(`"serviceFeatureNames":["*"]`, `"n":-1.5e3`);
    fields.push(`${k('properties')}:{${props.join(',')}}`);
  } else {
    fields.push(`${k('TimeGenerated')}:${v(r.time)}`);
    if (r.end !== undefined) fields.push(`${k('TimeGeneratedEndTime')}:${v(r.end)}`);
    if (r.count !== undefined) fields.push(`${k('Count')}:${typeof r.count === 'string' ? v(r.count) : JSON.stringify(r.count)}`);
    fields.push(`${k('_ResourceId')}:${v(PERIMETER.toLowerCase())}`, `${k('Category')}:${v(r.category)}`, `${k('Profile')}:${v(r.profile)}`);
    if (r.operation !== undefined) fields.push(`${k('OperationName')}:${v(r.operation)}`);
    if (r.rule !== undefined) fields.push(`${k('MatchedRule')}:${v(r.rule.startsWith('{') ? r.rule : JSON.stringify({ accessRule: r.rule }))}`);
    if (r.ip !== undefined) fields.push(`${k('SourceIpAddress')}:${v(r.ip)}`);
    if (r.sourceResource !== undefined) fields.push(`${k('SourceResourceId')}:${v(r.sourceResource)}`);
    if (r.fqdn !== undefined) fields.push(`${k('DestinationFqdn')}:${v(r.fqdn)}`);
    if (r.noise) fields.push(`"Noise":[[],{}]`, `"ServiceResourceId":null`);
  }
  let line = `{${fields.join(r.noise ? ' , ' : ',')}}`;
  if (r.breakIt === 1) line = line.slice(0, -3);
  if (r.breakIt === 2) line = `{"records":[${line}]}`;
  if (r.breakIt === 3) line = `${line} x`;
  if (r.breakIt === 4) line = `[${line}]`;
  // Broken strings in a value nobody needs: JSON.parse still refuses the line.
  if (r.breakIt === 5) line = `{"junk":"a\\qb",${line.slice(1)}`;
  if (r.breakIt === 6) line = `{"junk":"a\tb",${line.slice(1)}`;
  if (r.breakIt === 7) line = `{"junk":"\\u00zz",${line.slice(1)}`;
  if (r.breakIt === 9) line = `{"junk":"\\u00\u0010\u0011",${line.slice(1)}`; // control characters where hex digits belong
  // A well-formed escape in a skipped value: still the fast path's.
  if (r.breakIt === 8) line = `{"junk":"\\u00e9\\n\\\"",${line.slice(1)}`;
  return line;
}

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'nspa-diff-'));

/** Writes `lines` to a file and reads it both ways: the same summary, accounts and issues. */
async function sameBothWays(name: string, lines: readonly string[]): Promise<Awaited<ReturnType<typeof careful>>> {
  const path = join(tempDir(), name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  const a = await careful([path]);
  const b = await fast([path]);
  expect(b.summary).toBe(a.summary);
  expect(b.accounts).toEqual(a.accounts);
  expect(b.issues).toEqual(a.issues);
  return a;
}

describe('fast path = careful path', () => {
  it('on every fixture', async () => {
    for (const path of ['fixtures/estate/storage-account', 'fixtures/estate/event-hubs', 'fixtures/estate/log-analytics', 'fixtures/estate/portal', 'fixtures/malformed']) {
      const a = await careful([path]);
      const b = await fast([path]);
      expect(b.summary, path).toBe(a.summary);
      expect(b.accounts, path).toEqual(a.accounts);
      expect(b.issues, path).toEqual(a.issues);
      if (path.includes('estate/storage-account')) expect(b.carefulLines, path).toBe(0);
    }
  });

  it('on generated edge cases, whole files and split into ranges over workers', async () => {
    const dir = tempDir();
    let n = 0;
    await fc.assert(fc.asyncProperty(fc.array(lineArb, { minLength: 1, maxLength: 40 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), async (records, eol, bom) => {
      const path = join(dir, `f${n++}.jsonl`);
      const text = (bom ? '\uFEFF' : '') + records.map(render).join(eol) + (records.length % 2 ? eol : '') ;
      writeFileSync(path, text);
      const a = await careful([path]);
      const b = await fast([path]);
      expect(b.summary).toBe(a.summary);
      expect(b.accounts).toEqual(a.accounts);
      expect(b.issues).toEqual(a.issues);
    }), { numRuns: Number(process.env.NSPA_FUZZ_RUNS ?? 150) });
  });

  it('reads each key by its own bytes where the line before had another key at that place', async () => {
    // The scanner tries the key last seen at each place first: keys that differ from it only past
    // 16 bytes, by length, by case or by an escape must each be read as what they are.
    const base = {
      time: '2026-11-02T08:00:00Z', timeGeneratedEndTime: '2026-11-02T09:00:00Z', count: '3', resourceId: PERIMETER,
      category: 'NspPublicOutboundResourceRulesAllowed',
      properties: { profile: 'p', serviceResourceId: '/subscriptions/x/res', destination: { fullyQualifiedDomainName: 'a.contoso.com' } },
    };
    const line = JSON.stringify(base);
    const variants = [
      line,
      line.replace('"timeGeneratedEndTime"', '"timeGeneratedEndTimX"'), // the same first 16 bytes
      line.replace('"fullyQualifiedDomainName"', '"fullyQualifiedDomainNamX"'),
      line.replace('"serviceResourceId"', '"serviceResourceIdX"'), // longer
      line.replace('"count"', '"coun"'), // shorter
      line.replace('"time"', '"Time"'),
      line.replace('"time"', '"ti\\u006de"'), // escaped, the same text
      line.replace('"profile"', '"profilf"'),
    ];
    const lines: string[] = [];
    for (let i = 0; i < 4; i++) for (const v of variants) lines.push(line, v.replace('a.contoso.com', `h${lines.length}.contoso.com`));
    const a = await sameBothWays('keys.jsonl', lines);
    expect(a.summary).toContain('"peer":"h2.contoso.com"');
  });

  it('reads a line by the template of a line like it only where their bytes agree', async () => {
    // A line read in full becomes a template: later lines equal to it but in their values are read
    // by it. Each variant differs from the template in one way that must not be taken for a value.
    const base = {
      time: '2026-11-02T08:00:00Z', count: 3, resourceId: PERIMETER, category: 'NspPublicInboundResourceRulesAllowed', operationName: 'GetBlob',
      properties: { profile: 'p', serviceResourceId: '/subscriptions/x/res', extra: { n: [1, 'a'] }, source: { ipAddress: '198.51.100.7', port: '443' } },
    };
    const line = JSON.stringify(base);
    const variants = [
      line.replace('"count":3', '"count":"3"'), // a string where the template has a number
      line.replace('"count":3', '"count":null'),
      line.replace('"count":3', '"count":-2.5e1'),
      line.replace('"profile":"p"', '"profile":null'),
      line.replace('"profile":"p"', '"profile":"p\\u0071"'), // an escape in a needed text
      line.replace('"port":"443"', '"port":"4\\"3"'), // an escape in a text nobody needs
      line.replace('"port":"443"', '"port":"4\u00013"'), // a control character
      line.replace('"n":[1,"a"]', '"n":[1,"b"]'), // a nested value nobody needs
      line.replace('"operationName":"GetBlob"', '"operationName":{"x":1}'),
      line.replace('"ipAddress":"198.51.100.7"', '"ipAddress":"198.51.100.8","ipAddress":"198.51.100.9"'),
      `${line} `, // trailing white space
      `${line}x`, // and anything else after the line's object
      line.replace('"time":"2026-11-02T08:00:00Z"', '"time":"2026-11-03T08:00:00Z"'), // only a value differs
      line.replace('"source":{', '"source":{ '),
    ];
    const lines: string[] = [];
    for (const v of variants) lines.push(line, v, line.replace('GetBlob', 'PutBlob'));
    const a = await sameBothWays('templates.jsonl', lines);
    expect(a.issues.length).toBeGreaterThan(0); // the control character breaks its line
  });

  it('runs on workers started ahead, and ends those a run does not take', async () => {
    const dir = tempDir();
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({
      time: `2026-11-0${2 + (i % 5)}T08:00:00Z`, count: String(1 + (i % 3)), resourceId: PERIMETER, category: 'NspPublicInboundResourceRulesAllowed',
      properties: { profile: `p${i % 3}`, serviceResourceId: '/subscriptions/x/res', source: { ipAddress: `198.51.100.${i % 250}` } },
    }));
    const path = join(dir, 'f.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const alone = await fast([path]);
    // Three started ahead, two taken (the third ended with the run).
    prestartWorkers(3);
    expect(idleWorkerCount()).toBe(3);
    const taken = await fast([path], { workers: 2, rangeBytes: 50_000 });
    expect(idleWorkerCount()).toBe(0);
    expect(taken.summary).toBe(alone.summary);
    expect(taken.accounts).toEqual(alone.accounts);
    // A run on this thread ends them too.
    prestartWorkers(1);
    expect((await fast([path])).summary).toBe(alone.summary);
    expect(idleWorkerCount()).toBe(0);
    // Only arguments naming large files start any.
    expect(prestartWorkersFor(['analyze', path, '--out', join(dir, 'missing.arrow')])).toBe(0);
    expect(idleWorkerCount()).toBe(0);
    expect(WORKERS_FROM_BYTES).toBeGreaterThan(lines.join('\n').length);
    const big = join(dir, 'big.jsonl');
    writeFileSync(big, '');
    truncateSync(big, WORKERS_FROM_BYTES); // sparse: only its size counts
    expect(prestartWorkersFor(['analyze', big, '--quiet'])).toBe(availableParallelism());
    expect(idleWorkerCount()).toBe(availableParallelism());
    await endIdleWorkers();
    expect(idleWorkerCount()).toBe(0);
    // A flow snapshot, however large, is loaded on the main thread: no workers for it.
    const snapshot = join(dir, 'flows.arrow');
    writeFileSync(snapshot, 'ARROW1');
    truncateSync(snapshot, WORKERS_FROM_BYTES);
    expect(prestartWorkersFor(['recommend', '--flows', snapshot])).toBe(0);
    expect(idleWorkerCount()).toBe(0);
  });

  it('numbers lines across byte ranges and merges the ranges exactly', async () => {
    const dir = tempDir();
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      lines.push(i % 97 === 5 ? '{"broken": ' : JSON.stringify({
        time: `2026-11-${String(2 + (i % 14)).padStart(2, '0')}T08:00:00Z`, count: String(1 + (i % 5)), resourceId: PERIMETER,
        category: i % 3 ? 'NspPublicInboundResourceRulesAllowed' : 'NspPublicOutboundResourceRulesAllowed',
        properties: { profile: `p${i % 4}`, serviceResourceId: `/subscriptions/x/res${i % 7}`, source: { ipAddress: `198.51.${i % 200}.${i % 250}` }, destination: { fullyQualifiedDomainName: `h${i % 50}.contoso.com` } },
      }));
    }
    const path = join(dir, 'big.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const a = await careful([path]);
    const one = await fast([path]);
    const split = await fast([path], { workers: 2, rangeBytes: 7_777 });
    for (const b of [one, split]) {
      expect(b.summary).toBe(a.summary);
      expect(b.accounts).toEqual(a.accounts);
      expect(b.issues).toEqual(a.issues);
    }
    expect(a.issues.map((i) => i.location)).toContain(`${path}:6`);
    expect(one.carefulLines).toBe(a.issues.length);
  });

  it('keeps scanning in place when its memory grows mid-block (many distinct names)', async () => {
    const dir = tempDir();
    // ~8 MB of distinct FQDNs: the scanner's interner outgrows its first memory while a block is being read.
    const lines = Array.from({ length: 60_000 }, (_, i) => JSON.stringify({
      time: '2026-11-02T08:00:00Z', resourceId: PERIMETER, category: 'NspPublicOutboundResourceRulesAllowed', count: 1 + (i % 3),
      properties: { profile: 'p', destination: { fullyQualifiedDomainName: `h${i}.${'x'.repeat(60)}.${'y'.repeat(60)}.contoso.com` } },
    }));
    const path = join(dir, 'names.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const a = await careful([path]);
    const b = await fast([path], { workers: 0 });
    expect(b.carefulLines).toBe(0);
    expect(b.summary).toBe(a.summary);
    expect(b.accounts).toEqual(a.accounts);
  });

  it('reads on from the grown memory whatever line made it grow, one spanning blocks included', async () => {
    const { LineFeeder } = await import('../src/analyze/scan-file.js');
    type Folder = ConstructorParameters<typeof LineFeeder>[0];
    const text = Array.from({ length: 12 }, (_, i) => `line-${i}-${'x'.repeat(i * 3)}`).join('\n') + '\n';
    const bytes = Buffer.from(text);
    for (let growAt = 1; growAt <= 12; growAt++) {
      // A stand-in scanner whose memory "grows" (moves to a new buffer, the old one detached)
      // while line `growAt` is folded, as the WebAssembly memory does.
      const scanner = { buffer: new ArrayBuffer(64) };
      const seen: string[] = [];
      const folder: { runStop: number; runLineEnd: number; runLines: number } & Record<string, unknown> = {
        scanner,
        runStop: 0, runLineEnd: 0, runLines: 0,
        // Hands every whole line back to addLine(), as the WebAssembly fold does with lines it cannot fold.
        foldRun(pos: number, end: number): number {
          const nl = new Uint8Array(scanner.buffer).indexOf(10, pos);
          folder.runStop = pos;
          if (nl === -1 || nl >= end) return 0;
          folder.runLineEnd = nl;
          return 2;
        },
        addTooLong: () => { throw new Error('no line is too long here'); },
        addLine: (buf: Uint8Array, start: number, end: number, line: number) => {
          seen.push(Buffer.from(buf.subarray(start, end)).toString());
          if (line === growAt) {
            const grown = new ArrayBuffer(64);
            new Uint8Array(grown).set(new Uint8Array(scanner.buffer));
            structuredClone(scanner.buffer, { transfer: [scanner.buffer] });
            scanner.buffer = grown;
          }
        },
      };
      const feeder = new LineFeeder(folder as unknown as Folder);
      // Blocks of 40 bytes read into the "scanner memory", so some lines span two blocks.
      for (let at = 0; at < bytes.length; at += 40) {
        const part = bytes.subarray(at, at + 40);
        new Uint8Array(scanner.buffer).set(part);
        feeder.push(Buffer.from(scanner.buffer, 0, part.length));
      }
      feeder.end();
      expect(seen, `grown at line ${growAt}`).toEqual(text.trimEnd().split('\n'));
    }
  });

  it('gives the same flows when its engine is used up mid-file and when its parts pool fills', async () => {
    const { FoldEngine, DEFAULT_ENGINE_LIMITS } = await import('../src/analyze/fold-engine.js');
    const dir = tempDir();
    // Distinct names (texts pile up) and flows seen on several days with several operations (parts).
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({
      time: `2026-11-0${1 + (i % 7)}T08:00:00Z`, resourceId: PERIMETER, category: i % 2 ? 'NspPublicOutboundResourceRulesAllowed' : 'NspPublicInboundResourceRulesAllowed',
      count: 1 + (i % 5), operationName: `Op${i % 11}`,
      properties: { profile: `p${i % 3}`, source: { ipAddress: `198.51.100.${i % 50}` }, destination: { fullyQualifiedDomainName: `h${i % 4000}.contoso.com` } },
    }));
    const path = join(dir, 'used-up.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const expected = Buffer.from(snapshotBytes(await analyze(readRecords(await listInputFiles([path])))));
    // Flows whose every line adds new parts (another day, resource, rule and operation): batches of
    // lines that add many times what a small pool holds.
    const crowded = join(dir, 'crowded.jsonl');
    writeFileSync(crowded, `${Array.from({ length: 3000 }, (_, i) => {
      const round = Math.floor(i / 100);
      return JSON.stringify({
        time: `2026-11-0${1 + (round % 7)}T08:00:00Z`, resourceId: PERIMETER, category: 'NspPublicInboundResourceRulesAllowed', count: 1 + (i % 3), operationName: `Op${round % 11}`,
        properties: { profile: 'p', serviceResourceId: `/subscriptions/x/res${round % 5}`, matchedRule: { accessRule: `r${round % 3}` }, source: { ipAddress: `198.51.100.${i % 100}` } },
      });
    }).join('\n')}\n`);
    const expectedCrowded = Buffer.from(snapshotBytes(await analyze(readRecords(await listInputFiles([crowded])))));
    try {
      FoldEngine.limits = { texts: 500, heapBytes: DEFAULT_ENGINE_LIMITS.heapBytes, poolEntries: 40 };
      for (const rangeBytes of [100_000, 16 << 20]) {
        // Ranges are read into the engine (renewed between blocks); a whole small file streams past it.
        const r = await analyzeFiles(await listInputFiles([path]), { workers: 0, rangeBytes });
        expect(Buffer.from(snapshotBytesFromTable(r.table)).equals(expected), `ranges of ${rangeBytes}`).toBe(true);
      }
      FoldEngine.limits = { texts: 500, heapBytes: DEFAULT_ENGINE_LIMITS.heapBytes, poolEntries: 8 }; // a fresh engine (the last has more texts)
      const r = await analyzeFiles(await listInputFiles([crowded]), { workers: 0, rangeBytes: 100_000 });
      expect(Buffer.from(snapshotBytesFromTable(r.table)).equals(expectedCrowded)).toBe(true);
      expect(r.carefulLines).toBe(0);
    } finally {
      FoldEngine.limits = { ...DEFAULT_ENGINE_LIMITS };
    }
  });

  it('says how many flows filled the engine when a fresh one would fill too', async () => {
    const { FoldEngine, DEFAULT_ENGINE_LIMITS } = await import('../src/analyze/fold-engine.js');
    const dir = tempDir();
    // 400,000 flows: their index alone outgrows an engine of 2 MB of heap.
    const lines = Array.from({ length: 400_000 }, (_, i) => `{"time":"2026-11-02T08:00:00Z","resourceId":"${PERIMETER}","category":"NspPublicInboundResourceRulesAllowed","properties":{"profile":"p","source":{"ipAddress":"10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}"}}}`);
    const path = join(dir, 'many-flows.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    try {
      FoldEngine.limits = { ...DEFAULT_ENGINE_LIMITS, heapBytes: 2 << 20 };
      await expect(analyzeFiles(await listInputFiles([path]), { workers: 0, rangeBytes: 1 << 20 })).rejects.toThrow(/distinct flows in one table/);
    } finally {
      FoldEngine.limits = { ...DEFAULT_ENGINE_LIMITS };
    }
  });

  it('keeps lines longer than a byte range whole, in exactly one range', async () => {
    const dir = tempDir();
    const noise = 'x'.repeat(20_000);
    const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({
      time: '2026-11-02T08:00:00Z', resourceId: PERIMETER, category: 'NspPublicInboundResourceRulesAllowed', count: i + 1,
      properties: { profile: 'p', padding: i % 3 ? noise : '', source: { ipAddress: `198.51.100.${i}` } },
    }));
    const path = join(dir, 'long-lines.jsonl');
    writeFileSync(path, lines.join('\n'));
    const a = await careful([path]);
    for (const rangeBytes of [4_096, 19_999, 20_100]) {
      const b = await fast([path], { workers: 2, rangeBytes });
      expect(b.summary).toBe(a.summary);
      expect(b.accounts).toEqual(a.accounts);
    }
  });

  it('folds flows of many days, resources, rules, operations and callers in WebAssembly as the careful path does', async () => {
    const dir = tempDir();
    const lines = manyValuedLines(7, 6000);
    const path = join(dir, 'many-valued.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    const a = await careful([path]);
    const one = await fast([path], { workers: 0 });
    expect(one.carefulLines).toBe(0);
    expect(one.summary).toBe(a.summary);
    expect(one.accounts).toEqual(a.accounts);
    const split = await fast([path], { workers: 2, rangeBytes: 50_000 });
    expect(split.summary).toBe(a.summary);
    expect(split.accounts).toEqual(a.accounts);

    // Snapshots: exported straight from the fold's parts, in one thread and as sorted runs of workers.
    const expected = Buffer.from(snapshotBytes(await analyze(readRecords(await listInputFiles([path])))));
    // Ranges of a file are read into the fold engine's memory (whole small files are streamed past it).
    const inThread = await analyzeFiles(await listInputFiles([path]), { workers: 0, rangeBytes: 50_000 });
    expect(Buffer.from(snapshotBytesFromTable(inThread.table)).equals(expected)).toBe(true);
    for (const gatherBelow of [0, Infinity]) {
      // A worker's sorted run of the same table: exported in order, or gathered in order.
      const chunks: Uint8Array[] = [];
      writeSnapshotRows(mergedRows([sortedRunOfTable(inThread.table, gatherBelow)]), (chunk) => chunks.push(chunk.slice()));
      expect(Buffer.concat(chunks).equals(expected)).toBe(true);
    }
    for (const workers of [1, 2, 3]) {
      const { runs, table, runMemory } = await analyzeFiles(await listInputFiles([path]), { workers, rangeBytes: 50_000, runs: true });
      expect(runs.length).toBe(workers);
      expect(table.flowCount).toBe(0);
      // Placed by the workers in the run memory, and merged there.
      expect(runs.every((run) => run.placed && run.peer.buffer instanceof SharedArrayBuffer)).toBe(true);
      const chunks: Uint8Array[] = [];
      writeSnapshotRows(mergedRows(runs, runMemory), (chunk) => chunks.push(chunk.slice()));
      expect(Buffer.concat(chunks).equals(expected), `${workers} workers`).toBe(true);
    }

    // Two tables folded by turns on one thread: each keeps its own flows.
    const half = Math.floor(lines.length / 2);
    writeFileSync(join(dir, 'a.jsonl'), `${lines.slice(0, half).join('\n')}\n`);
    writeFileSync(join(dir, 'b.jsonl'), `${lines.slice(half).join('\n')}\n`);
    const first = new FlowTable();
    const other = new FlowTable();
    await analyzeFiles(await listInputFiles([join(dir, 'a.jsonl')]), { workers: 0, into: first });
    await analyzeFiles(await listInputFiles([join(dir, 'b.jsonl')]), { workers: 0, into: other });
    await analyzeFiles(await listInputFiles([join(dir, 'b.jsonl')]), { workers: 0, into: first });
    expect(JSON.stringify(summaryToJSON(first.toSummary()))).toBe(a.summary);
    expect(JSON.stringify(summaryToJSON(other.toSummary()))).toBe((await careful([join(dir, 'b.jsonl')])).summary);
  });

  it('makes a sorted run in the fold engine with the columns the JavaScript way makes', async () => {
    const { FoldEngine, DEFAULT_ENGINE_LIMITS } = await import('../src/analyze/fold-engine.js');
    const { sortedRun, CATEGORY_RANK, OCTET_RANK } = await import('../src/analyze/flow-order.js');
    const dir = tempDir();
    const path = join(dir, 'many-valued.jsonl');
    // Peers whose dotted quads differ in every octet too.
    const lines = [...manyValuedLines(11, 5000), ...Array.from({ length: 300 }, (_, i) => JSON.stringify({
      time: '2026-11-02T08:00:00Z', resourceId: PERIMETER, category: 'NspPublicInboundResourceRulesAllowed',
      properties: { profile: 'p', source: { ipAddress: `${(i * 37) % 256}.${(i * 91) % 256}.${i % 7}.${(i * 13) % 256}` } },
    }))];
    writeFileSync(path, `${lines.join('\n')}\n`);
    // An address kept as text (not a dotted quad) among the peers: that run is made by comparing texts.
    const textIp = join(dir, 'text-ip.jsonl');
    const peer = JSON.stringify({ time: '2026-11-02T08:00:00Z', resourceId: PERIMETER, category: 'NspPublicInboundResourceRulesAllowed', properties: { profile: 'p', source: { ipAddress: '2001:db8::7' } } });
    writeFileSync(textIp, `${[...lines.slice(0, 500), peer].join('\n')}\n`);
    const plain = (c: FlowColumns): Record<string, unknown> =>
      Object.fromEntries(Object.entries(c).filter(([k]) => k !== 'stringOrder' && k !== 'placed').map(([k, v]) => [k, ArrayBuffer.isView(v) ? Array.from(v as Int32Array) : v]));
    try {
      // The parts pool as large as it is (flows with callers have extras, the others their parts in
      // the pool), and small (most flows' parts went to their extras).
      for (const [file, poolEntries, inEngine] of [[path, DEFAULT_ENGINE_LIMITS.poolEntries, true], [path, 40, true], [textIp, 40, false]] as const) {
        FoldEngine.limits = { ...DEFAULT_ENGINE_LIMITS, poolEntries };
        // The JavaScript way on a table of its own, folded first: the table below stays in the
        // engine's memory throughout (folding another table into the engine would move it out).
        const { table: other } = await analyzeFiles(await listInputFiles([file]), { workers: 0, rangeBytes: 50_000 });
        const expected = plain(sortedRun(other.exportColumns()));
        const { table } = await analyzeFiles(await listInputFiles([file]), { workers: 0, rangeBytes: 50_000 });
        const made = vi.spyOn(table, 'sortedRunInEngine');
        const run = sortedRunOfTable(table, Infinity);
        if (inEngine) expect(made).toHaveLastReturnedWith(expect.anything());
        else expect(made).toHaveLastReturnedWith(null);
        expect(plain(run)).toEqual(expected);
        expect(plain(sortedRunOfTable(table, 0))).toEqual(expected);
        // Placed in a worker's region of a run memory when it fits there (made in the engine, or
        // exported in order), else in arrays of their own.
        for (const gatherBelow of [Infinity, 0]) {
          const { regions: [region] } = runRegions(1);
          const placed = sortedRunOfTable(table, gatherBelow, region);
          if (gatherBelow === Infinity && inEngine) expect(made).toHaveLastReturnedWith(expect.anything());
          expect(placed.placed).toBe(true);
          expect(placed.days.buffer).toBe(region!.memory.buffer);
          expect(plain(placed)).toEqual(expected);
          const small = sortedRunOfTable(table, gatherBelow, { ...region!, end: region!.at + 4096 });
          expect(small.placed).toBeUndefined();
          expect(plain(small)).toEqual(expected);
        }
        // The engine's heap too small for the run: declined, and the JavaScript way makes it.
        if (inEngine) {
          const sorted = [...table.interner.strings].sort();
          const rank = Int32Array.from(table.interner.strings, (text) => sorted.indexOf(text));
          expect(table.sortedRunInEngine({ rank, categoryRank: CATEGORY_RANK, octetRank: OCTET_RANK }, undefined, 4096)).toBeNull();
          expect(table.sortedRunInEngine({ rank, categoryRank: CATEGORY_RANK, octetRank: OCTET_RANK })).not.toBeNull();
          expect(plain(sortedRunOfTable(table, 0))).toEqual(expected);
        }
        // Lists of every kind, some longer than the operations sample before it was cut.
        expect(run.ips.length).toBeGreaterThan(0);
        expect(run.days.length).toBeGreaterThan(run.length);
        expect(Math.max(...run.opOffsets.subarray(1).map((o, r) => o - run.opOffsets[r]!))).toBe(5);
      }
    } finally {
      FoldEngine.limits = { ...DEFAULT_ENGINE_LIMITS };
    }
  });

  it('gives the same snapshot bytes as folding records one by one', async () => {
    const s1 = await analyze(readRecords(await listInputFiles(['fixtures/estate/storage-account'])));
    const t2 = (await analyzeFiles(await listInputFiles(['fixtures/estate/storage-account']), { workers: 2 })).table;
    expect(Buffer.from(snapshotBytes(t2.toSummary())).equals(Buffer.from(snapshotBytes(s1)))).toBe(true);
    expect(Buffer.from(snapshotBytesFromTable(t2)).equals(Buffer.from(snapshotBytes(s1)))).toBe(true);
  });
});
