// Analyze stage, end of `analyze --out`: the memory the workers place their sorted runs in for the
// main thread's merge (merge-engine.ts). One shared WebAssembly memory: the merge's heap at the
// bottom, then a region per worker; a worker copies its run's columns into its region and hands
// over views of them, so the runs cross threads and reach the merge without another copy.

import { RUN_COLUMNS, RUN_DOUBLES, RUN_LIST_OF, type FlowColumns, type RunColumn } from './flow-table.js';

const PAGE = 65_536;
const MAX_PAGES = 65_536;
/** Where the regions start: the merge's heap lies below. */
export const RUNS_AT = 512 << 20;

/** Where one worker places its run. */
export interface RunRegion {
  memory: WebAssembly.Memory;
  /** Bytes [at, end) of the memory. */
  at: number;
  end: number;
}

/** A fresh run memory (reserved, not resident until used) with a region for each of `workers`. */
export function runRegions(workers: number): { memory: WebAssembly.Memory; regions: RunRegion[] } {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  const size = Math.floor((MAX_PAGES * PAGE - RUNS_AT) / Math.max(workers, 1) / PAGE) * PAGE;
  return { memory, regions: Array.from({ length: workers }, (_, w) => ({ memory, at: RUNS_AT + w * size, end: RUNS_AT + (w + 1) * size })) };
}

/** Items in each column of a run of `length` rows, given its list offsets. */
export function columnLengths(length: number, listEnd: (offsets: RunColumn) => number): Record<RunColumn, number> {
  return Object.fromEntries(RUN_COLUMNS.map((name) => {
    const list = RUN_LIST_OF[name];
    return [name, list ? listEnd(list) : name.endsWith('Offsets') ? length + 1 : length];
  })) as Record<RunColumn, number>;
}

/**
 * Copies a run's columns into `region` (`copy` fills each column's bytes) and returns them as
 * views of the region's memory, `placed`; null when they do not fit.
 */
export function placeColumns(strings: string[], length: number, lengths: Record<RunColumn, number>, region: RunRegion,
  copy: (name: RunColumn, to: Uint8Array) => void): FlowColumns | null {
  let end = region.at;
  const at = new Map<RunColumn, number>();
  for (const name of RUN_COLUMNS) {
    at.set(name, end);
    end += Math.ceil((lengths[name] * (RUN_DOUBLES.has(name) ? 8 : 4)) / 8) * 8;
  }
  if (end > region.end) return null;
  growTo(region.memory, end);
  const buffer = region.memory.buffer;
  const out = { strings, length, placed: true } as FlowColumns;
  for (const name of RUN_COLUMNS) {
    const view = RUN_DOUBLES.has(name) ? new Float64Array(buffer, at.get(name)!, lengths[name]) : new Int32Array(buffer, at.get(name)!, lengths[name]);
    copy(name, new Uint8Array(buffer, view.byteOffset, view.byteLength));
    out[name] = view as Int32Array & Float64Array;
  }
  return out;
}

/** `c` placed in `region` (see placeColumns), or null when it does not fit. */
export function placeRun(c: FlowColumns, region: RunRegion): FlowColumns | null {
  const placed = placeColumns(c.strings, c.length, columnLengths(c.length, (offsets) => c[offsets][c.length]!), region,
    (name, to) => { to.set(new Uint8Array(c[name].buffer, c[name].byteOffset, c[name].byteLength)); });
  if (placed && c.stringOrder) placed.stringOrder = c.stringOrder;
  return placed;
}

/**
 * Grows the shared memory to at least `bytes`. Workers may grow it at the same time: a grow that
 * fails because another one made the memory larger meanwhile is tried again from the new length.
 */
function growTo(memory: WebAssembly.Memory, bytes: number): void {
  for (;;) {
    const length = memory.buffer.byteLength;
    if (length >= bytes) return;
    try {
      memory.grow(Math.ceil((bytes - length) / PAGE));
    } catch (error) {
      if (memory.buffer.byteLength === length) throw error;
    }
  }
}
