// Analyze stage, hot path: folds JSON lines straight into a FlowTable. Each line goes through the
// byte scanner (src/ingest/jsonl-scanner.ts) and a normalizer working on interned ids; a line the
// fast path cannot vouch for takes the careful path (JSON.parse → rowsOfValue → normalizeRow),
// which also produces every issue, so both paths give the same flows and the same issues.

import { lookupCategory, categories, type CategoryInfo } from '../model/category.js';
import type { IssueCode } from '../model/issue.js';
import { formatAddress, parseLoggedIp } from '../model/ip.js';
import { rowsOfValue } from '../ingest/jsonl.js';
import { Field, ScannedLine, ValueKind, scanLine } from '../ingest/jsonl-scanner.js';
import { EARLIEST_LOG_TIME, LATEST_LOG_TIME, canonicalFqdn, canonicalPerimeterId, canonicalResourceId, normalizeRow, parseLogTime } from '../ingest/normalize.js';
import { FlowTable, ipCode } from './flow-table.js';

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

/** Normalizes scanned fields into FlowTable rows; caches every canonical form by interned id. */
export class JsonlFolder {
  readonly table: FlowTable;
  readonly counts: ScanCounts = emptyCounts();
  readonly #scanned = new ScannedLine();
  readonly #decoder = new TextDecoder();
  readonly #categoryOf: (CategoryInfo & { index: number } | null | undefined)[] = [];
  readonly #perimeterOf: number[] = [];
  readonly #lowerOf: number[] = [];
  readonly #resourceOf: number[] = [];
  readonly #fqdnOf: number[] = [];
  readonly #onIssue: (issue: LineIssue) => void;

  constructor(table: FlowTable, onIssue: (issue: LineIssue) => void) {
    this.table = table;
    this.#onIssue = onIssue;
  }

  /** Folds one line `buf[start, end)` (no newline) numbered `line`. */
  addLine(buf: Uint8Array, start: number, end: number, line: number): void {
    if (end > start && buf[end - 1] === 13) end--;
    if (line === 1 && end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    if (this.#isBlank(buf, start, end)) return;
    if (!scanLine(buf, start, end, this.#scanned) || !this.#fast(buf)) this.#careful(buf, start, end, line);
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
  #text(buf: Uint8Array, f: Field): number {
    const kind = this.#scanned.kind[f];
    if (kind !== ValueKind.String) return -1;
    const s = this.#scanned.start[f]!;
    const e = this.#scanned.end[f]!;
    if (s === e) return -1;
    // Padded values are trimmed by the careful path; leave them to it.
    if (buf[s]! <= 0x20 || buf[e - 1]! <= 0x20) return NaN;
    return this.table.interner.idOfBytes(buf, s, e);
  }

  /**
   * Interned canonical form of a raw value (`canonicalize` returns '' when there is none: then
   * INVALID), cached by raw id. `canonicalize` is a module function: nothing is allocated per call.
   */
  #canonical(cache: number[], raw: number, canonicalize: (text: string) => string): number {
    let v = cache[raw];
    if (v === undefined) {
      const c = canonicalize(this.table.interner.strings[raw]!);
      v = cache[raw] = c === '' ? INVALID : this.table.interner.id(c);
    }
    return v;
  }

  #perimeter(raw: number): number { return this.#canonical(this.#perimeterOf, raw, canonicalPerimeterId); }
  #lower(raw: number): number { return this.#canonical(this.#lowerOf, raw, toLowerCase); }
  #resource(raw: number): number { return this.#canonical(this.#resourceOf, raw, canonicalResourceId); }
  #fqdn(raw: number): number { return this.#canonical(this.#fqdnOf, raw, canonicalFqdn); }

  /** The fast path. @returns false to send the line the careful way (nothing added then) */
  #fast(buf: Uint8Array): boolean {
    const sc = this.#scanned;
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
    const catRaw = this.#text(buf, Field.Category);
    if (!(catRaw >= 0)) return false;
    let category = this.#categoryOf[catRaw];
    if (category === undefined) {
      const info = lookupCategory(interner.strings[catRaw]!);
      category = info ? { ...info, index: categories.indexOf(info) } : null;
      this.#categoryOf[catRaw] = category;
    }
    if (category === null) return false;
    // time: TimeGenerated before time
    let timeField = Field.TimeGenerated;
    if (sc.kind[Field.TimeGenerated] !== ValueKind.String || sc.start[Field.TimeGenerated] === sc.end[Field.TimeGenerated]) timeField = Field.Time;
    if (sc.kind[timeField] !== ValueKind.String || sc.start[timeField] === sc.end[timeField]) return false;
    const time = this.#time(buf, timeField);
    if (Number.isNaN(time)) return false;
    let endTime = time;
    if (sc.kind[Field.EndTime] === ValueKind.String && sc.end[Field.EndTime]! > sc.start[Field.EndTime]!) {
      endTime = this.#time(buf, Field.EndTime);
      if (Number.isNaN(endTime)) return false;
      if (endTime < time) endTime = time;
    }
    // perimeter: _ResourceId before resourceId
    let perRaw = this.#text(buf, Field.PerimeterLA);
    if (Number.isNaN(perRaw)) return false;
    if (perRaw < 0) perRaw = this.#text(buf, Field.Perimeter);
    if (!(perRaw >= 0)) return false;
    const perimeter = this.#perimeter(perRaw);
    if (perimeter === INVALID) return false;
    const profRaw = this.#text(buf, Field.Profile);
    if (!(profRaw >= 0)) return false;
    const profile = this.#lower(profRaw);
    // source IP: dotted quads straight from bytes (no string per address); other shapes interned
    let v4 = -1;
    let ipText = '';
    let ipRaw = -1;
    if (sc.kind[Field.SourceIp] === ValueKind.String && sc.end[Field.SourceIp]! > sc.start[Field.SourceIp]!) {
      v4 = ipv4FromBytes(buf, sc.start[Field.SourceIp]!, sc.end[Field.SourceIp]!);
      ipRaw = 0;
      if (v4 < 0) {
        ipRaw = this.#text(buf, Field.SourceIp);
        if (!(ipRaw >= 0)) return false;
        const ip = parseLoggedIp(interner.strings[ipRaw]!);
        if (!ip) return false;
        if (ip.version === 4) v4 = Number(ip.value);
        else ipText = formatAddress(ip);
      }
    }
    const hasIp = ipRaw >= 0;
    let peer: number;
    let sourceIp = -1;
    if (category.direction === 'Inbound') {
      const srRaw = this.#text(buf, Field.SourceResource);
      if (Number.isNaN(srRaw)) return false;
      const sr = srRaw >= 0 ? this.#resource(srRaw) : INVALID;
      if (sr >= 0) {
        peer = FlowTable.peerResource(sr);
        if (hasIp) sourceIp = ipCode(interner, ipText, v4);
      } else if (hasIp) peer = v4 >= 0 ? FlowTable.peerIPv4(v4) : this.table.peerTextIp(ipText);
      else peer = FlowTable.peerNone;
    } else {
      let fqRaw = this.#text(buf, Field.DestFqdn);
      if (Number.isNaN(fqRaw)) return false;
      if (fqRaw < 0) fqRaw = this.#text(buf, Field.DestFqdnLong);
      if (Number.isNaN(fqRaw)) return false;
      if (fqRaw >= 0) {
        const fqdn = this.#fqdn(fqRaw);
        if (fqdn === INVALID) return false;
        peer = FlowTable.peerFqdn(fqdn);
      } else {
        const drRaw = this.#text(buf, Field.DestResource);
        if (Number.isNaN(drRaw)) return false;
        const dr = drRaw >= 0 ? this.#resource(drRaw) : INVALID;
        peer = dr >= 0 ? FlowTable.peerResource(dr) : FlowTable.peerNone;
        if (dr >= 0 && hasIp) sourceIp = ipCode(interner, ipText, v4);
      }
    }
    const resRaw = this.#text(buf, Field.Resource);
    const ruleRaw = this.#text(buf, Field.MatchedRule);
    const opRaw = this.#text(buf, Field.Operation);
    if (Number.isNaN(resRaw) || Number.isNaN(ruleRaw) || Number.isNaN(opRaw)) return false;
    const resource = resRaw >= 0 ? this.#resource(resRaw) : -1;
    if (ruleRaw >= 0 && interner.strings[ruleRaw]!.startsWith('{')) return false;

    this.table.add(this.table.group(perimeter, profile, category.index), peer, time, endTime, count, resource, ruleRaw, sourceIp, opRaw);
    this.counts.rowsRead++;
    this.counts.rowsUsed++;
    this.counts.hitsRead += count;
    this.counts.hitsUsed += count;
    return true;
  }

  /** ISO times straight from bytes; other shapes through parseLogTime. */
  #time(buf: Uint8Array, f: Field): number {
    const s = this.#scanned.start[f]!;
    const e = this.#scanned.end[f]!;
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
        if (mo < 1 || mo > 12 || day < 1 || h > 23 || mi > 59 || sec > 59) return NaN;
        if (day > 28 && day > daysInMonth(y, mo)) return NaN;
        const t = Date.UTC(y, mo - 1, day, h, mi, sec, ms);
        return t >= EARLIEST_LOG_TIME && t < LATEST_LOG_TIME ? t : NaN;
      }
    }
    if (buf[s]! <= 0x20 || buf[e - 1]! <= 0x20) return NaN;
    return parseLogTime(this.#decoder.decode(buf.subarray(s, e)));
  }
}

const toLowerCase = (text: string): string => text.toLowerCase();

/** Days in a month of the proleptic Gregorian calendar (as Date.UTC counts them). */
function daysInMonth(y: number, mo: number): number {
  if (mo !== 2) return mo === 4 || mo === 6 || mo === 9 || mo === 11 ? 30 : 31;
  // Date.UTC maps years 0–99 to 1900–1999; the careful path inherits that, so must this.
  const year = y >= 0 && y <= 99 ? 1900 + y : y;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/** A strict dotted quad (as parseIPv4) from bytes, or -1. */
function ipv4FromBytes(buf: Uint8Array, s: number, e: number): number {
  const n = e - s;
  if (n < 7 || n > 15) return -1;
  let acc = 0;
  let part = 0;
  let count = 0;
  let dots = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c >= 0x30 && c <= 0x39) {
      if (count > 0 && part === 0) return -1;
      part = part * 10 + (c - 0x30);
      if (part > 255) return -1;
      count++;
    } else if (c === 0x2e) {
      if (count === 0 || ++dots > 3) return -1;
      acc = acc * 256 + part;
      part = 0;
      count = 0;
    } else return -1;
  }
  return dots === 3 && count > 0 ? acc * 256 + part : -1;
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
