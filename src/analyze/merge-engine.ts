// Analyze stage, end of `analyze --out`: the JavaScript side of the WebAssembly merge of the
// workers' sorted runs (wasm/merge-runs.ts, in the fold module, instantiated here on the main
// thread with a memory of its own). The runs are copied in, the plan made there, and each batch
// the snapshot writer asks for gathered there and copied out. sorted-runs.ts calls it first and
// merges in JavaScript when it declines (a caller or peer address kept as text, compared as text).

import { OPERATION_SAMPLE_SIZE } from '../model/flow-summary.js';
import { NspError } from '../errors.js';
import { copyToModule, foldModule, isTrap } from './fold-module.js';
import { CATEGORY_RANK, OCTET_RANK } from './flow-order.js';
import { PEER_CODE, RUN_COLUMNS, RUN_DOUBLES, type FlowColumns, type RunColumn } from './flow-table.js';
import { RUNS_AT } from './run-memory.js';
import type { SnapshotRows } from './snapshot.js';
import { DICTIONARY_COLUMNS, sortedDictionaries, type DictionaryColumn, type EncodedBatch, type UsedValues } from './snapshot-encoding.js';

interface MergeExports {
  alloc(bytes: number): number;
  limitHeap(limit: number): void;
  heapUsed(): number;
  rewindHeap(top: number): void;
  mergeSetup(): void;
  mergeRunTable(k: number): number;
  mergePlan(table: number, k: number, strings: number, categoryRank: number, octetRank: number, sample: number): number;
  mergeUsedAt(): number;
  mergeBatch(r0: number, r1: number): number;
  mergeEncodingSetup(indexes: number, offsets: number, bytes: number): void;
  mergeEncode(): number;
}

// A run's entry in the module's run table: its column addresses, its length, its id map's address.
const RUN_ENTRY = RUN_COLUMNS.length + 2;
// The list columns whose item counts follow a batch's column addresses, in this order.
const BATCH_LISTS = [['days', 'dayHits'], ['res'], ['rules', 'ruleHits'], ['ips'], ['ops']] as const;
const MAX_PAGES = 65_536;

/** Whether a code is an address kept as text (the WebAssembly merge compares numbers only). */
const isTextIp = (code: number): boolean => code >= PEER_CODE.TEXT_IP && code < PEER_CODE.RESOURCE;

function holdsTextIp(c: FlowColumns): boolean {
  for (let i = 0; i < c.length; i++) if (isTextIp(c.peer[i]!)) return true;
  for (let q = 0; q < c.ips.length; q++) if (isTextIp(c.ips[q]!)) return true;
  return false;
}

/**
 * The rows of `runs` (each in snapshot order) merged in WebAssembly into the output's `strings`
 * (`outs`: each run's ids as the output's), or null when a run holds an address kept as text.
 */
export function mergedRowsInWasm(runs: readonly FlowColumns[], strings: readonly string[], outs: readonly Int32Array[],
  runMemory: WebAssembly.Memory | null = null, options: { slotBytes?: number; heapLimit?: number } = {}): SnapshotRows | null {
  if (runs.some(holdsTextIp)) return null;
  // Runs placed in the run memory are read where they are (the heap stays below them); others are copied in.
  const memory = runMemory ?? new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  const x = new WebAssembly.Instance(foldModule(), { env: { memory } }).exports as unknown as MergeExports;
  x.mergeSetup();
  // Below the runs' regions (0: no limit); `options` make room smaller for the tests.
  const heapLimit = options.heapLimit ?? (runMemory ? RUNS_AT : 0);
  x.limitHeap(heapLimit);
  const address = (c: FlowColumns, values: Int32Array | Float64Array): number => (runMemory && c.placed ? values.byteOffset : copyIn(values));
  const copyIn = (values: ArrayBufferView): number => copyToModule(x, memory, values);
  // The heap full (runs copied in, the plan, what encoding needs): the JavaScript merge takes over.
  let length: number;
  let used: UsedValues;
  try {
    const table = x.mergeRunTable(runs.length);
    runs.forEach((c, k) => {
      const entry = RUN_COLUMNS.map((name) => address(c, c[name]));
      entry.push(c.length, copyIn(outs[k]!));
      new Int32Array(memory.buffer, table + k * RUN_ENTRY * 4, RUN_ENTRY).set(entry);
    });
    length = x.mergePlan(table, runs.length, strings.length, copyIn(Int32Array.from(CATEGORY_RANK)), copyIn(OCTET_RANK), OPERATION_SAMPLE_SIZE);
    const usedAt = new Int32Array(memory.buffer, x.mergeUsedAt(), DICTIONARY_COLUMNS.length).slice();
    const sizeOf = { category: CATEGORY_RANK.length, kind: 4 } as Partial<Record<DictionaryColumn, number>>;
    used = Object.fromEntries(DICTIONARY_COLUMNS.map((name, u) => [name, new Uint8Array(memory.buffer, usedAt[u]!, sizeOf[name] ?? strings.length).slice()])) as unknown as UsedValues;
    // What encoding batches for the snapshot writer needs: the dictionaries' indexes, the strings' UTF-8.
    const dictionaries = sortedDictionaries(strings, used);
    const indexes = new Int32Array(DICTIONARY_COLUMNS.map((name) => copyIn(dictionaries[name].index)));
    const utf8 = new Uint8Array(strings.reduce((n, text) => n + text.length * 3, 0));
    const utf8Offsets = new Int32Array(strings.length + 1);
    for (let k = 0, at = 0; k < strings.length; k++) { at += encoder.encodeInto(strings[k]!, utf8.subarray(at)).written; utf8Offsets[k + 1] = at; }
    x.mergeEncodingSetup(copyIn(indexes), copyIn(utf8Offsets), copyIn(utf8.subarray(0, utf8Offsets[strings.length]!)));
  } catch (error) {
    if (isTrap(error)) return null;
    throw error;
  }
  // Encoded batches are made in slots above the plan and handed over in place (views of this
  // shared memory) until released; the others, and a batch too large for a slot, are made above
  // the slots and copied out.
  const planTop = x.heapUsed();
  const slotBytes = options.slotBytes ?? SLOT_BYTES;
  const slotAt = (s: number): number => Math.ceil(planTop / WASM_PAGE) * WASM_PAGE + s * slotBytes;
  // Without room for the slots below the limit, every batch is made at the plan's top and copied
  // out; without room for one slot's worth there either, the JavaScript merge takes over.
  if (heapLimit !== 0 && slotAt(1) > heapLimit) return null;
  const slotsFit = heapLimit === 0 || slotAt(SLOTS + 1) <= heapLimit;
  const spillAt = slotsFit ? slotAt(SLOTS) : planTop;
  const free = slotsFit ? Array.from({ length: SLOTS }, (_, s) => s) : [];
  const busy: number[] = [];
  let r0 = 0;
  /** Makes output rows [from, to) in the module at `at` (below `limit`, 0: none); `encode`: as the snapshot stores them. @returns the tables' addresses */
  const make = (from: number, to: number, at: number, limit: number, encode: boolean): { batch: number; encoded: number } => {
    x.rewindHeap(at);
    x.limitHeap(limit);
    try {
      const batch = x.mergeBatch(from, to);
      return { batch, encoded: encode ? x.mergeEncode() : 0 };
    } finally {
      x.limitHeap(heapLimit);
    }
  };
  /** make() where a batch goes when no slot takes it: past the limit there, the run's own error. */
  const spill = (from: number, to: number, encode: boolean): { batch: number; encoded: number } => {
    try {
      return make(from, to, spillAt, heapLimit, encode);
    } catch (error) {
      if (!isTrap(error)) throw error;
      throw new NspError('over-limit', `Cannot merge flows ${from + 1}–${to} of the snapshot: their lists do not fit the merge's memory (${Math.round((heapLimit - spillAt) / 1048576)} MB)`, {
        hint: 'Analyze the logs in parts (by perimeter or by week) and merge the snapshots with "analyze a.arrow b.arrow --out all.arrow"', cause: error,
      });
    }
  };
  /** The views of a batch's columns in the module (lengths from its table). */
  const columnsOf = (at: number, m: number): ((name: RunColumn) => Int32Array | Float64Array) => {
    const addresses = new Int32Array(memory.buffer, at, RUN_COLUMNS.length + BATCH_LISTS.length).slice();
    const items = new Map<string, number>();
    BATCH_LISTS.forEach((names, k) => { for (const name of names) items.set(name, addresses[RUN_COLUMNS.length + k]!); });
    return (name) => {
      const k = RUN_COLUMNS.indexOf(name);
      const n = items.get(name) ?? (name.endsWith('Offsets') ? m + 1 : m);
      return RUN_DOUBLES.has(name) ? new Float64Array(memory.buffer, addresses[k]!, n) : new Int32Array(memory.buffer, addresses[k]!, n);
    };
  };
  return {
    strings, length, used,
    next(rows) {
      if (r0 >= length) return null;
      const r1 = Math.min(length, r0 + rows);
      const m = r1 - r0;
      const columns = columnsOf(spill(r0, r1, false).batch, m);
      r0 = r1;
      const batch = { strings: strings as string[], length: m } as FlowColumns;
      for (const name of RUN_COLUMNS) batch[name] = columns(name).slice() as Int32Array & Float64Array;
      return batch;
    },
    nextEncoded(rows) {
      if (r0 >= length) return null;
      const r1 = Math.min(length, r0 + rows);
      const m = r1 - r0;
      let slot = free.shift();
      let made: { batch: number; encoded: number } | undefined;
      if (slot !== undefined) {
        try {
          made = make(r0, r1, slotAt(slot), slotAt(slot) + slotBytes, true);
        } catch (error) {
          if (!isTrap(error)) throw error;
          free.unshift(slot); // too large for a slot
          slot = undefined;
        }
      }
      made ??= spill(r0, r1, true);
      r0 = r1;
      // In place (a slot), or copied out of the module.
      const own = slot === undefined;
      const view = <T extends Int32Array | Float64Array | Uint8Array>(a: T): T => (own ? a.slice() as T : a);
      const columns = columnsOf(made.batch, m);
      const table = new Int32Array(memory.buffer, made.encoded, ENCODED.length + 2).slice();
      const ints = (entry: (typeof ENCODED)[number], n: number): Int32Array => view(new Int32Array(memory.buffer, table[ENCODED.indexOf(entry)]!, n));
      const bytes = (entry: (typeof ENCODED)[number], n: number): Uint8Array => view(new Uint8Array(memory.buffer, table[ENCODED.indexOf(entry)]!, n));
      const times = (entry: (typeof ENCODED)[number]): BigInt64Array => {
        const at = table[ENCODED.indexOf(entry)]!;
        if (!own) return new BigInt64Array(memory.buffer, at, m);
        const out = new BigInt64Array(m);
        new Uint8Array(out.buffer).set(new Uint8Array(memory.buffer, at, m * 8));
        return out;
      };
      const list = (name: RunColumn): Int32Array => view(columns(name) as Int32Array);
      const doubles = (name: RunColumn): Float64Array => view(columns(name) as Float64Array);
      const dayOffsets = list('dayOffsets'); const resOffsets = list('resOffsets'); const ruleOffsets = list('ruleOffsets');
      const ipOffsets = list('ipOffsets'); const opOffsets = list('opOffsets');
      const encoded: EncodedBatch = {
        length: m,
        perimeter: ints('perimeter', m), profile: ints('profile', m), category: ints('category', m), kind: ints('kind', m),
        peer: { offsets: ints('peerOffsets', m + 1), bytes: bytes('peerBytes', table[ENCODED.length]!) },
        hits: doubles('hits'), first: times('first'), last: times('last'), daysSeen: ints('daysSeen', m),
        dayOffsets, days: list('days'), dayHits: doubles('dayHits'),
        resOffsets, res: ints('res', resOffsets[m]!),
        ruleOffsets, rules: ints('rules', ruleOffsets[m]!), ruleHits: doubles('ruleHits'),
        ipOffsets, ips: { offsets: ints('ipOffsets', ipOffsets[m]! + 1), bytes: bytes('ipBytes', table[ENCODED.length + 1]!) },
        opOffsets, ops: ints('ops', opOffsets[m]!),
      };
      // In hand-over order, copied batches too (-1), so that a release frees the slot of the batch written.
      busy.push(slot ?? -1);
      return encoded;
    },
    release() {
      const slot = busy.shift();
      if (slot !== undefined && slot >= 0) free.push(slot);
    },
  };
}

// Encoded batches handed over in place at once (the writer thread's two ahead and the one being
// made), and the room of each: reserved, resident only as far as used (a batch of 65,536 flows
// takes ~10 MB).
const SLOTS = 3;
const SLOT_BYTES = 64 << 20;
const WASM_PAGE = 65_536;

// The encoded batch's table (merge-runs.ts's ENC_ entries), then the byte lengths of the peers' and the caller IPs' texts.
const ENCODED = ['perimeter', 'profile', 'category', 'kind', 'peerOffsets', 'peerBytes', 'first', 'last', 'daysSeen', 'res', 'rules', 'ops', 'ipOffsets', 'ipBytes'] as const;
const encoder = new TextEncoder();
