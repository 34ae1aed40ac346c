// Analyze stage, end of `analyze --out`: a snapshot batch's columns as the Arrow writer stores
// them (snapshot.ts): values of the dictionary columns as dictionary indexes, peers and caller IPs
// as UTF-8 text, times as 64-bit integers. No apache-arrow here: the main thread's merge
// (merge-engine.ts) encodes its batches the same way in WebAssembly, and the writer thread only
// frames them.

import { KIND_NAMES, peerKindRank } from './flow-order.js';
import { PEER_CODE, type FlowColumns } from './flow-table.js';
import { categories } from '../model/category.js';
import { byCodeUnit } from '../model/text.js';

/** For each dictionary column, which values appear in it (ids, category indexes, kind ranks). */
export interface UsedValues {
  perimeter: Uint8Array; profile: Uint8Array; category: Uint8Array; kind: Uint8Array;
  res: Uint8Array; rules: Uint8Array; ops: Uint8Array;
}

export const DICTIONARY_COLUMNS = ['perimeter', 'profile', 'category', 'kind', 'res', 'rules', 'ops'] as const;
export type DictionaryColumn = (typeof DICTIONARY_COLUMNS)[number];

/** One dictionary of a snapshot: its values in code-unit order, and each value id's index among them. */
export interface SortedValues {
  /** The dictionary's texts, in order. */
  texts: string[];
  /** Value id → dictionary index, −1 when not in use. */
  index: Int32Array;
}

/**
 * The snapshot's dictionaries: the values in use of each dictionary column, in code-unit order, so
 * the same flows give the same bytes however their rows were gathered.
 */
export function sortedDictionaries(strings: readonly string[], used: UsedValues): Record<DictionaryColumn, SortedValues> {
  const sorted = (texts: readonly string[], inUse: Uint8Array): SortedValues => {
    const ids: number[] = [];
    for (let v = 0; v < inUse.length; v++) if (inUse[v]) ids.push(v);
    ids.sort((x, y) => byCodeUnit(texts[x]!, texts[y]!));
    const index = new Int32Array(texts.length).fill(-1);
    ids.forEach((v, k) => { index[v] = k; });
    return { texts: ids.map((v) => texts[v]!), index };
  };
  return {
    perimeter: sorted(strings, used.perimeter), profile: sorted(strings, used.profile),
    category: sorted(categories.map((c) => c.name), used.category), kind: sorted(KIND_NAMES, used.kind),
    res: sorted(strings, used.res), rules: sorted(strings, used.rules), ops: sorted(strings, used.ops),
  };
}

/** UTF-8 texts: one per row, as Arrow's Utf8 stores them. */
export interface Utf8Column { offsets: Int32Array; bytes: Uint8Array }

/** A batch of rows as the snapshot writer stores them (see SnapshotWriter.addEncoded()). */
export interface EncodedBatch {
  length: number;
  /** Dictionary indexes. */
  perimeter: Int32Array; profile: Int32Array; category: Int32Array; kind: Int32Array;
  peer: Utf8Column;
  hits: Float64Array;
  /** Epoch milliseconds as 64-bit integers. */
  first: BigInt64Array; last: BigInt64Array;
  daysSeen: Int32Array;
  dayOffsets: Int32Array; days: Int32Array; dayHits: Float64Array;
  resOffsets: Int32Array; res: Int32Array;
  ruleOffsets: Int32Array; rules: Int32Array; ruleHits: Float64Array;
  ipOffsets: Int32Array; ips: Utf8Column;
  opOffsets: Int32Array; ops: Int32Array;
}

const encoder = new TextEncoder();

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

  column(): Utf8Column {
    return { offsets: this.offsets, bytes: this.#bytes.subarray(0, this.#pos) };
  }
}

/** The UTF-8 texts of peer or caller-IP codes. */
function utf8OfCodes(codes: Float64Array, strings: readonly string[]): Utf8Column {
  const b = new Utf8Builder(codes.length, strings);
  for (let k = 0; k < codes.length; k++) b.code(codes[k]!);
  return b.column();
}

/** Epoch milliseconds as 64-bit integers. */
function times(values: Float64Array): BigInt64Array {
  const data = new BigInt64Array(values.length);
  if (LITTLE_ENDIAN) {
    // Two 32-bit words per value: no BigInt made per row.
    const words = new Int32Array(data.buffer);
    for (let r = 0; r < values.length; r++) {
      const v = values[r]!;
      const hi = Math.floor(v / 2 ** 32);
      words[2 * r] = (v - hi * 2 ** 32) | 0;
      words[2 * r + 1] = hi | 0;
    }
  } else {
    for (let r = 0; r < values.length; r++) data[r] = BigInt(values[r]!);
  }
  return data;
}
/** Whether typed arrays are little-endian here (64-bit values are then written as two 32-bit words). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Dictionary indexes of value ids. */
function indexes(ids: Int32Array, values: SortedValues): Int32Array {
  const out = new Int32Array(ids.length);
  for (let k = 0; k < ids.length; k++) out[k] = values.index[ids[k]!]!;
  return out;
}

/** Rows of `b` (in order, lists in order, ids into `b.strings`) as the snapshot stores them. */
export function encodeBatch(b: FlowColumns, dictionaries: Record<DictionaryColumn, SortedValues>): EncodedBatch {
  const m = b.length;
  const kinds = new Int32Array(m);
  const daysSeen = new Int32Array(m);
  for (let r = 0; r < m; r++) { kinds[r] = peerKindRank(b.peer[r]!); daysSeen[r] = b.dayOffsets[r + 1]! - b.dayOffsets[r]!; }
  return {
    length: m,
    perimeter: indexes(b.perimeter, dictionaries.perimeter), profile: indexes(b.profile, dictionaries.profile),
    category: indexes(b.category, dictionaries.category), kind: indexes(kinds, dictionaries.kind),
    peer: utf8OfCodes(b.peer, b.strings), hits: b.hits, first: times(b.first), last: times(b.last), daysSeen,
    dayOffsets: b.dayOffsets, days: b.days, dayHits: b.dayHits,
    resOffsets: b.resOffsets, res: indexes(b.res, dictionaries.res),
    ruleOffsets: b.ruleOffsets, rules: indexes(b.rules, dictionaries.rules), ruleHits: b.ruleHits,
    ipOffsets: b.ipOffsets, ips: utf8OfCodes(b.ips, b.strings),
    opOffsets: b.opOffsets, ops: indexes(b.ops, dictionaries.ops),
  };
}
