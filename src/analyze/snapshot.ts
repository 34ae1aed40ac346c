// Analyze stage: saves a FlowSummary as an Arrow IPC file (one row per flow, sorted by key) and
// loads it back, so that runs can be combined later and other tools (pandas, DuckDB, Polars) can
// read the flows. Schema metadata carries the snapshot format version.

import { readFile } from 'node:fs/promises';
import {
  Field, Float64, Int32, List, RecordBatch, Schema, Table, TimestampMillisecond, Utf8,
  makeData, makeVector, tableFromIPC, tableToIPC, type Data,
} from 'apache-arrow';
import { NspError } from '../errors.js';
import { categories } from '../model/category.js';
import { flowKeyString, type FlowSummary } from '../model/flow-summary.js';
import type { PeerKind } from '../model/record.js';
import { emptySummary } from './aggregate.js';
import { columnsFromSummary, ipOfCode, peerOfCode, type FlowColumns, type FlowTable } from './flow-table.js';

const FORMAT_KEY = 'nsp-advisor.snapshot';
const FORMAT_VERSION = '1';

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
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

/** A List column over a child column: rows[i] is the list of row i. */
function listData<T>(rows: readonly T[][], child: (items: T[]) => Data): Data<List> {
  const offsets = new Int32Array(rows.length + 1);
  const items: T[] = [];
  for (let i = 0; i < rows.length; i++) { for (const x of rows[i]!) items.push(x); offsets[i + 1] = items.length; }
  const childData = child(items);
  return makeData({ type: new List(new Field('item', childData.type, false)), length: rows.length, nullCount: 0, valueOffsets: offsets, child: childData });
}

const float64Data = (values: number[]): Data<Float64> => makeData({ type: new Float64(), length: values.length, nullCount: 0, data: Float64Array.from(values) });
const int32Data = (values: number[]): Data<Int32> => makeData({ type: new Int32(), length: values.length, nullCount: 0, data: Int32Array.from(values) });
const timeData = (values: number[]): Data<TimestampMillisecond> =>
  makeData({ type: new TimestampMillisecond(), length: values.length, nullCount: 0, data: BigInt64Array.from(values, (v) => BigInt(v)) });

/** The summary as Arrow IPC file bytes; the same summary always gives the same bytes. */
export function snapshotBytes(summary: FlowSummary): Uint8Array {
  return snapshotBytesFromColumns(columnsFromSummary(summary));
}

/** A flow table as Arrow IPC file bytes, without building a FlowSummary first (same bytes). */
export function snapshotBytesFromTable(table: FlowTable): Uint8Array {
  return snapshotBytesFromColumns(table.exportColumns());
}

/** Utf8 of strings given by id, encoding each distinct string once. */
function utf8OfIds(ids: ArrayLike<number>, text: (id: number) => string, cache: Map<number, Uint8Array>): Data<Utf8> {
  const offsets = new Int32Array(ids.length + 1);
  const parts: Uint8Array[] = [];
  let pos = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    let bytes = cache.get(id);
    if (!bytes) { bytes = encoder.encode(text(id)); cache.set(id, bytes); }
    parts.push(bytes);
    pos += bytes.length;
    offsets[i + 1] = pos;
  }
  const data = new Uint8Array(pos);
  let at = 0;
  for (const part of parts) { data.set(part, at); at += part.length; }
  return makeData({ type: new Utf8(), length: ids.length, nullCount: 0, valueOffsets: offsets, data });
}

/** The one writer: flows sorted by key, lists sorted inside, so output depends only on content. */
function snapshotBytesFromColumns(c: FlowColumns): Uint8Array {
  const strings = c.strings;
  const n = c.length;
  const peers = Array.from({ length: n }, (_, i) => peerOfCode(c.peer[i]!, strings));
  const categoryNames = categories.map((x) => x.name);
  // Sort by the canonical flow key; native sort of "key\0index" strings orders by key (keys are unique).
  const keyed = Array.from({ length: n }, (_, i) => `${flowKeyString({ perimeterId: strings[c.perimeter[i]!]!, profile: strings[c.profile[i]!]!, category: categoryNames[c.category[i]!]!, peerKind: peers[i]!.kind, peer: peers[i]!.text })}\u0000${i}`);
  keyed.sort();
  const order = keyed.map((k) => Number(k.slice(k.lastIndexOf('\u0000') + 1)));
  const cache = new Map<number, Uint8Array>();
  const text = (id: number): string => strings[id]!;
  const pick = (col: Int32Array): Int32Array => Int32Array.from(order, (i) => col[i]!);
  const sortedList = <T>(i: number, offsets: Int32Array, item: (k: number) => T, compare: (a: T, b: T) => number): T[] => {
    const out: T[] = [];
    for (let k = offsets[i]!; k < offsets[i + 1]!; k++) out.push(item(k));
    return out.sort(compare);
  };
  const byText = (a: string, b: string): number => byCodeUnit(a, b);
  const days = order.map((i) => sortedList(i, c.dayOffsets, (k) => [c.days[k]!, c.dayHits[k]!] as [number, number], (a, b) => a[0] - b[0]));
  const rules = order.map((i) => sortedList(i, c.ruleOffsets, (k) => [strings[c.rules[k]!]!, c.ruleHits[k]!] as [string, number], (a, b) => byCodeUnit(a[0], b[0])));
  const columns = {
    perimeterId: utf8OfIds(pick(c.perimeter), text, cache),
    profile: utf8OfIds(pick(c.profile), text, cache),
    category: utf8Data(order.map((i) => categoryNames[c.category[i]!]!)),
    peerKind: utf8Data(order.map((i) => peers[i]!.kind)),
    peer: utf8Data(order.map((i) => peers[i]!.text)),
    hits: float64Data(order.map((i) => c.hits[i]!)),
    firstSeen: timeData(order.map((i) => c.first[i]!)),
    lastSeen: timeData(order.map((i) => c.last[i]!)),
    daysSeen: int32Data(order.map((i) => c.dayOffsets[i + 1]! - c.dayOffsets[i]!)),
    days: listData(days.map((d) => d.map(([day]) => day)), int32Data),
    dayHits: listData(days.map((d) => d.map(([, hits]) => hits)), float64Data),
    resources: listData(order.map((i) => sortedList(i, c.resOffsets, (k) => strings[c.res[k]!]!, byText)), utf8Data),
    matchedRules: listData(rules.map((r) => r.map(([name]) => name)), utf8Data),
    matchedRuleHits: listData(rules.map((r) => r.map(([, hits]) => hits)), float64Data),
    sourceIps: listData(order.map((i) => sortedList(i, c.ipOffsets, (k) => ipOfCode(c.ips[k]!, strings), byText)), utf8Data),
    operations: listData(order.map((i) => sortedList(i, c.opOffsets, (k) => strings[c.ops[k]!]!, byText)), utf8Data),
  };
  const plain = new Table(Object.fromEntries(Object.entries(columns).map(([name, data]) => [name, makeVector(data as Data)])));
  const schema = new Schema(plain.schema.fields, new Map([[FORMAT_KEY, FORMAT_VERSION]]));
  const table = new Table(schema, plain.batches.map((b) => new RecordBatch(schema, b.data)));
  return tableToIPC(table, 'file');
}

const PEER_KINDS = new Set<PeerKind>(['ip', 'resource', 'fqdn', 'none']);

/** Reads a snapshot written by snapshotBytes(). @throws NspError input-invalid when it is not one */
export function summaryFromSnapshot(bytes: Uint8Array, path: string): FlowSummary {
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
  const summary = emptySummary();
  for (const batch of table.batches) {
    const get = (name: string): Data => {
      const child = batch.getChild(name);
      if (!child) throw new NspError('input-invalid', `Cannot read flow snapshot "${path}": column "${name}" is missing`);
      return child.data[0]!;
    };
    // Columns are read straight from their buffers (Vector.get per cell is slow on large snapshots).
    const strings = (d: Data): ((i: number) => string) => {
      const offsets = d.valueOffsets as Int32Array;
      const values = d.values as Uint8Array;
      return (i) => decoder.decode(values.subarray(offsets[i]!, offsets[i + 1]!));
    };
    const lists = <T>(d: Data, item: (child: Data) => (i: number) => T): ((i: number) => T[]) => {
      const offsets = d.valueOffsets as Int32Array;
      const child = item(d.children[0]!);
      return (i) => { const out: T[] = []; for (let k = offsets[i]!; k < offsets[i + 1]!; k++) out.push(child(k)); return out; };
    };
    const numbers = (d: Data): ((i: number) => number) => { const v = d.values as Float64Array | Int32Array; return (i) => v[i]!; };
    const times = (d: Data): ((i: number) => number) => {
      const v = d.values as BigInt64Array | Int32Array;
      // Older arrow builds keep 64-bit values as pairs of 32-bit words.
      return v instanceof BigInt64Array ? (i) => Number(v[i]!) : (i) => v[2 * i]! + v[2 * i + 1]! * 4294967296;
    };
    const c = {
      perimeterId: strings(get('perimeterId')), profile: strings(get('profile')), category: strings(get('category')),
      peerKind: strings(get('peerKind')), peer: strings(get('peer')), hits: numbers(get('hits')),
      firstSeen: times(get('firstSeen')), lastSeen: times(get('lastSeen')),
      days: lists(get('days'), numbers), dayHits: lists(get('dayHits'), numbers),
      resources: lists(get('resources'), strings), matchedRules: lists(get('matchedRules'), strings),
      matchedRuleHits: lists(get('matchedRuleHits'), numbers), sourceIps: lists(get('sourceIps'), strings),
      operations: lists(get('operations'), strings),
    };
    for (let i = 0; i < batch.numRows; i++) {
      const peerKind = c.peerKind(i) as PeerKind;
      if (!PEER_KINDS.has(peerKind)) throw new NspError('input-invalid', `Cannot read flow snapshot "${path}": unknown peer kind "${peerKind}" in row ${i}`);
      const days = c.days(i);
      const dayHits = c.dayHits(i);
      const ruleNames = c.matchedRules(i);
      const ruleHits = c.matchedRuleHits(i);
      const flow = {
        perimeterId: c.perimeterId(i), profile: c.profile(i), category: c.category(i), peerKind, peer: c.peer(i),
        hits: c.hits(i), firstSeen: c.firstSeen(i), lastSeen: c.lastSeen(i),
        dayHits: new Map(days.map((d, j) => [d, dayHits[j] ?? 0] as [number, number])),
        resources: new Set(c.resources(i)),
        matchedRules: new Map(ruleNames.map((r, j) => [r, ruleHits[j] ?? 0] as [string, number])),
        sourceIps: new Set(c.sourceIps(i)),
        operations: new Set(c.operations(i)),
      };
      summary.flows.set(flowKeyString(flow), flow);
    }
  }
  return summary;
}

/** Loads a snapshot file. */
export async function loadSnapshot(path: string): Promise<FlowSummary> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new NspError('input-missing', `Cannot read "${path}": ${(error as Error).message}`, { cause: error });
  }
  return summaryFromSnapshot(bytes, path);
}

/** Saves a snapshot file atomically. */
export async function saveSnapshot(path: string, summary: FlowSummary, write: (path: string, data: Uint8Array) => Promise<void>): Promise<void> {
  await write(path, snapshotBytes(summary));
}
