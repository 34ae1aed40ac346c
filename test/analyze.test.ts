// Analyze: the FlowSummary is a mergeable value. Any split of the input, merged in any grouping
// and order, gives byte for byte the summary of one pass; snapshots round-trip exactly.

import fc from 'fast-check';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addRecord, analyze, emptySummary, loadSnapshot, mergeSummaries, snapshotBytes, summaryToJSON } from '../src/analyze/index.js';
import { listInputFiles, readRecords } from '../src/ingest/index.js';
import type { FlowColumns } from '../src/analyze/flow-table.js';
import type { SnapshotRows } from '../src/analyze/snapshot.js';
import type { EncodedBatch } from '../src/analyze/snapshot-encoding.js';
import { runRegions } from '../src/analyze/run-memory.js';
import type { FlowSummary } from '../src/model/flow-summary.js';
import type { NspRecord } from '../src/model/record.js';
import { writeFileAtomic } from '../src/write-atomic.js';

async function estateRecords(): Promise<NspRecord[]> {
  const records: NspRecord[] = [];
  for await (const r of readRecords(await listInputFiles(['fixtures/estate/portal']))) records.push(r);
  return records;
}

function summarize(records: readonly NspRecord[]): FlowSummary {
  const s = emptySummary();
  for (const r of records) addRecord(s, r);
  return s;
}

const bytes = (s: FlowSummary): string => Buffer.from(snapshotBytes(s)).toString('base64');

describe('FlowSummary', () => {
  it('gives the same summary for any N-way split merged in any order, byte for byte', async () => {
    const records = await estateRecords();
    const onePass = bytes(summarize(records));
    const onePassJson = JSON.stringify(summaryToJSON(summarize(records)));
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 4 }), { minLength: records.length, maxLength: records.length }),
      fc.infiniteStream(fc.integer({ min: 0, max: 1000 })),
      (assignment, order) => {
        const parts: NspRecord[][] = [[], [], [], [], []];
        records.forEach((r, i) => parts[assignment[i]!]!.push(r));
        const summaries = parts.map(summarize);
        // Merge in a random order and grouping: pick two, merge, put back, until one is left.
        const pool = [...summaries, emptySummary()];
        const it = order[Symbol.iterator]();
        while (pool.length > 1) {
          const a = pool.splice(it.next().value % pool.length, 1)[0]!;
          const b = pool.splice(it.next().value % pool.length, 1)[0]!;
          pool.push(it.next().value % 2 ? mergeSummaries(a, b) : mergeSummaries(b, a));
        }
        expect(bytes(pool[0]!)).toBe(onePass);
        expect(JSON.stringify(summaryToJSON(pool[0]!))).toBe(onePassJson);
      }), { numRuns: 25 });
  });

  it('merges sorted runs of any split into the same snapshot bytes as one table', async () => {
    const { FlowTable } = await import('../src/analyze/flow-table.js');
    const { sortedRun, sortedRunOfTable } = await import('../src/analyze/flow-order.js');
    const { mergedRows } = await import('../src/analyze/sorted-runs.js');
    const { snapshotBytesFromTable, writeSnapshotRows } = await import('../src/analyze/snapshot.js');
    const estate = await estateRecords();
    // Flows with many operations (the sample keeps five), caller IPs and text IPs, split apart.
    const extra = Array.from({ length: 60 }, (_, k): NspRecord => ({
      ...estate[0]!, time: estate[0]!.time + (k % 4) * 86_400_000, endTime: estate[0]!.time + (k % 4) * 86_400_000, count: 1 + k,
      operation: `Op${String.fromCharCode(90 - (k % 9))}`, peerKind: 'ip', peer: k % 3 ? '198.51.100.7' : '2001:db8::7',
      resourceId: `${estate[0]!.resourceId}${k % 4}`, matchedRule: k % 2 ? 'r1' : 'r2', sourceIp: '',
    }));
    const records = [...estate, ...extra];
    const all = new FlowTable();
    for (const r of records) all.addRecord(r);
    const expected = Buffer.from(snapshotBytesFromTable(all));
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.nat(), { minLength: records.length, maxLength: records.length }), fc.nat(), (k, assignment, ways) => {
      const tables = Array.from({ length: k }, () => new FlowTable());
      records.forEach((r, i) => tables[assignment[i]! % k]!.addRecord(r));
      const chunks: Uint8Array[] = [];
      // Runs sorted from a table's columns (no text order of their strings: the union is sorted),
      // or from the table itself (the union merged from their text orders): gathered, or exported in order.
      const run = (t: InstanceType<typeof FlowTable>, n: number): FlowColumns => {
        const way = Math.floor(ways / 3 ** n) % 3;
        return way === 0 ? sortedRun(t.exportColumns()) : sortedRunOfTable(t, way === 1 ? 0 : Infinity);
      };
      writeSnapshotRows(mergedRows(tables.map(run)), (chunk) => chunks.push(chunk.slice()));
      expect(Buffer.concat(chunks).equals(expected)).toBe(true);
    }), { numRuns: 40 });
  });

  it('merges sorted runs in WebAssembly into the bytes the JavaScript merge writes', async () => {
    const { FlowTable } = await import('../src/analyze/flow-table.js');
    const { sortedRunOfTable } = await import('../src/analyze/flow-order.js');
    const { mergedRows, mergedRowsInJavaScript } = await import('../src/analyze/sorted-runs.js');
    const { mergedRowsInWasm } = await import('../src/analyze/merge-engine.js');
    const { SnapshotWriter, writeSnapshotRows } = await import('../src/analyze/snapshot.js');
    const { parseIPv4 } = await import('../src/model/ip.js');
    // Addresses as dotted quads only (one kept as text is compared as text: see the end).
    const estate = (await estateRecords()).filter((r) => (r.peerKind !== 'ip' || parseIPv4(r.peer) >= 0) && (r.sourceIp === '' || parseIPv4(r.sourceIp) >= 0));
    // Flows split across runs with lists to combine: days (hits summed), resources, rules (hits
    // summed), operations (more than the sample keeps), caller IPs (dotted quads in text order).
    const extra = Array.from({ length: 80 }, (_, k): NspRecord => ({
      ...estate[k % 7]!, time: estate[0]!.time + (k % 5) * 86_400_000, endTime: estate[0]!.time + (k % 5) * 86_400_000 + 1000, count: 1 + k,
      operation: `Op${String.fromCharCode(90 - (k % 9))}`, resourceId: `${estate[0]!.resourceId}${k % 4}`, matchedRule: k % 3 ? 'r1' : 'r2',
      sourceIp: k % 4 === 0 ? `${(k * 37) % 256}.51.100.${k % 9}` : '',
    }));
    const records = [...estate, ...extra];
    const written = (rows: SnapshotRows): Buffer => {
      const chunks: Uint8Array[] = [];
      writeSnapshotRows(rows, (chunk) => chunks.push(chunk.slice()));
      return Buffer.concat(chunks);
    };
    // Batches of a few rows, as the JavaScript encoder writes them, or encoded where they are made:
    // written two behind (as the writer thread does) and released once written, or never released.
    const inBatches = (rows: SnapshotRows, encoded: 'no' | 'released' | 'kept'): Buffer => {
      const chunks: Uint8Array[] = [];
      const writer = new SnapshotWriter(rows.strings, rows.used, (chunk) => chunks.push(chunk.slice()));
      if (encoded === 'no') for (let b = rows.next(7); b; b = rows.next(7)) writer.add(b);
      else {
        const pending: EncodedBatch[] = [];
        const writeOldest = (): void => { writer.addEncoded(pending.shift()!); if (encoded === 'released') rows.release!(); };
        for (let e = rows.nextEncoded!(7); e; e = rows.nextEncoded!(7)) { pending.push(e); if (pending.length > 2) writeOldest(); }
        while (pending.length > 0) writeOldest();
      }
      writer.finish();
      return Buffer.concat(chunks);
    };
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.array(fc.nat(), { minLength: records.length, maxLength: records.length }), (k, assignment) => {
      const tables = Array.from({ length: k }, () => new FlowTable());
      records.forEach((r, i) => tables[assignment[i]! % k]!.addRecord(r));
      const runs = tables.map((t) => sortedRunOfTable(t));
      const expected = written(mergedRowsInJavaScript(runs));
      const strings = mergedRowsInJavaScript(runs).strings;
      const outs = runs.map((c) => Int32Array.from(c.strings, (text) => strings.indexOf(text)));
      const inWasm = mergedRowsInWasm(runs, strings, outs);
      expect(inWasm).not.toBeNull();
      expect(written(inWasm!).equals(expected)).toBe(true);
      expect(written(mergedRows(runs)).equals(expected)).toBe(true);
      const reference = inBatches(mergedRowsInJavaScript(runs), 'no');
      // In the merge's slots (reused once released; copied out when none is free or a batch does not fit one).
      expect(inBatches(mergedRowsInWasm(runs, strings, outs)!, 'released').equals(reference)).toBe(true);
      expect(inBatches(mergedRowsInWasm(runs, strings, outs)!, 'kept').equals(reference)).toBe(true);
      expect(inBatches(mergedRowsInWasm(runs, strings, outs, null, { slotBytes: 2048 })!, 'released').equals(reference)).toBe(true);
      // A heap too small for the slots: batches made above the plan and copied out; too small for
      // one slot's worth there either: declined.
      const planOnly = mergedRowsInWasm(runs, strings, outs, runRegions(1).memory, { heapLimit: 4 << 20, slotBytes: 1 << 20 });
      expect(planOnly && inBatches(planOnly, 'released').equals(reference)).toBe(true);
      expect(mergedRowsInWasm(runs, strings, outs, runRegions(1).memory, { heapLimit: 4 << 20 })).toBeNull();
    }), { numRuns: 40 });
    // A heap too small for the runs: declined (the JavaScript merge's then).
    const t0 = new FlowTable();
    for (const r of records) t0.addRecord(r);
    const big = sortedRunOfTable(t0);
    expect(mergedRowsInWasm([big], big.strings, [Int32Array.from(big.strings, (_, i) => i)], runRegions(1).memory, { heapLimit: 1 })).toBeNull();
    // An address kept as text is compared as text: the JavaScript merge's.
    const t = new FlowTable();
    for (const r of [...records, { ...estate[0]!, peerKind: 'ip' as const, peer: '2001:db8::7' }]) t.addRecord(r);
    const run = sortedRunOfTable(t);
    expect(mergedRowsInWasm([run], run.strings, [Int32Array.from(run.strings, (_, i) => i)])).toBeNull();
  });

  it('keys a table summary by flow only when looked up by key, with the same keys and order', async () => {
    const { FlowTable } = await import('../src/analyze/flow-table.js');
    const { flowKeyString } = await import('../src/model/flow-summary.js');
    const estate = await estateRecords();
    // With callers, several rules and operations; the summary folded record by record is the reference.
    const records = [...estate, ...Array.from({ length: 40 }, (_, k): NspRecord => ({
      ...estate[k % 5]!, count: 1 + k, matchedRule: `r${k % 3}`, operation: `Op${k % 7}`, sourceIp: `203.0.113.${k % 6}`,
    }))];
    const t = new FlowTable();
    for (const r of records) t.addRecord(r);
    const reference = JSON.stringify(summaryToJSON(summarize(records)));
    expect(reference).toContain('203.0.113.5');
    const eager = new Map([...t.toSummary().flows.values()].map((f) => [flowKeyString(f), f]));
    const { flows } = t.toSummary();
    expect(flows.size).toBe(eager.size);
    expect([...flows.values()].map(flowKeyString)).toEqual([...eager.keys()]);
    const [key, flow] = [...eager][3]!;
    expect(flows.get(key)).toEqual(flow);
    expect([...flows.keys()]).toEqual([...eager.keys()]);
    flows.set('x', flow);
    expect(flows.size).toBe(eager.size + 1);
    expect(flows.has('x') && flows.delete('x') && !flows.has('x')).toBe(true);
    const lazy = t.toSummary().flows;
    expect(new Map(lazy)).toEqual(eager);
    expect(JSON.stringify(summaryToJSON({ flows: t.toSummary().flows }))).toBe(JSON.stringify(summaryToJSON({ flows: eager })));
    // A view: each flow's lists built when first read, the same as the summary's.
    const view = t.toSummary({ view: true });
    expect(JSON.stringify(summaryToJSON(view))).toBe(reference);
    expect(JSON.stringify(summaryToJSON({ flows: eager }))).toBe(reference);
    for (const f of t.toSummary({ view: true }).flows.values()) {
      const e = eager.get(flowKeyString(f))!;
      expect([f.dayHits, f.resources, f.matchedRules, f.sourceIps, f.operations]).toEqual([e.dayHits, e.resources, e.matchedRules, e.sourceIps, e.operations]);
      expect(f.resources).toBe(f.resources); // built once
    }
    const some = [...t.toSummary({ view: true }).flows.values()][0]!;
    some.operations = new Set(['replaced']);
    expect([...some.operations]).toEqual(['replaced']);
  });

  it('has the empty summary as identity and leaves its inputs untouched', async () => {
    const s = summarize(await estateRecords());
    const before = bytes(s);
    expect(bytes(mergeSummaries(s, emptySummary()))).toBe(before);
    expect(bytes(mergeSummaries(emptySummary(), s))).toBe(before);
    mergeSummaries(s, s);
    expect(bytes(s)).toBe(before);
  });

  it('keys flows by perimeter, profile, category and peer, summing counts', async () => {
    const records = await estateRecords();
    const s = await analyze((async function* () { yield* records; })());
    const hits = [...s.flows.values()].reduce((n, f) => n + f.hits, 0);
    expect(hits).toBe(records.reduce((n, r) => n + r.count, 0));
    const flow = [...s.flows.values()].find((f) => f.peer === '198.51.100.16')!;
    expect(flow).toMatchObject({ category: 'NspPublicInboundResourceRulesAllowed', profile: 'defaultprofile', peerKind: 'ip' });
    expect(flow.dayHits.size).toBeGreaterThan(5);
    expect(flow.operations.size).toBeLessThanOrEqual(5);
  });

  it('round-trips through an Arrow snapshot exactly', async () => {
    const s = summarize(await estateRecords());
    const path = join(mkdtempSync(join(tmpdir(), 'nspa-snap-')), 'flows.arrow');
    await writeFileAtomic(path, snapshotBytes(s));
    const back = await loadSnapshot(path);
    expect(bytes(back)).toBe(bytes(s));
    expect(summaryToJSON(back)).toEqual(summaryToJSON(s));
  });

  it('writes snapshot rows in flow key order, dotted quads compared as text, with or without IPv6 peers', async () => {
    const { tableFromIPC } = await import('apache-arrow');
    const { flowKeyString } = await import('../src/model/flow-summary.js');
    const { categories } = await import('../src/model/category.js');
    const octet = fc.oneof(fc.constantFrom(0, 1, 2, 9, 10, 11, 19, 20, 99, 100, 101, 199, 200, 250, 255), fc.integer({ min: 0, max: 255 }));
    const peer = fc.oneof(
      fc.tuple(octet, octet, octet, octet).map((o) => ({ kind: 'ip' as const, text: o.join('.') })),
      fc.constantFrom('2001:db8::1', '2001:db8::a', 'fe80::1').map((text) => ({ kind: 'ip' as const, text })),
      fc.constantFrom('a.example', 'b.example', 'api.z.example').map((text) => ({ kind: 'fqdn' as const, text })),
      fc.constantFrom('/subscriptions/1/resourcegroups/rg/providers/microsoft.storage/storageaccounts/a', '/subscriptions/2').map((text) => ({ kind: 'resource' as const, text })),
      fc.constant({ kind: 'none' as const, text: '' }));
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('/p/nsp-a', '/p/nsp'), fc.constantFrom('default', 'Prof'), fc.constantFrom(...categories.slice(0, 3)), peer, fc.boolean()), { minLength: 1, maxLength: 80 }),
      (rows) => {
        const s = emptySummary();
        for (const [perimeterId, profile, category, p, v6] of rows) {
          if (p.text.includes(':') && !v6) continue; // half the cases keep to dotted quads (the numeric ordering path)
          const kind = category.direction === 'Inbound' ? p.kind : p.kind === 'ip' ? 'fqdn' : p.kind;
          const text = kind === 'fqdn' && p.kind === 'ip' ? 'x.example' : p.text;
          addRecord(s, { time: 1_700_000_000_000, endTime: 1_700_000_000_000, count: 1, perimeterId, profile, category: category.name, direction: category.direction, decision: category.decision,
            resourceId: '', peerKind: kind, peer: text, sourceIp: '', matchedRule: '', operation: '' } as NspRecord);
        }
        if (s.flows.size === 0) return;
        const table = tableFromIPC(snapshotBytes(s));
        const col = (name: string): string[] => Array.from(table.getChild(name)!.toArray() as ArrayLike<string>, String);
        const [per, prof, cat, kind, p] = ['perimeterId', 'profile', 'category', 'peerKind', 'peer'].map(col);
        const keys = per!.map((_, i) => flowKeyString({ perimeterId: per![i]!, profile: prof![i]!, category: cat![i]!, peerKind: kind![i]! as 'ip', peer: p![i]! }));
        expect(keys).toEqual([...s.flows.keys()].sort());
      }), { numRuns: 200 });
  });

  it('writes large snapshots in several record batches with shared dictionaries, and reads them back exactly', async () => {
    const { FlowTable } = await import('../src/analyze/flow-table.js');
    const { columnsFromSnapshot, snapshotBytesFromTable } = await import('../src/analyze/snapshot.js');
    const { tableFromIPC } = await import('apache-arrow');
    const table = new FlowTable();
    const i = table.interner;
    for (let k = 0; k < 70_000; k++) {
      const group = table.group(i.id(`/p/nsp-${k % 3}`), i.id(`profile-${k % 5}`), k % 4);
      table.add(group, FlowTable.peerIPv4((k * 2_654_435_761) % 2 ** 32), 1_700_000_000_000 + k * 60_000, 1_700_000_000_000 + k * 60_000, 1 + (k % 7),
        i.id(`/subscriptions/x/res-${k % 11}`), i.id(k % 2 ? 'IP firewall' : 'rule-1'), -1, i.id(`Op${k % 9}`));
    }
    const bytes = snapshotBytesFromTable(table);
    expect(tableFromIPC(bytes).batches.length).toBeGreaterThan(1);
    const back = new FlowTable();
    for (const columns of columnsFromSnapshot(bytes, 'mem')) back.importColumns(columns);
    expect(back.flowCount).toBe(70_000);
    expect(Buffer.from(snapshotBytesFromTable(back)).equals(Buffer.from(bytes))).toBe(true);

    // A writer thread fed the merge's batches writes the same bytes.
    const { SnapshotWriterThread } = await import('../src/analyze/snapshot-writer.js');
    const { mergedRows, mergedRowsInJavaScript } = await import('../src/analyze/sorted-runs.js');
    const { sortedRunOfTable } = await import('../src/analyze/flow-order.js');
    const { readFileSync, readdirSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'nspa-writer-'));
    await new SnapshotWriterThread().write(join(dir, 'flows.arrow'), mergedRows([sortedRunOfTable(table)]));
    expect(readFileSync(join(dir, 'flows.arrow')).equals(Buffer.from(bytes))).toBe(true);
    // Batches encoded on the thread (rows merged in JavaScript): the same bytes.
    await new SnapshotWriterThread().write(join(dir, 'flows.arrow'), mergedRowsInJavaScript([sortedRunOfTable(table)]));
    expect(readFileSync(join(dir, 'flows.arrow')).equals(Buffer.from(bytes))).toBe(true);
    // A path it cannot write: the output error, and no file left behind.
    await expect(new SnapshotWriterThread().write(join(dir, 'missing', 'flows.arrow'), mergedRows([sortedRunOfTable(table)]))).rejects.toThrow(/Cannot write/);
    expect(readdirSync(dir)).toEqual(['flows.arrow']);
    await new SnapshotWriterThread().close(); // started, never used
    // The merge failing after a batch went to the thread: the thread is ended first, nothing is left.
    // (Batches encoded where they are merged, or encoded on the thread.)
    for (const encoded of [true, false]) {
      const rows = mergedRows([sortedRunOfTable(table)]);
      let calls = 0;
      const failing = <T>(next: (n: number) => T) => (n: number): T => { if (calls++ === 1) throw new Error('merge failed'); return next(n); };
      const broken = encoded ? { ...rows, next: failing(rows.next), nextEncoded: failing(rows.nextEncoded!) } : { ...rows, next: failing(rows.next), nextEncoded: undefined };
      await expect(new SnapshotWriterThread().write(join(dir, 'failed.arrow'), broken)).rejects.toThrow(/merge failed/);
      expect(readdirSync(dir)).toEqual(['flows.arrow']);
    }
  });

  it('takes over a table handed from another thread, or merges it into one that holds flows', async () => {
    const { FlowTable } = await import('../src/analyze/flow-table.js');
    const records = await estateRecords();
    const fill = (t: InstanceType<typeof FlowTable>, part: number): void => { records.forEach((r, k) => { if (k % 3 === part) t.addRecord(r); }); };
    const json = (t: InstanceType<typeof FlowTable>): string => JSON.stringify(summaryToJSON(t.toSummary()));
    const whole = new FlowTable();
    for (const r of records) whole.addRecord(r);

    const handed = new FlowTable({ shared: true });
    fill(handed, 0); fill(handed, 1); fill(handed, 2);
    const empty = new FlowTable();
    empty.absorb(handed.handOver());
    expect(json(empty)).toBe(json(whole));
    empty.addRecord(records[0]!); // the adopted table goes on growing like any other
    const plusOne = new FlowTable();
    for (const r of [...records, records[0]!]) plusOne.addRecord(r);
    expect(json(empty)).toBe(json(plusOne));

    const other = new FlowTable({ shared: true });
    fill(other, 1); fill(other, 2);
    const holding = new FlowTable();
    fill(holding, 0);
    holding.absorb(other.handOver());
    expect(json(holding)).toBe(json(whole));
  });

  it('refuses an Arrow file that is not a snapshot', async () => {
    const { tableToIPC, tableFromArrays } = await import('apache-arrow');
    const path = join(mkdtempSync(join(tmpdir(), 'nspa-snap-')), 'other.arrow');
    await writeFileAtomic(path, tableToIPC(tableFromArrays({ a: Int32Array.from([1]) }), 'file'));
    await expect(loadSnapshot(path)).rejects.toMatchObject({ code: 'input-invalid' });
  });
});
