// Ingest stage, hot path (AssemblyScript, compiled to WebAssembly by `npm run build:wasm` as part
// of src/analyze/wasm/fold-lines.ts, which imports it): the selective byte scanner for one JSON line. It validates the line's JSON structure and finds the
// byte ranges of the fields the flow summary needs, and interns their text, without building
// anything per line. It gives up (returns 0) on anything it cannot vouch for — an escape in a
// needed string, a duplicated field, a wrapper key, broken JSON — and the caller then takes the
// careful path (JSON.parse + normalizeRow), so results and issues are always the careful path's.
// Most lines of a file repeat a few shapes: a line equal to a recent one but in its values is read
// by that line's template (only its values are found), and keys are first compared with those
// last seen at their place. The JavaScript side (src/ingest/jsonl-scanner.ts) owns the key tables
// and reads the results.

// Memory: [input | slack] [results] [key tables] then the interner, bump-allocated upward up to
// the limit the fold sets (its parts pool and flow records lie above).
const SLACK: i32 = 64; // bytes readable past any input (16-byte loads never leave memory)
const FIELDS: i32 = 16;
const MAX_DEPTH: i32 = 64;
const GIVE_UP: i32 = -1;

// Value kinds, as ValueKind in jsonl-scanner.ts.
const STRING: u8 = 1;
const NUMBER: u8 = 2;
const NULL: u8 = 3;

// Key targets, as written by the JavaScript side: a field, a nested context, matchedRule, a wrapper key.
const TARGET_CTX: i32 = 100;
const TARGET_MATCHED: i32 = 200;
const TARGET_WRAPPER: i32 = 300;
const CTX_COUNT: i32 = 4;
const MAX_KEYS: i32 = 32;
const KEY_BYTES: i32 = 64;
const COUNT_FIELD: i32 = 3;
const MATCHED_FIELD: i32 = 10;
// Fields whose text is interned: everything but the times, the count and the caller IP (a dotted
// quad is read from its bytes; other shapes, rare, are decoded by the JavaScript side).
const INTERNED: i32 = 0xf7f0;

let input: usize = 0;
export let kinds: usize = 0; // u8 × FIELDS
export let starts: usize = 0; // i32 × FIELDS
export let ends: usize = 0; // i32 × FIELDS
export let keyIds: usize = 0; // i32 × FIELDS
// Key tables: per context, a count, then per key: length, target, bytes (lower case).
let keyCounts: usize = 0;
let keyLens: usize = 0;
let keysByLength: usize = 0; // u32 × CTX_COUNT × KEY_BYTES: bit k set when key k has that length
let keyTargets: usize = 0;
let keyBytes: usize = 0;

let lineEnd: usize = 0;
let sawMatched: i32 = 0;

// The interner: open addressing over entries of (hash, key + 1, arena offset, length), so a probe
// touches one entry and the bytes; keys' bytes in an arena.
let heapTop: usize = 0;
let table: usize = 0;
let tableMask: i32 = 0;
let keyCount: i32 = 0;
let arena: usize = 0;
let arenaUsed: i32 = 0;
let arenaCap: i32 = 0;

// Set when the memory grew (the JavaScript side's views of it are then stale).
let grew: i32 = 0;

/** 1 once after the memory grew, then 0: tells the JavaScript side to renew its views. */
export function memoryGrew(): i32 {
  const g = grew;
  grew = 0;
  return g;
}

// Where the heap must end (0: anywhere): the fold (src/analyze/wasm/fold-lines.ts) keeps its
// flow records above it, growing in place.
let heapLimit: usize = 0;
export function limitHeap(limit: usize): void { heapLimit = limit; }
/** Where the heap must end (0: anywhere). */
export function heapLimitAt(): usize { return heapLimit; }
/** Bytes of memory the heap reaches. */
export function heapUsed(): usize { return heapTop; }
/** Frees what was allocated since heapUsed() was `top` (a sorted run's temporaries, once copied out). */
export function rewindHeap(top: usize): void { heapTop = top; }

export function alloc(bytes: i32): usize {
  const at = (heapTop + 15) & ~(<usize>15);
  const top = at + <usize>bytes + <usize>SLACK;
  if (heapLimit != 0 && top > heapLimit) unreachable(); // the JavaScript side reports it
  const have = <usize>memory.size() << 16;
  if (top > have) {
    const pages = <i32>((top - have + 0xffff) >> 16);
    if (memory.grow(max(pages, <i32>(have >> 17))) < 0) unreachable();
    grew = 1;
  }
  heapTop = top;
  return at;
}

/** Sets up the regions for inputs of up to `cap` bytes. @returns where to put input bytes */
export function setup(cap: i32): usize {
  heapTop = __heap_base;
  input = alloc(cap);
  kinds = alloc(FIELDS);
  starts = alloc(FIELDS * 4);
  ends = alloc(FIELDS * 4);
  keyIds = alloc(FIELDS * 4);
  keyCounts = alloc(CTX_COUNT * 4);
  keysByLength = alloc(CTX_COUNT * KEY_BYTES * 4);
  memory.fill(keysByLength, 0, CTX_COUNT * KEY_BYTES * 4);
  keyLens = alloc(CTX_COUNT * MAX_KEYS * 4);
  keyTargets = alloc(CTX_COUNT * MAX_KEYS * 4);
  keyBytes = alloc(CTX_COUNT * MAX_KEYS * KEY_BYTES);
  memory.fill(keyCounts, 0, CTX_COUNT * 4);
  templates = alloc(TEMPLATES * TEMPLATE);
  memory.fill(templates, 0, TEMPLATES * TEMPLATE);
  sharedPrefix = alloc(TEMPLATES * TEMPLATES * 4);
  for (let i = 0; i < TEMPLATES * TEMPLATES; i++) store<i32>(sharedPrefix + <usize>(i * 4), -1);
  lastTemplate = 0;
  nextTemplate = 0;
  recording = alloc(TEMPLATE_VALUES * 16);
  matched = alloc(TEMPLATE_VALUES * 16);
  guesses = alloc(GUESS_DEPTHS * CTX_COUNT * GUESS_KEYS * <i32>GUESS_PLACE);
  for (let i = 0; i < GUESS_DEPTHS * CTX_COUNT * GUESS_KEYS * 2; i++) store<i32>(guesses + <usize>i * GUESS_ENTRY, -1, GUESS_LENGTH);
  tableMask = (1 << 12) - 1;
  table = alloc((tableMask + 1) * 16);
  hot = alloc(HOT_ENTRIES * 16);
  memory.fill(hot, 0, HOT_ENTRIES * 16);
  memory.fill(table, 0, (tableMask + 1) * 16);
  arenaCap = 1 << 16;
  arena = alloc(arenaCap);
  arenaUsed = 0;
  keyCount = 0;
  scratchCap = 0;
  return input;
}

export function resultsKinds(): usize { return kinds; }
export function resultsStarts(): usize { return starts; }
export function resultsEnds(): usize { return ends; }
export function resultsKeys(): usize { return keyIds; }
/** Where the JavaScript side writes a key's bytes before addKey(). */
export function keyScratch(): usize { return keyBytes + <usize>(CTX_COUNT * MAX_KEYS * KEY_BYTES - KEY_BYTES); }

/** Adds a key (lower case, already in keyScratch()) to a context's table. */
export function addKey(ctx: i32, length: i32, target: i32): void {
  const n = load<i32>(keyCounts + <usize>(ctx * 4));
  if (n >= MAX_KEYS - 1 || length >= KEY_BYTES) unreachable();
  const byLength = keysByLength + <usize>((ctx * KEY_BYTES + length) * 4);
  store<u32>(byLength, load<u32>(byLength) | ((<u32>1) << <u32>n));
  const slot = ctx * MAX_KEYS + n;
  store<i32>(keyLens + <usize>(slot * 4), length);
  store<i32>(keyTargets + <usize>(slot * 4), target);
  memory.copy(keyBytes + <usize>(slot * KEY_BYTES), keyScratch(), length);
  store<i32>(keyCounts + <usize>(ctx * 4), n + 1);
}

let scratchAt: usize = 0;
let scratchCap: i32 = 0;

/** Room for a line of `n` bytes that is not in the input region (kept until a larger one is needed). */
export function scratch(n: i32): usize {
  if (n > scratchCap) { scratchAt = alloc(n); scratchCap = n; }
  return scratchAt;
}

/** Number of distinct texts interned so far (ids are 0 … count − 1, in order of first sight). */
export function internedCount(): i32 { return keyCount; }

@inline function isWs(c: u32): bool { return c == 0x20 || c == 0x09 || c == 0x0d || c == 0x0a; }

@inline function skipWs(p: usize): usize {
  // Compact JSON has none: one test then.
  if (p < lineEnd && <u32>load<u8>(p) > 0x20) return p;
  while (p < lineEnd && isWs(<u32>load<u8>(p))) p++;
  return p;
}

/**
 * End of a string whose contents start at `p`: the closing quote, or GIVE_UP. Sets `escaped` when
 * the string holds escapes (each checked: JSON.parse refuses an unknown one).
 */
let escaped: bool = false;
function stringEnd(p: usize): i32 {
  escaped = false;
  const quote = i8x16.splat(0x22);
  const backslash = i8x16.splat(0x5c);
  const space = i8x16.splat(0x20);
  for (;;) {
    // 16 bytes at a time: the first quote, backslash or control character.
    const v = v128.load(p);
    const hit = v128.or(v128.or(i8x16.eq(v, quote), i8x16.eq(v, backslash)), i8x16.lt_u(v, space));
    const mask = i8x16.bitmask(hit);
    if (mask == 0) { p += 16; if (p >= lineEnd) return GIVE_UP; continue; }
    p += <usize>ctz(mask);
    if (p >= lineEnd) return GIVE_UP;
    const c = <u32>load<u8>(p);
    if (c == 0x22) return <i32>p;
    if (c < 0x20) return GIVE_UP;
    // A backslash: a valid escape, then go on.
    escaped = true;
    if (p + 1 >= lineEnd) return GIVE_UP;
    const e = <u32>load<u8>(p + 1);
    if (e == 0x75) {
      if (p + 6 > lineEnd) return GIVE_UP;
      for (let k: usize = 2; k < 6; k++) {
        const h = <u32>load<u8>(p + k);
        const letter = h | 0x20;
        if (!((h >= 0x30 && h <= 0x39) || (letter >= 0x61 && letter <= 0x66))) return GIVE_UP;
      }
      p += 6;
    } else if (e == 0x22 || e == 0x5c || e == 0x2f || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) {
      p += 2;
    } else return GIVE_UP;
  }
  return GIVE_UP;
}

/** Index (in its context's table) of the key `[s, e)`, compared case-insensitively, or -1. */
function lookupKey(ctx: i32, s: usize, e: usize): i32 {
  const length = <i32>(e - s);
  if (length >= KEY_BYTES) return -1;
  let candidates = load<u32>(keysByLength + <usize>((ctx * KEY_BYTES + length) * 4));
  while (candidates != 0) {
    const k = <i32>ctz(candidates);
    candidates &= candidates - 1;
    const key = keyBytes + <usize>((ctx * MAX_KEYS + k) * KEY_BYTES);
    let i = 0;
    for (; i < length; i++) {
      let c = <u32>load<u8>(s + <usize>i);
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c != <u32>load<u8>(key + <usize>i)) break;
    }
    if (i == length) return k;
  }
  return -1;
}

// Guessed keys: per (depth, context) of an object and place of a key in it, the keys last seen
// there — two, as files mix two spellings (camelCase and PascalCase) or two shapes (inbound and
// outbound) — each as its bytes (exactly, without an escape), its length and lookupKey()'s answer.
const GUESS_DEPTHS: i32 = 4;
const GUESS_KEYS: i32 = 32;
const GUESS_ENTRY: usize = 64;
const GUESS_PLACE: usize = 2 * GUESS_ENTRY;
const GUESS_BYTES: i32 = 48;
const GUESS_LENGTH: usize = 48;
const GUESS_K: usize = 52;
let guesses: usize = 0;

/**
 * End of the key starting at `ks` when it is the guessed one — the same bytes then a quote, so
 * stringEnd() would find that quote and no escape —, or GIVE_UP.
 */
@inline function predictedKeyEnd(guess: usize, ks: usize): i32 {
  const n = load<i32>(guess, GUESS_LENGTH);
  if (n < 0) return GIVE_UP;
  const end = ks + <usize>n;
  if (end >= lineEnd || load<u8>(end) != 0x22) return GIVE_UP;
  // SLACK bytes follow every line, so 16-byte loads up to GUESS_BYTES past `ks` stay in memory.
  for (let off = 0; off < n; off += 16) {
    const same = i8x16.bitmask(i8x16.eq(v128.load(ks + <usize>off), v128.load(guess + <usize>off)));
    const want = n - off >= 16 ? 0xffff : (1 << (n - off)) - 1;
    if ((same & want) != want) return GIVE_UP;
  }
  return <i32>end;
}

/** Makes the key [ks, ke) the first guess of its place (the first becomes the second). */
function rememberKey(place: usize, ks: usize, ke: usize, k: i32): void {
  for (let off: usize = 0; off < GUESS_ENTRY; off += 16) v128.store(place + GUESS_ENTRY + off, v128.load(place + off));
  const n = <i32>(ke - ks);
  if (n >= GUESS_BYTES) { store<i32>(place, -1, GUESS_LENGTH); return; }
  // Whole 16-byte words (the bytes past the key are never compared; SLACK bytes follow `ks`'s line).
  for (let off: usize = 0; off < <usize>GUESS_BYTES; off += 16) v128.store(place + off, v128.load(ks + off));
  store<i32>(place, n, GUESS_LENGTH);
  store<i32>(place, k, GUESS_K);
}

function isLiteral(p: usize, word: u32, length: i32): bool {
  // `word`: the literal's bytes, little-endian.
  if (p + <usize>length > lineEnd) return false;
  for (let i = 0; i < length; i++) if (<u32>load<u8>(p + <usize>i) != ((word >> (<u32>i * 8)) & 0xff)) return false;
  return true;
}
const TRUE: u32 = 0x65757274;
const NULL_WORD: u32 = 0x6c6c756e;
const FALS: u32 = 0x736c6166;

@inline function isDigit(c: u32): bool { return c >= 0x30 && c <= 0x39; }

/** End of a JSON number at `p` (strict grammar), or GIVE_UP. */
function numberEnd(p: usize): i32 {
  let i = p;
  if (i < lineEnd && load<u8>(i) == 0x2d) i++;
  if (i >= lineEnd) return GIVE_UP;
  const first = <u32>load<u8>(i);
  if (first == 0x30) i++;
  else if (first >= 0x31 && first <= 0x39) { while (i < lineEnd && isDigit(<u32>load<u8>(i))) i++; }
  else return GIVE_UP;
  if (i < lineEnd && load<u8>(i) == 0x2e) {
    i++;
    const d = i;
    while (i < lineEnd && isDigit(<u32>load<u8>(i))) i++;
    if (i == d) return GIVE_UP;
  }
  if (i < lineEnd && (load<u8>(i) | 0x20) == 0x65) {
    i++;
    if (i < lineEnd && (load<u8>(i) == 0x2b || load<u8>(i) == 0x2d)) i++;
    const d = i;
    while (i < lineEnd && isDigit(<u32>load<u8>(i))) i++;
    if (i == d) return GIVE_UP;
  }
  return <i32>i;
}

/** Skips any JSON value at `p`, validating it. */
function skipValue(p: usize, depth: i32): i32 {
  if (depth > MAX_DEPTH || p >= lineEnd) return GIVE_UP;
  const c = <u32>load<u8>(p);
  if (c == 0x22) {
    const e = stringEnd(p + 1);
    return e == GIVE_UP ? GIVE_UP : e + 1;
  }
  if (c == 0x7b || c == 0x5b) {
    const close: u32 = c == 0x7b ? 0x7d : 0x5d;
    p = skipWs(p + 1);
    if (p < lineEnd && <u32>load<u8>(p) == close) return <i32>(p + 1);
    for (;;) {
      if (c == 0x7b) {
        if (p >= lineEnd || load<u8>(p) != 0x22) return GIVE_UP;
        const e = stringEnd(p + 1);
        if (e == GIVE_UP) return GIVE_UP;
        p = skipWs(<usize>e + 1);
        if (p >= lineEnd || load<u8>(p) != 0x3a) return GIVE_UP;
        p = skipWs(p + 1);
      }
      const v = skipValue(p, depth + 1);
      if (v == GIVE_UP) return GIVE_UP;
      p = skipWs(<usize>v);
      if (p >= lineEnd) return GIVE_UP;
      const d = <u32>load<u8>(p);
      if (d == 0x2c) { p = skipWs(p + 1); continue; }
      if (d == close) return <i32>(p + 1);
      return GIVE_UP;
    }
  }
  if (c == 0x74) return isLiteral(p, TRUE, 4) ? <i32>(p + 4) : GIVE_UP;
  if (c == 0x66) return isLiteral(p, FALS, 4) && p + 4 < lineEnd && load<u8>(p + 4) == 0x65 ? <i32>(p + 5) : GIVE_UP;
  if (c == 0x6e) return isLiteral(p, NULL_WORD, 4) ? <i32>(p + 4) : GIVE_UP;
  return numberEnd(p);
}

/** A string value that may hold JSON text: the careful path parses text starting with `{`. */
function startsLikeObject(s: usize, e: usize): bool {
  while (s < e && isWs(<u32>load<u8>(s))) s++;
  return s < e && load<u8>(s) == 0x7b;
}

function setField(f: i32, kind: u8, s: usize, e: usize): void {
  store<u8>(kinds + <usize>f, kind);
  store<i32>(starts + <usize>(f * 4), <i32>s);
  store<i32>(ends + <usize>(f * 4), <i32>e);
  if (kind == STRING && ((INTERNED >> f) & 1) != 0 && e > s) store<i32>(keyIds + <usize>(f * 4), intern(s, e));
}

function scanObject(p: usize, ctx: i32, depth: i32): i32 {
  if (depth > MAX_DEPTH) return GIVE_UP;
  p = skipWs(p + 1);
  if (p < lineEnd && load<u8>(p) == 0x7d) return <i32>(p + 1);
  // Keys of interest seen in this object: a duplicate gives up (JSON.parse keeps the last of a
  // duplicated key, the careful path's flattening the first of differently-cased ones).
  let seen: u32 = 0;
  // Lines of a file mostly spell the same keys in the same order: the key at this place in the
  // last such object is tried first (see predictedKeyEnd()).
  let guess = depth < GUESS_DEPTHS ? guesses + <usize>((depth * CTX_COUNT + ctx) * GUESS_KEYS) * GUESS_PLACE : 0;
  let place = 0;
  for (;;) {
    if (p >= lineEnd || load<u8>(p) != 0x22) return GIVE_UP;
    const ks = p + 1;
    let ke: i32;
    let k: i32;
    const guessing = guess != 0 && place < GUESS_KEYS;
    if (guessing && (ke = predictedKeyEnd(guess, ks)) != GIVE_UP) {
      k = load<i32>(guess, GUESS_K);
    } else if (guessing && (ke = predictedKeyEnd(guess + GUESS_ENTRY, ks)) != GIVE_UP) {
      k = load<i32>(guess + GUESS_ENTRY, GUESS_K);
    } else {
      ke = stringEnd(ks);
      if (ke == GIVE_UP || escaped) return GIVE_UP; // an escaped key may spell a field name
      k = lookupKey(ctx, ks, <usize>ke);
      if (guessing) rememberKey(guess, ks, <usize>ke, k);
    }
    if (guess != 0) guess += GUESS_PLACE;
    place++;
    p = skipWs(<usize>ke + 1);
    if (p >= lineEnd || load<u8>(p) != 0x3a) return GIVE_UP;
    p = skipWs(p + 1);
    if (p >= lineEnd) return GIVE_UP;
    let target = -1;
    if (k >= 0) {
      if ((seen >> <u32>k) & 1) return GIVE_UP;
      seen |= (<u32>1) << <u32>k;
      target = load<i32>(keyTargets + <usize>((ctx * MAX_KEYS + k) * 4));
      if (target == TARGET_WRAPPER) return GIVE_UP; // a wrapper of rows: the careful path unwraps it
    }
    const c = <u32>load<u8>(p);
    if (target >= 0 && target < FIELDS) {
      if (load<u8>(kinds + <usize>target) != 0) return GIVE_UP; // the same field twice, under two spellings
      if (c == 0x22) {
        const e = stringEnd(p + 1);
        if (e == GIVE_UP || escaped) return GIVE_UP;
        setField(target, STRING, p + 1, <usize>e);
        recordValue(p + 1, <usize>e, STRING, target);
        p = <usize>e + 1;
      } else if (c == 0x6e) {
        if (!isLiteral(p, NULL_WORD, 4)) return GIVE_UP;
        setField(target, NULL, p, p);
        recordValue(p, p, NULL, target);
        p += 4;
      } else if (target == COUNT_FIELD && (c == 0x2d || isDigit(c))) {
        const e = numberEnd(p);
        if (e == GIVE_UP) return GIVE_UP;
        setField(target, NUMBER, p, <usize>e);
        recordValue(p, <usize>e, NUMBER, target);
        p = <usize>e;
      } else {
        return GIVE_UP; // a number, boolean or object where text is expected
      }
    } else if (target >= TARGET_CTX && target < TARGET_MATCHED) {
      if (c == 0x7b) {
        const e = scanObject(p, target - TARGET_CTX, depth + 1);
        if (e == GIVE_UP) return GIVE_UP;
        p = <usize>e;
      } else if (c == 0x22) {
        // JSON text holding an object is parsed by the careful path; other text is ignored there too.
        const e = stringEnd(p + 1);
        if (e == GIVE_UP || escaped || startsLikeObject(p + 1, <usize>e)) return GIVE_UP;
        unlikeTemplate = true; // a template would not look into the text
        p = <usize>e + 1;
      } else {
        const e = skipValue(p, depth + 1);
        if (e == GIVE_UP) return GIVE_UP;
        p = <usize>e;
      }
    } else if (target == TARGET_MATCHED) {
      if (load<u8>(kinds + <usize>MATCHED_FIELD) != 0 || sawMatched) return GIVE_UP;
      sawMatched = 1;
      if (c == 0x7b) {
        const e = scanObject(p, 3, depth + 1);
        if (e == GIVE_UP) return GIVE_UP;
        p = <usize>e;
      } else if (c == 0x22) {
        const e = stringEnd(p + 1);
        if (e == GIVE_UP || escaped || startsLikeObject(p + 1, <usize>e)) return GIVE_UP;
        setField(MATCHED_FIELD, STRING, p + 1, <usize>e);
        unlikeTemplate = true; // a template would not look into the text
        p = <usize>e + 1;
      } else {
        return GIVE_UP;
      }
    } else if (c == 0x22 && depth < MAX_DEPTH) {
      // A string nobody needs (skipValue's way): a template finds its end the same way.
      const e = stringEnd(p + 1);
      if (e == GIVE_UP) return GIVE_UP;
      recordValue(p + 1, <usize>e, STRING, -1);
      p = <usize>e + 1;
    } else if ((c == 0x2d || isDigit(c)) && depth < MAX_DEPTH) {
      const e = numberEnd(p);
      if (e == GIVE_UP) return GIVE_UP;
      recordValue(p, <usize>e, NUMBER, -1);
      p = <usize>e;
    } else {
      const e = skipValue(p, depth + 1);
      if (e == GIVE_UP) return GIVE_UP;
      p = <usize>e;
    }
    p = skipWs(p);
    if (p >= lineEnd) return GIVE_UP;
    const d = load<u8>(p);
    if (d == 0x2c) { p = skipWs(p + 1); continue; }
    if (d == 0x7d) return <i32>(p + 1);
    return GIVE_UP;
  }
}

/**
 * Scans the line `[start, end)` (addresses in this memory; SLACK readable bytes must follow).
 * @returns 1 with the results filled in, 0 when the careful path must take the line; plus 2 when
 * the memory grew meanwhile
 */
export function scan(start: usize, end: usize): i32 {
  grew = 0;
  const ok = scanLine(start, end);
  return ok | (grew << 1);
}

export function scanLine(start: usize, end: usize): i32 {
  v128.store(kinds, i64x2.splat(0)); // FIELDS (16) kinds
  lineEnd = end;
  sawMatched = 0;
  if (matchTemplates(start, end)) return 1;
  recorded = 0;
  unlikeTemplate = end - start > <usize>TEMPLATE_BYTES;
  let p = skipWs(start);
  if (p >= end || load<u8>(p) != 0x7b) return 0; // arrays and other values go the careful way
  const e = scanObject(p, 0, 0);
  if (e == GIVE_UP) return 0;
  if (skipWs(<usize>e) != end) return 0;
  if (!unlikeTemplate) makeTemplate(start, end);
  return 1;
}

// --- Line templates -------------------------------------------------------------------------
//
// Lines of a file mostly differ only in their values: a line the scanner read in full becomes a
// template — its bytes, and where each value lies (a field's, or a text or number nobody needs).
// A line that has the template's bytes everywhere but in those values, and values of the same
// kinds (texts without escapes where a field needs one, valid JSON numbers), has the template's
// structure, keys and fields: only the values are found (their ends, as the full scan finds them)
// and set. Anything else — a byte that differs between values, another kind of value — and the
// line is read in full. Nested values nobody needs (objects, arrays, literals) and white space are
// part of the template's bytes. Templates of one file share long prefixes (camelCase and
// PascalCase lines, inbound and outbound ones): a line that leaves one template after k values
// goes on with a template that shares exactly those k values, without reading them again.

const TEMPLATES: i32 = 4;
const TEMPLATE_BYTES: i32 = 2048;
const TEMPLATE_VALUES: i32 = 48;
// A template: the line's length, its number of values, per value (start, end, kind, field) as
// offsets into the line, then the line's bytes (SLACK readable bytes follow).
const T_LENGTH: usize = 0;
const T_VALUES: usize = 4;
const T_SLOTS: usize = 16;
const T_BYTES: usize = T_SLOTS + <usize>(TEMPLATE_VALUES * 16);
const TEMPLATE: i32 = <i32>T_BYTES + TEMPLATE_BYTES + SLACK;
let templates: usize = 0;
// Per pair of templates, how many leading values they share (sharedValues), −1 when either is empty.
let sharedPrefix: usize = 0;
let lastTemplate = 0;
let nextTemplate = 0;
// The values of the line being read in full, for makeTemplate() (absolute addresses).
let recording: usize = 0;
let recorded = 0;
let unlikeTemplate = false;
// The fields a template match found, set once the whole line matched (start, end, kind, field).
let matched: usize = 0;

/** Stores a value's entry (start, end, kind, field): the full scan's record, a match's fields. */
@inline function storeValue(at: usize, s: usize, e: usize, kind: u8, field: i32): void {
  store<i32>(at, <i32>s);
  store<i32>(at, <i32>e, 4);
  store<i32>(at, kind, 8);
  store<i32>(at, field, 12);
}

function recordValue(s: usize, e: usize, kind: u8, field: i32): void {
  if (recorded >= TEMPLATE_VALUES) { unlikeTemplate = true; return; }
  storeValue(recording + <usize>(recorded * 16), s, e, kind, field);
  recorded++;
}

/** Makes the line just read in full [start, end) a template, in place of the oldest. */
function makeTemplate(start: usize, end: usize): void {
  const n = nextTemplate;
  const t = templates + <usize>(n * TEMPLATE);
  lastTemplate = n;
  nextTemplate = (n + 1) % TEMPLATES;
  store<i32>(t, <i32>(end - start), T_LENGTH);
  store<i32>(t, recorded, T_VALUES);
  for (let i = 0; i < recorded; i++) {
    const from = recording + <usize>(i * 16);
    const to = t + T_SLOTS + <usize>(i * 16);
    store<i32>(to, load<i32>(from) - <i32>start);
    store<i32>(to, load<i32>(from, 4) - <i32>start, 4);
    store<i32>(to, load<i32>(from, 8), 8);
    store<i32>(to, load<i32>(from, 12), 12);
  }
  memory.copy(t + T_BYTES, start, end - start);
  for (let o = 0; o < TEMPLATES; o++) {
    const shared = o == n ? -1 : sharedValues(t, templates + <usize>(o * TEMPLATE));
    store<i32>(sharedPrefix + <usize>((n * TEMPLATES + o) * 4), shared);
    store<i32>(sharedPrefix + <usize>((o * TEMPLATES + n) * 4), shared);
  }
}

/**
 * How many leading values two templates share — the same bytes before each, the same kind and
 * field: a line read by one as far as that reads the same by the other. −1 for an empty template.
 */
function sharedValues(a: usize, b: usize): i32 {
  if (load<i32>(a, T_LENGTH) == 0 || load<i32>(b, T_LENGTH) == 0) return -1;
  const values = min(load<i32>(a, T_VALUES), load<i32>(b, T_VALUES));
  let qa = 0;
  let qb = 0;
  for (let i = 0; i < values; i++) {
    const sa = a + T_SLOTS + <usize>(i * 16);
    const sb = b + T_SLOTS + <usize>(i * 16);
    const n = load<i32>(sa) - qa;
    if (load<i32>(sb) - qb != n || !sameBytes(a + T_BYTES + <usize>qa, b + T_BYTES + <usize>qb, n)) return i;
    if (load<i32>(sa, 8) != load<i32>(sb, 8) || load<i32>(sa, 12) != load<i32>(sb, 12)) return i;
    qa = load<i32>(sa, 4);
    qb = load<i32>(sb, 4);
  }
  return values;
}

/**
 * Reads the line [start, end) by a template, if one fits (its fields are then set, as the full
 * scan would set them). The last template that fitted is tried first; when a template fails after
 * its first k values, one that shares exactly those k values goes on from there (the line's start
 * is not read again), and any other starts over.
 */
function matchTemplates(start: usize, end: usize): bool {
  let tried = 0;
  let t = lastTemplate;
  let i = 0; // values read
  let p = start; // in the line, after value i − 1
  let fields = 0; // fields found so far
  for (;;) {
    tried |= 1 << t;
    const at = templates + <usize>(t * TEMPLATE);
    const reached = matchFrom(at, i, p, end, fields);
    if (reached < 0) { lastTemplate = t; return true; }
    // Failed at value `reached`: a template that shares exactly that many values goes on there.
    let next = -1;
    for (let o = 0; o < TEMPLATES; o++) {
      if ((tried >> o) & 1) continue;
      if (load<i32>(sharedPrefix + <usize>((t * TEMPLATES + o) * 4)) == reached) { next = o; break; }
    }
    if (next >= 0) {
      // The state after `reached` values, which both templates read alike.
      i = reached;
      p = matchedAt;
      fields = matchedFields;
      t = next;
      continue;
    }
    for (let o = 0; o < TEMPLATES; o++) if (((tried >> o) & 1) == 0 && load<i32>(templates + <usize>(o * TEMPLATE), T_LENGTH) != 0) { next = o; break; }
    if (next < 0) return false;
    i = 0;
    p = start;
    fields = 0;
    t = next;
  }
  return false;
}

// Where matchFrom() stopped: the line position after the values it read, and the fields found.
let matchedAt: usize = 0;
let matchedFields = 0;

/**
 * Matches the line from value `from` of template `t` (at line position `p`, `fields` fields found
 * before). @returns −1 when the whole line fits (its fields set), else the number of values read
 * before the first thing that does not fit (matchedAt, matchedFields: the state after them)
 */
function matchFrom(t: usize, from: i32, p: usize, end: usize, fields: i32): i32 {
  const length = load<i32>(t, T_LENGTH);
  if (length == 0) { matchedAt = p; matchedFields = fields; return from; }
  const values = load<i32>(t, T_VALUES);
  const bytes = t + T_BYTES;
  let q = from == 0 ? 0 : load<i32>(t + T_SLOTS + <usize>((from - 1) * 16), 4); // in the template
  for (let i = from; i < values; i++) {
    matchedAt = p;
    matchedFields = fields;
    const slot = t + T_SLOTS + <usize>(i * 16);
    const n = load<i32>(slot) - q;
    if (p + <usize>n > end || !sameBytes(bytes + <usize>q, p, n)) return i;
    const s = p + <usize>n;
    const kind = <u8>load<i32>(slot, 8);
    const field = load<i32>(slot, 12);
    let e = s;
    if (kind == STRING) {
      const x = stringEnd(s);
      if (x == GIVE_UP || (escaped && field >= 0)) return i;
      e = <usize>x;
    } else if (kind == NUMBER) {
      const x = numberEnd(s);
      if (x == GIVE_UP) return i;
      e = <usize>x;
    }
    if (field >= 0) storeValue(matched + <usize>(fields++ * 16), s, e, kind, field);
    p = e;
    q = load<i32>(slot, 4);
  }
  matchedAt = p;
  matchedFields = fields;
  const n = length - q;
  if (p + <usize>n != end || !sameBytes(bytes + <usize>q, p, n)) return values;
  for (let k = 0; k < fields; k++) {
    const at = matched + <usize>(k * 16);
    setField(load<i32>(at, 12), <u8>load<i32>(at, 8), <usize>load<i32>(at), <usize>load<i32>(at, 4));
  }
  return -1;
}

// --- The interner -------------------------------------------------------------------------

@inline function mix(h: u64): u64 {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  return h;
}

/** Hash of `[s, e)`, 16 bytes at a time in two lanes (bytes past `e` are masked off). */
function hashBytes(s: usize, e: usize): u32 {
  let a: u64 = 0x9e3779b97f4a7c15 ^ <u64>(e - s);
  let b: u64 = 0xc2b2ae3d27d4eb4f;
  let p = s;
  for (; p + 16 <= e; p += 16) {
    a = rotl<u64>(a ^ load<u64>(p), 29) * 0x9e3779b97f4a7c15;
    b = rotl<u64>(b ^ load<u64>(p, 8), 31) * 0xc2b2ae3d27d4eb4f;
  }
  if (p + 8 <= e) {
    a = rotl<u64>(a ^ load<u64>(p), 29) * 0x9e3779b97f4a7c15;
    p += 8;
  }
  if (p < e) {
    const tail = load<u64>(p) & (((<u64>1) << (<u64>(e - p) * 8)) - 1);
    b = rotl<u64>(b ^ tail, 31) * 0xc2b2ae3d27d4eb4f;
  }
  return <u32>mix(a ^ rotl<u64>(b, 17));
}

/** Whether `n` bytes at `a` and `b` are the same (SLACK bytes follow both). */
function sameBytes(a: usize, b: usize, n: i32): bool {
  let i = 0;
  for (; i + 16 <= n; i += 16) if (!i8x16.all_true(i8x16.eq(v128.load(a + <usize>i), v128.load(b + <usize>i)))) return false;
  if (i == n) return true;
  const want = (1 << (n - i)) - 1;
  return (i8x16.bitmask(i8x16.eq(v128.load(a + <usize>i), v128.load(b + <usize>i))) & want) == want;
}

// Recently interned texts, found without hashing all their bytes: a direct-mapped cache over a
// quick hash of the length and the first, middle and last 8 bytes, entries of (quick hash, id, arena
// offset, length). A text of a few hundred kinds (perimeters, categories, resources) is interned
// on most lines; hashing its whole length and probing the large table each time would cost more.
const HOT_ENTRIES: i32 = 1 << 12;
let hot: usize = 0;
let internedAt: i32 = 0; // arena offset of the text intern() last gave an id

@inline function quickHash(s: usize, n: i32): u32 {
  let a: u64;
  let b: u64;
  let c: u64 = 0;
  if (n >= 8) {
    a = load<u64>(s);
    b = load<u64>(s + <usize>(n - 8));
    // And the middle: names often share their start and end ("api7.partner3.example").
    c = load<u64>(s + <usize>((n - 8) >> 1));
  } else {
    a = load<u64>(s) & (((<u64>1) << (<u64>n * 8)) - 1); // SLACK bytes follow: the load stays in memory
    b = 0;
  }
  return <u32>mix(a ^ rotl<u64>(b, 23) ^ rotl<u64>(c, 41) ^ (<u64>n * 0x9e3779b97f4a7c15));
}

/** Id of the text `[s, e)`: the same bytes always get the same id. */
function intern(s: usize, e: usize): i32 {
  const n = <i32>(e - s);
  const q = quickHash(s, n);
  const slot = hot + <usize>((<i32>q & (HOT_ENTRIES - 1)) * 16);
  if (load<u32>(slot) == q && load<i32>(slot, 12) == n && load<i32>(slot, 4) != 0 && sameBytes(arena + <usize>load<i32>(slot, 8), s, n)) return load<i32>(slot, 4) - 1;
  const id = internSlowly(s, e);
  store<u32>(slot, q);
  store<i32>(slot, id + 1, 4);
  store<i32>(slot, internedAt, 8);
  store<i32>(slot, n, 12);
  return id;
}

function internSlowly(s: usize, e: usize): i32 {
  const n = <i32>(e - s);
  const h = hashBytes(s, e);
  for (let i = <i32>h & tableMask; ; i = (i + 1) & tableMask) {
    const at = table + <usize>(i * 16);
    const slot = load<i32>(at, 4);
    if (slot == 0) { internedAt = arenaUsed; return insertKey(at, h, s, n); }
    if (load<u32>(at) == h && load<i32>(at, 12) == n && sameBytes(arena + <usize>load<i32>(at, 8), s, n)) { internedAt = load<i32>(at, 8); return slot - 1; }
  }
  return -1;
}

function insertKey(at: usize, h: u32, s: usize, n: i32): i32 {
  if (arenaUsed + n > arenaCap) {
    let cap = arenaCap * 2;
    while (cap < arenaUsed + n) cap *= 2;
    const grown = alloc(cap);
    memory.copy(grown, arena, arenaUsed);
    arena = grown;
    arenaCap = cap;
  }
  memory.copy(arena + <usize>arenaUsed, s, n);
  const k = keyCount++;
  store<u32>(at, h);
  store<i32>(at, k + 1, 4);
  store<i32>(at, arenaUsed, 8);
  store<i32>(at, n, 12);
  arenaUsed += n;
  if (keyCount * 2 > tableMask + 1) growTable();
  return k;
}

function growTable(): void {
  const size = (tableMask + 1) * 2;
  const grown = alloc(size * 16);
  memory.fill(grown, 0, size * 16);
  const mask = size - 1;
  for (let i = 0; i <= tableMask; i++) {
    const at = table + <usize>(i * 16);
    if (load<i32>(at, 4) == 0) continue;
    let j = <i32>load<u32>(at) & mask;
    while (load<i32>(grown + <usize>(j * 16), 4) != 0) j = (j + 1) & mask;
    memory.copy(grown + <usize>(j * 16), at, 16);
  }
  table = grown;
  tableMask = mask;
}
