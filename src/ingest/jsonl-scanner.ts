// Ingest stage, hot path: a selective byte-level scanner for one JSON line. It finds the byte
// ranges of the fields the flow summary needs (nsp-reference.md §3.4, both key casings, raw and
// Log Analytics spellings) without building objects or decoding strings. Anything unusual — an
// escape in a needed string, a duplicated field, a non-string where text is expected, a JSON
// wrapper, broken JSON — makes it give up, and the caller takes the careful path (JSON.parse +
// normalizeRow), so results and issues are exactly the careful path's.

/** Fields the summary needs, in the order their ranges are stored. */
export const enum Field {
  Time, TimeGenerated, EndTime, Count, Perimeter, PerimeterLA, Category, Operation, Profile, Resource,
  MatchedRule, SourceIp, SourceResource, DestFqdn, DestFqdnLong, DestResource,
}
export const FIELD_COUNT = 16;

/** How a field's value was written. */
export const enum ValueKind { Absent = 0, String = 1, Number = 2, Null = 3 }

/** Scan result: per field, kind and [start, end) of the value (string contents without quotes). */
export class ScannedLine {
  readonly kind = new Uint8Array(FIELD_COUNT);
  readonly start = new Int32Array(FIELD_COUNT);
  readonly end = new Int32Array(FIELD_COUNT);
  reset(): void {
    this.kind.fill(0);
  }
}

const enum Ctx { Flat, Source, Destination, Matched }

// Key bytes (lower case) → field or context, per context.
type KeyTarget = { field: Field } | { ctx: Ctx } | { matched: true };
const FLAT_KEYS: Record<string, KeyTarget> = {
  time: { field: Field.Time }, timegenerated: { field: Field.TimeGenerated }, timegeneratedendtime: { field: Field.EndTime },
  count: { field: Field.Count }, resourceid: { field: Field.Perimeter }, _resourceid: { field: Field.PerimeterLA },
  category: { field: Field.Category }, operationname: { field: Field.Operation }, profile: { field: Field.Profile },
  serviceresourceid: { field: Field.Resource }, matchedrule: { matched: true }, sourceipaddress: { field: Field.SourceIp },
  sourceresourceid: { field: Field.SourceResource }, destinationfqdn: { field: Field.DestFqdn },
  destinationfullyqualifieddomainname: { field: Field.DestFqdnLong }, destinationresourceid: { field: Field.DestResource },
  properties: { ctx: Ctx.Flat }, source: { ctx: Ctx.Source }, destination: { ctx: Ctx.Destination },
};
const SOURCE_KEYS: Record<string, KeyTarget> = { ipaddress: { field: Field.SourceIp }, resourceid: { field: Field.SourceResource } };
const DEST_KEYS: Record<string, KeyTarget> = { fullyqualifieddomainname: { field: Field.DestFqdnLong }, resourceid: { field: Field.DestResource } };
const MATCHED_KEYS: Record<string, KeyTarget> = { accessrule: { field: Field.MatchedRule } };
// Keys whose presence means the line is a wrapper of rows: the careful path unwraps it.
const WRAPPER_KEYS = new Set(['records', 'tables']);

interface KeyEntry { bytes: Uint8Array; target: KeyTarget | null; bit: number }
interface KeyTable { byLength: (KeyEntry[] | undefined)[] }
function keyTable(keys: Record<string, KeyTarget>, extra: Iterable<string> = []): KeyTable {
  const byLength: (KeyEntry[] | undefined)[] = [];
  let next = 0;
  const add = (k: string, target: KeyTarget | null): void => {
    const list = byLength[k.length] ?? [];
    list.push({ bytes: Buffer.from(k, 'latin1'), target, bit: 1 << next++ });
    byLength[k.length] = list;
  };
  for (const [k, t] of Object.entries(keys)) add(k, t);
  for (const k of extra) add(k, null);
  return { byLength };
}
const TABLES: Record<Ctx, KeyTable> = {
  [Ctx.Flat]: keyTable(FLAT_KEYS, WRAPPER_KEYS),
  [Ctx.Source]: keyTable(SOURCE_KEYS),
  [Ctx.Destination]: keyTable(DEST_KEYS),
  [Ctx.Matched]: keyTable(MATCHED_KEYS),
};

const GIVE_UP = -1;
const MAX_DEPTH = 64;

/**
 * Scans one line `buf[start, end)`. @returns true with `out` filled when the fast path applies,
 * false when the caller must take the careful path
 */
export function scanLine(buf: Uint8Array, start: number, end: number, out: ScannedLine): boolean {
  out.reset();
  // One state object for every line: the hot path allocates nothing per line.
  const state = sharedState;
  state.buf = buf; state.end = end; state.out = out; state.sawRaw = 0;
  let p = skipWs(buf, start, end);
  if (p >= end || buf[p] !== 0x7b) return false; // not an object: arrays and wrappers go the careful way
  p = scanObject(state, p, Ctx.Flat, 0);
  if (p === GIVE_UP) return false;
  p = skipWs(buf, p, end);
  return p === end;
}

interface ScanState { buf: Uint8Array; end: number; out: ScannedLine; sawRaw: number }
const sharedState: ScanState = { buf: new Uint8Array(0), end: 0, out: new ScannedLine(), sawRaw: 0 };

function skipWs(buf: Uint8Array, p: number, end: number): number {
  while (p < end) {
    const c = buf[p]!;
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
    p++;
  }
  return p;
}

/** Finds the closing quote of a string starting at `p` (after the opening quote). */
function stringEnd(buf: Uint8Array, p: number, end: number, escaped: { value: boolean }): number {
  escaped.value = false;
  while (p < end) {
    const c = buf[p]!;
    if (c === 0x22) return p;
    if (c === 0x5c) { escaped.value = true; p += 2; continue; }
    if (c < 0x20) return GIVE_UP; // control characters are not valid JSON inside strings
    p++;
  }
  return GIVE_UP;
}

function lookupKey(table: KeyTable, buf: Uint8Array, s: number, e: number): KeyEntry | undefined {
  const list = table.byLength[e - s];
  if (list === undefined) return undefined;
  outer: for (const entry of list) {
    const k = entry.bytes;
    for (let i = 0; i < k.length; i++) {
      let c = buf[s + i]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== k[i]) continue outer;
    }
    return entry;
  }
  return undefined;
}

const escapedFlag = { value: false };

function scanObject(st: ScanState, p: number, ctx: Ctx, depth: number): number {
  if (depth > MAX_DEPTH) return GIVE_UP;
  const { buf, end, out } = st;
  p = skipWs(buf, p + 1, end);
  if (p < end && buf[p] === 0x7d) return p + 1;
  // Keys of interest seen in this object: JSON.parse keeps the last of duplicated keys, the
  // careful path's flattening the first of differently-cased ones; rather than mimic both, give up.
  let seen = 0;
  for (;;) {
    if (p >= end || buf[p] !== 0x22) return GIVE_UP;
    const ks = p + 1;
    const ke = stringEnd(buf, ks, end, escapedFlag);
    if (ke === GIVE_UP || escapedFlag.value) return GIVE_UP; // an escaped key may spell a field name
    p = skipWs(buf, ke + 1, end);
    if (p >= end || buf[p] !== 0x3a) return GIVE_UP;
    p = skipWs(buf, p + 1, end);
    if (p >= end) return GIVE_UP;
    const entry = lookupKey(TABLES[ctx], buf, ks, ke);
    if (entry) {
      if (entry.target === null || (seen & entry.bit)) return GIVE_UP; // a wrapper key, or a duplicate
      seen |= entry.bit;
    }
    const target = entry?.target;
    const c = buf[p]!;
    if (target && 'field' in target) {
      const f = target.field;
      if (out.kind[f] !== ValueKind.Absent) return GIVE_UP; // duplicated field: first/last-wins rules differ
      if (c === 0x22) {
        const e = stringEnd(buf, p + 1, end, escapedFlag);
        if (e === GIVE_UP || escapedFlag.value) return GIVE_UP;
        out.kind[f] = ValueKind.String; out.start[f] = p + 1; out.end[f] = e;
        p = e + 1;
      } else if (c === 0x6e) { // null
        if (!isLiteral(buf, p, end, 'null')) return GIVE_UP;
        out.kind[f] = ValueKind.Null; p += 4;
      } else if (f === Field.Count && (c === 0x2d || (c >= 0x30 && c <= 0x39))) {
        const e = numberEnd(buf, p, end);
        if (e === GIVE_UP) return GIVE_UP;
        out.kind[f] = ValueKind.Number; out.start[f] = p; out.end[f] = e;
        p = e;
      } else {
        return GIVE_UP; // a number, boolean or object where text is expected
      }
    } else if (target && 'ctx' in target) {
      if (c === 0x7b) {
        p = scanObject(st, p, target.ctx, depth + 1);
        if (p === GIVE_UP) return GIVE_UP;
      } else if (c === 0x22) {
        // JSON text holding an object is parsed by the careful path; other text is ignored there too.
        const e = stringEnd(buf, p + 1, end, escapedFlag);
        if (e === GIVE_UP) return GIVE_UP;
        const first = skipWs(buf, p + 1, e);
        if (first < e && buf[first] === 0x7b) return GIVE_UP;
        p = e + 1;
      } else {
        p = skipValue(buf, p, end, depth + 1);
        if (p === GIVE_UP) return GIVE_UP;
      }
    } else if (target && 'matched' in target) {
      if (out.kind[Field.MatchedRule] !== ValueKind.Absent || (st.sawRaw & 1)) return GIVE_UP;
      st.sawRaw |= 1;
      if (c === 0x7b) {
        p = scanObject(st, p, Ctx.Matched, depth + 1);
        if (p === GIVE_UP) return GIVE_UP;
      } else if (c === 0x22) {
        const e = stringEnd(buf, p + 1, end, escapedFlag);
        if (e === GIVE_UP || escapedFlag.value) return GIVE_UP;
        const first = skipWs(buf, p + 1, e);
        if (first < e && buf[first] === 0x7b) return GIVE_UP; // JSON text: the careful path parses it
        out.kind[Field.MatchedRule] = ValueKind.String; out.start[Field.MatchedRule] = p + 1; out.end[Field.MatchedRule] = e;
        p = e + 1;
      } else {
        return GIVE_UP;
      }
    } else {
      p = skipValue(buf, p, end, depth + 1);
      if (p === GIVE_UP) return GIVE_UP;
    }
    p = skipWs(buf, p, end);
    if (p >= end) return GIVE_UP;
    if (buf[p] === 0x2c) { p = skipWs(buf, p + 1, end); continue; }
    if (buf[p] === 0x7d) return p + 1;
    return GIVE_UP;
  }
}

function isLiteral(buf: Uint8Array, p: number, end: number, word: string): boolean {
  if (p + word.length > end) return false;
  for (let i = 0; i < word.length; i++) if (buf[p + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** End of a JSON number at `p` (strict grammar), or GIVE_UP. */
function numberEnd(buf: Uint8Array, p: number, end: number): number {
  let i = p;
  if (buf[i] === 0x2d) i++;
  if (i >= end) return GIVE_UP;
  if (buf[i] === 0x30) i++;
  else if (buf[i]! >= 0x31 && buf[i]! <= 0x39) { while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++; }
  else return GIVE_UP;
  if (i < end && buf[i] === 0x2e) {
    i++;
    const d = i;
    while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
    if (i === d) return GIVE_UP;
  }
  if (i < end && (buf[i] === 0x65 || buf[i] === 0x45)) {
    i++;
    if (i < end && (buf[i] === 0x2b || buf[i] === 0x2d)) i++;
    const d = i;
    while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
    if (i === d) return GIVE_UP;
  }
  return i;
}

/** Skips any JSON value at `p`, validating its structure. */
function skipValue(buf: Uint8Array, p: number, end: number, depth: number): number {
  if (depth > MAX_DEPTH || p >= end) return GIVE_UP;
  const c = buf[p]!;
  if (c === 0x22) {
    const e = stringEnd(buf, p + 1, end, escapedFlag);
    return e === GIVE_UP ? GIVE_UP : e + 1;
  }
  if (c === 0x7b || c === 0x5b) {
    const close = c === 0x7b ? 0x7d : 0x5d;
    p = skipWs(buf, p + 1, end);
    if (p < end && buf[p] === close) return p + 1;
    for (;;) {
      if (c === 0x7b) {
        if (p >= end || buf[p] !== 0x22) return GIVE_UP;
        const e = stringEnd(buf, p + 1, end, escapedFlag);
        if (e === GIVE_UP) return GIVE_UP;
        p = skipWs(buf, e + 1, end);
        if (p >= end || buf[p] !== 0x3a) return GIVE_UP;
        p = skipWs(buf, p + 1, end);
      }
      p = skipValue(buf, p, end, depth + 1);
      if (p === GIVE_UP) return GIVE_UP;
      p = skipWs(buf, p, end);
      if (p >= end) return GIVE_UP;
      if (buf[p] === 0x2c) { p = skipWs(buf, p + 1, end); continue; }
      if (buf[p] === close) return p + 1;
      return GIVE_UP;
    }
  }
  if (c === 0x74) return isLiteral(buf, p, end, 'true') ? p + 4 : GIVE_UP;
  if (c === 0x66) return isLiteral(buf, p, end, 'false') ? p + 5 : GIVE_UP;
  if (c === 0x6e) return isLiteral(buf, p, end, 'null') ? p + 4 : GIVE_UP;
  return numberEnd(buf, p, end);
}
