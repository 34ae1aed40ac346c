// Analyze stage: saves a FlowSummary as an Arrow IPC file (one row per flow, sorted by key) and
// loads it back, so that runs can be combined later and other tools (pandas, DuckDB, Polars) can
// read the flows. Schema metadata carries the snapshot format version.

import { readFile } from 'node:fs/promises';
import { writeSync } from 'node:fs';
import {
  AsyncByteQueue, Dictionary, Field, Float64, Int32, List, RecordBatch, RecordBatchFileWriter, Schema, Table, TimestampMillisecond, Utf8,
  makeData, makeVector, tableFromIPC, type Data, type Vector,
} from 'apache-arrow';
import { writeFileAtomicWith } from '../write-atomic.js';
import { NspError } from '../errors.js';
import { categories, lookupCategory } from '../model/category.js';
import { formatAddress, parseIPv4, parseIPv4Bytes, parseLoggedIp } from '../model/ip.js';
import type { FlowSummary } from '../model/flow-summary.js';
import { FlowTable as FlowTableClass, PEER_CODE, columnsFromSummary, ipOfCode, peerOfCode, type FlowColumns, type FlowTable } from './flow-table.js';
import { byCodeUnit } from '../model/text.js';

const FORMAT_KEY = 'nsp-advisor.snapshot';
const FORMAT_VERSION = '1';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A Utf8 column built by hand: vectorFromArray is slow on many distinct strings (stack.md §4). */
function utf8Data(strings: readonly string[]): Data<Utf8> {
  const offsets = new Int32Array(strings.length + 1);
  let capacity = 0;
  for (const s of strings) capacity += s.length * 3;
  const bytes = new Uint8Array(capacity);
  let pos = 0;
  for (let i = 0; i < strings.length; i++) {
    pos += encoder.encodeInto(strings[i]!, bytes.subarray(pos)).written;
    offsets[i + 1] = pos;
  }
  return makeData({ type: new Utf8(), length: strings.length, nullCount: 0, valueOffsets: offsets, data: bytes.subarray(0, pos) });
}

/** The summary as Arrow IPC file bytes; the same summary always gives the same bytes. */
export function snapshotBytes(summary: FlowSummary): Uint8Array {
  return snapshotBytesFromColumns(columnsFromSummary(summary));
}

/** A flow table as Arrow IPC file bytes, without building a FlowSummary first (same bytes). */
export function snapshotBytesFromTable(table: FlowTable): Uint8Array {
  return snapshotBytesFromColumns(table.exportColumns());
}

/** List offsets for rows taken in `order` from CSR `offsets`, and the source index of every item. */
function gatherList(order: Int32Array, offsets: Int32Array): { listOffsets: Int32Array; items: Int32Array } {
  const listOffsets = new Int32Array(order.length + 1);
  for (let r = 0; r < order.length; r++) { const i = order[r]!; listOffsets[r + 1] = listOffsets[r]! + offsets[i + 1]! - offsets[i]!; }
  const items = new Int32Array(listOffsets[order.length]!);
  for (let r = 0; r < order.length; r++) {
    const i = order[r]!;
    for (let k = offsets[i]!, o = listOffsets[r]!; k < offsets[i + 1]!; k++, o++) items[o] = k;
  }
  return { listOffsets, items };
}

/** Sorts each row's items in place by `compare` (rows are short: insertion sort). */
function sortRows(list: { listOffsets: Int32Array; items: Int32Array }, compare: (a: number, b: number) => number): void {
  const { listOffsets, items } = list;
  for (let r = 0; r + 1 < listOffsets.length; r++) {
    for (let k = listOffsets[r]! + 1; k < listOffsets[r + 1]!; k++) {
      const x = items[k]!;
      let j = k - 1;
      while (j >= listOffsets[r]! && compare(items[j]!, x) > 0) { items[j + 1] = items[j]!; j--; }
      items[j + 1] = x;
    }
  }
}

function listOf(list: { listOffsets: Int32Array }, child: Data): Data<List> {
  return makeData({ type: new List(new Field('item', child.type, false)), length: list.listOffsets.length - 1, nullCount: 0, valueOffsets: list.listOffsets, child });
}

/** Peer kinds in code-unit order of their names: flows sort by kind before peer. */
const KIND_RANK = { fqdn: 0, ip: 1, none: 2, resource: 3 } as const;
const KIND_NAMES = ['fqdn', 'ip', 'none', 'resource'] as const;

// Dotted quads in text order: octets compare as their decimal strings, so the rank of each
// octet's string among the 256 gives a number whose order is the text's.
const OCTET_RANK = (() => {
  const rank = new Int32Array(256);
  Array.from({ length: 256 }, (_, i) => String(i)).sort().forEach((text, r) => { rank[Number(text)] = r; });
  return rank;
})();
const ipv4TextKey = (v: number): number =>
  ((OCTET_RANK[(v >>> 24) & 255]! << 24) | (OCTET_RANK[(v >>> 16) & 255]! << 16) | (OCTET_RANK[(v >>> 8) & 255]! << 8) | OCTET_RANK[v & 255]!) >>> 0;

/** Kind rank of a peer code (see flow-table.ts): the high word is the kind. */
function peerKindRank(code: number): number {
  if (code < PEER_CODE.RESOURCE) return KIND_RANK.ip;
  if (code < PEER_CODE.FQDN) return KIND_RANK.resource;
  if (code < PEER_CODE.NONE) return KIND_RANK.fqdn;
  return KIND_RANK.none;
}

/** Builds a Utf8 column value by value, without a string per value where avoidable. */
class Utf8Builder {
  readonly offsets: Int32Array;
  #bytes = new Uint8Array(1 << 16);
  #pos = 0;
  #row = 0;
  readonly #cache: (Uint8Array | undefined)[] = [];
  readonly #strings: readonly string[];
  constructor(rows: number, strings: readonly string[]) { this.offsets = new Int32Array(rows + 1); this.#strings = strings; }

  #room(n: number): void {
    if (this.#pos + n <= this.#bytes.length) return;
    const bytes = new Uint8Array(Math.max(this.#bytes.length * 2, this.#pos + n));
    bytes.set(this.#bytes.subarray(0, this.#pos));
    this.#bytes = bytes;
  }

  /** Appends interned string `id`. */
  id(id: number): void {
    let b = this.#cache[id];
    if (b === undefined) { b = encoder.encode(this.#strings[id]!); this.#cache[id] = b; }
    this.#room(b.length);
    this.#bytes.set(b, this.#pos);
    this.#pos += b.length;
    this.offsets[++this.#row] = this.#pos;
  }

  /** Appends an IPv4 address as a dotted quad. */
  ipv4(v: number): void {
    this.#room(15);
    for (let shift = 24; shift >= 0; shift -= 8) {
      const o = (v >>> shift) & 255;
      if (o >= 100) this.#bytes[this.#pos++] = 48 + Math.floor(o / 100);
      if (o >= 10) this.#bytes[this.#pos++] = 48 + (Math.floor(o / 10) % 10);
      this.#bytes[this.#pos++] = 48 + (o % 10);
      if (shift > 0) this.#bytes[this.#pos++] = 46;
    }
    this.offsets[++this.#row] = this.#pos;
  }

  /** Appends a peer or caller-IP code. */
  code(code: number): void {
    if (code < PEER_CODE.TEXT_IP) this.ipv4(code);
    else if (code >= PEER_CODE.NONE) this.offsets[++this.#row] = this.#pos;
    else this.id(code - (code >= PEER_CODE.FQDN ? PEER_CODE.FQDN : code >= PEER_CODE.RESOURCE ? PEER_CODE.RESOURCE : PEER_CODE.TEXT_IP));
  }

  data(): Data<Utf8> {
    return makeData({ type: new Utf8(), length: this.#row, nullCount: 0, valueOffsets: this.offsets, data: this.#bytes.subarray(0, this.#pos) });
  }
}

/**
 * A dictionary shared by every record batch of a snapshot (the Arrow file format allows one per
 * column): values numbered in order of first use, so the same rows give the same bytes.
 */
class SharedDictionary {
  readonly #slot: Int32Array; // value id → dictionary index, −1 until seen
  readonly #values: string[] = [];
  #vector: Vector | undefined;
  readonly #texts: readonly string[];
  readonly #id: number;
  constructor(texts: readonly string[], id: number) { this.#texts = texts; this.#id = id; this.#slot = new Int32Array(texts.length).fill(-1); }

  /** Numbers value `id` if it is new (call in row order, before any batch is made). */
  see(id: number): void {
    if (this.#slot[id] === -1) { this.#slot[id] = this.#values.length; this.#values.push(this.#texts[id]!); }
  }

  /** Dictionary-encoded data of the values `ids`. */
  data(ids: Int32Array): Data<Dictionary<Utf8, Int32>> {
    // A fixed id: apache-arrow otherwise numbers dictionaries from a process-wide counter, and the
    // bytes would differ from run to run.
    this.#vector ??= makeVector(utf8Data(this.#values));
    const indices = new Int32Array(ids.length);
    for (let k = 0; k < ids.length; k++) indices[k] = this.#slot[ids[k]!]!;
    return makeData({ type: new Dictionary(new Utf8(), new Int32(), this.#id), length: ids.length, nullCount: 0, data: indices, dictionary: this.#vector });
  }
}

/**
 * Row order of the flows: by perimeter, profile, category, peer kind and peer text, compared by
 * code units (the order of flowKeyString). Computed on numbers: string ranks, and for IPv4 peers
 * a number in text order; rows are bucketed by everything but the peer, then each bucket is
 * sorted natively on (peer key, row) packed in one float.
 */
function flowOrder(c: FlowColumns, rank: Int32Array, rankCount: number, categoryRank: readonly number[]): Int32Array {
  const n = c.length;
  let textIps = false;
  for (let i = 0; i < n; i++) if (c.peer[i]! >= PEER_CODE.TEXT_IP && c.peer[i]! < PEER_CODE.RESOURCE) { textIps = true; break; }
  if (textIps || rankCount >= 2 ** 22) return flowOrderByText(c, rank, categoryRank);
  const primary = new Float64Array(n);
  const secondary = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const code = c.peer[i]!;
    const kind = peerKindRank(code);
    primary[i] = ((rank[c.perimeter[i]!]! * rankCount + rank[c.profile[i]!]!) * 64 + categoryRank[c.category[i]!]!) * 4 + kind;
    secondary[i] = kind === KIND_RANK.ip ? ipv4TextKey(code) : kind === KIND_RANK.none ? 0 : rank[code % PEER_CODE.TEXT_IP]!;
  }
  const buckets = Float64Array.from(new Set(primary)).sort();
  const bucketOf = new Map<number, number>();
  buckets.forEach((p, b) => bucketOf.set(p, b));
  const starts = new Int32Array(buckets.length + 1);
  const bucket = new Int32Array(n);
  for (let i = 0; i < n; i++) { bucket[i] = bucketOf.get(primary[i]!)!; starts[bucket[i]! + 1]!++; }
  for (let b = 0; b < buckets.length; b++) starts[b + 1] = starts[b + 1]! + starts[b]!;
  // Rows by bucket, then each bucket sorted natively on (peer key, place in the bucket) packed in
  // one float: exact while a bucket holds under 2²¹ rows (else that bucket compares pairs).
  const fill = starts.slice(0, buckets.length);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[fill[bucket[i]!]!++] = i;
  const IN_BUCKET = 2 ** 21;
  for (let b = 0; b < buckets.length; b++) {
    const rows = order.subarray(starts[b]!, starts[b + 1]!);
    if (rows.length >= IN_BUCKET) { rows.sort((x, y) => secondary[x]! - secondary[y]! || x - y); continue; }
    const packed = Float64Array.from(rows, (i, k) => secondary[i]! * IN_BUCKET + k).sort();
    const byPlace = rows.slice();
    for (let k = 0; k < rows.length; k++) rows[k] = byPlace[packed[k]! % IN_BUCKET]!;
  }
  return order;
}

/** The same order by comparing peer texts (text IPs beside dotted quads, or millions of names). */
function flowOrderByText(c: FlowColumns, rank: Int32Array, categoryRank: readonly number[]): Int32Array {
  const peers = Array.from({ length: c.length }, (_, i) => peerOfCode(c.peer[i]!, c.strings));
  return Int32Array.from({ length: c.length }, (_, i) => i).sort((a, b) =>
    rank[c.perimeter[a]!]! - rank[c.perimeter[b]!]! || rank[c.profile[a]!]! - rank[c.profile[b]!]!
    || categoryRank[c.category[a]!]! - categoryRank[c.category[b]!]!
    || byCodeUnit(peers[a]!.kind, peers[b]!.kind) || byCodeUnit(peers[a]!.text, peers[b]!.text));
}

/** Values of `values` at `items`, as a new array of the same type. */
function gather<T extends Int32Array | Float64Array>(values: T, items: Int32Array): T {
  const out = new (values.constructor as new (n: number) => T)(items.length);
  for (let k = 0; k < items.length; k++) out[k] = values[items[k]!]!;
  return out;
}

/** Epoch milliseconds as Arrow 64-bit timestamps. */
function timeColumn(values: Float64Array, order: Int32Array): Data<TimestampMillisecond> {
  const data = new BigInt64Array(order.length);
  if (LITTLE_ENDIAN) {
    // Two 32-bit words per value: no BigInt made per row.
    const words = new Int32Array(data.buffer);
    for (let r = 0; r < order.length; r++) {
      const v = values[order[r]!]!;
      const hi = Math.floor(v / 2 ** 32);
      words[2 * r] = (v - hi * 2 ** 32) | 0;
      words[2 * r + 1] = hi | 0;
    }
  } else {
    for (let r = 0; r < order.length; r++) data[r] = BigInt(values[order[r]!]!);
  }
  return makeData({ type: new TimestampMillisecond(), length: order.length, nullCount: 0, data });
}
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Utf8 data of interned ids (or peer / IP codes) at `items`. */
function utf8OfIds(ids: Int32Array | Float64Array, items: Int32Array, strings: readonly string[], codes = false): Data<Utf8> {
  const b = new Utf8Builder(items.length, strings);
  for (let k = 0; k < items.length; k++) {
    if (codes) b.code(ids[items[k]!]!);
    else b.id(ids[items[k]!]!);
  }
  return b.data();
}

/** Rows per record batch: the writer holds one batch's columns at a time, not the whole file's. */
const BATCH_ROWS = 1 << 16;

/**
 * The one writer: flows sorted by key, lists sorted inside, so output depends only on content.
 * Hands the Arrow IPC file to `write` in chunks, one record batch at a time.
 */
export function writeSnapshot(c: FlowColumns, write: (chunk: Uint8Array) => void): void {
  const strings = c.strings;
  const n = c.length;
  const categoryNames = categories.map((x) => x.name);
  // Ranks of the strings the flows use, in code-unit order (a native sort without comparator).
  const used = new Uint8Array(strings.length);
  const useCode = (code: number): void => {
    if (code >= PEER_CODE.TEXT_IP && code < PEER_CODE.NONE) used[code % PEER_CODE.TEXT_IP] = 1;
  };
  for (let i = 0; i < n; i++) { used[c.perimeter[i]!] = 1; used[c.profile[i]!] = 1; useCode(c.peer[i]!); }
  for (const ids of [c.res, c.rules, c.ops]) for (let k = 0; k < ids.length; k++) used[ids[k]!] = 1;
  for (let k = 0; k < c.ips.length; k++) useCode(c.ips[k]!);
  const usedTexts: string[] = [];
  const idOfText = new Map<string, number>();
  for (let id = 0; id < strings.length; id++) if (used[id]) { usedTexts.push(strings[id]!); idOfText.set(strings[id]!, id); }
  usedTexts.sort();
  const rank = new Int32Array(strings.length);
  usedTexts.forEach((text, r) => { rank[idOfText.get(text)!] = r; });
  const categoryRank = categoryNames.map((name) => [...categoryNames].sort(byCodeUnit).indexOf(name));
  const order = flowOrder(c, rank, usedTexts.length, categoryRank);

  const byRank = (ids: Int32Array) => (a: number, b: number): number => rank[ids[a]!]! - rank[ids[b]!]!;
  const days = gatherList(order, c.dayOffsets);
  sortRows(days, (a, b) => c.days[a]! - c.days[b]!);
  const resources = gatherList(order, c.resOffsets);
  sortRows(resources, byRank(c.res));
  const rules = gatherList(order, c.ruleOffsets);
  sortRows(rules, byRank(c.rules));
  const ops = gatherList(order, c.opOffsets);
  sortRows(ops, byRank(c.ops));
  const ips = gatherList(order, c.ipOffsets);
  const ipTexts = Array.from(c.ips, (code) => ipOfCode(code, strings));
  sortRows(ips, (a, b) => byCodeUnit(ipTexts[a]!, ipTexts[b]!));

  // Dictionaries see every row in order first: they are written once, with the first batch.
  const perimeters = new SharedDictionary(strings, 0);
  const profiles = new SharedDictionary(strings, 1);
  const categoryDictionary = new SharedDictionary(categoryNames, 2);
  const kindDictionary = new SharedDictionary(KIND_NAMES, 3);
  const resourceNames = new SharedDictionary(strings, 4);
  const ruleNames = new SharedDictionary(strings, 5);
  const operationNames = new SharedDictionary(strings, 6);
  for (let r = 0; r < n; r++) {
    const i = order[r]!;
    perimeters.see(c.perimeter[i]!); profiles.see(c.profile[i]!); categoryDictionary.see(c.category[i]!); kindDictionary.see(peerKindRank(c.peer[i]!));
    for (let k = resources.listOffsets[r]!; k < resources.listOffsets[r + 1]!; k++) resourceNames.see(c.res[resources.items[k]!]!);
    for (let k = rules.listOffsets[r]!; k < rules.listOffsets[r + 1]!; k++) ruleNames.see(c.rules[rules.items[k]!]!);
    for (let k = ops.listOffsets[r]!; k < ops.listOffsets[r + 1]!; k++) operationNames.see(c.ops[ops.items[k]!]!);
  }

  const writer = new RecordBatchFileWriter();
  writer.reset(new ChunkSink(write));
  let schema: Schema | undefined;
  for (let r0 = 0; r0 < n || (n === 0 && !schema); r0 += BATCH_ROWS) {
    const r1 = Math.min(n, r0 + BATCH_ROWS);
    const rows = order.subarray(r0, r1);
    const m = rows.length;
    const part = (list: { listOffsets: Int32Array; items: Int32Array }): { listOffsets: Int32Array; items: Int32Array } => {
      const base = list.listOffsets[r0]!;
      const listOffsets = new Int32Array(m + 1);
      for (let r = 0; r <= m; r++) listOffsets[r] = list.listOffsets[r0 + r]! - base;
      return { listOffsets, items: list.items.subarray(base, list.listOffsets[r1]!) };
    };
    const d = part(days);
    const res = part(resources);
    const rul = part(rules);
    const op = part(ops);
    const ip = part(ips);
    const columns = {
      // Columns of few distinct values are dictionary-encoded: smaller files, one decode per value.
      perimeterId: perimeters.data(gather(c.perimeter, rows)),
      profile: profiles.data(gather(c.profile, rows)),
      category: categoryDictionary.data(gather(c.category, rows)),
      peerKind: kindDictionary.data(Int32Array.from(rows, (i) => peerKindRank(c.peer[i]!))),
      peer: utf8OfIds(c.peer, rows, strings, true),
      hits: makeData({ type: new Float64(), length: m, nullCount: 0, data: gather(c.hits, rows) }),
      firstSeen: timeColumn(c.first, rows),
      lastSeen: timeColumn(c.last, rows),
      daysSeen: makeData({ type: new Int32(), length: m, nullCount: 0, data: Int32Array.from(rows, (i) => c.dayOffsets[i + 1]! - c.dayOffsets[i]!) }),
      days: listOf(d, makeData({ type: new Int32(), length: d.items.length, nullCount: 0, data: gather(c.days, d.items) })),
      dayHits: listOf(d, makeData({ type: new Float64(), length: d.items.length, nullCount: 0, data: gather(c.dayHits, d.items) })),
      // Names in lists repeat across flows: dictionary-encoded like the key columns.
      resources: listOf(res, resourceNames.data(gather(c.res, res.items))),
      matchedRules: listOf(rul, ruleNames.data(gather(c.rules, rul.items))),
      matchedRuleHits: listOf(rul, makeData({ type: new Float64(), length: rul.items.length, nullCount: 0, data: gather(c.ruleHits, rul.items) })),
      sourceIps: listOf(ip, utf8OfIds(c.ips, ip.items, strings, true)),
      operations: listOf(op, operationNames.data(gather(c.ops, op.items))),
    };
    const plain = new Table(Object.fromEntries(Object.entries(columns).map(([name, data]) => [name, makeVector(data as Data)])));
    schema ??= new Schema(plain.schema.fields, new Map([[FORMAT_KEY, FORMAT_VERSION]]));
    for (const batch of plain.batches) writer.write(new RecordBatch(schema, batch.data));
  }
  writer.finish();
}

/** An apache-arrow byte sink that hands every chunk on as soon as the writer makes it. */
class ChunkSink extends AsyncByteQueue {
  readonly #write: (chunk: Uint8Array) => void;
  constructor(write: (chunk: Uint8Array) => void) { super(); this.#write = write; }
  override write(value: Uint8Array): void {
    if (value.byteLength > 0) this.#write(value);
  }
}

/** The snapshot as Arrow IPC file bytes in memory (see writeSnapshot). */
export function snapshotBytesFromColumns(c: FlowColumns): Uint8Array {
  const chunks: Uint8Array[] = [];
  writeSnapshot(c, (chunk) => chunks.push(chunk.slice()));
  return Buffer.concat(chunks);
}

/** Writes the snapshot to `path` atomically, one record batch at a time (see writeSnapshot). */
export async function writeSnapshotFile(path: string, c: FlowColumns): Promise<void> {
  await writeFileAtomicWith(path, (fd) => writeSnapshot(c, (chunk) => { writeAllSync(fd, chunk); }));
}

function writeAllSync(fd: number, chunk: Uint8Array): void {
  for (let done = 0; done < chunk.byteLength;) done += writeSync(fd, chunk, done, chunk.byteLength - done);
}

/**
 * Reads snapshot bytes into flow columns (one set per record batch), checking every value that
 * decides a rule. @throws NspError input-invalid when it is not a snapshot or a value is not valid
 */
export function columnsFromSnapshot(bytes: Uint8Array, path: string): FlowColumns[] {
  let table;
  try {
    table = tableFromIPC(bytes);
  } catch (error) {
    throw new NspError('input-invalid', `Cannot read flow snapshot "${path}": ${(error as Error).message}`, { cause: error });
  }
  if (table.schema.metadata.get(FORMAT_KEY) !== FORMAT_VERSION) {
    throw new NspError('input-invalid', `Cannot read flow snapshot "${path}": not an nsp-advisor snapshot of format ${FORMAT_VERSION}`, {
      hint: 'Write snapshots with "nsp-advisor analyze … --out flows.arrow"',
    });
  }
  let rowBase = 0;
  return table.batches.map((batch) => {
    const c = batchColumns(batch, path, rowBase);
    rowBase += batch.numRows;
    return c;
  });
}

/** Columns of one record batch; row numbers in messages count from `rowBase`. */
function batchColumns(batch: RecordBatch, path: string, rowBase: number): FlowColumns {
  const get = (name: string): Data => {
    const child = batch.getChild(name);
    if (!child) throw new NspError('input-invalid', `Cannot read flow snapshot "${path}": column "${name}" is missing`);
    return child.data[0]!;
  };
  const bad = (why: string, row: number): NspError => new NspError('input-invalid', `Cannot read flow snapshot "${path}": ${why} in row ${rowBase + row}`, {
    hint: 'Snapshots are written by "nsp-advisor analyze --out"; a snapshot edited elsewhere must keep its values',
  });
  const strings: string[] = [];
  const idOf = new Map<string, number>();
  const intern = (text: string): number => {
    let id = idOf.get(text);
    if (id === undefined) { id = strings.length; strings.push(text); idOf.set(text, id); }
    return id;
  };
  /** Interned id of each value of a Utf8 column, dictionary-encoded or not (each distinct value decoded once). */
  const textIds = (d: Data): Int32Array => {
    if (d.dictionary) {
      const values = Array.from(d.dictionary.toArray() as ArrayLike<string>, intern);
      const indices = d.values as Int32Array;
      const ids = new Int32Array(indices.length);
      for (let k = 0; k < indices.length; k++) ids[k] = values[indices[k]!]!;
      return ids;
    }
    const offsets = d.valueOffsets as Int32Array;
    const data = d.values as Uint8Array;
    return Int32Array.from({ length: d.length }, (_, i) => intern(decoder.decode(data.subarray(offsets[i]!, offsets[i + 1]!))));
  };
  /** Text of each value of a Utf8 column as a reader, without interning. */
  const texts = (d: Data): { bytes: Uint8Array; offsets: Int32Array } | string[] => {
    if (!d.dictionary) return { bytes: d.values as Uint8Array, offsets: d.valueOffsets as Int32Array };
    const values = Array.from(d.dictionary.toArray() as ArrayLike<string>);
    return Array.from(d.values as Int32Array, (k) => values[k]!);
  };
  const list = (d: Data): { offsets: Int32Array; child: Data } => {
    const raw = d.valueOffsets as Int32Array;
    // Offsets made relative to the child's first value (a sliced batch starts past 0).
    const base = raw[0]!;
    const child = d.children[0]!;
    if (base === 0 && child.length === raw[d.length]) return { offsets: raw.subarray(0, d.length + 1), child };
    return { offsets: Int32Array.from(raw.subarray(0, d.length + 1), (o) => o - base), child: child.slice(base, raw[d.length]! - base) };
  };
  const numbers = (d: Data): Float64Array => Float64Array.from(d.values as Float64Array | Int32Array);
  const times = (d: Data): Float64Array => {
    const v = d.values as BigInt64Array | Int32Array;
    // Older arrow builds keep 64-bit values as pairs of 32-bit words.
    const out = new Float64Array(d.length);
    // Read as 32-bit words either way: no BigInt made per row.
    const words = v instanceof BigInt64Array ? new Int32Array(v.buffer, v.byteOffset, v.length * 2) : v;
    if (v instanceof BigInt64Array && !LITTLE_ENDIAN) for (let i = 0; i < d.length; i++) out[i] = Number(v[i]!);
    else for (let i = 0; i < d.length; i++) out[i] = (words[2 * i]! >>> 0) + words[2 * i + 1]! * 4294967296;
    return out;
  };

  const n = batch.numRows;
  const kindData = get('peerKind');
  const kindOf = texts(kindData);
  const kindText = (i: number): string => (Array.isArray(kindOf) ? kindOf[i]! : decoder.decode(kindOf.bytes.subarray(kindOf.offsets[i]!, kindOf.offsets[i + 1]!)));
  const categoryNames = texts(get('category'));
  const categoryText = (i: number): string => (Array.isArray(categoryNames) ? categoryNames[i]! : decoder.decode(categoryNames.bytes.subarray(categoryNames.offsets[i]!, categoryNames.offsets[i + 1]!)));
  const peerData = get('peer');
  const peerBytes = peerData.values as Uint8Array;
  const peerOffsets = peerData.valueOffsets as Int32Array;
  const category = new Int32Array(n);
  const peer = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const kind = kindText(i);
    const info = lookupCategory(categoryText(i));
    // Categories and addresses decide which flows become rules: never taken on trust.
    if (!info) throw bad(`unknown category "${categoryText(i)}"`, i);
    category[i] = categories.indexOf(info);
    const s = peerOffsets[i]!;
    const e = peerOffsets[i + 1]!;
    if (kind === 'ip') {
      const v4 = parseIPv4Bytes(peerBytes, s, e);
      if (v4 >= 0) { peer[i] = v4; continue; }
      const text = decoder.decode(peerBytes.subarray(s, e));
      const address = parseLoggedIp(text);
      if (!address) throw bad(`peer "${text}" is not an IP address`, i);
      peer[i] = address.version === 4 ? Number(address.value) : PEER_CODE.TEXT_IP + intern(formatAddress(address));
    } else if (kind === 'resource') peer[i] = PEER_CODE.RESOURCE + intern(decoder.decode(peerBytes.subarray(s, e)));
    else if (kind === 'fqdn') peer[i] = PEER_CODE.FQDN + intern(decoder.decode(peerBytes.subarray(s, e)));
    else if (kind === 'none') peer[i] = PEER_CODE.NONE;
    else throw bad(`unknown peer kind "${kind}"`, i);
  }
  const days = list(get('days'));
  const dayHits = list(get('dayHits'));
  const resources = list(get('resources'));
  const rules = list(get('matchedRules'));
  const ruleHits = list(get('matchedRuleHits'));
  const ips = list(get('sourceIps'));
  const ops = list(get('operations'));
  // Caller IPs keep their text: dotted quads as numbers, anything else interned as written.
  const ipData = ips.child;
  const ipCodes = new Float64Array(ipData.length);
  if (ipData.dictionary) {
    for (let k = 0; k < ipData.length; k++) {
      const text = ipData.dictionary.get((ipData.values as Int32Array)[k]!) as string;
      const v4 = parseIPv4(text);
      ipCodes[k] = v4 >= 0 ? v4 : PEER_CODE.TEXT_IP + intern(text);
    }
  } else {
    const ipBytes = ipData.values as Uint8Array;
    const ipOffsets = ipData.valueOffsets as Int32Array;
    for (let k = 0; k < ipData.length; k++) {
      const v4 = parseIPv4Bytes(ipBytes, ipOffsets[k]!, ipOffsets[k + 1]!);
      ipCodes[k] = v4 >= 0 ? v4 : PEER_CODE.TEXT_IP + intern(decoder.decode(ipBytes.subarray(ipOffsets[k]!, ipOffsets[k + 1]!)));
    }
  }
  const sameShape = (a: Int32Array, b: Int32Array, what: string): void => {
    for (let i = 0; i <= n; i++) if (a[i] !== b[i]) throw bad(`${what} and its hits differ in length`, Math.max(0, i - 1));
  };
  sameShape(days.offsets, dayHits.offsets, 'days');
  sameShape(rules.offsets, ruleHits.offsets, 'matchedRules');
  const hits = numbers(get('hits'));
  const perDay = numbers(dayHits.child);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let k = days.offsets[i]!; k < days.offsets[i + 1]!; k++) sum += perDay[k]!;
    if (sum !== hits[i] || days.offsets[i + 1] === days.offsets[i]) throw bad(`hits (${hits[i]}) are not the sum of the hits per day (${sum})`, i);
  }
  return {
    strings, length: n,
    perimeter: textIds(get('perimeterId')), profile: textIds(get('profile')), category, peer,
    hits, first: times(get('firstSeen')), last: times(get('lastSeen')),
    dayOffsets: days.offsets, days: Int32Array.from(days.child.values as Int32Array), dayHits: perDay,
    resOffsets: resources.offsets, res: textIds(resources.child),
    ruleOffsets: rules.offsets, rules: textIds(rules.child), ruleHits: numbers(ruleHits.child),
    ipOffsets: ips.offsets, ips: ipCodes, opOffsets: ops.offsets, ops: textIds(ops.child),
  };
}

/** Reads a snapshot written by snapshotBytes(). @throws NspError input-invalid when it is not one */
export function summaryFromSnapshot(bytes: Uint8Array, path: string): FlowSummary {
  const table = new FlowTableClass();
  for (const columns of columnsFromSnapshot(bytes, path)) table.importColumns(columns);
  return table.toSummary();
}

/** Loads a snapshot file as flow columns (see columnsFromSnapshot). */
export async function loadSnapshotColumns(path: string): Promise<FlowColumns[]> {
  return columnsFromSnapshot(await readSnapshotFile(path), path);
}

async function readSnapshotFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new NspError('input-missing', `Cannot read "${path}": ${(error as Error).message}`, { cause: error });
  }
}

/** Loads a snapshot file. */
export async function loadSnapshot(path: string): Promise<FlowSummary> {
  return summaryFromSnapshot(await readSnapshotFile(path), path);
}
