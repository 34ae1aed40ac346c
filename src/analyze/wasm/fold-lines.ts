// Analyze stage, hot path (AssemblyScript, compiled to WebAssembly by `npm run build:wasm` together
// with the byte scanner it imports): folds runs of JSON lines straight into a flow table kept in
// this module's memory. For each line it runs the scanner, normalizes the fields through tables of
// canonical forms per scanned text (filled by the JavaScript side the first time a text is seen),
// finds the flow through the table's open-addressing index and updates its 64-byte record. What
// it does not do itself it hands back, and never half done: a line it cannot vouch for (any shape
// but the common one) goes to the JavaScript fold (src/analyze/scan-jsonl.ts), which gives the
// same result; the values of a row a record cannot hold (a second day, resource, rule or operation)
// are summed in a parts pool, and caller IPs logged, for the JavaScript side to add to the flow's
// extras. The record layout, the hash and the index are flow-table.ts's, which reads and writes the
// same memory.

import { alloc, ends, keyIds, kinds, scanLine, starts } from '../../ingest/wasm/jsonl-scan';
import { F_FIRST, F_HITS, F_LAST, F_RULE0_HITS, I_DAY0, I_EXTRA, I_GROUP, I_HI, I_LO, I_OP0, I_RES0, I_RULE0, PART_DAY, PART_ENTRY, PART_OPERATION, PART_RESOURCE, PART_RULE, PART_VALUES, PEER_FQDN, PEER_IPV4, PEER_NONE, PEER_RESOURCE, RECORD, RULES_BIT } from './record-layout';
export { setup, resultsKinds, resultsStarts, resultsEnds, resultsKeys, keyScratch, addKey, scratch, memoryGrew, internedCount, scan, limitHeap, heapLimitAt, heapUsed, rewindHeap, alloc } from '../../ingest/wasm/jsonl-scan';
export { runScan, runExtraFlowsAt, runExtraFlowCount, runExtraPartsAt, runExtraPartCount, runColumnTable, runExport, runColumnsAt } from './sorted-run';
export { mergeSetup, mergeRunTable, mergePlan, mergeUsedAt, mergeBatch, mergeEncodingSetup, mergeEncode } from './merge-runs';

// Fields, as Field in src/ingest/jsonl-scanner.ts.
const F_TIME: i32 = 0;
const F_TIME_GENERATED: i32 = 1;
const F_END_TIME: i32 = 2;
const F_COUNT: i32 = 3;
const F_PERIMETER: i32 = 4;
const F_PERIMETER_LA: i32 = 5;
const F_CATEGORY: i32 = 6;
const F_OPERATION: i32 = 7;
const F_PROFILE: i32 = 8;
const F_RESOURCE: i32 = 9;
const F_RULE: i32 = 10;
const F_SOURCE_IP: i32 = 11;
const F_SOURCE_RESOURCE: i32 = 12;
const F_FQDN: i32 = 13;
const F_FQDN_LONG: i32 = 14;
const F_DEST_RESOURCE: i32 = 15;

const STRING: u8 = 1;
const NUMBER: u8 = 2;

// Canonical forms of a scanned text (by its interned key), one i32 per role, ROLES per text.
// Values are the flow table's interned ids; the category role holds its index, plus INBOUND.
const ROLES: i32 = 8;
const ROLE_CATEGORY: i32 = 0;
const ROLE_PERIMETER: i32 = 1;
const ROLE_LOWER: i32 = 2;
const ROLE_RESOURCE: i32 = 3;
const ROLE_FQDN: i32 = 4;
const ROLE_RAW: i32 = 5;
const ROLE_RULE: i32 = 6;
const INBOUND: i32 = 0x100;
const INVALID: i32 = -1;
const UNKNOWN: i32 = -2;
// The pair (perimeter, profile) of needRole: its id is missing from the pair table.
const ROLE_PAIR: i32 = 99;

// What foldLines() stops for (as FoldStop in src/analyze/scan-jsonl.ts).
const END: i32 = 0; // no whole line before `end`: stopAt() is where the rest starts
const LIMIT: i32 = 1; // the next line, at stopAt(), starts at or after `limit`
const LINE: i32 = 2; // the line [stopAt(), stopEnd()) is the JavaScript side's to fold
const NEED: i32 = 3; // a canonical form is missing (needField(), needRole()): the line is retried
const ROOM: i32 = 4; // the table needs room for a flow, or the log or the parts pool is full: the line is retried

const DAY_MS: f64 = 86_400_000;

// The caller-IP log's entries: flow, caller IP (hi, lo), pad.
const LOG_ENTRY: i32 = 16;

// A line adds at most this many parts: foldLines() stops for room before the pool could overflow.
const PARTS_PER_LINE: i32 = 4;
let pool: usize = 0;
let poolCap: i32 = 0;
let partsCount: i32 = 0;
let buckets: usize = 0;
let bucketMask: i32 = 0;

let canon: usize = 0;
let canonCap: i32 = 0;
let pairs: usize = 0; // entries of (perimeter, profile, pair + 1, pad)
let pairMask: i32 = 0;
let pairCount: i32 = 0;
let records: usize = 0;
let capacity: i32 = 0;
let count: i32 = 0;
let slots: usize = 0;
let slotsMask: i32 = 0;
let log: usize = 0;
let logCap: i32 = 0;
let logCount: i32 = 0;

let stop: usize = 0;
let stopLineEnd: usize = 0;
let done: i32 = 0;
let hitsFolded: f64 = 0;
let missingField: i32 = 0;
let missingRole: i32 = 0;
let missingA: i32 = 0;
let missingB: i32 = 0;

/**
 * Sets up the fold's regions: the parts pool in [poolAt, recordsAt), flow records from
 * `recordsAt` up (the heap must stay below poolAt), a caller-IP log of `entries` entries. Call after setup().
 */
export function foldSetup(poolAt: usize, recordsAt: usize, entries: i32): void {
  records = recordsAt;
  pool = poolAt;
  poolCap = <i32>((recordsAt - poolAt) / <usize>PART_ENTRY);
  logCap = entries;
  log = alloc(entries * LOG_ENTRY);
  logCount = 0;
  canonCap = 0;
  growCanon(1 << 12);
  pairMask = (1 << 8) - 1;
  pairs = alloc((pairMask + 1) * 16);
  memory.fill(pairs, 0, (pairMask + 1) * 16);
  pairCount = 0;
  bucketMask = (1 << 12) - 1;
  buckets = alloc((bucketMask + 1) * 4);
  memory.fill(buckets, 0, (bucketMask + 1) * 4);
  partsCount = 0;
  prepared = alloc(BATCH * PREP);
  partQueue = alloc(BATCH * PARTS_PER_LINE * 16);
}

export function partsAt(): usize { return pool; }
export function partsUsed(): i32 { return partsCount; }
/** Empties the parts table (the JavaScript side took them into the flows' extras). */
export function clearParts(): void {
  memory.fill(buckets, 0, (bucketMask + 1) * 4);
  partsCount = 0;
}

@inline function partHash(f: i32, tag: i32): u32 {
  let h = (<u32>f * 0x9e3779b1) ^ (<u32>tag * 0x85ebca6b);
  h ^= h >> 15;
  h *= 0x2c1b3c6d;
  return h ^ (h >> 13);
}

/** Adds `hits` to the part (flow `f`, tag `kind << 29 | value`), made when new (foldLines() made room). */
function addPart(f: i32, tag: i32, hits: f64): void {
  const bucket = buckets + <usize>((<i32>partHash(f, tag) & bucketMask) * 4);
  for (let i = load<i32>(bucket); i != 0;) {
    const at = pool + <usize>((i - 1) * PART_ENTRY);
    if (load<i32>(at) == f + 1 && load<i32>(at, 4) == tag) {
      store<f64>(at, load<f64>(at, 16) + hits, 16);
      return;
    }
    i = load<i32>(at, 8);
  }
  const at = pool + <usize>(partsCount * PART_ENTRY);
  store<i32>(at, f + 1);
  store<i32>(at, tag, 4);
  store<i32>(at, load<i32>(bucket), 8);
  store<f64>(at, hits, 16);
  store<i32>(bucket, ++partsCount);
  if (partsCount > bucketMask + 1) growBuckets();
}

/** Twice the buckets, the pool's chains made again. */
function growBuckets(): void {
  const size = (bucketMask + 1) * 2;
  const grown = alloc(size * 4); // first: a full heap traps before anything changed
  bucketMask = size - 1;
  buckets = grown;
  memory.fill(buckets, 0, size * 4);
  for (let i = 1; i <= partsCount; i++) {
    const at = pool + <usize>((i - 1) * PART_ENTRY);
    const bucket = buckets + <usize>((<i32>partHash(load<i32>(at) - 1, load<i32>(at, 4)) & bucketMask) * 4);
    store<i32>(at, load<i32>(bucket), 8);
    store<i32>(bucket, i);
  }
}

/** Room for canonical forms of at least `keys` texts. @returns where they are */
export function growCanon(keys: i32): usize {
  let cap = max(canonCap, 1 << 12);
  while (cap < keys) cap *= 2;
  if (cap == canonCap) return canon;
  const grown = alloc(cap * ROLES * 4);
  if (canonCap > 0) memory.copy(grown, canon, canonCap * ROLES * 4);
  for (let i = canonCap * ROLES; i < cap * ROLES; i++) store<i32>(grown + <usize>(i * 4), UNKNOWN);
  canon = grown;
  canonCap = cap;
  return canon;
}
export function canonAt(): usize { return canon; }
export function canonKeys(): i32 { return canonCap; }
/** Forgets every canonical form and pair (the next table has ids of its own). */
export function forgetCanon(): void {
  for (let i = 0; i < canonCap * ROLES; i++) store<i32>(canon + <usize>(i * 4), UNKNOWN);
  memory.fill(pairs, 0, (pairMask + 1) * 16);
  pairCount = 0;
}

@inline function pairHash(a: i32, b: i32): u32 {
  const h = (<u32>a * 0x9e3779b1) ^ (<u32>b * 0x85ebca6b);
  return h ^ (h >> 15);
}

/** Pair id of (perimeter, profile), or -1. */
function pairOf(a: i32, b: i32): i32 {
  for (let i = <i32>pairHash(a, b) & pairMask; ; i = (i + 1) & pairMask) {
    const at = pairs + <usize>(i * 16);
    const p = load<i32>(at, 8);
    if (p == 0) return -1;
    if (load<i32>(at) == a && load<i32>(at, 4) == b) return p - 1;
  }
  return -1;
}

/** Records the pair id of (perimeter, profile). */
export function setPair(a: i32, b: i32, pair: i32): void {
  if ((pairCount + 1) * 2 > pairMask + 1) {
    const old = pairs;
    const oldSize = pairMask + 1;
    const grown = alloc(oldSize * 2 * 16); // first: a full heap traps before anything changed
    pairMask = oldSize * 2 - 1;
    pairs = grown;
    memory.fill(pairs, 0, oldSize * 2 * 16);
    pairCount = 0;
    for (let i = 0; i < oldSize; i++) {
      const at = old + <usize>(i * 16);
      if (load<i32>(at, 8) != 0) setPair(load<i32>(at), load<i32>(at, 4), load<i32>(at, 8) - 1);
    }
  }
  for (let i = <i32>pairHash(a, b) & pairMask; ; i = (i + 1) & pairMask) {
    const at = pairs + <usize>(i * 16);
    if (load<i32>(at, 8) == 0) {
      store<i32>(at, a);
      store<i32>(at, b, 4);
      store<i32>(at, pair + 1, 8);
      pairCount++;
      return;
    }
  }
}

/** Zeroed room for an index of `n` slots (the JavaScript side rehashes into it). */
export function allocSlots(n: i32): usize {
  const at = alloc(n * 4);
  memory.fill(at, 0, n * 4);
  return at;
}

/** The table the next foldLines() adds to: its flow count, record capacity and index. */
export function setTable(flows: i32, recordCapacity: i32, slotsAt: usize, slotCount: i32): void {
  count = flows;
  capacity = recordCapacity;
  slots = slotsAt;
  slotsMask = slotCount - 1;
}
export function flowCount(): i32 { return count; }

export function logAt(): usize { return log; }
export function logged(): i32 { return logCount; }
export function clearLog(): void { logCount = 0; }

export function stopAt(): usize { return stop; }
export function stopEnd(): usize { return stopLineEnd; }
export function linesDone(): i32 { return done; }
/** The hits of the lines folded by the last foldLines(). */
export function hitsDone(): f64 { return hitsFolded; }
export function needField(): i32 { return missingField; }
export function needRole(): i32 { return missingRole; }
export function needA(): i32 { return missingA; }
export function needB(): i32 { return missingB; }

/** Offset of the first newline in [p, end), or -1 (16 bytes at a time; SLACK bytes follow `end`). */
function newlineAt(p: usize, end: usize): isize {
  const nl = i8x16.splat(10);
  while (p < end) {
    const m = i8x16.bitmask(i8x16.eq(v128.load(p), nl));
    if (m != 0) {
      const q = p + <usize>ctz(m);
      return q < end ? <isize>q : -1;
    }
    p += 16;
  }
  return -1;
}

/**
 * Folds the lines that start in [pos, end) and end with a newline before `end`, and stops at the
 * first one that starts at or after `limit`, is longer than `maxLine`, or that it must hand back.
 * Lines are read a batch at a time (prepareLine), then folded in order (foldBatch), so the memory
 * reads of a batch's flows overlap instead of waiting for each other.
 * @returns why it stopped (see END … ROOM); linesDone() lines were folded
 */
export function foldLines(pos: usize, end: usize, limit: usize, maxLine: i32): i32 {
  done = 0;
  hitsFolded = 0;
  for (;;) {
    let k = 0;
    let why = -1; // the batch is full: go on after it
    for (; k < BATCH; k++) {
      stop = pos;
      if (pos >= end) { why = END; break; }
      if (pos >= limit) { why = LIMIT; break; }
      const nl = newlineAt(pos, end);
      if (nl < 0) { why = END; break; }
      stopLineEnd = <usize>nl;
      if (<i32>(<usize>nl - pos) > maxLine) { why = LINE; break; }
      // Room for this line and those before it in the batch, each a new flow with a caller and parts.
      if (logCount + k >= logCap || count + k >= capacity || (count + k + 1) * 2 > slotsMask + 1 || partsCount + (k + 1) * PARTS_PER_LINE > poolCap) { why = ROOM; break; }
      let e = <usize>nl;
      if (e > pos && load<u8>(e - 1) == 13) e--;
      const r = prepareLine(pos, e, prepared + <usize>(k * PREP));
      if (r != 0) { why = r; break; }
      pos = <usize>nl + 1;
    }
    foldBatch(k);
    done += k;
    if (why >= 0) return why;
  }
  return END;
}

// Lines read but not folded yet (prepareLine → foldBatch): per line, 64 bytes of what the fold needs.
const BATCH: i32 = 16;
const PREP: i32 = 64;
const P_GROUP: i32 = 0;
const P_HI: i32 = 4;
const P_LO: i32 = 8;
const P_DAY: i32 = 12;
const P_RESOURCE: i32 = 16;
const P_RULE: i32 = 20;
const P_OPERATION: i32 = 24;
const P_CALLER_HI: i32 = 28;
const P_CALLER_LO: i32 = 32;
const P_HASH: i32 = 36;
const P_HITS: i32 = 40; // then f64: hits, time, end time
let prepared: usize = 0;
// A batch's parts, gathered while its records are folded: (flow, tag, hits f64), 16 bytes each.
let partQueue: usize = 0;
let queued: i32 = 0;
// Reads whose values are not needed, only their cache lines (WebAssembly has no prefetch): summed
// here so that they stay.
let touched: i32 = 0;
/** The sum of the reads made to bring memory into the cache (never needed; keeps them). */
export function touchSum(): i32 { return touched; }

@inline function kindOf(f: i32): u8 { return load<u8>(kinds + <usize>f); }
@inline function startOf(f: i32): usize { return <usize>load<i32>(starts + <usize>(f * 4)); }
@inline function endOf(f: i32): usize { return <usize>load<i32>(ends + <usize>(f * 4)); }
@inline function hasText(f: i32): bool { return kindOf(f) == STRING && endOf(f) > startOf(f); }

// Key of a text field as the JavaScript fold's #text() sees it: NO_TEXT when absent, not a
// string or empty; PADDED when it starts or ends with white space (that path trims it).
const NO_TEXT: i32 = -1;
const PADDED: i32 = -3;
function textKey(f: i32): i32 {
  if (!hasText(f)) return NO_TEXT;
  if (load<u8>(startOf(f)) <= 0x20 || load<u8>(endOf(f) - 1) <= 0x20) return PADDED;
  return load<i32>(keyIds + <usize>(f * 4));
}

/** Canonical form `role` of the text of field `f` (key `key`); UNKNOWN says which is missing. */
function canonOf(f: i32, key: i32, role: i32): i32 {
  missingField = f;
  missingRole = role;
  if (key >= canonCap) return UNKNOWN;
  return load<i32>(canon + <usize>((key * ROLES + role) * 4));
}

/** Reads one line [s, e) (no newline) into `at` for foldBatch(). @returns 0, LINE or NEED (nothing changed then) */
function prepareLine(s: usize, e: usize, at: usize): i32 {
  if (scanLine(s, e) == 0) return LINE;
  // count (missing: 1)
  let hits: f64 = 1;
  const ck = kindOf(F_COUNT);
  if (ck == STRING || ck == NUMBER) {
    const cs = startOf(F_COUNT);
    const ce = endOf(F_COUNT);
    if (ce > cs) {
      if (ce - cs > 15) return LINE;
      let v: u64 = 0;
      for (let p = cs; p < ce; p++) {
        const d = <u32>load<u8>(p) - 0x30;
        if (d > 9) return LINE;
        v = v * 10 + <u64>d;
      }
      hits = <f64>v;
    } else if (ck == NUMBER) return LINE;
  }
  // category
  const catKey = textKey(F_CATEGORY);
  if (catKey < 0) return LINE;
  const cat = canonOf(F_CATEGORY, catKey, ROLE_CATEGORY);
  if (cat == UNKNOWN) return NEED;
  if (cat < 0) return LINE;
  // time: TimeGenerated before time; the end time only when later
  const timeField = hasText(F_TIME_GENERATED) ? F_TIME_GENERATED : F_TIME;
  if (!hasText(timeField) || !readTime(timeField)) return LINE;
  const day = timeDay;
  const msOfDay = timeMs;
  let endDay = day;
  let endMs = msOfDay;
  if (hasText(F_END_TIME)) {
    if (!readTime(F_END_TIME)) return LINE;
    if (timeDay > day || (timeDay == day && timeMs > msOfDay)) { endDay = timeDay; endMs = timeMs; }
  }
  // perimeter: _ResourceId before resourceId
  let perField = F_PERIMETER_LA;
  let perKey = textKey(F_PERIMETER_LA);
  if (perKey == PADDED) return LINE;
  if (perKey < 0) { perField = F_PERIMETER; perKey = textKey(F_PERIMETER); }
  if (perKey < 0) return LINE;
  const perimeter = canonOf(perField, perKey, ROLE_PERIMETER);
  if (perimeter == UNKNOWN) return NEED;
  if (perimeter < 0) return LINE;
  const profileKey = textKey(F_PROFILE);
  if (profileKey < 0) return LINE;
  const profile = canonOf(F_PROFILE, profileKey, ROLE_LOWER);
  if (profile == UNKNOWN) return NEED;
  if (profile < 0) return LINE;
  // the caller IP: dotted quads only here
  let ipHi = -1;
  let ipLo = 0;
  if (hasText(F_SOURCE_IP)) {
    const v4 = quad(startOf(F_SOURCE_IP), endOf(F_SOURCE_IP));
    if (v4 < 0) return LINE;
    ipHi = PEER_IPV4;
    ipLo = <i32>v4;
  }
  let peerHi = PEER_NONE;
  let peerLo = 0;
  let callerHi = -1;
  if (cat & INBOUND) {
    const srKey = textKey(F_SOURCE_RESOURCE);
    if (srKey == PADDED) return LINE;
    let sr = INVALID;
    if (srKey >= 0) {
      sr = canonOf(F_SOURCE_RESOURCE, srKey, ROLE_RESOURCE);
      if (sr == UNKNOWN) return NEED;
    }
    if (sr >= 0) { peerHi = PEER_RESOURCE; peerLo = sr; callerHi = ipHi; }
    else if (ipHi >= 0) { peerHi = ipHi; peerLo = ipLo; }
  } else {
    let fqField = F_FQDN;
    let fqKey = textKey(F_FQDN);
    if (fqKey == PADDED) return LINE;
    if (fqKey < 0) { fqField = F_FQDN_LONG; fqKey = textKey(F_FQDN_LONG); }
    if (fqKey == PADDED) return LINE;
    if (fqKey >= 0) {
      const fqdn = canonOf(fqField, fqKey, ROLE_FQDN);
      if (fqdn == UNKNOWN) return NEED;
      if (fqdn < 0) return LINE;
      peerHi = PEER_FQDN;
      peerLo = fqdn;
    } else {
      const drKey = textKey(F_DEST_RESOURCE);
      if (drKey == PADDED) return LINE;
      let dr = INVALID;
      if (drKey >= 0) {
        dr = canonOf(F_DEST_RESOURCE, drKey, ROLE_RESOURCE);
        if (dr == UNKNOWN) return NEED;
      }
      if (dr >= 0) { peerHi = PEER_RESOURCE; peerLo = dr; callerHi = ipHi; }
    }
  }
  const resKey = textKey(F_RESOURCE);
  const ruleKey = textKey(F_RULE);
  const opKey = textKey(F_OPERATION);
  if (resKey == PADDED || ruleKey == PADDED || opKey == PADDED) return LINE;
  let resource = -1;
  if (resKey >= 0) {
    resource = canonOf(F_RESOURCE, resKey, ROLE_RESOURCE);
    if (resource == UNKNOWN) return NEED;
  }
  let rule = -1;
  if (ruleKey >= 0) {
    rule = canonOf(F_RULE, ruleKey, ROLE_RULE);
    if (rule == UNKNOWN) return NEED;
    if (rule < 0) return LINE; // text that looks like JSON: the JavaScript side decides
  }
  let operation = -1;
  if (opKey >= 0) {
    operation = canonOf(F_OPERATION, opKey, ROLE_RAW);
    if (operation == UNKNOWN) return NEED;
  }
  // Ids beyond the parts table's values (half a billion texts) are the JavaScript side's.
  if (resource >= PART_VALUES || rule >= PART_VALUES || operation >= PART_VALUES) return LINE;
  const pair = pairOf(perimeter, profile);
  if (pair < 0) { missingRole = ROLE_PAIR; missingA = perimeter; missingB = profile; return NEED; }

  // Everything is known: foldBatch() folds it.
  const group = pair * 64 + (cat & 0xff);
  store<i32>(at, group, P_GROUP);
  store<i32>(at, peerHi, P_HI);
  store<i32>(at, peerLo, P_LO);
  store<i32>(at, day, P_DAY);
  store<i32>(at, resource, P_RESOURCE);
  store<i32>(at, rule, P_RULE);
  store<i32>(at, operation, P_OPERATION);
  store<i32>(at, callerHi, P_CALLER_HI);
  store<i32>(at, ipLo, P_CALLER_LO);
  store<u32>(at, flowHash(group, peerHi, peerLo), P_HASH);
  store<f64>(at, hits, P_HITS);
  store<f64>(at, <f64>day * DAY_MS + <f64>msOfDay, P_HITS + 8);
  store<f64>(at, <f64>endDay * DAY_MS + <f64>endMs, P_HITS + 16);
  return 0;
}

/**
 * Folds the `n` lines prepareLine() read, in order. First the index slots of their flows, then
 * their records, are read all at once (their cache misses overlap); each line then updates its
 * flow's record as foldLine would have; the parts they add are gathered and added likewise.
 */
function foldBatch(n: i32): void {
  if (n == 0) return;
  let sum = 0;
  for (let k = 0; k < n; k++) {
    const at = prepared + <usize>(k * PREP);
    sum += load<i32>(slots + <usize>((<i32>load<u32>(at, P_HASH) & slotsMask) * 4));
  }
  for (let k = 0; k < n; k++) {
    const at = prepared + <usize>(k * PREP);
    const slot = load<i32>(slots + <usize>((<i32>load<u32>(at, P_HASH) & slotsMask) * 4));
    if (slot != 0) sum += load<i32>(records + <usize>((slot - 1) * RECORD), I_LO);
  }
  queued = 0;
  for (let k = 0; k < n; k++) foldPrepared(prepared + <usize>(k * PREP));
  for (let q = 0; q < queued; q++) {
    const at = partQueue + <usize>(q * 16);
    sum += load<i32>(buckets + <usize>((<i32>partHash(load<i32>(at), load<i32>(at, 4)) & bucketMask) * 4));
  }
  for (let q = 0; q < queued; q++) {
    const at = partQueue + <usize>(q * 16);
    addPart(load<i32>(at), load<i32>(at, 4), load<f64>(at, 8));
  }
  touched += sum;
}

/** A part for foldBatch() to add once the batch's records are folded. */
@inline function queuePart(f: i32, kind: i32, value: i32, hits: f64): void {
  const at = partQueue + <usize>(queued * 16);
  store<i32>(at, f);
  store<i32>(at, (kind << 29) | value, 4);
  store<f64>(at, hits, 8);
  queued++;
}

/** Folds one prepared line into its flow's record (what the record cannot hold is queued as parts). */
function foldPrepared(at: usize): void {
  const hits = load<f64>(at, P_HITS);
  const time = load<f64>(at, P_HITS + 8);
  const endTime = load<f64>(at, P_HITS + 16);
  const day = load<i32>(at, P_DAY);
  const f = flowFor(load<i32>(at, P_GROUP), load<i32>(at, P_HI), load<i32>(at, P_LO), load<u32>(at, P_HASH));
  const rec = records + <usize>(f * RECORD);
  store<f64>(rec, load<f64>(rec, F_HITS) + hits, F_HITS);
  if (time < load<f64>(rec, F_FIRST)) store<f64>(rec, time, F_FIRST);
  if (endTime > load<f64>(rec, F_LAST)) store<f64>(rec, endTime, F_LAST);
  // What the record cannot hold goes to the parts table (as flow-table.ts's #addDay and the
  // others would add it); a caller IP is logged.
  const day0 = load<i32>(rec, I_DAY0);
  if (day0 == -1) store<i32>(rec, day, I_DAY0);
  else if (day0 != day) queuePart(f, PART_DAY, day, hits);
  const resource = load<i32>(at, P_RESOURCE);
  if (resource >= 0) {
    const res0 = load<i32>(rec, I_RES0);
    if (res0 == -1) store<i32>(rec, resource, I_RES0);
    else if (res0 != resource) queuePart(f, PART_RESOURCE, resource, 0);
  }
  const rule = load<i32>(at, P_RULE);
  if (rule >= 0) {
    const rule0 = load<i32>(rec, I_RULE0);
    if ((rule0 == rule || rule0 == -1) && (load<i32>(rec, I_EXTRA) & RULES_BIT) == 0) {
      store<i32>(rec, rule, I_RULE0);
      store<f64>(rec, load<f64>(rec, F_RULE0_HITS) + hits, F_RULE0_HITS);
    } else queuePart(f, PART_RULE, rule, hits);
  }
  const operation = load<i32>(at, P_OPERATION);
  if (operation >= 0) {
    const op0 = load<i32>(rec, I_OP0);
    if (op0 == -1) store<i32>(rec, operation, I_OP0);
    else if (op0 != operation) queuePart(f, PART_OPERATION, operation, 0);
  }
  const callerHi = load<i32>(at, P_CALLER_HI);
  if (callerHi >= 0) {
    const entry = log + <usize>(logCount * LOG_ENTRY);
    store<i32>(entry, f);
    store<i32>(entry, callerHi, 4);
    store<i32>(entry, load<i32>(at, P_CALLER_LO), 8);
    logCount++;
  }
  hitsFolded += hits;
}

/** Flow of (group, peer), made when new (foldLines() made sure there is room). */
/** The hash of flow-table.ts's #flowFor(), in the same index. */
@inline function flowHash(group: i32, hi: i32, lo: i32): u32 {
  let h: u32 = ((<u32>lo ^ (<u32>hi * 0x27d4eb2d)) * 0x9e3779b1) ^ (<u32>group * 0x85ebca6b);
  h ^= h >> 15;
  h *= 0x2c1b3c6d;
  return h ^ (h >> 13);
}

function flowFor(group: i32, hi: i32, lo: i32, h: u32): i32 {
  for (let i = <i32>h & slotsMask; ; i = (i + 1) & slotsMask) {
    const at = slots + <usize>(i * 4);
    const s = load<i32>(at);
    if (s == 0) {
      const f = count++;
      const rec = records + <usize>(f * RECORD);
      store<i32>(rec, group, I_GROUP);
      store<i32>(rec, hi, I_HI);
      store<i32>(rec, lo, I_LO);
      store<i32>(rec, -1, I_DAY0);
      store<i32>(rec, -1, I_RES0);
      store<i32>(rec, -1, I_RULE0);
      store<i32>(rec, -1, I_OP0);
      store<i32>(rec, 0, I_EXTRA);
      store<f64>(rec, 0, F_HITS);
      store<f64>(rec, Infinity, F_FIRST);
      store<f64>(rec, -Infinity, F_LAST);
      store<f64>(rec, 0, F_RULE0_HITS);
      store<i32>(at, f + 1);
      return f;
    }
    const rec = records + <usize>((s - 1) * RECORD);
    if (load<i32>(rec, I_LO) == lo && load<i32>(rec, I_GROUP) == group && load<i32>(rec, I_HI) == hi) return s - 1;
  }
  return -1;
}

// The last time read by readTime(): a day number and milliseconds into the day.
let timeDay: i32 = 0;
let timeMs: i32 = 0;
// The last valid date readTime() read (its 10 bytes) and its day number (no date has bytes 0 0).
let lastDateLo: u64 = 0;
let lastDateHi: u16 = 0;
let lastDay: i32 = 0;

/** Two or four decimal digits at `p`, or -1. */
@inline function digits(p: usize, n: i32): i32 {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = <u32>load<u8>(p + <usize>i) - 0x30;
    if (d > 9) return -1;
    v = v * 10 + <i32>d;
  }
  return v;
}

/**
 * Reads an ISO time `yyyy-mm-ddThh:mm:ss[.fraction][Z]` of the years 2000–2099 (the valid log
 * times) into timeDay and timeMs, as the JavaScript fold's #time() does. @returns false for any
 * other shape (that path then decides)
 */
function readTime(f: i32): bool {
  const s = startOf(f);
  const n = <i32>(endOf(f) - s);
  if (n < 19 || load<u8>(s + 10) != 0x54 || load<u8>(s + 13) != 0x3a || load<u8>(s + 16) != 0x3a) return false;
  // Times of a file mostly fall on few dates: the last valid date's day number is kept.
  const dateLo = load<u64>(s);
  const dateHi = load<u16>(s, 8);
  let day = lastDay;
  if (dateLo != lastDateLo || dateHi != lastDateHi) {
    if (load<u8>(s + 4) != 0x2d || load<u8>(s + 7) != 0x2d) return false;
    const y = digits(s, 4);
    const mo = digits(s + 5, 2);
    const d = digits(s + 8, 2);
    if ((y | mo | d) < 0 || y < 2000 || y > 2099 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return false;
    day = daysFromCivil(y, mo, d);
    lastDateLo = dateLo;
    lastDateHi = dateHi;
    lastDay = day;
  }
  const h = digits(s + 11, 2);
  const mi = digits(s + 14, 2);
  const sec = digits(s + 17, 2);
  if ((h | mi | sec) < 0) return false;
  let i = 19;
  let ms = 0;
  if (i < n && load<u8>(s + <usize>i) == 0x2e) {
    i++;
    let k = 0;
    while (i < n) {
      const c = <u32>load<u8>(s + <usize>i) - 0x30;
      if (c > 9) break;
      if (k < 3) ms = ms * 10 + <i32>c;
      k++;
      i++;
    }
    if (k == 0 || k > 9) return false;
    for (; k < 3; k++) ms *= 10;
  }
  if (i < n && load<u8>(s + <usize>i) == 0x5a) i++;
  if (i != n) return false;
  if (h > 23 || mi > 59 || sec > 59) return false;
  timeDay = day;
  timeMs = ((h * 60 + mi) * 60 + sec) * 1000 + ms;
  return true;
}

function daysInMonth(y: i32, mo: i32): i32 {
  if (mo != 2) return mo == 4 || mo == 6 || mo == 9 || mo == 11 ? 30 : 31;
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) ? 29 : 28;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (years ≥ 1). */
function daysFromCivil(y: i32, m: i32, d: i32): i32 {
  if (m <= 2) y--;
  const era = y / 400;
  const yoe = y - era * 400;
  const doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/** A strict dotted quad in [s, e) (as parseIPv4Bytes in src/model/ip.ts), or -1. */
function quad(s: usize, e: usize): i64 {
  const n = <i32>(e - s);
  if (n < 7 || n > 15) return -1;
  let acc: i64 = 0;
  let part = 0;
  let ds = 0;
  let dots = 0;
  for (let p = s; p < e; p++) {
    const c = <i32>load<u8>(p);
    if (c >= 48 && c <= 57) {
      if (ds > 0 && part == 0) return -1;
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      ds++;
    } else if (c == 46) {
      if (ds == 0 || ++dots > 3) return -1;
      acc = acc * 256 + <i64>part;
      part = 0;
      ds = 0;
    } else return -1;
  }
  return dots == 3 && ds > 0 ? acc * 256 + <i64>part : -1;
}
