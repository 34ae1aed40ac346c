// Analyze stage: saves a FlowSummary as an Arrow IPC file (one row per flow, sorted by key) and
// loads it back, so that runs can be combined later and other tools (pandas, DuckDB, Polars) can
// read the flows. Schema metadata carries the snapshot format version.

import { readFile } from 'node:fs/promises';
import {
  Dictionary, Field, Float64, Int32, List, RecordBatch, Schema, Table, TimestampMillisecond, Utf8,
  makeData, makeVector, tableFromIPC, tableToIPC, type Data,
} from 'apache-arrow';
import { NspError } from '../errors.js';
import { categories, lookupCategory } from '../model/category.js';
import { formatAddress, parseLoggedIp } from '../model/ip.js';
import { flowKeyString, type FlowSummary } from '../model/flow-summary.js';
import type { PeerKind } from '../model/record.js';
import { emptySummary } from './aggregate.js';
import { columnsFromSummary, ipOfCode, peerOfCode, type FlowColumns, type FlowTable } from './flow-table.js';
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

/** Encodes strings by id once each, and builds Utf8 data from id sequences. */
class Utf8Writer {
  readonly #cache = new Map<number, Uint8Array>();
  readonly #text: (id: number) => string;
  constructor(text: (id: number) => string) { this.#text = text; }

  bytes(id: number): Uint8Array {
    let b = this.#cache.get(id);
    if (!b) { b = encoder.encode(this.#text(id)); this.#cache.set(id, b); }
    return b;
  }

  data(ids: ArrayLike<number>): Data<Utf8> {
    const offsets = new Int32Array(ids.length + 1);
    let total = 0;
    for (let i = 0; i < ids.length; i++) { total += this.bytes(ids[i]!).length; offsets[i + 1] = total; }
    const data = new Uint8Array(total);
    for (let i = 0; i < ids.length; i++) data.set(this.bytes(ids[i]!), offsets[i]!);
    return makeData({ type: new Utf8(), length: ids.length, nullCount: 0, valueOffsets: offsets, data });
  }
}

/**
 * A dictionary-encoded Utf8 column: the distinct values in order of first use (so the same rows
 * give the same bytes) and an Int32 index per row.
 */
function dictionaryData(values: readonly string[], id: number): Data<Dictionary<Utf8, Int32>> {
  const index = new Map<string, number>();
  const indices = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    let k = index.get(values[i]!);
    if (k === undefined) { k = index.size; index.set(values[i]!, k); }
    indices[i] = k;
  }
  const dictionary = makeVector(utf8Data([...index.keys()]));
  // A fixed id: apache-arrow otherwise numbers dictionaries from a process-wide counter, and the
  // bytes would differ from run to run.
  return makeData({ type: new Dictionary(new Utf8(), new Int32(), id), length: values.length, nullCount: 0, data: indices, dictionary });
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

/** The one writer: flows sorted by key, lists sorted inside, so output depends only on content. */
export function snapshotBytesFromColumns(c: FlowColumns): Uint8Array {
  const strings = c.strings;
  const n = c.length;
  const peers = Array.from({ length: n }, (_, i) => peerOfCode(c.peer[i]!, strings));
  const categoryNames = categories.map((x) => x.name);
  // Flow key order (flowKeyString) is the order of its parts compared one by one: the separator
  // sorts below every character a part can hold. Parts that repeat are compared by rank.
  const rank = new Int32Array(strings.length);
  [...strings.keys()].sort((a, b) => byCodeUnit(strings[a]!, strings[b]!)).forEach((id, r) => { rank[id] = r; });
  const categoryRank = categoryNames.map((name) => [...categoryNames].sort(byCodeUnit).indexOf(name));
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) =>
    rank[c.perimeter[a]!]! - rank[c.perimeter[b]!]! || rank[c.profile[a]!]! - rank[c.profile[b]!]!
    || categoryRank[c.category[a]!]! - categoryRank[c.category[b]!]!
    || byCodeUnit(peers[a]!.kind, peers[b]!.kind) || byCodeUnit(peers[a]!.text, peers[b]!.text));

  const text = new Utf8Writer((id) => strings[id]!);
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

  const at = <T extends Int32Array | Float64Array>(values: T, items: Int32Array, make: (x: number[]) => Data): Data =>
    make(Array.from(items, (k) => values[k]!));
  const columns = {
    // Columns of few distinct values are dictionary-encoded: smaller files, one decode per value.
    perimeterId: dictionaryData(Array.from(order, (i) => strings[c.perimeter[i]!]!), 0),
    profile: dictionaryData(Array.from(order, (i) => strings[c.profile[i]!]!), 1),
    category: dictionaryData(Array.from(order, (i) => categoryNames[c.category[i]!]!), 2),
    peerKind: dictionaryData(Array.from(order, (i) => peers[i]!.kind), 3),
    peer: utf8Data(Array.from(order, (i) => peers[i]!.text)),
    hits: float64Data(Array.from(order, (i) => c.hits[i]!)),
    firstSeen: timeData(Array.from(order, (i) => c.first[i]!)),
    lastSeen: timeData(Array.from(order, (i) => c.last[i]!)),
    daysSeen: int32Data(Array.from(order, (i) => c.dayOffsets[i + 1]! - c.dayOffsets[i]!)),
    days: listOf(days, at(c.days, days.items, int32Data)),
    dayHits: listOf(days, at(c.dayHits, days.items, float64Data)),
    resources: listOf(resources, text.data(Int32Array.from(resources.items, (k) => c.res[k]!))),
    matchedRules: listOf(rules, text.data(Int32Array.from(rules.items, (k) => c.rules[k]!))),
    matchedRuleHits: listOf(rules, at(c.ruleHits, rules.items, float64Data)),
    sourceIps: listOf(ips, utf8Data(Array.from(ips.items, (k) => ipTexts[k]!))),
    operations: listOf(ops, text.data(Int32Array.from(ops.items, (k) => c.ops[k]!))),
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
      if (d.dictionary) {
        // Dictionary-encoded: each distinct value decoded once.
        const dictionary = Array.from(d.dictionary.toArray() as ArrayLike<string>);
        const indices = d.values as Int32Array;
        return (i) => dictionary[indices[i]!]!;
      }
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
      const bad = (why: string): NspError => new NspError('input-invalid', `Cannot read flow snapshot "${path}": ${why} in row ${i}`, {
        hint: 'Snapshots are written by "nsp-advisor analyze --out"; a snapshot edited elsewhere must keep its values',
      });
      if (!PEER_KINDS.has(peerKind)) throw bad(`unknown peer kind "${peerKind}"`);
      // Categories and addresses decide which flows become rules: never taken on trust.
      const category = lookupCategory(c.category(i));
      if (!category) throw bad(`unknown category "${c.category(i)}"`);
      let peer = c.peer(i);
      if (peerKind === 'ip') {
        const address = parseLoggedIp(peer);
        if (!address) throw bad(`peer "${peer}" is not an IP address`);
        peer = formatAddress(address);
      }
      const days = c.days(i);
      const dayHits = c.dayHits(i);
      const ruleNames = c.matchedRules(i);
      const ruleHits = c.matchedRuleHits(i);
      const flow = {
        perimeterId: c.perimeterId(i), profile: c.profile(i), category: category.name, peerKind, peer,
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
