// Analyze stage, hot path: the JavaScript side of the WebAssembly fold (src/analyze/wasm/
// fold-lines.ts, built with the byte scanner into one module by `npm run build:wasm`). An engine
// is one instance of that module and its memory: the scanner's input region, interned texts and
// indexes at the bottom, the parts pool above POOL_AT, and above RECORDS_AT the records of the one
// FlowTable it is bound to, which it adds rows to without leaving WebAssembly. JsonlFolder (scan-jsonl.ts) drives it and does what it
// hands back; this file owns the memory, the binding and the views.

import { NspError, isNspError } from '../errors.js';
import { LineScanner, type ScanExports } from '../ingest/jsonl-scanner.js';
import type { FlowTable, RunExports, TableStorage } from './flow-table.js';
import { foldModule } from './fold-module.js';

interface FoldExports extends ScanExports, RunExports {
  limitHeap(limit: number): void;
  heapUsed(): number;
  foldSetup(poolAt: number, recordsAt: number, entries: number): void;
  growCanon(keys: number): number;
  canonAt(): number; canonKeys(): number;
  forgetCanon(): void;
  setPair(perimeter: number, profile: number, pair: number): void;
  allocSlots(n: number): number;
  setTable(flows: number, capacity: number, slotsAt: number, slotCount: number): void;
  flowCount(): number;
  logAt(): number; logged(): number; clearLog(): void;
  partsAt(): number; partsUsed(): number; clearParts(): void;
  hitsDone(): number;
  stopAt(): number; stopEnd(): number; linesDone(): number;
  needField(): number; needRole(): number; needA(): number; needB(): number;
  foldLines(pos: number, end: number, limit: number, maxLine: number): number;
}

/** Why foldLines() stopped (as in fold-lines.ts). */
export const enum FoldStop { End = 0, Limit = 1, Line = 2, Need = 3, Room = 4 }

/** Canonical-form roles (as in fold-lines.ts): one i32 per role, CANON_ROLES per text. */
export const enum Role { Category = 0, Perimeter = 1, Lower = 2, Resource = 3, Fqdn = 4, Raw = 5, Rule = 6, Pair = 99 }
export const CANON_ROLES = 8;
/** In a category's canonical value: the category is inbound. */
export const INBOUND = 0x100;

const PAGE = 65_536;
/**
 * The memory's regions: the heap (scanner, texts, indexes) below POOL_AT, the parts pool up to
 * RECORDS_AT, the bound table's records above. Reserved, not resident until used.
 */
const POOL_AT = 1024 << 20;
const RECORDS_AT = 1536 << 20;
/** Room kept free in the heap beyond the next doubling of the bound table's index. */
const HEAP_MARGIN = 64 << 20;
const PART_ENTRY = 24;
const MAX_PAGES = 65_536;
const LOG_ENTRIES = 1 << 14;
const LOG_ENTRY = 16;
const PARTS_PER_LINE = 4;

const TABLE_FULL = Symbol('table full');

/**
 * The error of a table whose flows fill an engine's memory (or a table's records, any memory):
 * it ends the run, where an error reading one file is that file's issue (see isTableFull).
 */
export function tooManyFlows(flows: number, cause?: unknown, why = "the analysis engine's memory is full"): NspError {
  const error = new NspError('input-invalid', `Cannot hold ${flows.toLocaleString('en-US')} distinct flows in one table: ${why}`, {
    hint: 'Analyze the logs in parts (by perimeter or by week) and merge the snapshots with "analyze a.arrow b.arrow --out all.arrow"', cause,
  });
  Object.defineProperty(error, TABLE_FULL, { value: true });
  return error;
}

/** Whether `error` is tooManyFlows()'s. */
export function isTableFull(error: unknown): boolean {
  return isNspError(error) && (error as unknown as Record<symbol, unknown>)[TABLE_FULL] === true;
}

/** When an engine is used up (see FoldEngine.usable), and the size of its parts pool. */
export interface FoldEngineLimits {
  /** Texts interned (a long-lived process does not keep every text it saw). */
  texts: number;
  /** Bytes of heap: past this an engine is replaced, leaving room for one more block of input. */
  heapBytes: number;
  /** Parts the pool holds before they go to the table's extras. */
  poolEntries: number;
}

export const DEFAULT_ENGINE_LIMITS: Readonly<FoldEngineLimits> = { texts: 1 << 19, heapBytes: 768 << 20, poolEntries: Math.floor((RECORDS_AT - POOL_AT) / PART_ENTRY) };

export class FoldEngine {
  /** Limits of engines (the pool's: of those made from now on); tests make them small to exercise the hand-offs. */
  static limits: FoldEngineLimits = { ...DEFAULT_ENGINE_LIMITS };
  readonly #poolEntries = Math.min(FoldEngine.limits.poolEntries, DEFAULT_ENGINE_LIMITS.poolEntries);
  readonly #poolAt: number;
  readonly scanner: LineScanner;
  readonly x: FoldExports;
  readonly #memory: WebAssembly.Memory;
  #bound: FlowTable | null = null;
  #storage: TableStorage;
  /** Canonical forms per text key (CANON_ROLES per key). */
  canon!: Int32Array;

  constructor() {
    // Shared: a worker's table goes to the main thread in this memory, without a copy.
    this.#memory = new WebAssembly.Memory({ initial: RECORDS_AT / PAGE + 2, maximum: MAX_PAGES, shared: true });
    this.x = new WebAssembly.Instance(foldModule(), { env: { memory: this.#memory } }).exports as unknown as FoldExports;
    this.scanner = new LineScanner(this.x);
    this.#poolAt = RECORDS_AT - this.#poolEntries * PART_ENTRY;
    this.x.limitHeap(this.#poolAt);
    this.x.foldSetup(this.#poolAt, RECORDS_AT, LOG_ENTRIES);
    this.#viewCanon();
    const memory = this.#memory;
    const x = this.x;
    this.#storage = {
      memory, recordsAt: RECORDS_AT,
      allocSlots: (n) => {
        try {
          return new Int32Array(memory.buffer, x.allocSlots(n), n);
        } catch (error) {
          throw tooManyFlows(this.#bound?.flowCount ?? n / 2, error); // the heap is full
        }
      },
      parts: () => this.#parts(),
      clearParts: () => this.x.clearParts(),
      run: x,
    };
  }

  /**
   * False once its heap or its texts are used up, or the bound table's index could not double in
   * what is left of the heap (outgrown indexes stay in it): the next table, or block, takes another.
   */
  get usable(): boolean {
    const heap = this.x.heapUsed();
    const index = this.#bound?.isIn(this.#storage) ? this.#bound.storageState.slots.byteLength : 0;
    return heap < FoldEngine.limits.heapBytes && this.scanner.internedCount <= FoldEngine.limits.texts
      && heap + 2 * index + HEAP_MARGIN < this.#poolAt;
  }

  /** Makes `table` the one rows are folded into (its records move into this memory). */
  bind(table: FlowTable): void {
    if (table.isIn(this.#storage)) return;
    if (this.#bound !== table) {
      if (this.#bound?.isIn(this.#storage)) this.#bound.unbindStorage();
      this.x.forgetCanon(); // canonical forms and pairs are ids of the table's own
    }
    table.bindStorage(this.#storage);
    this.#bound = table;
  }

  /** Tells the module where the bound table stands, before a foldLines(). */
  sync(table: FlowTable): void {
    const { count, capacity, slots } = table.storageState;
    this.x.setTable(count, capacity, slots.byteOffset, slots.length);
  }

  /** Room for canonical forms of text `key`. */
  ensureCanon(key: number): void {
    if (key < this.canon.length / CANON_ROLES) return;
    this.x.growCanon(key + 1);
    this.#viewCanon();
  }

  #viewCanon(): void {
    this.canon = new Int32Array(this.#memory.buffer, this.x.canonAt(), this.x.canonKeys() * CANON_ROLES);
  }

  /** The parts in use, in place (the layout of FlowTable.#addFoldedParts()), or null. */
  #parts(): { ints: Int32Array; hits: Float64Array } | null {
    const used = this.x.partsUsed();
    if (used === 0) return null;
    const at = this.x.partsAt();
    return { ints: new Int32Array(this.#memory.buffer, at, used * (PART_ENTRY / 4)), hits: new Float64Array(this.#memory.buffer, at, used * (PART_ENTRY / 8)) };
  }

  /** Room for the parts of another line: when the pool is full, they go to the table's extras. */
  roomForParts(table: FlowTable): void {
    if (this.x.partsUsed() + PARTS_PER_LINE > this.#poolEntries) table.settle();
  }

  /** Hands the caller IPs the module logged to the bound table and empties the log. */
  flushLog(table: FlowTable): void {
    const n = this.x.logged();
    if (n === 0) return;
    const at = this.x.logAt();
    table.addCallerIps(new Int32Array(this.#memory.buffer, at, n * (LOG_ENTRY / 4)));
    this.x.clearLog();
  }
}
