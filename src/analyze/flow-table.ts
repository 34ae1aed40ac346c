// Analyze stage, hot path: a flow accumulator keyed by small integers instead of strings. Values
// are interned once (by the byte scanner on the fast paths, from strings on the careful path), so
// a row costs a hash probe and a few stores into its flow's 64-byte record, no allocation — made
// in WebAssembly by a fold engine (fold-engine.ts) while the table is bound to one;
// tables merge (importColumns, absorb across threads) and toSummary() turns one into the
// FlowSummary that the rest of the tool uses (identical to folding the same records with
// addRecord()).

import { DAY_MS, OPERATION_SAMPLE_SIZE, flowKeyString, type Flow, type FlowSummary } from '../model/flow-summary.js';
import { categories } from '../model/category.js';
import { formatIPv4, parseIPv4 } from '../model/ip.js';
import { byCodeUnit } from '../model/text.js';
import type { NspRecord, PeerKind } from '../model/record.js';
import { tooManyFlows } from './fold-engine.js';
import { copyToModule, isTrap } from './fold-module.js';
import { columnLengths, placeColumns, type RunRegion } from './run-memory.js';

/** Strings by id; ids are shared by the byte scanner's texts and the careful path's strings. */
export class Interner {
  readonly strings: string[] = [];
  readonly #ids = new Map<string, number>();

  /** An interner holding `strings` with their ids (their positions). */
  static of(strings: readonly string[]): Interner {
    const interner = new Interner();
    for (const text of strings) interner.id(text);
    return interner;
  }

  id(text: string): number {
    let id = this.#ids.get(text);
    if (id === undefined) { id = this.strings.length; this.strings.push(text); this.#ids.set(text, id); }
    return id;
  }
}


/**
 * What a flow holds beyond one value per list: made only for flows seen on a second day, with a
 * second resource, rule, operation, or with caller IPs (most flows of a large run never need one).
 */
interface Extra {
  /** Hits per day of the days before the current run. */
  days: Map<number, number> | null;
  /** The hits in `days`. */
  moved: number;
  res: Set<number> | null;
  rules: Map<number, number> | null;
  ips: Set<number> | null;
  /** Every operation of the sample, once a second one is seen. */
  ops: number[] | null;
}

// Peer codes: the kind in the high bits, the IPv4 address or interned id below.
const IPV4 = 0;
const TEXT_IP = 2 ** 32;
const RESOURCE = 2 ** 33;
const FQDN = 2 ** 34;
const NONE = 2 ** 35;
/** Where each kind of peer code starts (codes below TEXT_IP are IPv4 addresses). */
export const PEER_CODE = { TEXT_IP, RESOURCE, FQDN, NONE } as const;
const WORD = 2 ** 32;

// A flow's record: STRIDE doubles; the integer fields in the first four (INTS int32 per record).
const STRIDE = 8;
const INTS = STRIDE * 2;
const I_GROUP = 0; const I_HI = 1; const I_LO = 2; const I_DAY0 = 3; const I_RES0 = 4; const I_RULE0 = 5; const I_OP0 = 6; const I_EXTRA = 7;
const F_HITS = 4; const F_FIRST = 5; const F_LAST = 6; const F_RULE0_HITS = 7;
// I_EXTRA: the flow's index in #extras plus one (0: none), and RULES_BIT once its extra holds hits
// per rule (the WebAssembly fold then logs every rule of the flow instead of adding to rule0).
const EXTRA_INDEX = (1 << 28) - 1;
const RULES_BIT = 1 << 28;
// A fold engine's parts (see #addFoldedParts()): the value bits of a tag, and ints per entry.
const PART_VALUE = (1 << 29) - 1;
const PART_INTS = 6;
const WASM_PAGE = 65_536;
// Shared memories reserve their maximum up front: 2 GiB, 33 million flows.
const MAX_SHARED_PAGES = 32_768;
// Flows merged from another table per step (see absorb()).
const ABSORB_SLICE = 1 << 17;

/**
 * A flow table's whole state, as one thread hands it to another: the records stay in their shared
 * memory (not copied); the rest is small (pairs, strings, the few flows' extras).
 */
export interface FlowTableState {
  /** The records: a shared table's memory, or an unshared table's buffer (same thread only). */
  records: WebAssembly.Memory | ArrayBuffer;
  /** Where in `records` they start (bytes). */
  recordsAt: number;
  count: number;
  capacity: number;
  slots: Int32Array;
  pairs: [number, number][];
  strings: string[];
  extras: ExtrasColumns;
  /** A fold engine's parts of the flows not yet in `extras` (#addFoldedParts() layout), or null. */
  parts: ArrayBuffer | null;
}

/** The flows' extras as typed arrays (sent between threads without a structured clone of each Map). */
export interface ExtrasColumns {
  /** Per extra: which of days, res, rules, ips, ops are set (bits 0–4). */
  has: Uint8Array;
  moved: Float64Array;
  dayOffsets: Int32Array; days: Int32Array; dayHits: Float64Array;
  resOffsets: Int32Array; res: Int32Array;
  ruleOffsets: Int32Array; rules: Int32Array; ruleHits: Float64Array;
  ipOffsets: Int32Array; ips: Float64Array;
  opOffsets: Int32Array; ops: Int32Array;
}

function encodeExtras(extras: readonly Extra[]): ExtrasColumns {
  const n = extras.length;
  let nd = 0; let nr = 0; let nu = 0; let ni = 0; let no = 0;
  for (const e of extras) { nd += e.days?.size ?? 0; nr += e.res?.size ?? 0; nu += e.rules?.size ?? 0; ni += e.ips?.size ?? 0; no += e.ops?.length ?? 0; }
  const c: ExtrasColumns = {
    has: new Uint8Array(n), moved: new Float64Array(n),
    dayOffsets: new Int32Array(n + 1), days: new Int32Array(nd), dayHits: new Float64Array(nd),
    resOffsets: new Int32Array(n + 1), res: new Int32Array(nr),
    ruleOffsets: new Int32Array(n + 1), rules: new Int32Array(nu), ruleHits: new Float64Array(nu),
    ipOffsets: new Int32Array(n + 1), ips: new Float64Array(ni), opOffsets: new Int32Array(n + 1), ops: new Int32Array(no),
  };
  let d = 0; let r = 0; let u = 0; let p = 0; let o = 0;
  extras.forEach((e, k) => {
    c.has[k] = (e.days ? 1 : 0) | (e.res ? 2 : 0) | (e.rules ? 4 : 0) | (e.ips ? 8 : 0) | (e.ops ? 16 : 0);
    c.moved[k] = e.moved;
    if (e.days) for (const [day, hits] of e.days) { c.days[d] = day; c.dayHits[d++] = hits; }
    if (e.res) for (const x of e.res) c.res[r++] = x;
    if (e.rules) for (const [rule, hits] of e.rules) { c.rules[u] = rule; c.ruleHits[u++] = hits; }
    if (e.ips) for (const x of e.ips) c.ips[p++] = x;
    if (e.ops) for (const x of e.ops) c.ops[o++] = x;
    c.dayOffsets[k + 1] = d; c.resOffsets[k + 1] = r; c.ruleOffsets[k + 1] = u; c.ipOffsets[k + 1] = p; c.opOffsets[k + 1] = o;
  });
  return c;
}

function decodeExtras(c: ExtrasColumns): Extra[] {
  return Array.from(c.has, (has, k): Extra => {
    const range = (offsets: Int32Array): [number, number] => [offsets[k]!, offsets[k + 1]!];
    let days: Map<number, number> | null = null;
    if (has & 1) { days = new Map(); const [a, b] = range(c.dayOffsets); for (let i = a; i < b; i++) days.set(c.days[i]!, c.dayHits[i]!); }
    let res: Set<number> | null = null;
    if (has & 2) { res = new Set(); const [a, b] = range(c.resOffsets); for (let i = a; i < b; i++) res.add(c.res[i]!); }
    let rules: Map<number, number> | null = null;
    if (has & 4) { rules = new Map(); const [a, b] = range(c.ruleOffsets); for (let i = a; i < b; i++) rules.set(c.rules[i]!, c.ruleHits[i]!); }
    let ips: Set<number> | null = null;
    if (has & 8) { ips = new Set(); const [a, b] = range(c.ipOffsets); for (let i = a; i < b; i++) ips.add(c.ips[i]!); }
    let ops: number[] | null = null;
    if (has & 16) { ops = []; const [a, b] = range(c.opOffsets); for (let i = a; i < b; i++) ops.push(c.ops[i]!); }
    return { days, moved: c.moved[k]!, res, rules, ips, ops };
  });
}

/** The buffers of a table state to transfer with postMessage (the records' memory is shared). */
export function stateTransferList(state: FlowTableState): ArrayBuffer[] {
  // An index in shared memory (a table bound to a fold engine) is shared, not transferred.
  const buffers = [state.slots, ...Object.values(state.extras)].map((a) => (a as Int32Array).buffer);
  if (state.parts) buffers.push(state.parts);
  return buffers.filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}

/** The buffers of flow columns, to transfer with postMessage. */
export function columnsTransferList(c: FlowColumns): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const value of Object.values(c)) if (ArrayBuffer.isView(value) && value.buffer instanceof ArrayBuffer) buffers.add(value.buffer);
  return [...buffers];
}

/**
 * Where a table's records and index live while a fold engine (src/analyze/fold-engine.ts) adds to
 * it: the engine's memory, records from `recordsAt` up (grown in place), the index allocated there.
 */
export interface TableStorage {
  readonly memory: WebAssembly.Memory;
  readonly recordsAt: number;
  /** A zeroed index of `n` slots in the memory. */
  allocSlots(n: number): Int32Array;
  /** The values the engine keeps aside for the table's flows, in place (#addFoldedParts() layout), or null. */
  parts(): { ints: Int32Array; hits: Float64Array } | null;
  /** Forgets them (the table took them). */
  clearParts(): void;
  /** The engine's sorted-run functions (see sortedRunInEngine()). */
  readonly run?: RunExports;
}

/** The fold module's sorted-run functions (src/analyze/wasm/sorted-run.ts). */
export interface RunExports {
  alloc(bytes: number): number;
  limitHeap(limit: number): void;
  heapLimitAt(): number;
  heapUsed(): number;
  rewindHeap(top: number): void;
  runScan(records: number, n: number, pool: number, parts: number): number;
  runExtraFlowsAt(): number; runExtraFlowCount(): number;
  runExtraPartsAt(): number; runExtraPartCount(): number;
  runColumnTable(): number;
  runExport(records: number, n: number, pool: number, parts: number, rank: number, groupKey: number, groupRanks: number,
    octetRank: number, extras: number, sample: number): void;
  runColumnsAt(): number;
}

/** What a sorted run made in a fold engine needs to know of the snapshot order (flow-order.ts has it). */
export interface RunOrder {
  /** Per string id, its rank in text order. */
  rank: Int32Array;
  /** Per category index, its rank. */
  categoryRank: readonly number[];
  /** Per octet, the rank of its decimal text (dotted quads sort as text). */
  octetRank: Int32Array;
}

/** The columns of a run in the order of the fold module's column tables (sorted-run.ts, merge-runs.ts). */
export const RUN_COLUMNS = ['perimeter', 'profile', 'category', 'peer', 'hits', 'first', 'last', 'dayOffsets', 'days', 'dayHits',
  'resOffsets', 'res', 'ruleOffsets', 'rules', 'ruleHits', 'ipOffsets', 'ips', 'opOffsets', 'ops'] as const;
export type RunColumn = (typeof RUN_COLUMNS)[number];
export const RUN_DOUBLES = new Set<RunColumn>(['peer', 'hits', 'first', 'last', 'dayHits', 'ruleHits', 'ips']);
/** Which list each list column's length comes from. */
export const RUN_LIST_OF: Partial<Record<RunColumn, RunColumn>> = { days: 'dayOffsets', dayHits: 'dayOffsets', res: 'resOffsets', rules: 'ruleOffsets', ruleHits: 'ruleOffsets', ips: 'ipOffsets', ops: 'opOffsets' };

export class FlowTable {
  interner = new Interner();
  // (perimeter, profile) pairs get dense ids of their own: interned ids of any size never collide.
  #pairIds = new Map<number, Map<number, number>>();
  #pairs: [number, number][] = [];
  readonly #categoryIndex = new Map(categories.map((c, i) => [c.name, i] as [string, number]));
  #lastPerimeter = -1; #lastProfile = -1; #lastPair = -1;

  // Flows are numbered in the order first seen and found through an open-addressing index keyed
  // by (group, peer code split in two 32-bit words). No object per flow.
  #count = 0;
  #slots: Int32Array = new Int32Array(1 << 12); // flow + 1; 0 = empty
  // One record of STRIDE doubles per flow (64 bytes: a row touches one cache line): the first
  // four doubles' bytes hold the integer fields, read through #i32. While a fold engine adds to
  // the table, records and index are in the engine's memory (see bindStorage()). Otherwise shared
  // tables keep their records in a WebAssembly memory of their own (grows in place, so a large
  // table never holds an outgrown copy of itself; crosses threads without a copy), others in an
  // ArrayBuffer grown by copying (a process making thousands of small tables, as tests do, would
  // otherwise reserve gigabytes of address space per WebAssembly memory).
  #capacity = 1 << 11;
  #memory: WebAssembly.Memory | null;
  #f64: Float64Array;
  #i32: Int32Array;
  #extras: Extra[] = [];

  readonly #shared: boolean;
  // Where the records start in their buffer (bytes): 0 but in a fold engine's memory.
  #recordsAt = 0;
  // Set while a fold engine adds to this table: records and index live in its memory.
  #storage: TableStorage | null = null;

  /** `shared`: records in shared memory, so the table can be handed over (see handOver()). */
  constructor(options: { shared?: boolean } = {}) {
    this.#shared = options.shared ?? false;
    const initial = Math.ceil((this.#capacity * STRIDE * 8) / WASM_PAGE);
    this.#memory = this.#shared ? new WebAssembly.Memory({ initial, maximum: MAX_SHARED_PAGES, shared: true }) : null;
    const records = this.#memory ? this.#memory.buffer : new ArrayBuffer(this.#capacity * STRIDE * 8);
    this.#f64 = new Float64Array(records);
    this.#i32 = new Int32Array(records);
  }

  #view(): void {
    const buffer = this.#memory!.buffer;
    this.#capacity = Math.floor((buffer.byteLength - this.#recordsAt) / (STRIDE * 8));
    this.#f64 = new Float64Array(buffer, this.#recordsAt, this.#capacity * STRIDE);
    this.#i32 = new Int32Array(buffer, this.#recordsAt, this.#capacity * INTS);
  }

  /**
   * Moves the records and the index into a fold engine's memory, where it adds rows to them
   * directly; the table works as before meanwhile (it grows there too).
   */
  bindStorage(storage: TableStorage): void {
    if (this.#storage === storage) return;
    if (this.#storage) this.unbindStorage();
    const bytes = this.#count * STRIDE * 8;
    const pages = Math.ceil((storage.recordsAt + Math.max(bytes, 1 << 17)) / WASM_PAGE) - storage.memory.buffer.byteLength / WASM_PAGE;
    if (pages > 0) this.#growMemory(storage.memory, pages, this.#count);
    new Uint8Array(storage.memory.buffer, storage.recordsAt, bytes).set(new Uint8Array(this.#f64.buffer, this.#f64.byteOffset, bytes));
    const slots = storage.allocSlots(this.#slots.length);
    slots.set(this.#slots);
    this.#slots = slots;
    this.#storage = storage;
    this.#memory = storage.memory;
    this.#recordsAt = storage.recordsAt;
    this.#view();
  }

  /** Whether the records are in `storage` now. */
  isIn(storage: TableStorage): boolean {
    return this.#storage === storage;
  }

  /** Copies the records and index out of the fold engine's memory (another table takes it over). */
  unbindStorage(): void {
    if (!this.#storage) return;
    this.settle();
    const f64 = this.#f64;
    const count = this.#count;
    this.#storage = null;
    this.#capacity = Math.max(count, 1 << 11);
    this.#recordsAt = 0;
    const initial = Math.ceil((this.#capacity * STRIDE * 8) / WASM_PAGE);
    this.#memory = this.#shared ? new WebAssembly.Memory({ initial, maximum: MAX_SHARED_PAGES, shared: true }) : null;
    if (this.#memory) this.#view();
    else {
      const records = new ArrayBuffer(this.#capacity * STRIDE * 8);
      this.#f64 = new Float64Array(records);
      this.#i32 = new Int32Array(records);
    }
    this.#f64.set(f64.subarray(0, count * STRIDE));
    this.#slots = this.#slots.slice();
  }

  /** What a fold engine needs to add to the table: flows, record capacity, the index. */
  get storageState(): { count: number; capacity: number; slots: Int32Array } {
    return { count: this.#count, capacity: this.#capacity, slots: this.#slots };
  }

  /** After a fold engine added flows (its records are this table's). */
  setFlowCount(count: number): void {
    this.#count = count;
  }

  /** Room for one more flow (records grow by half, the index doubles). */
  makeRoom(): void {
    if (this.#count + 1 > this.#capacity) this.#growColumns();
    if ((this.#count + 1) * 2 > this.#slots.length) this.#growSlots();
  }

  /** Adds the caller IPs a fold engine logged: entries of flow, caller IP (hi, lo), pad. */
  addCallerIps(ints: Int32Array): void {
    this.#settlePending();
    for (let k = 0; k < ints.length; k += 4) (this.#extra(ints[k]!).ips ??= new Set()).add(ints[k + 1]! * WORD + (ints[k + 2]! >>> 0));
  }

  /**
   * Adds a fold engine's parts: entries of 24 bytes — flow + 1 (0: an entry to skip), kind << 29 |
   * value, two words of the engine's, hits as a double — for values beyond a record's (kinds: day,
   * resource, rule, operation).
   */
  #addFoldedParts(ints: Int32Array, hits: Float64Array): void {
    for (let k = 0; k < ints.length; k += PART_INTS) if (ints[k] !== 0) this.#addPart(ints[k]! - 1, ints[k + 1]!, hits[k / 2 + 2]!);
  }

  /** Adds one part (kind << 29 | value, hits) to flow `f`. */
  #addPart(f: number, tag: number, hits: number): void {
    const value = tag & PART_VALUE;
    switch (tag >>> 29) {
      case 0: this.#addDay(f, value, hits); break;
      case 1: this.#addResource(f, value); break;
      case 2: this.#addRule(f, value, hits); break;
      default: this.#addOperation(f, value);
    }
  }

  // Parts taken from a fold engine to export flows straight from them, by flow (CSR): parts of
  // flows that have no extras (exportColumns() reads them); added to the extras when settled.
  #pending: { offsets: Int32Array; tags: Int32Array; hits: Float64Array } | null = null;

  /** Adds the pending parts to the flows' extras. */
  #settlePending(): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = null;
    for (let f = 0; f + 1 < p.offsets.length; f++) for (let k = p.offsets[f]!; k < p.offsets[f + 1]!; k++) this.#addPart(f, p.tags[k]!, p.hits[k]!);
  }

  /**
   * Takes a fold engine's parts into #pending, by flow, so that an export reads them without
   * making extras; parts of flows that already have extras are added to those.
   */
  #takePending(): void {
    const storage = this.#storage;
    const held = storage?.parts() ?? null;
    if (!storage || !held) return; // what is pending stays valid: every change settles it first
    this.#settlePending();
    // Read in the engine's memory (no copy); entries taken into extras are emptied on the way.
    const { ints, hits } = held;
    const offsets = new Int32Array(this.#count + 1);
    for (let k = 0; k < ints.length; k += PART_INTS) {
      const f = ints[k]! - 1;
      if (this.#extraOf(f)) { this.#addPart(f, ints[k + 1]!, hits[k / 2 + 2]!); ints[k] = 0; } else offsets[f + 1]!++;
    }
    for (let f = 0; f < this.#count; f++) offsets[f + 1] = offsets[f + 1]! + offsets[f]!;
    const fill = offsets.slice(0, this.#count);
    const tags = new Int32Array(offsets[this.#count]!);
    const partHits = new Float64Array(tags.length);
    for (let k = 0; k < ints.length; k += PART_INTS) {
      if (ints[k] === 0) continue;
      const at = fill[ints[k]! - 1]!++;
      tags[at] = ints[k + 1]!;
      partHits[at] = hits[k / 2 + 2]!;
    }
    storage.clearParts();
    this.#pending = { offsets, tags, hits: partHits };
  }

  /** Takes what a fold engine keeps aside into the flows' extras (before they are read or changed that way). */
  settle(): void {
    this.#settlePending();
    const held = this.#storage?.parts();
    if (!held) return;
    this.#addFoldedParts(held.ints, held.hits);
    this.#storage!.clearParts();
  }

  /**
   * The table's state, for another table to take over with absorb(); this table must not be used
   * after. To cross threads (postMessage, with stateTransferList()), make the table `shared`.
   */
  handOver(): FlowTableState {
    // Out of a fold engine's memory first: the rest of that memory (the scanner's texts, the
    // engine's tables) is freed with its thread instead of going along with the records. Its
    // parts go as they are (the taker adds them): no Maps made for them on this thread.
    const held = this.#storage?.parts() ?? null;
    const parts = held ? held.ints.slice().buffer : null;
    this.#storage?.clearParts();
    this.unbindStorage();
    return { records: this.#memory ?? this.#f64.buffer as ArrayBuffer, recordsAt: this.#recordsAt, count: this.#count, capacity: this.#capacity, slots: this.#slots, pairs: this.#pairs, strings: this.interner.strings, extras: encodeExtras(this.#extras), parts };
  }

  /**
   * Takes the flows of a table handed over by another thread: an empty table takes over its
   * state as it is (nothing copied but the small parts); otherwise its flows are merged in.
   */
  absorb(state: FlowTableState): void {
    if (this.#count > 0 || this.interner.strings.length > 0) {
      const other = new FlowTable();
      other.#adopt(state);
      this.reserve(this.#count + other.#count);
      // In slices: never a second copy of all the other table's flows as columns.
      for (let from = 0; from < other.#count; from += ABSORB_SLICE) this.importColumns(other.exportColumns(from, Math.min(other.#count, from + ABSORB_SLICE)));
      return;
    }
    this.#adopt(state);
  }

  #adopt(state: FlowTableState): void {
    this.#storage = null;
    this.#memory = state.records instanceof WebAssembly.Memory ? state.records : null;
    this.#recordsAt = state.recordsAt;
    this.#count = state.count;
    if (this.#memory) this.#view();
    else {
      this.#f64 = new Float64Array(state.records as ArrayBuffer);
      this.#i32 = new Int32Array(state.records as ArrayBuffer);
      this.#capacity = state.capacity;
    }
    this.#slots = state.slots;
    this.#pairs = state.pairs;
    this.#pairIds = new Map();
    state.pairs.forEach(([perimeter, profile], pair) => {
      let byProfile = this.#pairIds.get(perimeter);
      if (!byProfile) { byProfile = new Map(); this.#pairIds.set(perimeter, byProfile); }
      byProfile.set(profile, pair);
    });
    this.#lastPerimeter = -1; this.#lastProfile = -1; this.#lastPair = -1;
    this.interner = Interner.of(state.strings);
    this.#extras = decodeExtras(state.extras);
    if (state.parts) this.#addFoldedParts(new Int32Array(state.parts), new Float64Array(state.parts));
  }

  /** Group id of (perimeter, profile, category); perimeter and profile are interned ids. */
  group(perimeterId: number, profileId: number, categoryIndex: number): number {
    if (perimeterId === this.#lastPerimeter && profileId === this.#lastProfile) return this.#lastPair * 64 + categoryIndex;
    let byProfile = this.#pairIds.get(perimeterId);
    if (!byProfile) { byProfile = new Map(); this.#pairIds.set(perimeterId, byProfile); }
    let pair = byProfile.get(profileId);
    if (pair === undefined) { pair = this.#pairs.length; this.#pairs.push([perimeterId, profileId]); byProfile.set(profileId, pair); }
    this.#lastPerimeter = perimeterId; this.#lastProfile = profileId; this.#lastPair = pair;
    return pair * 64 + categoryIndex;
  }

  /** Perimeter id, profile id and category index of a group. */
  #groupKey(g: number): [number, number, number] {
    const [perimeter, profile] = this.#pairs[Math.floor(g / 64)]!;
    return [perimeter, profile, g % 64];
  }

  /** Peer code of an IPv4 address (as a number), a resource, an FQDN or nothing (text IPs: ipCodeOfText). */
  static peerIPv4(v4: number): number { return IPV4 + v4; }
  static peerResource(id: number): number { return RESOURCE + id; }
  static peerFqdn(id: number): number { return FQDN + id; }
  static readonly peerNone = NONE;

  /**
   * Adds one row. `resource`, `rule`, `operation` are interned ids or -1; `sourceIp` an ipCode or -1.
   */
  add(group: number, peer: number, time: number, endTime: number, count: number, resource: number, rule: number, sourceIp: number, operation: number): void {
    const day = Math.floor(time / DAY_MS);
    const endDay = Math.floor(endTime / DAY_MS);
    const ipHi = sourceIp < 0 ? -1 : Math.floor(sourceIp / WORD);
    this.addParts(group, Math.floor(peer / WORD), peer % WORD | 0, day, time - day * DAY_MS, endDay, endTime - endDay * DAY_MS, count,
      resource, rule, ipHi, sourceIp < 0 ? 0 : sourceIp % WORD | 0, operation);
  }

  /**
   * add() with every value a small integer (the hot path's form: nothing is boxed between calls).
   * The peer code is `peerHi` · 2³² + `peerLo` (taken unsigned), times are a day number and
   * milliseconds into it, and the caller IP is (`ipHi`, `ipLo`) the same way, `ipHi` −1 for none.
   */
  addParts(group: number, peerHi: number, peerLo: number, day: number, msOfDay: number, endDay: number, endMsOfDay: number, count: number,
    resource: number, rule: number, ipHi: number, ipLo: number, operation: number): void {
    if (this.#pending) this.#settlePending();
    const f = this.#flowFor(group, peerHi, peerLo);
    this.#f64[f * STRIDE + F_HITS] = this.#f64[f * STRIDE + F_HITS]! + count;
    const time = day * DAY_MS + msOfDay;
    const endTime = endDay * DAY_MS + endMsOfDay;
    if (time < this.#f64[f * STRIDE + F_FIRST]!) this.#f64[f * STRIDE + F_FIRST] = time;
    if (endTime > this.#f64[f * STRIDE + F_LAST]!) this.#f64[f * STRIDE + F_LAST] = endTime;
    this.#addDay(f, day, count);
    if (resource >= 0) this.#addResource(f, resource);
    if (rule >= 0) this.#addRule(f, rule, count);
    if (ipHi >= 0) (this.#extra(f).ips ??= new Set()).add(ipHi * WORD + (ipLo >>> 0));
    if (operation >= 0) this.#addOperation(f, operation);
  }

  /** Flow number of (group, peer), created with empty stats when new. */
  #flowFor(group: number, hi: number, lo: number): number {
    let h = Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1) ^ Math.imul(group, 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 13;
    const slots = this.#slots;
    const mask = slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const s = slots[i]!;
      if (s === 0) {
        const f = this.#count++;
        if (f === this.#capacity) this.#growColumns();
        this.#i32[f * INTS + I_GROUP] = group; this.#i32[f * INTS + I_HI] = hi; this.#i32[f * INTS + I_LO] = lo;
        this.#f64[f * STRIDE + F_HITS] = 0; this.#f64[f * STRIDE + F_FIRST] = Infinity; this.#f64[f * STRIDE + F_LAST] = -Infinity;
        this.#i32[f * INTS + I_DAY0] = -1; this.#i32[f * INTS + I_RES0] = -1; this.#i32[f * INTS + I_RULE0] = -1; this.#f64[f * STRIDE + F_RULE0_HITS] = 0;
        this.#i32[f * INTS + I_OP0] = -1; this.#i32[f * INTS + I_EXTRA] = 0;
        slots[i] = f + 1;
        if (this.#count * 2 > slots.length) this.#growSlots();
        return f;
      }
      const f = s - 1;
      if (this.#i32[f * INTS + I_LO] === lo && this.#i32[f * INTS + I_GROUP] === group && this.#i32[f * INTS + I_HI] === hi) return f;
    }
  }

  // Records grow by half (less unused room than doubling at a few million flows).
  #growColumns(capacity = Math.ceil(this.#capacity * 1.5)): void {
    if (!this.#memory) {
      const records = new ArrayBuffer(capacity * STRIDE * 8);
      new Float64Array(records).set(this.#f64.subarray(0, this.#count * STRIDE));
      this.#capacity = capacity;
      this.#f64 = new Float64Array(records);
      this.#i32 = new Int32Array(records);
      return;
    }
    const pages = Math.ceil((this.#recordsAt + capacity * STRIDE * 8) / WASM_PAGE);
    this.#growMemory(this.#memory, pages - this.#memory.buffer.byteLength / WASM_PAGE, capacity);
    this.#view();
  }

  #growMemory(memory: WebAssembly.Memory, pages: number, capacity: number): void {
    try {
      memory.grow(pages);
    } catch (error) {
      throw tooManyFlows(capacity, error, (error as Error).message);
    }
  }

  /** Makes room for `flows` flows in all (a merge that knows its size grows once, not many times). */
  reserve(flows: number): void {
    if (flows > this.#capacity) this.#growColumns(flows);
    let slots = this.#slots.length;
    while (flows * 2 > slots) slots *= 2;
    if (slots > this.#slots.length) this.#growSlots(slots);
  }

  /** Rehashes into a table twice the size (hashes are recomputed from the key columns). */
  #growSlots(size = this.#slots.length * 2): void {
    const slots = this.#storage ? this.#storage.allocSlots(size) : new Int32Array(size);
    const mask = slots.length - 1;
    for (let f = 0; f < this.#count; f++) {
      const lo = this.#i32[f * INTS + I_LO]!;
      let h = Math.imul(lo ^ Math.imul(this.#i32[f * INTS + I_HI]!, 0x27d4eb2d), 0x9e3779b1) ^ Math.imul(this.#i32[f * INTS + I_GROUP]!, 0x85ebca6b);
      h ^= h >>> 15;
      h = Math.imul(h, 0x2c1b3c6d);
      h ^= h >>> 13;
      let i = h & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = f + 1;
    }
    this.#slots = slots;
  }

  #extra(f: number): Extra {
    const x = this.#i32[f * INTS + I_EXTRA]! & EXTRA_INDEX;
    if (x !== 0) return this.#extras[x - 1]!;
    const extra: Extra = { days: null, moved: 0, res: null, rules: null, ips: null, ops: null };
    this.#extras.push(extra);
    this.#i32[f * INTS + I_EXTRA] = this.#extras.length;
    return extra;
  }

  #extraOf(f: number): Extra | null {
    const x = this.#i32[f * INTS + I_EXTRA]! & EXTRA_INDEX;
    return x === 0 ? null : this.#extras[x - 1]!;
  }

  /**
   * Adds hits on a day (already counted in the flow's hits). The record keeps the flow's first
   * day; hits on any other day go to a Map, made at the second distinct day. The first day's hits
   * are the flow's hits less those in the Map, so a record needs no field for them (64 bytes: one
   * cache line), and rows may come in any order (the WebAssembly fold logs other days for later).
   */
  #addDay(f: number, day: number, hits: number): void {
    const at = f * INTS + I_DAY0;
    const day0 = this.#i32[at]!;
    if (day0 === day) return;
    if (day0 === -1) { this.#i32[at] = day; return; }
    const extra = this.#extra(f);
    const days = (extra.days ??= new Map());
    days.set(day, (days.get(day) ?? 0) + hits);
    extra.moved += hits;
  }

  /** Hits per day of flow `f`: its first day's, then those in its Map. */
  #dayHits(f: number): Map<number, number> {
    const extra = this.#extraOf(f);
    const day0 = this.#i32[f * INTS + I_DAY0]!;
    const all = new Map<number, number>().set(day0, this.#f64[f * STRIDE + F_HITS]! - (extra?.moved ?? 0));
    if (extra?.days) for (const [day, hits] of extra.days) all.set(day, hits);
    return all;
  }

  #addResource(f: number, resource: number): void {
    const res0 = this.#i32[f * INTS + I_RES0]!;
    if (resource === res0) return;
    if (res0 === -1) this.#i32[f * INTS + I_RES0] = resource;
    else (this.#extra(f).res ??= new Set()).add(resource);
  }

  #addRule(f: number, rule: number, hits: number): void {
    const rule0 = this.#i32[f * INTS + I_RULE0]!;
    if (rule0 === rule || rule0 === -1) {
      const rules = this.#extraOf(f)?.rules ?? null;
      if (rules === null) { this.#i32[f * INTS + I_RULE0] = rule; this.#f64[f * STRIDE + F_RULE0_HITS] = this.#f64[f * STRIDE + F_RULE0_HITS]! + hits; return; }
    }
    const extra = this.#extra(f);
    if (!extra.rules) {
      extra.rules = new Map([[rule0, this.#f64[f * STRIDE + F_RULE0_HITS]!]]);
      this.#i32[f * INTS + I_EXTRA] = this.#i32[f * INTS + I_EXTRA]! | RULES_BIT;
    }
    extra.rules.set(rule, (extra.rules.get(rule) ?? 0) + hits);
  }

  /** The same sample rule as aggregate.ts: keep the OPERATION_SAMPLE_SIZE smallest names. */
  #addOperation(f: number, operation: number): void {
    const op0 = this.#i32[f * INTS + I_OP0]!;
    if (op0 === operation) return;
    if (op0 === -1) { this.#i32[f * INTS + I_OP0] = operation; return; }
    const extra = this.#extra(f);
    const ops = (extra.ops ??= [op0]);
    if (ops.includes(operation)) return;
    if (ops.length < OPERATION_SAMPLE_SIZE) { ops.push(operation); return; }
    const s = this.interner.strings;
    let largest = 0;
    for (let i = 1; i < ops.length; i++) if (s[ops[i]!]! > s[ops[largest]!]!) largest = i;
    if (s[operation]! < s[ops[largest]!]!) ops[largest] = operation;
  }

  /** Adds a record from the careful path. */
  addRecord(r: NspRecord): void {
    const i = this.interner;
    const group = this.group(i.id(r.perimeterId), i.id(r.profile), this.#categoryIndex.get(r.category)!);
    let peer: number;
    // IPv4 peers take the numeric code on both paths, so they meet in one flow.
    if (r.peerKind === 'ip') peer = ipCodeOfText(i, r.peer);
    else if (r.peerKind === 'resource') peer = FlowTable.peerResource(i.id(r.peer));
    else if (r.peerKind === 'fqdn') peer = FlowTable.peerFqdn(i.id(r.peer));
    else peer = NONE;
    this.add(group, peer, r.time, r.endTime, r.count,
      r.resourceId === '' ? -1 : i.id(r.resourceId), r.matchedRule === '' ? -1 : i.id(r.matchedRule),
      r.sourceIp === '' ? -1 : ipCodeOfText(i, r.sourceIp),
      r.operation === '' ? -1 : i.id(r.operation));
  }

  get flowCount(): number {
    return this.#count;
  }

  /** Peer code of flow `f`. */
  #peer(f: number): number {
    return this.#i32[f * INTS + I_HI]! * WORD + (this.#i32[f * INTS + I_LO]! >>> 0);
  }

  /** Operations of flow `f` (the sample). */
  #ops(f: number): readonly number[] {
    const ops = this.#extraOf(f)?.ops ?? null;
    return ops ?? (this.#i32[f * INTS + I_OP0]! >= 0 ? [this.#i32[f * INTS + I_OP0]!] : []);
  }

  /**
   * The flows as columns (typed arrays plus one string table): cheap to send between threads and
   * to write as Arrow. Lists are in CSR form (offsets into one values array per list column).
   * `from` and `to` export a slice of the flows (numbered in the order they were first seen);
   * `region`: where to put the columns when they fit (a worker's run, see run-memory.ts).
   */
  exportColumns(from = 0, to = this.#count, order?: Int32Array, region?: RunRegion): FlowColumns {
    this.#takePending();
    return this.#exportRows(from, to, order, region);
  }

  /** exportColumns() of what the table holds now (a fold engine's parts not taken). */
  #exportRows(from: number, to: number, order?: Int32Array, region?: RunRegion): FlowColumns {
    const pending = this.#pending;
    // Locals, not fields: this runs once per export, mostly before the JIT optimizes it.
    const i32 = this.#i32;
    const f64 = this.#f64;
    const n = to - from;
    // Two passes over the flows: sizes first, then typed arrays filled in place (no JS arrays).
    // Sizes do not depend on the order: the first pass reads the records in place when it covers
    // them all (in memory order, not the export's).
    let nDays = 0; let nRes = 0; let nRules = 0; let nIps = 0; let nOps = 0;
    const inPlace = !order || (from === 0 && to === this.#count);
    for (let k = from; k < to; k++) {
      const f = inPlace ? k : order[k]!;
      if (pending && pending.offsets[f + 1]! > pending.offsets[f]!) {
        let days = 0; let res = 0; let rules = 0; let ops = 0;
        for (let q = pending.offsets[f]!; q < pending.offsets[f + 1]!; q++) {
          const kind = pending.tags[q]! >>> 29;
          if (kind === 0) days++; else if (kind === 1) res++; else if (kind === 2) rules++; else ops++;
        }
        nDays += 1 + days;
        nRes += (i32[f * INTS + I_RES0]! >= 0 ? 1 : 0) + res;
        nRules += (i32[f * INTS + I_RULE0]! >= 0 ? 1 : 0) + rules;
        nOps += Math.min(OPERATION_SAMPLE_SIZE, (i32[f * INTS + I_OP0]! >= 0 ? 1 : 0) + ops);
        continue;
      }
      const e = this.#extraOf(f);
      nDays += (e?.days?.size ?? 0) + 1;
      nRes += (i32[f * INTS + I_RES0]! >= 0 ? 1 : 0) + (e?.res?.size ?? 0);
      nRules += e?.rules ? e.rules.size : i32[f * INTS + I_RULE0]! >= 0 ? 1 : 0;
      nIps += e?.ips?.size ?? 0;
      nOps += e?.ops ? e.ops.length : i32[f * INTS + I_OP0]! >= 0 ? 1 : 0;
    }
    // Filled below (a region's memory is fresh: zeroed like new arrays).
    const items: Partial<Record<RunColumn, number>> = { dayOffsets: nDays, resOffsets: nRes, ruleOffsets: nRules, ipOffsets: nIps, opOffsets: nOps };
    const placed = region ? placeColumns(this.interner.strings.slice(), n, columnLengths(n, (offsets) => items[offsets]!), region, () => {}) : null;
    const c: FlowColumns = placed ?? {
      strings: this.interner.strings.slice(), length: n,
      perimeter: new Int32Array(n), profile: new Int32Array(n), category: new Int32Array(n), peer: new Float64Array(n),
      hits: new Float64Array(n), first: new Float64Array(n), last: new Float64Array(n),
      dayOffsets: new Int32Array(n + 1), days: new Int32Array(nDays), dayHits: new Float64Array(nDays),
      resOffsets: new Int32Array(n + 1), res: new Int32Array(nRes),
      ruleOffsets: new Int32Array(n + 1), rules: new Int32Array(nRules), ruleHits: new Float64Array(nRules),
      ipOffsets: new Int32Array(n + 1), ips: new Float64Array(nIps), opOffsets: new Int32Array(n + 1), ops: new Int32Array(nOps),
    };
    let d = 0; let r = 0; let u = 0; let p = 0; let o = 0;
    let lastGroup = -1; let key: [number, number, number] = [0, 0, 0];
    const ops: number[] = [];
    for (let k = from; k < to; k++) {
      const f = order ? order[k]! : k;
      const i = k - from;
      const g = i32[f * INTS + I_GROUP]!;
      if (g !== lastGroup) { key = this.#groupKey(g); lastGroup = g; }
      c.perimeter[i] = key[0]; c.profile[i] = key[1]; c.category[i] = key[2]; c.peer[i] = this.#peer(f);
      c.hits[i] = f64[f * STRIDE + F_HITS]!; c.first[i] = f64[f * STRIDE + F_FIRST]!; c.last[i] = f64[f * STRIDE + F_LAST]!;
      const res0 = i32[f * INTS + I_RES0]!;
      const rule0 = i32[f * INTS + I_RULE0]!;
      const op0 = i32[f * INTS + I_OP0]!;
      if (pending && pending.offsets[f + 1]! > pending.offsets[f]!) {
        // Straight from the record and the flow's parts (it has no extras): what settling them
        // into extras and exporting those would give.
        const a = pending.offsets[f]!;
        const b = pending.offsets[f + 1]!;
        let moved = 0;
        for (let q = a; q < b; q++) if (pending.tags[q]! >>> 29 === 0) moved += pending.hits[q]!;
        c.days[d] = i32[f * INTS + I_DAY0]!; c.dayHits[d++] = c.hits[i]! - moved;
        if (res0 >= 0) c.res[r++] = res0;
        if (rule0 >= 0) { c.rules[u] = rule0; c.ruleHits[u++] = f64[f * STRIDE + F_RULE0_HITS]!; }
        ops.length = 0;
        if (op0 >= 0) ops.push(op0);
        for (let q = a; q < b; q++) {
          const tag = pending.tags[q]!;
          const value = tag & PART_VALUE;
          switch (tag >>> 29) {
            case 0: c.days[d] = value; c.dayHits[d++] = pending.hits[q]!; break;
            case 1: c.res[r++] = value; break;
            case 2: c.rules[u] = value; c.ruleHits[u++] = pending.hits[q]!; break;
            default: ops.push(value);
          }
        }
        // The operations sample: the smallest names (as #addOperation keeps them).
        if (ops.length > OPERATION_SAMPLE_SIZE) {
          const s = this.interner.strings;
          ops.sort((x, y) => (s[x]! < s[y]! ? -1 : s[x]! > s[y]! ? 1 : 0));
          ops.length = OPERATION_SAMPLE_SIZE;
        }
        for (const op of ops) c.ops[o++] = op;
      } else {
        const e = this.#extraOf(f);
        if (e?.days) for (const [day, hits] of this.#dayHits(f)) { c.days[d] = day; c.dayHits[d++] = hits; }
        else { c.days[d] = i32[f * INTS + I_DAY0]!; c.dayHits[d++] = f64[f * STRIDE + F_HITS]!; }
        if (res0 >= 0) c.res[r++] = res0;
        if (e?.res) for (const v of e.res) c.res[r++] = v;
        if (e?.rules) for (const [rule, hits] of e.rules) { c.rules[u] = rule; c.ruleHits[u++] = hits; }
        else if (rule0 >= 0) { c.rules[u] = rule0; c.ruleHits[u++] = f64[f * STRIDE + F_RULE0_HITS]!; }
        if (e?.ips) for (const v of e.ips) c.ips[p++] = v;
        if (e?.ops) for (const v of e.ops) c.ops[o++] = v;
        else if (op0 >= 0) c.ops[o++] = op0;
      }
      c.dayOffsets[i + 1] = d; c.resOffsets[i + 1] = r; c.ruleOffsets[i + 1] = u; c.ipOffsets[i + 1] = p; c.opOffsets[i + 1] = o;
    }
    return c;
  }

  /**
   * The flows in snapshot order as columns, each row's lists in order (a worker's sorted run: see
   * flow-order.ts), made by the fold engine whose memory holds the records: the same columns as
   * exporting them and sorting those. Null when the table is not in an engine's memory, or when a
   * peer is an address kept as text (the order is then found by comparing texts), or when the
   * engine's heap cannot hold the run (`heapRoom`: bytes it may take there, for the tests). Given a
   * `region`, the columns are placed there for the merge (run-memory.ts) when they fit.
   */
  sortedRunInEngine(keys: RunOrder, region?: RunRegion, heapRoom?: number): FlowColumns | null {
    const storage = this.#storage;
    const x = storage?.run;
    if (!storage || !x) return null;
    this.#settlePending();
    const memory = storage.memory;
    const n = this.#count;
    const top = x.heapUsed();
    const limit = x.heapLimitAt();
    if (heapRoom !== undefined) x.limitHeap(top + heapRoom);
    try {
      const held = storage.parts();
      const pool = held ? held.ints.byteOffset : 0;
      const parts = held ? held.ints.length / PART_INTS : 0;
      if (x.runScan(this.#recordsAt, n, pool, parts) !== 0) return null;
      // The parts of flows with extras go to those (as #takePending() does); the engine reads the rest.
      if (held) {
        const ints = new Int32Array(memory.buffer, pool, parts * PART_INTS);
        const hits = new Float64Array(memory.buffer, pool, parts * (PART_INTS / 2));
        for (const k of new Int32Array(memory.buffer, x.runExtraPartsAt(), x.runExtraPartCount())) {
          const at = k * PART_INTS;
          this.#addPart(ints[at]! - 1, ints[at + 1]!, hits[at / 2 + 2]!);
          ints[at] = 0;
        }
      }
      const withExtras = new Int32Array(memory.buffer, x.runExtraFlowsAt(), x.runExtraFlowCount()).slice();
      const extras = x.runColumnTable();
      if (withExtras.length > 0) {
        // Their lists as an export makes them; caller IPs put in text order here (the engine sorts the rest).
        const lists = this.#exportRows(0, withExtras.length, withExtras);
        const s = this.interner.strings;
        for (let r = 0; r < withExtras.length; r++) {
          const a = lists.ipOffsets[r]!;
          const sorted = Array.from(lists.ips.subarray(a, lists.ipOffsets[r + 1]!)).sort((p, q) => byCodeUnit(ipOfCode(p, s), ipOfCode(q, s)));
          lists.ips.set(sorted, a);
        }
        RUN_COLUMNS.forEach((name, k) => {
          if (k >= RUN_COLUMNS.indexOf('dayOffsets')) new Int32Array(memory.buffer, extras, RUN_COLUMNS.length)[k] = copyToModule(x, memory, lists[name]);
        });
      }
      // Groups in snapshot order: by perimeter, profile and category rank; per group its rank, perimeter, profile.
      const { rank, categoryRank } = keys;
      const groups: number[] = [];
      this.#pairs.forEach((_, pair) => { for (let c = 0; c < categoryRank.length; c++) groups.push(pair * 64 + c); });
      const rankOfGroup = (g: number): [number, number, number] => {
        const [perimeter, profile, category] = this.#groupKey(g);
        return [rank[perimeter]!, rank[profile]!, categoryRank[category]!];
      };
      groups.sort((a, b) => {
        const p = rankOfGroup(a); const q = rankOfGroup(b);
        return p[0] - q[0] || p[1] - q[1] || p[2] - q[2];
      });
      const groupKey = new Int32Array(this.#pairs.length * 64 * 3);
      groups.forEach((g, r) => { const [perimeter, profile] = this.#groupKey(g); groupKey.set([r, perimeter, profile], g * 3); });
      const copyIn = (values: Int32Array): number => copyToModule(x, memory, values);
      const rankAt = copyIn(rank); const groupKeyAt = copyIn(groupKey); const octetAt = copyIn(keys.octetRank);
      x.runExport(this.#recordsAt, n, pool, parts, rankAt, groupKeyAt, groups.length, octetAt, extras, OPERATION_SAMPLE_SIZE);
      // Copied out of the engine's memory (its heap is rewound below): into `region` when given
      // and the run fits there, else into arrays of their own.
      const table = new Int32Array(memory.buffer, x.runColumnsAt(), RUN_COLUMNS.length).slice();
      const address = (name: RunColumn): number => table[RUN_COLUMNS.indexOf(name)]!;
      const lengths = columnLengths(n, (offsets) => new Int32Array(memory.buffer, address(offsets), n + 1)[n]!);
      const bytesOf = (name: RunColumn): Uint8Array => new Uint8Array(memory.buffer, address(name), lengths[name] * (RUN_DOUBLES.has(name) ? 8 : 4));
      const strings = this.interner.strings.slice();
      const placed = region ? placeColumns(strings, n, lengths, region, (name, to) => { to.set(bytesOf(name)); }) : null;
      if (placed) return placed;
      const out = { strings, length: n } as FlowColumns;
      for (const name of RUN_COLUMNS) {
        const bytes = bytesOf(name).slice();
        out[name] = (RUN_DOUBLES.has(name) ? new Float64Array(bytes.buffer) : new Int32Array(bytes.buffer)) as Int32Array & Float64Array;
      }
      return out;
    } catch (error) {
      // The engine's heap cannot hold the run (a trap in its allocator): the JavaScript way makes it
      // (the parts taken into extras above stay there, as an export would leave them).
      if (isTrap(error)) return null;
      throw error;
    } finally {
      x.rewindHeap(top);
      x.limitHeap(limit);
    }
  }

  /**
   * The key columns of the flows (perimeter, profile, category, peer; no list items): enough to
   * put them in snapshot order before exporting them in it.
   */
  keyColumns(): FlowColumns {
    const n = this.#count;
    const empty = new Int32Array(n + 1);
    const c: FlowColumns = {
      strings: this.interner.strings, length: n,
      perimeter: new Int32Array(n), profile: new Int32Array(n), category: new Int32Array(n), peer: new Float64Array(n),
      hits: new Float64Array(0), first: new Float64Array(0), last: new Float64Array(0),
      dayOffsets: empty, days: new Int32Array(0), dayHits: new Float64Array(0), resOffsets: empty, res: new Int32Array(0),
      ruleOffsets: empty, rules: new Int32Array(0), ruleHits: new Float64Array(0), ipOffsets: empty, ips: new Float64Array(0), opOffsets: empty, ops: new Int32Array(0),
    };
    let lastGroup = -1; let key: [number, number, number] = [0, 0, 0];
    for (let f = 0; f < n; f++) {
      const g = this.#i32[f * INTS + I_GROUP]!;
      if (g !== lastGroup) { key = this.#groupKey(g); lastGroup = g; }
      c.perimeter[f] = key[0]; c.profile[f] = key[1]; c.category[f] = key[2]; c.peer[f] = this.#peer(f);
    }
    return c;
  }

  /** Merges columns (from another table, a worker or a snapshot) into this table. */
  importColumns(cols: FlowColumns): void {
    this.#settlePending();
    const remap = new Int32Array(cols.strings.length);
    for (let k = 0; k < cols.strings.length; k++) remap[k] = this.interner.id(cols.strings[k]!);
    const code = (c: number): number => {
      if (c < TEXT_IP || c >= NONE) return c;
      const base = c >= FQDN ? FQDN : c >= RESOURCE ? RESOURCE : TEXT_IP;
      return base + remap[c - base]!;
    };
    for (let i = 0; i < cols.length; i++) {
      const group = this.group(remap[cols.perimeter[i]!]!, remap[cols.profile[i]!]!, cols.category[i]!);
      const first = cols.first[i]!;
      const last = cols.last[i]!;
      const peer = code(cols.peer[i]!);
      const hi = Math.floor(peer / WORD);
      const f = this.#flowFor(group, hi, (peer - hi * WORD) | 0);

      if (first < this.#f64[f * STRIDE + F_FIRST]!) this.#f64[f * STRIDE + F_FIRST] = first;
      if (last > this.#f64[f * STRIDE + F_LAST]!) this.#f64[f * STRIDE + F_LAST] = last;
      // A flow's hits are the sum of its days' (snapshots are checked for it when read).
      for (let k = cols.dayOffsets[i]!; k < cols.dayOffsets[i + 1]!; k++) {
        this.#f64[f * STRIDE + F_HITS] = this.#f64[f * STRIDE + F_HITS]! + cols.dayHits[k]!;
        this.#addDay(f, cols.days[k]!, cols.dayHits[k]!);
      }
      for (let k = cols.resOffsets[i]!; k < cols.resOffsets[i + 1]!; k++) this.#addResource(f, remap[cols.res[k]!]!);
      for (let k = cols.ruleOffsets[i]!; k < cols.ruleOffsets[i + 1]!; k++) this.#addRule(f, remap[cols.rules[k]!]!, cols.ruleHits[k]!);
      for (let k = cols.ipOffsets[i]!; k < cols.ipOffsets[i + 1]!; k++) (this.#extra(f).ips ??= new Set()).add(code(cols.ips[k]!));
      for (let k = cols.opOffsets[i]!; k < cols.opOffsets[i + 1]!; k++) this.#addOperation(f, remap[cols.ops[k]!]!);
    }
  }

  /**
   * Plain FlowSummary with string keys. `view`: a summary of this table as it is, for a reader
   * that only goes through it while the table stays unchanged (recommend on a final table): each
   * flow's lists are built when first read, most never are (a summary's Maps and Sets are most of
   * its cost on a few hundred thousand flows).
   */
  toSummary(options: { view?: boolean } = {}): FlowSummary {
    this.settle();
    const s = this.interner.strings;
    const flows = new FlowMap();
    let lastGroup = -1; let key: [number, number, number] = [0, 0, 0];
    for (let f = 0; f < this.#count; f++) {
      const g = this.#i32[f * INTS + I_GROUP]!;
      if (g !== lastGroup) { key = this.#groupKey(g); lastGroup = g; }
      const [perimeter, profile, category] = key;
      const code = this.#peer(f);
      const peerKind: PeerKind = code < RESOURCE ? 'ip' : code < FQDN ? 'resource' : code < NONE ? 'fqdn' : 'none';
      const peer = code < TEXT_IP ? formatIPv4(code) : code < NONE ? s[code % WORD]! : '';
      const stats = [s[perimeter]!, s[profile]!, categories[category]!.name, peerKind, peer,
        this.#f64[f * STRIDE + F_HITS]!, this.#f64[f * STRIDE + F_FIRST]!, this.#f64[f * STRIDE + F_LAST]!] as const;
      if (options.view) { flows.add(new TableFlow(this, f, ...stats)); continue; }
      const [perimeterId, profileName, categoryName, , , hits, firstSeen, lastSeen] = stats;
      flows.add({
        perimeterId, profile: profileName, category: categoryName, peerKind, peer, hits, firstSeen, lastSeen,
        dayHits: this.#dayHits(f), resources: this.flowResources(f), matchedRules: this.flowRules(f),
        sourceIps: this.flowSourceIps(f), operations: this.flowOperations(f),
      });
    }
    return { flows };
  }

  // A flow's lists as a Flow holds them (toSummary(); TableFlow builds them when first read).
  // Collections filled one by one: no arrays made per flow on the way (a large run has many).

  /** @internal */
  flowDayHits(f: number): Map<number, number> {
    return this.#dayHits(f);
  }

  /** @internal */
  flowResources(f: number): Set<string> {
    const s = this.interner.strings;
    const e = this.#extraOf(f);
    const resources = new Set<string>();
    if (this.#i32[f * INTS + I_RES0]! >= 0) resources.add(s[this.#i32[f * INTS + I_RES0]!]!);
    if (e?.res) for (const r of e.res) resources.add(s[r]!);
    return resources;
  }

  /** @internal */
  flowRules(f: number): Map<string, number> {
    const s = this.interner.strings;
    const e = this.#extraOf(f);
    const matchedRules = new Map<string, number>();
    if (e?.rules) for (const [r, h] of e.rules) matchedRules.set(s[r]!, h);
    else if (this.#i32[f * INTS + I_RULE0]! >= 0) matchedRules.set(s[this.#i32[f * INTS + I_RULE0]!]!, this.#f64[f * STRIDE + F_RULE0_HITS]!);
    return matchedRules;
  }

  /** @internal */
  flowSourceIps(f: number): Set<string> {
    const sourceIps = new Set<string>();
    const ips = this.#extraOf(f)?.ips;
    if (ips) for (const ip of ips) sourceIps.add(ipOfCode(ip, this.interner.strings));
    return sourceIps;
  }

  /** @internal */
  flowOperations(f: number): Set<string> {
    const s = this.interner.strings;
    const e = this.#extraOf(f);
    const operations = new Set<string>();
    if (e?.ops) for (const o of e.ops) operations.add(s[o]!);
    else if (this.#i32[f * INTS + I_OP0]! >= 0) operations.add(s[this.#i32[f * INTS + I_OP0]!]!);
    return operations;
  }
}

/** A flow of a table's summary view (toSummary({ view: true })): its lists built when first read. */
class TableFlow implements Flow {
  #dayHits: Map<number, number> | undefined;
  #resources: Set<string> | undefined;
  #matchedRules: Map<string, number> | undefined;
  #sourceIps: Set<string> | undefined;
  #operations: Set<string> | undefined;
  readonly #table: FlowTable;
  readonly #f: number;
  constructor(table: FlowTable, f: number, public perimeterId: string, public profile: string, public category: string,
    public peerKind: PeerKind, public peer: string, public hits: number, public firstSeen: number, public lastSeen: number) {
    this.#table = table;
    this.#f = f;
  }

  get dayHits(): Map<number, number> { return (this.#dayHits ??= this.#table.flowDayHits(this.#f)); }
  set dayHits(value: Map<number, number>) { this.#dayHits = value; }
  get resources(): Set<string> { return (this.#resources ??= this.#table.flowResources(this.#f)); }
  set resources(value: Set<string>) { this.#resources = value; }
  get matchedRules(): Map<string, number> { return (this.#matchedRules ??= this.#table.flowRules(this.#f)); }
  set matchedRules(value: Map<string, number>) { this.#matchedRules = value; }
  get sourceIps(): Set<string> { return (this.#sourceIps ??= this.#table.flowSourceIps(this.#f)); }
  set sourceIps(value: Set<string>) { this.#sourceIps = value; }
  get operations(): Set<string> { return (this.#operations ??= this.#table.flowOperations(this.#f)); }
  set operations(value: Set<string>) { this.#operations = value; }
}

/**
 * A summary's flows by key, keyed only when first looked up by key: a run that only goes through
 * the flows (recommend, on a few hundred thousand) never makes their long key strings.
 */
class FlowMap extends Map<string, Flow> {
  #unkeyed: Flow[] | null = [];

  /** Adds a flow of a new key (toSummary's flows are distinct). */
  add(flow: Flow): void {
    if (this.#unkeyed) this.#unkeyed.push(flow);
    else super.set(flowKeyString(flow), flow);
  }

  #keyed(): this {
    const flows = this.#unkeyed;
    if (flows) {
      this.#unkeyed = null;
      for (const flow of flows) super.set(flowKeyString(flow), flow);
    }
    return this;
  }

  override get size(): number { return this.#unkeyed ? this.#unkeyed.length : super.size; }
  override values(): MapIterator<Flow> { return this.#unkeyed ? this.#unkeyed.values() : super.values(); }
  override get(key: string): Flow | undefined { return this.#keyed() && super.get(key); }
  override has(key: string): boolean { return this.#keyed() && super.has(key); }
  override set(key: string, flow: Flow): this { this.#keyed(); return super.set(key, flow); }
  override delete(key: string): boolean { return this.#keyed() && super.delete(key); }
  override clear(): void { this.#unkeyed = null; super.clear(); }
  override keys(): MapIterator<string> { return this.#keyed() && super.keys(); }
  override entries(): MapIterator<[string, Flow]> { return this.#keyed() && super.entries(); }
  override forEach(callback: (flow: Flow, key: string, map: Map<string, Flow>) => void, thisArg?: unknown): void { this.#keyed(); super.forEach(callback, thisArg); }
  override [Symbol.iterator](): MapIterator<[string, Flow]> { return this.#keyed() && super[Symbol.iterator](); }
}

/**
 * Code of an address given as text: a dotted quad as its number (so both paths meet in one flow),
 * anything else interned as written.
 */
function ipCodeOfText(interner: Interner, text: string): number {
  const v4 = parseIPv4(text);
  return v4 >= 0 ? v4 : TEXT_IP + interner.id(text);
}

/** Flows as columns; see FlowTable.exportColumns(). Peer and IP codes refer to `strings`. */
export interface FlowColumns {
  strings: string[];
  /** The ids of `strings` in text order, when they are distinct (a worker's sorted run sends them). */
  stringOrder?: Int32Array;
  /** The columns are views of a run memory (run-memory.ts): a worker placed them there for the merge. */
  placed?: boolean;
  length: number;
  perimeter: Int32Array; profile: Int32Array; category: Int32Array; peer: Float64Array;
  hits: Float64Array; first: Float64Array; last: Float64Array;
  dayOffsets: Int32Array; days: Int32Array; dayHits: Float64Array;
  resOffsets: Int32Array; res: Int32Array;
  ruleOffsets: Int32Array; rules: Int32Array; ruleHits: Float64Array;
  ipOffsets: Int32Array; ips: Float64Array;
  opOffsets: Int32Array; ops: Int32Array;
}

class ColumnsBuilder {
  readonly #c = { perimeter: [] as number[], profile: [] as number[], category: [] as number[], peer: [] as number[], hits: [] as number[], first: [] as number[], last: [] as number[],
    dayOffsets: [0], days: [] as number[], dayHits: [] as number[], resOffsets: [0], res: [] as number[],
    ruleOffsets: [0], rules: [] as number[], ruleHits: [] as number[], ipOffsets: [0], ips: [] as number[], opOffsets: [0], ops: [] as number[] };
  readonly #strings: string[];
  constructor(strings: string[]) { this.#strings = strings; }

  push(perimeter: number, profile: number, category: number, peer: number, hits: number, first: number, last: number,
    days: readonly (readonly [number, number])[], res: readonly number[], rules: readonly (readonly [number, number])[], ips: readonly number[], ops: readonly number[]): void {
    const c = this.#c;
    c.perimeter.push(perimeter); c.profile.push(profile); c.category.push(category); c.peer.push(peer);
    c.hits.push(hits); c.first.push(first); c.last.push(last);
    for (const [d, h] of days) { c.days.push(d); c.dayHits.push(h); }
    c.dayOffsets.push(c.days.length);
    for (const r of res) c.res.push(r);
    c.resOffsets.push(c.res.length);
    for (const [r, h] of rules) { c.rules.push(r); c.ruleHits.push(h); }
    c.ruleOffsets.push(c.rules.length);
    for (const ip of ips) c.ips.push(ip);
    c.ipOffsets.push(c.ips.length);
    for (const o of ops) c.ops.push(o);
    c.opOffsets.push(c.ops.length);
  }

  build(): FlowColumns {
    const c = this.#c;
    const i32 = Int32Array.from.bind(Int32Array);
    const f64 = Float64Array.from.bind(Float64Array);
    return {
      strings: this.#strings, length: c.perimeter.length,
      perimeter: i32(c.perimeter), profile: i32(c.profile), category: i32(c.category), peer: f64(c.peer),
      hits: f64(c.hits), first: f64(c.first), last: f64(c.last),
      dayOffsets: i32(c.dayOffsets), days: i32(c.days), dayHits: f64(c.dayHits),
      resOffsets: i32(c.resOffsets), res: i32(c.res),
      ruleOffsets: i32(c.ruleOffsets), rules: i32(c.rules), ruleHits: f64(c.ruleHits),
      ipOffsets: i32(c.ipOffsets), ips: f64(c.ips), opOffsets: i32(c.opOffsets), ops: i32(c.ops),
    };
  }
}

/** Columns of a FlowSummary (snapshots and other summaries enter a FlowTable this way). */
export function columnsFromSummary(summary: FlowSummary): FlowColumns {
  const table = new FlowTable();
  const i = table.interner;
  const b = new ColumnsBuilder(i.strings);
  const categoryIndex = new Map(categories.map((c, k) => [c.name, k] as [string, number]));
  const ip = (text: string): number => ipCodeOfText(i, text);
  for (const f of summary.flows.values()) {
    const peer = f.peerKind === 'ip' ? ip(f.peer) : f.peerKind === 'resource' ? RESOURCE + i.id(f.peer) : f.peerKind === 'fqdn' ? FQDN + i.id(f.peer) : NONE;
    b.push(i.id(f.perimeterId), i.id(f.profile), categoryIndex.get(f.category)!, peer, f.hits, f.firstSeen, f.lastSeen,
      [...f.dayHits], [...f.resources].map((r) => i.id(r)), [...f.matchedRules].map(([r, h]) => [i.id(r), h] as [number, number]),
      [...f.sourceIps].map(ip), [...f.operations].map((o) => i.id(o)));
  }
  return b.build();
}

/** Kind and text of a peer code. */
export function peerOfCode(code: number, strings: readonly string[]): { kind: PeerKind; text: string } {
  if (code < TEXT_IP) return { kind: 'ip', text: formatIPv4(code) };
  if (code < RESOURCE) return { kind: 'ip', text: strings[code - TEXT_IP]! };
  if (code < FQDN) return { kind: 'resource', text: strings[code - RESOURCE]! };
  if (code < NONE) return { kind: 'fqdn', text: strings[code - FQDN]! };
  return { kind: 'none', text: '' };
}

/** Text of a caller-IP code. */
export function ipOfCode(code: number, strings: readonly string[]): string {
  return code < TEXT_IP ? formatIPv4(code) : strings[code - TEXT_IP]!;
}
