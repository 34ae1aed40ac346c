// Event Hubs Capture (Avro): the capture rendering of the estate gives the golden rules; bad bodies,
// cut, corrupt, oversized and snappy files give issues at `file:record` and never throw; the
// careful and parallel paths agree; files from an independent writer (avsc) read the same.

import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { analyze, summaryToJSON } from '../src/analyze/index.js';
import { analyzeFiles } from '../src/analyze/parallel.js';
import { avroCapture, avroCaptureReader } from '../src/ingest/avro-capture.js';
import { detectFormat, listInputFiles, readRecords } from '../src/ingest/index.js';
import type { FormatReader, RowEvent } from '../src/ingest/source.js';
import { type Issue, type SourceAccount, skippedRows } from '../src/model/issue.js';
import { gatherFlows } from '../src/pipeline.js';
import { json } from '../src/recommend/emit/json.js';
import { recommend } from '../src/recommend/index.js';
import { avroLong, CAPTURE_SCHEMA, CAPTURE_SYNC, captureFile, type CapturedEvent, generateEvents, rawRecord } from '../fixtures/generate.js';

const CAPTURE = 'fixtures/estate/event-hubs-capture';
const ESTATE_EVENTS = generateEvents();
const T0 = Date.UTC(2026, 10, 2, 8);

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'nspa-avro-'));

/** An event whose Body is a `{"records":[…]}` batch of `n` estate records starting at `from`. */
function batch(from: number, n = 1): CapturedEvent {
  return { body: Buffer.from(JSON.stringify({ records: ESTATE_EVENTS.slice(from, from + n).map((e) => rawRecord(e, false)) })), enqueued: T0 + from * 1000 };
}
const text = (s: string): CapturedEvent => ({ body: Buffer.from(s), enqueued: T0 });

/** The header and each block of a capture file, as bytes (blocks are cut where a shorter file ends). */
function framed(events: readonly CapturedEvent[], codec: string, perBlock: number): { header: Buffer; blocks: Buffer[] } {
  const header = captureFile([], { codec });
  const ends = [header.length];
  for (let k = perBlock; k < events.length + perBlock; k += perBlock) ends.push(captureFile(events.slice(0, k), { codec, perBlock }).length);
  const whole = captureFile(events, { codec, perBlock });
  return { header, blocks: ends.slice(1).map((end, i) => whole.subarray(ends[i], end)) };
}

/** A block as Avro frames it: record count, byte size, the bytes, the sync marker. */
const block = (count: number, bytes: Buffer, sync = CAPTURE_SYNC): Buffer => Buffer.concat([avroLong(count), avroLong(bytes.length), bytes, sync]);

/** Runs a reader over `bytes` fed in chunks of `chunk` bytes. */
async function readEvents(bytes: Buffer, chunk = bytes.length || 1, reader: FormatReader = avroCapture): Promise<RowEvent[]> {
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
  }
  const out: RowEvent[] = [];
  for await (const e of reader.read(chunks())) out.push(e);
  return out;
}

/** Events as `kind code@line`, rows as `row@line`. */
const brief = (events: readonly RowEvent[]): string[] => events.map((e) => (e.kind === 'row' ? `row@${e.line}` : `${e.kind} ${e.code}@${e.line}`));

async function careful(paths: string[]): Promise<{ summary: string; accounts: SourceAccount[]; issues: Issue[]; records: number }> {
  const issues: Issue[] = [];
  const accounts: SourceAccount[] = [];
  let records = 0;
  const s = await analyze((async function* () {
    for await (const r of readRecords(await listInputFiles(paths), { onIssue: (i) => issues.push(i), accounts })) { records++; yield r; }
  })());
  return { summary: JSON.stringify(summaryToJSON(s)), accounts, issues, records };
}

async function parallel(paths: string[], workers: number): Promise<{ summary: string; accounts: SourceAccount[]; issues: Issue[] }> {
  const issues: Issue[] = [];
  const r = await analyzeFiles(await listInputFiles(paths), { onIssue: (i) => issues.push(i), workers });
  return { summary: JSON.stringify(summaryToJSON(r.table.toSummary())), accounts: r.accounts, issues };
}

const holds = (accounts: readonly SourceAccount[]): void => {
  for (const a of accounts) expect(a.rowsRead, a.source).toBe(a.rowsUsed + skippedRows(a));
};

describe('the estate captured to Avro', () => {
  it('gives exactly the golden review document, every row used', async () => {
    const issues: Issue[] = [];
    const gathered = await gatherFlows({ paths: [CAPTURE], onIssue: (i) => issues.push(i) });
    expect(issues).toEqual([]);
    expect(json(recommend(gathered.summary).ruleSet)).toBe(readFileSync('test/golden/estate/expected.rules.json', 'utf8'));
    holds(gathered.accounts);
    expect(gathered.accounts.length).toBe(14);
    expect(gathered.accounts.reduce((n, a) => n + a.rowsRead, 0)).toBe(ESTATE_EVENTS.length);
    expect(gathered.accounts.reduce((n, a) => n + a.rowsUsed, 0)).toBe(ESTATE_EVENTS.length);
  });

  it('is detected from content and reads the same flows as the JSON event-hubs rendering', async () => {
    const files = await listInputFiles([CAPTURE]);
    expect(files.every((f) => detectFormat(readFileSync(f.path).subarray(0, 64)) === 'avro')).toBe(true);
    const a = await careful([CAPTURE]);
    const b = await careful(['fixtures/estate/event-hubs']);
    expect(a.summary).toBe(b.summary);
    expect(a.records).toBe(b.records);
  });

  it('has both codecs, and an independent decoder (avsc) finds the same bodies', async () => {
    const files = await listInputFiles([CAPTURE]);
    const codecs = new Set<string>();
    let rows = 0;
    for (const f of files) {
      const decoder = avro.createFileDecoder(f.path);
      decoder.on('metadata', (_type: unknown, codec: string) => codecs.add(codec));
      decoder.on('data', (r: { Body: Buffer | null }) => { rows += (JSON.parse(r.Body!.toString('utf8')) as { records: unknown[] }).records.length; });
      await once(decoder, 'end');
    }
    expect([...codecs].sort()).toEqual(['deflate', 'null']);
    expect(rows).toBe(ESTATE_EVENTS.length);
  });

  it('reads the same events whatever the chunk boundaries', async () => {
    const [first] = await listInputFiles([CAPTURE]);
    const bytes = readFileSync(first!.path);
    const whole = await readEvents(bytes);
    expect(whole.length).toBeGreaterThan(10);
    for (const chunk of [1, 3, 17, 4096]) expect(await readEvents(bytes, chunk), String(chunk)).toEqual(whole);
  });

  it('streams: rows come out while the rest of the file is still unread', async () => {
    const { header, blocks } = framed(Array.from({ length: 50 }, (_, i) => batch(i)), 'deflate', 1);
    let pulled = 0;
    async function* lazy(): AsyncGenerator<Buffer> {
      for (const b of [header, ...blocks]) { pulled++; yield b; }
    }
    for await (const e of avroCapture.read(lazy())) {
      expect(e.kind).toBe('row');
      // The header, the first block, and at most the next block's first bytes.
      expect(pulled).toBeLessThanOrEqual(3);
      break;
    }
  });

  it('the careful path and the parallel path agree, on the capture and on broken files', async () => {
    const dir = tempDir();
    const good = [batch(0, 2), batch(2), batch(3, 3), batch(6)];
    writeFileSync(join(dir, 'a-bodies.avro'), captureFile([batch(0), text('{"records": ['), { body: null, enqueued: T0 }, batch(1)], { perBlock: 2 }));
    writeFileSync(join(dir, 'b-cut.avro'), captureFile(good, { perBlock: 1 }).subarray(0, -40));
    writeFileSync(join(dir, 'c-snappy.avro'), captureFile(good, { codec: 'snappy' }));
    const { header, blocks } = framed(good, 'null', 1);
    writeFileSync(join(dir, 'd-sync.avro'), Buffer.concat([header, blocks[0]!, Buffer.concat([blocks[1]!.subarray(0, -1), Buffer.from([0])]), blocks[2]!]));
    for (const [paths, workers] of [[[CAPTURE], 0], [[CAPTURE], 2], [[dir], 0], [[dir], 2]] as const) {
      const a = await careful([...paths]);
      const b = await parallel([...paths], workers);
      expect(b.summary, `${paths[0]} ${workers}`).toBe(a.summary);
      expect(b.accounts, `${paths[0]} ${workers}`).toEqual(a.accounts);
      expect(b.issues, `${paths[0]} ${workers}`).toEqual(a.issues);
      holds(a.accounts);
    }
  });
});

describe('bad bodies', () => {
  it('reports broken JSON, a null Body and non-objects at their record, and uses the rest', async () => {
    const dir = tempDir();
    const path = join(dir, 'bodies.avro');
    writeFileSync(path, captureFile([batch(0, 2), text('{"records": [{"time": '), { body: null, enqueued: T0 }, text('[1, {"x": 2}]'), text('\uFEFF{"records":[]}'), batch(2)], { perBlock: 4 }));
    const r = await careful([path]);
    expect(r.issues.map((i) => `${i.code} ${i.location}`)).toEqual([
      `invalid-json ${path}:2`, `not-a-record ${path}:3`, `not-a-record ${path}:4`, `missing-field ${path}:4`,
    ]);
    expect(r.records).toBe(3);
    expect(r.accounts[0]).toMatchObject({ rowsRead: 7, rowsUsed: 3, fileIssues: 0, skipped: { 'invalid-json': 1, 'not-a-record': 2, 'missing-field': 1 } });
    holds(r.accounts);
  });

  it('reads a Body written as text, from a file by another writer (avsc, deflate, small blocks)', async () => {
    const schema = { ...CAPTURE_SCHEMA, fields: CAPTURE_SCHEMA.fields.map((f) => (f.name === 'Body' ? { name: 'Body', type: 'string' } : f)) };
    const encoder = new avro.streams.BlockEncoder(schema as unknown as avro.Schema, { codec: 'deflate', blockSize: 300 });
    const parts: Buffer[] = [];
    encoder.on('data', (b: Buffer) => parts.push(b));
    for (let i = 0; i < 8; i++) {
      encoder.write({ SequenceNumber: 2 ** 40 + i, Offset: String(i), EnqueuedTimeUtc: '', SystemProperties: {}, Properties: {}, Body: batch(i).body!.toString('utf8') });
    }
    encoder.end();
    await once(encoder, 'end');
    const events = await readEvents(Buffer.concat(parts), 100);
    expect(brief(events)).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => `row@${n}`));
    expect(events.map((e) => (e.kind === 'row' ? e.row : null))).toEqual(ESTATE_EVENTS.slice(0, 8).map((e) => rawRecord(e, false)));
  });

  it('skips fields of every Avro type before the Body, as avsc writes them', async () => {
    const schema = {
      type: 'record', name: 'Wide', fields: [
        { name: 'b', type: 'boolean' }, { name: 'i', type: 'int' }, { name: 'f', type: 'float' }, { name: 'd', type: 'double' },
        { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } }, { name: 'x', type: { type: 'fixed', name: 'X', size: 3 } },
        { name: 'nulls', type: { type: 'array', items: 'null' } }, { name: 'm', type: { type: 'map', values: { type: 'array', items: 'string' } } },
        { name: 'list', type: { type: 'record', name: 'Node', fields: [{ name: 'v', type: 'long' }, { name: 'next', type: ['null', 'Node'] }] } },
        { name: 'Body', type: ['null', 'string', 'bytes'] },
      ],
    };
    const encoder = new avro.streams.BlockEncoder(schema as unknown as avro.Schema, { codec: 'null', blockSize: 200 });
    const parts: Buffer[] = [];
    encoder.on('data', (b: Buffer) => parts.push(b));
    for (let i = 0; i < 4; i++) {
      encoder.write({
        b: true, i: -i, f: 1.5, d: 2.5, e: 'B', x: Buffer.from('abc'), nulls: [null, null, null], m: { k: ['v', 'w'], l: [] },
        list: { v: 1, next: { v: 2, next: null } }, Body: i % 2 ? batch(i).body!.toString('utf8') : batch(i).body,
      });
    }
    encoder.end();
    await once(encoder, 'end');
    expect(brief(await readEvents(Buffer.concat(parts), 50))).toEqual(['row@1', 'row@2', 'row@3', 'row@4']);
  });

  it('refuses a file without a bytes Body field as not a capture', async () => {
    const encoder = new avro.streams.BlockEncoder({ type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] });
    const parts: Buffer[] = [];
    encoder.on('data', (b: Buffer) => parts.push(b));
    encoder.end({ x: 1 });
    await once(encoder, 'end');
    expect(brief(await readEvents(Buffer.concat(parts)))).toEqual(['file-issue unknown-format@1']);
  });
});

describe('cut, corrupt and refused files', () => {
  const events = [batch(0), batch(1, 2), batch(3), batch(4), batch(5, 2)];
  const rowsUpTo = (records: number): number => [1, 2, 1, 1, 2].slice(0, records).reduce((a, b) => a + b, 0);

  it('cut at every byte: the rows of whole blocks, then one truncated-input at the next record', async () => {
    for (const codec of ['null', 'deflate']) {
      const { header, blocks } = framed(events, codec, 2);
      const file = Buffer.concat([header, ...blocks]);
      const ends = blocks.map((_, i) => header.length + blocks.slice(0, i + 1).reduce((n, b) => n + b.length, 0));
      for (let cut = 0; cut < file.length; cut++) {
        const got = brief(await readEvents(file.subarray(0, cut)));
        const whole = ends.filter((e) => e <= cut).length; // blocks read whole
        const records = Math.min(whole * 2, events.length);
        const rows = Array.from({ length: rowsUpTo(records) }, () => 'row');
        // A cut right after the header or a block leaves a whole (shorter) file: nothing to report.
        const expected = cut < header.length ? ['file-issue truncated-input@1']
          : cut === header.length || ends.includes(cut) ? rows : [...rows, `file-issue truncated-input@${records + 1}`];
        expect(got.map((g) => g.replace(/@\d+$/, (m) => (g.startsWith('row') ? '' : m))), `${codec} cut at ${cut}`).toEqual(expected);
      }
    }
  });

  it('cut files through readRecords: file:N locations, rows before the cut kept, never a throw', async () => {
    const dir = tempDir();
    const { header, blocks } = framed(events, 'deflate', 1);
    const starts = blocks.map((_, i) => header.length + blocks.slice(0, i).reduce((n, b) => n + b.length, 0));
    for (const [k, start] of starts.entries()) {
      for (const into of [1, 5, blocks[k]!.length - 3]) {
        const path = join(dir, `cut-${k}-${into}.avro`);
        writeFileSync(path, Buffer.concat([header, ...blocks]).subarray(0, start + into));
        const r = await careful([path]);
        expect(r.issues.map((i) => `${i.code} ${i.location}`), path).toEqual([`truncated-input ${path}:${k + 1}`]);
        expect(r.records).toBe(rowsUpTo(k));
        expect(r.accounts[0]).toMatchObject({ rowsRead: rowsUpTo(k), fileIssues: 1 });
      }
    }
    const path = join(dir, 'cut-header.avro');
    writeFileSync(path, header.subarray(0, 40));
    expect((await careful([path])).issues.map((i) => `${i.code} ${i.location}`)).toEqual([`truncated-input ${path}:1`]);
  });

  it('refuses a snappy file with one issue naming the codec', async () => {
    const dir = tempDir();
    const path = join(dir, 'snappy.avro');
    writeFileSync(path, captureFile(events, { codec: 'snappy' }));
    const r = await careful([path]);
    expect(r.issues).toEqual([{ code: 'unknown-format', location: `${path}:1`, message: expect.stringContaining('"snappy"') as string }]);
    expect(r.accounts[0]).toMatchObject({ rowsRead: 0, fileIssues: 1 });
  });

  it('stops at a block that does not end with the sync marker, keeping the blocks before', async () => {
    const { header, blocks } = framed(events, 'deflate', 1);
    const bad = Buffer.concat([blocks[2]!.subarray(0, -16), Buffer.alloc(16)]);
    const got = brief(await readEvents(Buffer.concat([header, blocks[0]!, blocks[1]!, bad, blocks[3]!])));
    expect(got).toEqual(['row@1', 'row@2', 'row@2', 'file-issue read-error@3']);
  });

  it('skips a block it cannot inflate or decode, and goes on at the next with the numbering kept', async () => {
    const { header, blocks } = framed(events, 'deflate', 1);
    // 0xff…: a deflate block of the reserved type.
    const got = brief(await readEvents(Buffer.concat([header, blocks[0]!, block(1, Buffer.alloc(20, 0xff)), blocks[2]!])));
    expect(got).toEqual(['row@1', 'file-issue read-error@2', 'row@3']);
    // A null-codec block whose SystemProperties map claims 2^50 entries: refused at once, not looped over.
    const nul = framed(events, 'null', 1);
    const hostile = Buffer.concat([avroLong(0), avroLong(1), Buffer.from('0'), avroLong(0), avroLong(2 ** 50), Buffer.alloc(8)]);
    const negative = Buffer.concat([avroLong(0), avroLong(0), avroLong(0), avroLong(-1), avroLong(2 ** 40)]);
    const tooMany = Buffer.alloc(4);
    const started = Date.now();
    const got2 = brief(await readEvents(Buffer.concat([nul.header, block(1, hostile), block(1, negative), block(1000, tooMany), nul.blocks[0]!])));
    expect(got2).toEqual(['file-issue read-error@1', 'file-issue read-error@2', 'file-issue read-error@3', 'row@1003']);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('skips blocks over the size caps (stored or inflated) and reads the others', async () => {
    const many = [batch(0), batch(1, 6), batch(7)];
    const stored = framed(many, 'null', 1);
    const small = avroCaptureReader({ maxBlockBytes: stored.blocks[1]!.length - 100 });
    expect(Math.max(stored.blocks[0]!.length, stored.blocks[2]!.length, stored.header.length)).toBeLessThan(stored.blocks[1]!.length - 100);
    const file = Buffer.concat([stored.header, ...stored.blocks]);
    expect(brief(await readEvents(file, 64, small))).toEqual(['row@1', 'file-issue line-too-long@2', 'row@3']);
    const deflated = Buffer.concat(Object.values(framed(many, 'deflate', 1)).flat());
    const tight = avroCaptureReader({ maxInflatedBytes: stored.blocks[1]!.length - 100 });
    expect(brief(await readEvents(deflated, 64, tight))).toEqual(['row@1', 'file-issue decompression-limit@2', 'row@3']);
  });

  it('reads a gzipped capture file', async () => {
    const dir = tempDir();
    const path = join(dir, 'capture.avro.gz');
    writeFileSync(path, gzipSync(captureFile(events)));
    const r = await careful([path]);
    expect(r.issues).toEqual([]);
    expect(r.records).toBe(rowsUpTo(events.length));
  });
});
