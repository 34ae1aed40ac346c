// Ingest stage, hot path: the JavaScript side of the selective byte scanner for JSON lines. The
// scanning runs in WebAssembly (src/ingest/wasm/jsonl-scan.ts, compiled with the fold that uses
// it into one module by `npm run build:wasm`; src/analyze/fold-engine.ts makes the instances): it finds the byte ranges of the fields the flow summary needs (nsp-reference.md
// §3.4, both key casings, raw and Log Analytics spellings) and interns their text, without
// building objects or decoding strings. Anything unusual — an escape in a needed string, a
// duplicated field, a non-string where text is expected, a JSON wrapper, broken JSON — makes it
// give up, and the caller takes the careful path (JSON.parse + normalizeRow), so results and
// issues are exactly the careful path's. This file owns the key tables and the result views.

// The few WebAssembly types used here (the ES2022 lib does not declare them).
declare global {
  namespace WebAssembly {
    class Module { constructor(bytes: Uint8Array) }
    class Instance { constructor(module: Module, imports: object); readonly exports: unknown }
    class Memory { constructor(descriptor: { initial: number; maximum?: number; shared?: boolean }); readonly buffer: ArrayBuffer; grow(pages: number): number }
  }
}

/** Fields the summary needs, in the order their ranges are stored. */
export const enum Field {
  Time, TimeGenerated, EndTime, Count, Perimeter, PerimeterLA, Category, Operation, Profile, Resource,
  MatchedRule, SourceIp, SourceResource, DestFqdn, DestFqdnLong, DestResource,
}
export const FIELD_COUNT = 16;

/** How a field's value was written. */
export const enum ValueKind { Absent = 0, String = 1, Number = 2, Null = 3 }

const enum Ctx { Flat, Source, Destination, Matched }

// Key targets as the WebAssembly side reads them: a field, a nested context, matchedRule, a wrapper.
const CTX = 100;
const MATCHED = 200;
const WRAPPER = 300;

// Key bytes (lower case) → target, per context.
const KEYS: Record<Ctx, Record<string, number>> = {
  [Ctx.Flat]: {
    time: Field.Time, timegenerated: Field.TimeGenerated, timegeneratedendtime: Field.EndTime,
    count: Field.Count, resourceid: Field.Perimeter, _resourceid: Field.PerimeterLA,
    category: Field.Category, operationname: Field.Operation, profile: Field.Profile,
    serviceresourceid: Field.Resource, matchedrule: MATCHED, sourceipaddress: Field.SourceIp,
    sourceresourceid: Field.SourceResource, destinationfqdn: Field.DestFqdn,
    destinationfullyqualifieddomainname: Field.DestFqdnLong, destinationresourceid: Field.DestResource,
    properties: CTX + Ctx.Flat, source: CTX + Ctx.Source, destination: CTX + Ctx.Destination,
    // Keys whose presence means the line is a wrapper of rows: the careful path unwraps it.
    records: WRAPPER, tables: WRAPPER,
  },
  [Ctx.Source]: { ipaddress: Field.SourceIp, resourceid: Field.SourceResource },
  [Ctx.Destination]: { fullyqualifieddomainname: Field.DestFqdnLong, resourceid: Field.DestResource },
  [Ctx.Matched]: { accessrule: Field.MatchedRule },
};

/** The scanner's exports (the module also holds the fold: src/analyze/fold-engine.ts loads it). */
export interface ScanExports {
  memory: WebAssembly.Memory;
  setup(cap: number): number;
  resultsKinds(): number; resultsStarts(): number; resultsEnds(): number; resultsKeys(): number;
  keyScratch(): number;
  addKey(ctx: number, length: number, target: number): void;
  scratch(n: number): number;
  memoryGrew(): number;
  internedCount(): number;
  scan(start: number, end: number): number;
}

/** Size of the input region: file blocks small enough to stay in a core's L2 cache until scanned. */
export const INPUT_BYTES = 1 << 20;

/** Bytes readable past any line the scanner is given (its 16-byte loads). */
const SLACK = 64;

/**
 * One scanner instance: its own memory, holding an input region to read file blocks into, the
 * results of the last scan and the interned texts. Results are absolute addresses in `bytes`.
 */
export class LineScanner {
  readonly #x: ScanExports;
  #buffer!: ArrayBuffer;
  /** All of the scanner's memory. */
  bytes!: Uint8Array;
  /** Per field of the last scan: ValueKind, [start, end) of the value, interned text id. */
  kind!: Uint8Array;
  start!: Int32Array;
  end!: Int32Array;
  key!: Int32Array;
  readonly inputAt: number;
  readonly inputCap: number;

  /** `exports`: a fresh instance of the module (see src/analyze/fold-engine.ts). */
  constructor(exports: ScanExports, inputCap = INPUT_BYTES) {
    this.#x = exports;
    this.inputCap = inputCap;
    this.inputAt = this.#x.setup(inputCap);
    this.#refresh();
    for (const [ctx, keys] of Object.entries(KEYS)) {
      for (const [key, target] of Object.entries(keys)) {
        this.bytes.set(Buffer.from(key, 'latin1'), this.#x.keyScratch());
        this.#x.addKey(Number(ctx), key.length, target);
      }
    }
  }

  #refresh(): void {
    const x = this.#x;
    this.#buffer = x.memory.buffer as ArrayBuffer;
    this.bytes = new Uint8Array(this.#buffer);
    this.kind = new Uint8Array(this.#buffer, x.resultsKinds(), FIELD_COUNT);
    this.start = new Int32Array(this.#buffer, x.resultsStarts(), FIELD_COUNT);
    this.end = new Int32Array(this.#buffer, x.resultsEnds(), FIELD_COUNT);
    this.key = new Int32Array(this.#buffer, x.resultsKeys(), FIELD_COUNT);
  }

  /** The scanner's memory buffer (replaced when the memory grows, which detaches older views). */
  get buffer(): ArrayBuffer { return this.#buffer; }

  /** A Buffer over `length` bytes of the input region, to read file blocks into and scan in place. */
  input(length = this.inputCap): Buffer {
    return Buffer.from(this.#buffer, this.inputAt, length);
  }

  /** Copies a line held elsewhere into the scanner's memory. @returns its address */
  place(buf: Uint8Array, start: number, end: number): number {
    const at = this.#x.scratch(end - start + SLACK);
    if (this.#x.memoryGrew()) this.#refresh();
    this.bytes.set(buf.subarray(start, end), at);
    return at;
  }

  /**
   * Scans the line at `[start, end)` of `bytes` (in the input region or placed). @returns true
   * with the results filled in when the fast path applies, false for the careful path
   */
  scan(start: number, end: number): boolean {
    const result = this.#x.scan(start, end);
    if (result & 2) this.#refresh(); // the memory grew: views made before it are detached
    return (result & 1) === 1;
  }

  /** Distinct texts interned so far: ids run from 0 in order of first sight. */
  get internedCount(): number { return this.#x.internedCount(); }
}
