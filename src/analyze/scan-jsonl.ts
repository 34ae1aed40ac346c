// Analyze stage, hot path: folds JSON lines straight into a FlowTable. Runs of whole lines in the
// fold engine's memory are folded in WebAssembly (foldRun; see fold-engine.ts), this side giving it
// the canonical form of each text the first time it meets one; the lines it hands back, and lines
// streamed from elsewhere, go through the byte scanner (src/ingest/jsonl-scanner.ts) and a
// normalizer working on interned ids (the JavaScript fast path); a line neither can vouch for takes
// the careful path (JSON.parse → rowsOfValue → normalizeRow), which also produces every issue, so
// all paths give the same flows and the same issues.

import { lookupCategory, categories } from '../model/category.js';
import type { IssueCode } from '../model/issue.js';
import { formatAddress, parseIPv4Bytes, parseLoggedIp } from '../model/ip.js';
import { rowsOfValue } from '../ingest/jsonl.js';
import { Field, ValueKind, type LineScanner } from '../ingest/jsonl-scanner.js';
import { EARLIEST_LOG_TIME, LATEST_LOG_TIME, canonicalFqdn, canonicalPerimeterId, canonicalResourceId, normalizeRow, parseLogTime } from '../ingest/normalize.js';
import { FlowTable } from './flow-table.js';
import { CANON_ROLES, FoldEngine, FoldStop, INBOUND, Role, tooManyFlows } from './fold-engine.js';
import { DAY_MS } from '../model/flow-summary.js';

/** Counts of one scanned range, in the shape of SourceAccount's numbers. */
export interface ScanCounts {
  rowsRead: number;
  rowsUsed: number;
  skipped: Partial<Record<IssueCode, number>>;
  hitsRead: number;
  hitsUsed: number;
  /** Lines that took the careful path (for the benchmark's curiosity). */
  carefulLines: number;
}

export function emptyCounts(): ScanCounts {
  return { rowsRead: 0, rowsUsed: 0, skipped: {}, hitsRead: 0, hitsUsed: 0, carefulLines: 0 };
}

export interface LineIssue { code: IssueCode; line: number; message: string }

const INVALID = -1;

const UNKNOWN = -2;

/** A map from interned id to a number, as a typed array (ids are dense), UNKNOWN when not set. */
class IdMap {
  values = new Int32Array(1024).fill(UNKNOWN);
  get(id: number): number { return id < this.values.length ? this.values[id]! : UNKNOWN; }
  set(id: number, value: number): void {
    if (id >= this.values.length) {
      const grown = new Int32Array(Math.max(id + 1, this.values.length * 2)).fill(UNKNOWN);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[id] = value;
  }
}

/**
 * What folding lines into one flow table keeps between files and ranges: the fold engine (its
 * text ids are the table's to map) and every canonical form by interned id. Made on first use; a
 * worker folds all its tasks into one table, so it is made once per worker.
 */
interface FoldState {
  engine: FoldEngine;
  /** Scanner text id → raw interned id. */
  rawOfKey: IdMap;
  /** Raw id → category index, or INVALID. */
  categoryOf: IdMap;
  perimeterOf: IdMap; lowerOf: IdMap; resourceOf: IdMap; fqdnOf: IdMap;
}
const foldStates = new WeakMap<FlowTable, FoldState>();
function foldStateFor(table: FlowTable, renew = false): FoldState {
  let s = foldStates.get(table);
  if (!s || renew) {
    s = { engine: engineOfThread(), rawOfKey: new IdMap(), categoryOf: new IdMap(), perimeterOf: new IdMap(), lowerOf: new IdMap(), resourceOf: new IdMap(), fqdnOf: new IdMap() };
    foldStates.set(table, s);
  }
  return s;
}

/**
 * The fold engine of this thread, shared by the tables folded here (one at a time is bound to it:
 * see FoldEngine.bind). A new one is made once it is used up (many texts, a full heap); tables
 * folded with the old one keep it until they move on themselves (renewIfUsedUp).
 */
let engine: FoldEngine | undefined;
function engineOfThread(): FoldEngine {
  if (!engine?.usable) engine = new FoldEngine();
  return engine;
}

/** A WebAssembly trap (its heap ran out) as the NspError it means; other errors as they are. */
function engineError(error: unknown, flows: number): unknown {
  return (error as Error)?.constructor?.name === 'RuntimeError' ? tooManyFlows(flows, error) : error;
}

/** Normalizes scanned fields into FlowTable rows; caches every canonical form by interned id. */
export class JsonlFolder {
  readonly table: FlowTable;
  readonly counts: ScanCounts = emptyCounts();
  /** The byte scanner: lines are scanned in its memory (file blocks are read straight into it). */
  scanner: LineScanner;
  #state: FoldState;
  readonly #decoder = new TextDecoder();
  readonly #onIssue: (issue: LineIssue) => void;

  constructor(table: FlowTable, onIssue: (issue: LineIssue) => void) {
    this.table = table;
    this.#onIssue = onIssue;
    this.#state = foldStateFor(table);
    this.scanner = this.#state.engine.scanner;
  }

  /**
   * Moves the table to a fresh engine when this one is used up (its texts or heap): call between
   * blocks, never while a block is in the old engine's memory. The table's flows are copied out
   * and in; the canonical forms are learned again.
   */
  renewIfUsedUp(): void {
    if (this.#state.engine.usable) return;
    this.table.unbindStorage();
    this.#state = foldStateFor(this.table, true);
    this.scanner = this.#state.engine.scanner;
    this.#state.engine.bind(this.table);
    // A table whose own index fills an engine's heap gains nothing from another one.
    if (!this.#state.engine.usable) throw tooManyFlows(this.table.flowCount);
  }

  // Where the last foldRun() stopped: the position in the scanner's memory, the end of the line
  // it hands back (FoldStop.Line), and the lines it folded.
  runStop = 0;
  runLineEnd = 0;
  runLines = 0;
  #placed = 0;

  /**
   * Folds the lines in the scanner's memory that start in [pos, end) and end before `end`, in
   * WebAssembly, up to the first that starts at or after `limit`, is longer than `maxLine` or is
   * this side's to fold (FoldStop.Line: [runStop, runLineEnd), to give to addLine()). What the
   * module asks for on the way (a canonical form, room for a flow) is given here and it goes on.
   */
  foldRun(pos: number, end: number, limit: number, maxLine: number): FoldStop {
    const engine = this.#state.engine;
    const x = engine.x;
    const table = this.table;
    const counts = this.counts;
    engine.bind(table);
    let lines = 0;
    for (;;) {
      engine.sync(table);
      let stop: FoldStop;
      try {
        stop = x.foldLines(pos, end, limit, maxLine);
      } catch (error) {
        throw engineError(error, table.flowCount);
      }
      table.setFlowCount(x.flowCount());
      const done = x.linesDone();
      const hits = x.hitsDone();
      lines += done;
      counts.rowsRead += done; counts.rowsUsed += done;
      counts.hitsRead += hits; counts.hitsUsed += hits;
      engine.flushLog(table);
      pos = x.stopAt();
      if (stop === FoldStop.Need) {
        try {
          this.#giveCanonical();
        } catch (error) {
          throw engineError(error, table.flowCount);
        }
        continue;
      }
      if (stop === FoldStop.Room) {
        try {
          table.makeRoom();
        } catch (error) {
          throw engineError(error, table.flowCount);
        }
        engine.roomForParts(table);
        continue;
      }
      this.runStop = pos;
      this.runLineEnd = x.stopEnd();
      this.runLines = lines;
      return stop;
    }
  }

  /** Gives the module the canonical form it stopped for (the line's scan results are current). */
  #giveCanonical(): void {
    const engine = this.#state.engine;
    const x = engine.x;
    const role = x.needRole() as Role;
    if (role === Role.Pair) {
      x.setPair(x.needA(), x.needB(), Math.floor(this.table.group(x.needA(), x.needB(), 0) / 64));
      return;
    }
    const f = x.needField() as Field;
    const raw = this.#text(f);
    let value: number;
    switch (role) {
      case Role.Category: {
        const index = this.#category(raw);
        value = index < 0 ? INVALID : index | (categories[index]!.direction === 'Inbound' ? INBOUND : 0);
        break;
      }
      case Role.Perimeter: value = this.#perimeter(raw); break;
      case Role.Lower: value = this.#lower(raw); break;
      case Role.Resource: value = this.#resource(raw); break;
      case Role.Fqdn: value = this.#fqdn(raw); break;
      case Role.Raw: value = raw; break;
      case Role.Rule: value = this.table.interner.strings[raw]!.startsWith('{') ? INVALID : raw; break;
      default: throw new Error(`fold engine asked for role ${role}`);
    }
    const key = this.scanner.key[f]!;
    engine.ensureCanon(key);
    engine.canon[key * CANON_ROLES + role] = value;
  }

  /** Category index of a raw id, or INVALID. */
  #category(raw: number): number {
    let index = this.#state.categoryOf.get(raw);
    if (index === UNKNOWN) {
      const info = lookupCategory(this.table.interner.strings[raw]!);
      index = info ? categories.indexOf(info) : INVALID;
      this.#state.categoryOf.set(raw, index);
    }
    return index;
  }

  /** Folds one line `buf[start, end)` (no newline) numbered `line`. */
  addLine(buf: Uint8Array, start: number, end: number, line: number): void {
    if (end > start && buf[end - 1] === 13) end--;
    if (line === 1 && end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    if (this.#isBlank(buf, start, end)) return;
    // Lines streamed past the engine (not in its memory) may move it on between any two lines.
    if (buf.buffer !== this.scanner.buffer && (++this.#placed & 4095) === 0) this.renewIfUsedUp();
    const sc = this.scanner;
    // Lines of blocks read into the scanner's input region are scanned in place; others copied in.
    let at: number;
    let scanned: boolean;
    try {
      at = buf.buffer === sc.buffer ? buf.byteOffset + start : sc.place(buf, start, end);
      scanned = sc.scan(at, at + end - start);
    } catch (error) {
      throw engineError(error, this.table.flowCount);
    }
    const atEnd = at + end - start;
    if (scanned && this.#fast()) return;
    // The scan may have grown the scanner's memory: read the line from its current bytes.
    this.#careful(sc.bytes, at, atEnd, line);
  }

  /** A line over the size cap: counted and reported, never buffered. */
  addTooLong(line: number, bytes: number): void {
    this.counts.rowsRead++;
    this.#skip('line-too-long', line, `Cannot read a line of ${bytes} bytes: over the line size cap`, 0);
  }

  /** Blank as String.prototype.trim() sees it (non-ASCII spaces included). */
  #isBlank(buf: Uint8Array, start: number, end: number): boolean {
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) continue;
      return c >= 0x80 ? this.#decoder.decode(buf.subarray(start, end)).trim() === '' : false;
    }
    return true;
  }

  #skip(code: IssueCode, line: number, message: string, hits: number): void {
    this.counts.skipped[code] = (this.counts.skipped[code] ?? 0) + 1;
    this.counts.hitsRead += hits;
    this.#onIssue({ code, line, message });
  }

  /** The careful path: exactly what src/ingest/jsonl.ts + normalizeRow do. */
  #careful(buf: Uint8Array, start: number, end: number, line: number): void {
    this.counts.carefulLines++;
    const text = this.#decoder.decode(buf.subarray(start, end));
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.counts.rowsRead++;
      this.#skip('invalid-json', line, `Cannot parse JSON: ${(error as Error).message}`, 0);
      return;
    }
    for (const event of rowsOfValue(value, line)) {
      this.counts.rowsRead++;
      if (event.kind !== 'row') { this.#skip(event.code, line, event.message, 0); continue; }
      const result = normalizeRow(event.row);
      if (!result.ok) { this.#skip(result.code, line, result.message, result.hits); continue; }
      this.counts.rowsUsed++;
      this.counts.hitsRead += result.record.count;
      this.counts.hitsUsed += result.record.count;
      this.table.addRecord(result.record);
    }
  }

  /** Raw interned id of a text field: -1 when absent or empty; NaN when it needs the careful path. */
  #text(f: Field): number {
    const sc = this.scanner;
    if (sc.kind[f] !== ValueKind.String) return -1;
    const s = sc.start[f]!;
    const e = sc.end[f]!;
    if (s === e) return -1;
    const bytes = sc.bytes;
    // Padded values are trimmed by the careful path; leave them to it.
    if (bytes[s]! <= 0x20 || bytes[e - 1]! <= 0x20) return NaN;
    // The scanner does not intern the caller IP (dotted quads are read from bytes): decode it.
    if (f === Field.SourceIp) return this.table.interner.id(this.#decoder.decode(bytes.subarray(s, e)));
    const key = sc.key[f]!;
    let raw = this.#state.rawOfKey.get(key);
    if (raw === UNKNOWN) {
      raw = this.table.interner.id(this.#decoder.decode(bytes.subarray(s, e)));
      this.#state.rawOfKey.set(key, raw);
    }
    return raw;
  }

  /**
   * Interned canonical form of a raw value (`canonicalize` returns '' when there is none: then
   * INVALID), cached by raw id. `canonicalize` is a module function: nothing is allocated per call.
   */
  #canonical(cache: IdMap, raw: number, canonicalize: (text: string) => string): number {
    let v = cache.get(raw);
    if (v === UNKNOWN) {
      const c = canonicalize(this.table.interner.strings[raw]!);
      v = c === '' ? INVALID : this.table.interner.id(c);
      cache.set(raw, v);
    }
    return v;
  }

  #perimeter(raw: number): number { return this.#canonical(this.#state.perimeterOf, raw, canonicalPerimeterId); }
  #lower(raw: number): number { return this.#canonical(this.#state.lowerOf, raw, toLowerCase); }
  #resource(raw: number): number { return this.#canonical(this.#state.resourceOf, raw, canonicalResourceId); }
  #fqdn(raw: number): number { return this.#canonical(this.#state.fqdnOf, raw, canonicalFqdn); }

  /** The fast path. @returns false to send the line the careful way (nothing added then) */
  #fast(): boolean {
    const sc = this.scanner;
    const buf = sc.bytes;
    const interner = this.table.interner;
    // count (missing = 1)
    let count = 1;
    const ck = sc.kind[Field.Count];
    if (ck === ValueKind.String || ck === ValueKind.Number) {
      const s = sc.start[Field.Count]!;
      const e = sc.end[Field.Count]!;
      if (e > s) {
        if (e - s > 15) return false;
        count = 0;
        for (let i = s; i < e; i++) {
          const c = buf[i]!;
          if (c < 0x30 || c > 0x39) return false;
          count = count * 10 + (c - 0x30);
        }
      } else if (ck === ValueKind.Number) return false;
    }
    // category
    const catRaw = this.#text(Field.Category);
    if (!(catRaw >= 0)) return false;
    const categoryIndex = this.#category(catRaw);
    if (categoryIndex === INVALID) return false;
    const category = categories[categoryIndex]!;
    // time: TimeGenerated before time
    let timeField = Field.TimeGenerated;
    if (sc.kind[Field.TimeGenerated] !== ValueKind.String || sc.start[Field.TimeGenerated] === sc.end[Field.TimeGenerated]) timeField = Field.Time;
    if (sc.kind[timeField] !== ValueKind.String || sc.start[timeField] === sc.end[timeField]) return false;
    if (!this.#time(timeField)) return false;
    const day = this.#day;
    const msOfDay = this.#msOfDay;
    let endDay = day;
    let endMsOfDay = msOfDay;
    if (sc.kind[Field.EndTime] === ValueKind.String && sc.end[Field.EndTime]! > sc.start[Field.EndTime]!) {
      if (!this.#time(Field.EndTime)) return false;
      if (this.#day > day || (this.#day === day && this.#msOfDay > msOfDay)) { endDay = this.#day; endMsOfDay = this.#msOfDay; }
    }
    // perimeter: _ResourceId before resourceId
    let perRaw = this.#text(Field.PerimeterLA);
    if (Number.isNaN(perRaw)) return false;
    if (perRaw < 0) perRaw = this.#text(Field.Perimeter);
    if (!(perRaw >= 0)) return false;
    const perimeter = this.#perimeter(perRaw);
    if (perimeter === INVALID) return false;
    const profRaw = this.#text(Field.Profile);
    if (!(profRaw >= 0)) return false;
    const profile = this.#lower(profRaw);
    // source IP: dotted quads straight from bytes (no string per address); other shapes interned.
    // As a code: (ipHi, ipLo) = IPv4 (0, address) or text (1, interned id).
    let ipHi = -1;
    let ipLo = 0;
    if (sc.kind[Field.SourceIp] === ValueKind.String && sc.end[Field.SourceIp]! > sc.start[Field.SourceIp]!) {
      const v4 = parseIPv4Bytes(buf, sc.start[Field.SourceIp]!, sc.end[Field.SourceIp]!);
      if (v4 >= 0) { ipHi = PEER_IPV4; ipLo = v4 | 0; }
      else {
        const ipRaw = this.#text(Field.SourceIp);
        if (!(ipRaw >= 0)) return false;
        const ip = parseLoggedIp(interner.strings[ipRaw]!);
        if (!ip) return false;
        if (ip.version === 4) { ipHi = PEER_IPV4; ipLo = Number(ip.value) | 0; }
        else { ipHi = PEER_TEXT_IP; ipLo = interner.id(formatAddress(ip)); }
      }
    }
    let peerHi: number;
    let peerLo = 0;
    let callerHi = -1;
    if (category.direction === 'Inbound') {
      const srRaw = this.#text(Field.SourceResource);
      if (Number.isNaN(srRaw)) return false;
      const sr = srRaw >= 0 ? this.#resource(srRaw) : INVALID;
      if (sr >= 0) { peerHi = PEER_RESOURCE; peerLo = sr; callerHi = ipHi; }
      else if (ipHi >= 0) { peerHi = ipHi; peerLo = ipLo; }
      else peerHi = PEER_NONE;
    } else {
      let fqRaw = this.#text(Field.DestFqdn);
      if (Number.isNaN(fqRaw)) return false;
      if (fqRaw < 0) fqRaw = this.#text(Field.DestFqdnLong);
      if (Number.isNaN(fqRaw)) return false;
      if (fqRaw >= 0) {
        const fqdn = this.#fqdn(fqRaw);
        if (fqdn === INVALID) return false;
        peerHi = PEER_FQDN; peerLo = fqdn;
      } else {
        const drRaw = this.#text(Field.DestResource);
        if (Number.isNaN(drRaw)) return false;
        const dr = drRaw >= 0 ? this.#resource(drRaw) : INVALID;
        if (dr >= 0) { peerHi = PEER_RESOURCE; peerLo = dr; callerHi = ipHi; }
        else peerHi = PEER_NONE;
      }
    }
    const resRaw = this.#text(Field.Resource);
    const ruleRaw = this.#text(Field.MatchedRule);
    const opRaw = this.#text(Field.Operation);
    if (Number.isNaN(resRaw) || Number.isNaN(ruleRaw) || Number.isNaN(opRaw)) return false;
    const resource = resRaw >= 0 ? this.#resource(resRaw) : -1;
    if (ruleRaw >= 0 && interner.strings[ruleRaw]!.startsWith('{')) return false;

    this.table.addParts(this.table.group(perimeter, profile, categoryIndex), peerHi, peerLo, day, msOfDay, endDay, endMsOfDay, count,
      resource, ruleRaw, callerHi, callerHi >= 0 ? ipLo : 0, opRaw);
    this.counts.rowsRead++;
    this.counts.rowsUsed++;
    this.counts.hitsRead += count;
    this.counts.hitsUsed += count;
    return true;
  }

  // The last time read by #time(): a day number and milliseconds into that day.
  #day = 0;
  #msOfDay = 0;
  // The last calendar date converted, and its day number (most lines of a file share a few dates).
  #lastDate = -1;
  #lastDateDay = 0;
  /** Reads a time into #day and #msOfDay: ISO times straight from bytes, other shapes through parseLogTime. */
  #time(f: Field): boolean {
    const buf = this.scanner.bytes;
    const s = this.scanner.start[f]!;
    const e = this.scanner.end[f]!;
    const n = e - s;
    if (n >= 19 && buf[s + 4] === 0x2d && buf[s + 7] === 0x2d && buf[s + 10] === 0x54 && buf[s + 13] === 0x3a && buf[s + 16] === 0x3a) {
      const y = digits(buf, s, 4);
      const mo = digits(buf, s + 5, 2);
      const day = digits(buf, s + 8, 2);
      const h = digits(buf, s + 11, 2);
      const mi = digits(buf, s + 14, 2);
      const sec = digits(buf, s + 17, 2);
      let i = 19;
      let ms = 0;
      let ok = (y | mo | day | h | mi | sec) >= 0;
      if (ok && i < n && buf[s + i] === 0x2e) {
        i++;
        let count = 0;
        while (i < n && buf[s + i]! >= 0x30 && buf[s + i]! <= 0x39) { if (count < 3) ms = ms * 10 + (buf[s + i]! - 0x30); count++; i++; }
        if (count === 0 || count > 9) ok = false;
        for (let k = count; k < 3; k++) ms *= 10;
      }
      if (ok && i < n && buf[s + i] === 0x5a) i++;
      if (ok && i === n) {
        if (mo < 1 || mo > 12 || day < 1 || h > 23 || mi > 59 || sec > 59) return false;
        const date = y * 10000 + mo * 100 + day;
        if (date !== this.#lastDate) {
          if (day > 28 && day > daysInMonth(y, mo)) return false;
          // Date.UTC as the careful path calls it (years 0–99 are 1900–1999 there too).
          const dayNumber = Date.UTC(y, mo - 1, day) / DAY_MS;
          if (dayNumber < FIRST_LOG_DAY || dayNumber >= END_LOG_DAY) return false;
          this.#lastDate = date;
          this.#lastDateDay = dayNumber;
        }
        this.#day = this.#lastDateDay;
        this.#msOfDay = ((h * 60 + mi) * 60 + sec) * 1000 + ms;
        return true;
      }
    }
    if (buf[s]! <= 0x20 || buf[e - 1]! <= 0x20) return false;
    const t = parseLogTime(this.#decoder.decode(buf.subarray(s, e)));
    if (Number.isNaN(t)) return false;
    this.#day = Math.floor(t / DAY_MS);
    this.#msOfDay = t - this.#day * DAY_MS;
    return true;
  }
}

// Valid log times are whole days: [2000-01-01, 2100-01-01) as day numbers.
const FIRST_LOG_DAY = EARLIEST_LOG_TIME / DAY_MS;
const END_LOG_DAY = LATEST_LOG_TIME / DAY_MS;

// Peer kinds as the high word of a peer code (see flow-table.ts).
const PEER_IPV4 = 0;
const PEER_TEXT_IP = 1;
const PEER_RESOURCE = 2;
const PEER_FQDN = 4;
const PEER_NONE = 8;

const toLowerCase = (text: string): string => text.toLowerCase();

/** Days in a month of the proleptic Gregorian calendar (as Date.UTC counts them). */
function daysInMonth(y: number, mo: number): number {
  if (mo !== 2) return mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
  // Date.UTC maps years 0–99 to 1900–1999; the careful path inherits that, so must this.
  const year = y >= 0 && y <= 99 ? 1900 + y : y;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/** `count` decimal digits at `p` as a number, or -1 when one is not a digit. */
function digits(buf: Uint8Array, p: number, count: number): number {
  let v = 0;
  for (let i = 0; i < count; i++) {
    const c = buf[p + i]! - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}
