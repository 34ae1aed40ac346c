// Analyze stage, end of `analyze --out`: the JavaScript side of the WebAssembly merge of the
// workers' sorted runs (wasm/merge-runs.ts, in the fold module, instantiated here on the main
// thread with a memory of its own). The runs are copied in, the plan made there, and each batch
// the snapshot writer asks for gathered there and copied out. sorted-runs.ts calls it first and
// merges in JavaScript when it declines (a caller or peer address kept as text, compared as text).

import { OPERATION_SAMPLE_SIZE } from '../model/flow-summary.js';
import { foldModule } from './fold-engine.js';
import { CATEGORY_RANK, OCTET_RANK } from './flow-order.js';
import { PEER_CODE, RUN_COLUMNS, RUN_DOUBLES, type FlowColumns } from './flow-table.js';
import { RUNS_AT } from './run-memory.js';
import type { SnapshotRows, UsedValues } from './snapshot.js';

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
  // Each batch is made above the plan, copied out, then its room given back.
  const planTop = x.heapUsed();
  let r0 = 0;
  return {
    strings, length, used,
    next(rows) {
      if (r0 >= length) return null;
      const r1 = Math.min(length, r0 + rows);
      const m = r1 - r0;
      const at = x.mergeBatch(r0, r1);
      r0 = r1;
      const addresses = new Int32Array(memory.buffer, at, RUN_COLUMNS.length + BATCH_LISTS.length).slice();
      const items = new Map<string, number>();
      BATCH_LISTS.forEach((names, k) => { for (const name of names) items.set(name, addresses[RUN_COLUMNS.length + k]!); });
      const batch = { strings: strings as string[], length: m } as FlowColumns;
      RUN_COLUMNS.forEach((name, k) => {
        const n = items.get(name) ?? (name.endsWith('Offsets') ? m + 1 : m);
        batch[name] = (RUN_DOUBLES.has(name) ? new Float64Array(memory.buffer, addresses[k]!, n) : new Int32Array(memory.buffer, addresses[k]!, n)).slice() as Int32Array & Float64Array;
      });
      x.rewindHeap(planTop);
      return batch;
    },
  };
}
