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
import { FlowTable as FlowTableClass, PEER_CODE, columnsFromSummary, type FlowColumns, type FlowTable } from './flow-table.js';
import { KIND_NAMES, gatherRows, orderFlows, peerKindRank } from './flow-order.js';
import { DICTIONARY_COLUMNS, LITTLE_ENDIAN, encodeBatch, sortedDictionaries, type DictionaryColumn, type EncodedBatch, type SortedValues, type UsedValues, type Utf8Column } from './snapshot-encoding.js';

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

function listOf(list: { listOffsets: Int32Array }, child: Data): Data<List> {
  return makeData({ type: new List(new Field('item', child.type, false)), length: list.listOffsets.length - 1, nullCount: 0, valueOffsets: list.listOffsets, child });
}

/** Rows per record batch: the writer holds one batch's columns at a time, not the whole file's (snapshot-writer.ts uses the same). */
const BATCH_ROWS = 1 << 16;

export type { UsedValues } from './snapshot-encoding.js';

/** The values that appear in the dictionary columns of `c`. */
export function usedValues(c: FlowColumns): UsedValues {
  const n = c.strings.length;
  const u: UsedValues = {
    perimeter: new Uint8Array(n), profile: new Uint8Array(n), category: new Uint8Array(categories.length), kind: new Uint8Array(KIND_NAMES.length),
    res: new Uint8Array(n), rules: new Uint8Array(n), ops: new Uint8Array(n),
  };
  for (let i = 0; i < c.length; i++) {
    u.perimeter[c.perimeter[i]!] = 1; u.profile[c.profile[i]!] = 1; u.category[c.category[i]!] = 1; u.kind[peerKindRank(c.peer[i]!)] = 1;
  }
  for (let k = 0; k < c.res.length; k++) u.res[c.res[k]!] = 1;
  for (let k = 0; k < c.rules.length; k++) u.rules[c.rules[k]!] = 1;
  for (let k = 0; k < c.ops.length; k++) u.ops[c.ops[k]!] = 1;
  return u;
}

/**
 * Flows in snapshot order, handed to the writer a batch at a time: a table's columns put in order
 * (tableRows), or workers' sorted runs merged as they go (sorted-runs.ts).
 */
export interface SnapshotRows {
  /** The texts that ids in the batches refer to. */
  readonly strings: readonly string[];
  /** Flows in all. */
  readonly length: number;
  readonly used: UsedValues;
  /** The next rows (at most `rows`), in order with every list in order; null when none are left. */
  next(rows: number): FlowColumns | null;
  /**
   * next() encoded as the snapshot stores it (snapshot-encoding.ts), where the rows are made so.
   * Its arrays may be views of shared memory (no copy), valid until release() is called for it.
   */
  nextEncoded?(rows: number): EncodedBatch | null;
  /** The oldest batch from nextEncoded() not yet released is written: its memory may be reused. */
  release?(): void;
}

/** The flows of `c` in snapshot order. */
export function tableRows(c: FlowColumns): SnapshotRows {
  const o = orderFlows(c);
  let r0 = 0;
  return {
    strings: c.strings, length: c.length, used: usedValues(c),
    next(rows) {
      if (r0 >= c.length) return null;
      const r1 = Math.min(c.length, r0 + rows);
      const batch = gatherRows(c, o, r0, r1);
      r0 = r1;
      return batch;
    },
  };
}

/** The one writer for a table's columns (see writeSnapshotRows). */
export function writeSnapshot(c: FlowColumns, write: (chunk: Uint8Array) => void): void {
  writeSnapshotRows(tableRows(c), write);
}

/**
 * The one writer: flows in key order, lists sorted inside, dictionaries of the values in use in
 * text order, so output depends only on content. Hands the Arrow IPC file to `write` in chunks,
 * one record batch at a time.
 */
export function writeSnapshotRows(rows: SnapshotRows, write: (chunk: Uint8Array) => void): void {
  const writer = new SnapshotWriter(rows.strings, rows.used, write);
  for (let b = rows.next(BATCH_ROWS); b; b = rows.next(BATCH_ROWS)) writer.add(b);
  writer.finish();
}

/**
 * The writer of writeSnapshotRows, fed a batch at a time (in order, lists in order, ids into
 * `strings`): on this thread, or on a writer thread (snapshot-writer.ts) that the merge feeds.
 */
export class SnapshotWriter {
  readonly #dictionaries: Record<DictionaryColumn, SortedValues>;
  // Each dictionary's texts, written once; batches refer to it by its fixed id.
  readonly #vectors: Record<DictionaryColumn, Vector>;
  readonly #writer = new RecordBatchFileWriter();
  #schema: Schema | undefined;

  constructor(strings: readonly string[], used: UsedValues, write: (chunk: Uint8Array) => void) {
    this.#dictionaries = sortedDictionaries(strings, used);
    this.#vectors = Object.fromEntries(DICTIONARY_COLUMNS.map((name) => [name, makeVector(utf8Data(this.#dictionaries[name].texts))])) as Record<DictionaryColumn, Vector>;
    this.#writer.reset(new ChunkSink(write));
  }

  /** Writes the rows of `b` as one record batch (or several, as apache-arrow splits them). */
  add(b: FlowColumns): void {
    this.addEncoded(encodeBatch(b, this.#dictionaries));
  }

  /** add() of rows encoded already (by encodeBatch(), or the same way by the WebAssembly merge). */
  addEncoded(e: EncodedBatch): void {
    const m = e.length;
    const list = (offsets: Int32Array, child: Data): Data<List> => listOf({ listOffsets: offsets }, child);
    // A fixed id per dictionary: apache-arrow otherwise numbers dictionaries from a process-wide
    // counter, and the bytes would differ from run to run.
    const dictionary = (name: DictionaryColumn, indexes: Int32Array): Data => makeData({
      type: new Dictionary(new Utf8(), new Int32(), DICTIONARY_COLUMNS.indexOf(name)), length: indexes.length, nullCount: 0, data: indexes, dictionary: this.#vectors[name],
    });
    const utf8 = (c: Utf8Column): Data => makeData({ type: new Utf8(), length: c.offsets.length - 1, nullCount: 0, valueOffsets: c.offsets, data: c.bytes });
    const time = (values: BigInt64Array): Data => makeData({ type: new TimestampMillisecond(), length: m, nullCount: 0, data: values });
    const columns = {
      // Columns of few distinct values are dictionary-encoded: smaller files, one decode per value.
      perimeterId: dictionary('perimeter', e.perimeter),
      profile: dictionary('profile', e.profile),
      category: dictionary('category', e.category),
      peerKind: dictionary('kind', e.kind),
      peer: utf8(e.peer),
      hits: makeData({ type: new Float64(), length: m, nullCount: 0, data: e.hits }),
      firstSeen: time(e.first),
      lastSeen: time(e.last),
      daysSeen: makeData({ type: new Int32(), length: m, nullCount: 0, data: e.daysSeen }),
      days: list(e.dayOffsets, makeData({ type: new Int32(), length: e.days.length, nullCount: 0, data: e.days })),
      dayHits: list(e.dayOffsets, makeData({ type: new Float64(), length: e.dayHits.length, nullCount: 0, data: e.dayHits })),
      // Names in lists repeat across flows: dictionary-encoded like the key columns.
      resources: list(e.resOffsets, dictionary('res', e.res)),
      matchedRules: list(e.ruleOffsets, dictionary('rules', e.rules)),
      matchedRuleHits: list(e.ruleOffsets, makeData({ type: new Float64(), length: e.ruleHits.length, nullCount: 0, data: e.ruleHits })),
      sourceIps: list(e.ipOffsets, utf8(e.ips)),
      operations: list(e.opOffsets, dictionary('ops', e.ops)),
    };
    const plain = new Table(Object.fromEntries(Object.entries(columns).map(([name, data]) => [name, makeVector(data as Data)])));
    this.#schema ??= new Schema(plain.schema.fields, new Map([[FORMAT_KEY, FORMAT_VERSION]]));
    for (const batch of plain.batches) this.#writer.write(new RecordBatch(this.#schema, batch.data));
  }

  /** Ends the file (with no flows: one empty batch, for the schema). */
  finish(): void {
    if (!this.#schema) this.add(columnsFromSummary({ flows: new Map() }));
    this.#writer.finish();
  }
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
export async function writeSnapshotFile(path: string, c: FlowColumns | SnapshotRows): Promise<void> {
  const rows = 'next' in c ? c : tableRows(c);
  await writeFileAtomicWith(path, (fd) => writeSnapshotRows(rows, (chunk) => { writeAllSync(fd, chunk); }));
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
  const batches = columnsFromSnapshot(bytes, path);
  table.reserve(batches.reduce((n, c) => n + c.length, 0)); // grown once, not batch by batch
  for (const columns of batches) table.importColumns(columns);
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
