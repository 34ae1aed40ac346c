// Analyze stage, end of `analyze --out`: the JavaScript side of the WebAssembly merge of the
// workers' sorted runs (wasm/merge-runs.ts, in the fold module, instantiated here on the main
// thread with a memory of its own). The runs are copied in, the plan made there, and each batch
// the snapshot writer asks for gathered there and copied out. sorted-runs.ts calls it first and
// merges in JavaScript when it declines (a caller or peer address kept as text, compared as text).

import { OPERATION_SAMPLE_SIZE } from '../model/flow-summary.js';
import { foldModule } from './fold-module.js';
import { CATEGORY_RANK, OCTET_RANK } from './flow-order.js';
import { PEER_CODE, RUN_COLUMNS, RUN_DOUBLES, type FlowColumns, type RunColumn } from './flow-table.js';
import { RUNS_AT } from './run-memory.js';
import type { SnapshotRows } from './snapshot.js';
import { sortedDictionaries, type EncodedBatch, type UsedValues } from './snapshot-encoding.js';

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
const USED_ORDER = ['perimeter', 'profile', 'category', 'kind', 'res', 'rules', 'ops'] as const;
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
  runMemory: WebAssembly.Memory | null = null): SnapshotRows | null {
  if (runs.some(holdsTextIp)) return null;
  // Runs placed in the run memory are read where they are (the heap stays below them); others are copied in.
  const memory = runMemory ?? new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  const x = new WebAssembly.Instance(foldModule(), { env: { memory } }).exports as unknown as MergeExports;
  x.mergeSetup();
  x.limitHeap(runMemory ? RUNS_AT : 0);
  const address = (c: FlowColumns, values: Int32Array | Float64Array): number => (runMemory && c.placed ? values.byteOffset : copyIn(values));
  const copyIn = (values: Int32Array | Float64Array): number => {
    const at = x.alloc(Math.max(values.byteLength, 8));
    new Uint8Array(memory.buffer, at, values.byteLength).set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return at;
  };
  const table = x.mergeRunTable(runs.length);
  runs.forEach((c, k) => {
    const entry = RUN_COLUMNS.map((name) => address(c, c[name]));
    entry.push(c.length, copyIn(outs[k]!));
    new Int32Array(memory.buffer, table + k * RUN_ENTRY * 4, RUN_ENTRY).set(entry);
  });
  let length: number;
  try {
    length = x.mergePlan(table, runs.length, strings.length, copyIn(Int32Array.from(CATEGORY_RANK)), copyIn(OCTET_RANK), OPERATION_SAMPLE_SIZE);
  } catch (error) {
    if (error instanceof (WebAssembly as unknown as { RuntimeError: ErrorConstructor }).RuntimeError) return null; // its heap is full: the JavaScript merge takes over
    throw error;
  }
  const usedAt = new Int32Array(memory.buffer, x.mergeUsedAt(), USED_ORDER.length).slice();
  const sizeOf = { category: CATEGORY_RANK.length, kind: 4 } as Partial<Record<(typeof USED_ORDER)[number], number>>;
  const used = Object.fromEntries(USED_ORDER.map((name, u) => [name, new Uint8Array(memory.buffer, usedAt[u]!, sizeOf[name] ?? strings.length).slice()])) as unknown as UsedValues;
  // What encoding batches for the snapshot writer needs: the dictionaries' indexes, the strings' UTF-8.
  const dictionaries = sortedDictionaries(strings, used);
  const indexes = new Int32Array(USED_ORDER.map((name) => copyIn(dictionaries[name].index)));
  const utf8 = new Uint8Array(strings.reduce((n, text) => n + text.length * 3, 0));
  const utf8Offsets = new Int32Array(strings.length + 1);
  for (let k = 0, at = 0; k < strings.length; k++) { at += encoder.encodeInto(strings[k]!, utf8.subarray(at)).written; utf8Offsets[k + 1] = at; }
  const utf8At = x.alloc(Math.max(utf8Offsets[strings.length]!, 8));
  new Uint8Array(memory.buffer, utf8At, utf8Offsets[strings.length]!).set(utf8.subarray(0, utf8Offsets[strings.length]!));
  x.mergeEncodingSetup(copyIn(indexes), copyIn(utf8Offsets), utf8At);
  // Each batch is made above the plan, copied out, then its room given back.
  const planTop = x.heapUsed();
  let r0 = 0;
  /** The next batch's rows made in the module: its column table, and its rows. */
  const nextBatch = (rows: number): { columns: (name: RunColumn) => Int32Array | Float64Array; m: number } | null => {
    if (r0 >= length) return null;
    const r1 = Math.min(length, r0 + rows);
    const m = r1 - r0;
    const at = x.mergeBatch(r0, r1);
    r0 = r1;
    const addresses = new Int32Array(memory.buffer, at, RUN_COLUMNS.length + BATCH_LISTS.length).slice();
    const items = new Map<string, number>();
    BATCH_LISTS.forEach((names, k) => { for (const name of names) items.set(name, addresses[RUN_COLUMNS.length + k]!); });
    return {
      m,
      columns: (name) => {
        const k = RUN_COLUMNS.indexOf(name);
        const n = items.get(name) ?? (name.endsWith('Offsets') ? m + 1 : m);
        return (RUN_DOUBLES.has(name) ? new Float64Array(memory.buffer, addresses[k]!, n) : new Int32Array(memory.buffer, addresses[k]!, n)).slice();
      },
    };
  };
  return {
    strings, length, used,
    next(rows) {
      const made = nextBatch(rows);
      if (!made) return null;
      const batch = { strings: strings as string[], length: made.m } as FlowColumns;
      for (const name of RUN_COLUMNS) batch[name] = made.columns(name) as Int32Array & Float64Array;
      x.rewindHeap(planTop);
      return batch;
    },
    nextEncoded(rows) {
      const made = nextBatch(rows);
      if (!made) return null;
      const { m, columns } = made;
      const table = new Int32Array(memory.buffer, x.mergeEncode(), ENCODED.length + 2).slice();
      const ints = (entry: (typeof ENCODED)[number], n: number): Int32Array => new Int32Array(memory.buffer, table[ENCODED.indexOf(entry)]!, n).slice();
      const bytes = (entry: (typeof ENCODED)[number], n: number): Uint8Array => new Uint8Array(memory.buffer, table[ENCODED.indexOf(entry)]!, n).slice();
      const times = (entry: (typeof ENCODED)[number]): BigInt64Array => {
        const out = new BigInt64Array(m);
        new Uint8Array(out.buffer).set(new Uint8Array(memory.buffer, table[ENCODED.indexOf(entry)]!, m * 8));
        return out;
      };
      const dayOffsets = columns('dayOffsets') as Int32Array;
      const resOffsets = columns('resOffsets') as Int32Array; const ruleOffsets = columns('ruleOffsets') as Int32Array;
      const ipOffsets = columns('ipOffsets') as Int32Array; const opOffsets = columns('opOffsets') as Int32Array;
      const encoded: EncodedBatch = {
        length: m,
        perimeter: ints('perimeter', m), profile: ints('profile', m), category: ints('category', m), kind: ints('kind', m),
        peer: { offsets: ints('peerOffsets', m + 1), bytes: bytes('peerBytes', table[ENCODED.length]!) },
        hits: columns('hits') as Float64Array, first: times('first'), last: times('last'), daysSeen: ints('daysSeen', m),
        dayOffsets, days: columns('days') as Int32Array, dayHits: columns('dayHits') as Float64Array,
        resOffsets, res: ints('res', resOffsets[m]!),
        ruleOffsets, rules: ints('rules', ruleOffsets[m]!), ruleHits: columns('ruleHits') as Float64Array,
        ipOffsets, ips: { offsets: ints('ipOffsets', ipOffsets[m]! + 1), bytes: bytes('ipBytes', table[ENCODED.length + 1]!) },
        opOffsets, ops: ints('ops', opOffsets[m]!),
      };
      x.rewindHeap(planTop);
      return encoded;
    },
  };
}

// The encoded batch's table (merge-runs.ts's ENC_ entries), then the byte lengths of the peers' and the caller IPs' texts.
const ENCODED = ['perimeter', 'profile', 'category', 'kind', 'peerOffsets', 'peerBytes', 'first', 'last', 'daysSeen', 'res', 'rules', 'ops', 'ipOffsets', 'ipBytes'] as const;
const encoder = new TextEncoder();
