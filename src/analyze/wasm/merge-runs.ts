// Analyze stage, end of `analyze --out` (AssemblyScript, built into the fold module: see
// fold-lines.ts, instantiated on the main thread by src/analyze/merge-engine.ts): merges the
// workers' sorted runs into the snapshot's batches, as src/analyze/sorted-runs.ts does in
// JavaScript (its fallback, and the reference the tests hold this to). The plan walks the runs side
// by side on numeric keys (output ranks of the strings, dotted quads keyed in text order), notes
// which run rows each output row takes and which values the dictionaries need; a batch is then
// gathered from the runs, a flow found in several runs combined. Addresses are byte offsets in
// this module's memory, where the JavaScript side copied the runs.

import { alloc, rewindHeap } from '../../ingest/wasm/jsonl-scan';
import {
  COL_PERIMETER, COL_PROFILE, COL_CATEGORY, COL_PEER, COL_HITS, COL_FIRST, COL_LAST, COL_DAY_OFFSETS, COL_DAYS, COL_DAY_HITS, COL_RES_OFFSETS, COL_RES, COL_RULE_OFFSETS, COL_RULES, COL_RULE_HITS, COL_IP_OFFSETS, COL_IPS, COL_OP_OFFSETS, COL_OPS, COLUMNS, col,
} from './record-layout';

// A run's entry in the run table: its column table (record-layout.ts), then its length and the
// address of its map from its string ids to the output's.
const RUN_LENGTH: i32 = COLUMNS;
const RUN_OUT: i32 = COLUMNS + 1;
const RUN_ENTRY: i32 = COLUMNS + 2;

// Peer codes (flow-table.ts): the kind in the high bits, an IPv4 address or a string id below.
const TEXT_IP: f64 = 4294967296.0;
const RESOURCE: f64 = 8589934592.0;
const FQDN: f64 = 17179869184.0;
const NONE: f64 = 34359738368.0;
// Peer kinds in snapshot order (flow-order.ts's KIND_RANK).
const KIND_FQDN: i32 = 0;
const KIND_IP: i32 = 1;
const KIND_NONE: i32 = 2;
const KIND_RESOURCE: i32 = 3;

// The used-values table (snapshot.ts's UsedValues): perimeter, profile, category, kind, res, rules, ops.
const USED_PERIMETER: i32 = 0;
const USED_PROFILE: i32 = 1;
const USED_CATEGORY: i32 = 2;
const USED_KIND: i32 = 3;
const USED_RES: i32 = 4;
const USED_RULES: i32 = 5;
const USED_OPS: i32 = 6;
const USED_TABLES: i32 = 7;
const CATEGORY_SLOTS: i32 = 64;

let runs: usize = 0;
let runCount: i32 = 0;
let outLength: i32 = 0;
let sources: usize = 0; // per run, per output row: the run's row, or -1
let used: usize = 0;
let octetRank: usize = 0;
let sample: i32 = 0;
let batch: usize = 0;
let batchRows: i32 = 0;
// A combined list's items: ids (or keys) and hits, grown as needed.
let scratchIds: usize = 0;
let scratchHits: usize = 0;
let scratchCap: i32 = 0;

@inline function runAt(k: i32): usize { return runs + <usize>(k * RUN_ENTRY * 4); }
@inline function lengthOf(run: usize): i32 { return load<i32>(run + <usize>(RUN_LENGTH * 4)); }
@inline function outId(run: usize, id: i32): i32 { return load<i32>(load<usize>(run + <usize>(RUN_OUT * 4)) + <usize>(id * 4)); }
@inline function i32At(column: usize, i: i32): i32 { return load<i32>(column + <usize>(i * 4)); }
@inline function f64At(column: usize, i: i32): f64 { return load<f64>(column + <usize>(i * 8)); }

/** Empties the heap (a fresh merge). */
export function mergeSetup(): void {
  rewindHeap(__heap_base);
  scratchCap = 0;
}

/** Room for the table of `k` runs. */
export function mergeRunTable(k: i32): usize { return alloc(k * RUN_ENTRY * 4); }

function kindOf(code: f64): i32 {
  if (code < RESOURCE) return KIND_IP;
  if (code < FQDN) return KIND_RESOURCE;
  if (code < NONE) return KIND_FQDN;
  return KIND_NONE;
}

/** A dotted quad's key in text order (flow-order.ts's ipv4TextKey). */
@inline function ipv4TextKey(v: u32): u32 {
  return (load<u32>(octetRank + <usize>((v >> 24) * 4)) << 24) | (load<u32>(octetRank + <usize>(((v >> 16) & 255) * 4)) << 16)
    | (load<u32>(octetRank + <usize>(((v >> 8) & 255) * 4)) << 8) | load<u32>(octetRank + <usize>((v & 255) * 4));
}

/** A run's peer or caller-IP code as the output's. */
function outCode(run: usize, code: f64): f64 {
  if (code < TEXT_IP || code >= NONE) return code;
  const base = code >= FQDN ? FQDN : code >= RESOURCE ? RESOURCE : TEXT_IP;
  return base + <f64>outId(run, <i32>(code - base));
}

/**
 * Plans the merge of `k` runs (their table at `table`; every peer and caller IP a dotted quad, a
 * name or none): per output row, the row of each run that holds it; which values the snapshot's
 * dictionaries need. `strings`: the output's strings; `categoryRank`: per category index, its rank.
 * @returns the output's rows
 */
export function mergePlan(table: usize, k: i32, strings: i32, categoryRank: usize, octets: usize, operationSample: i32): i32 {
  runs = table;
  runCount = k;
  octetRank = octets;
  sample = operationSample;
  let total = 0;
  for (let r = 0; r < k; r++) total += lengthOf(runAt(r));
  // Sort keys: everything but the peer in one number, then the peer.
  const groups = alloc(max(total, 1) * 8);
  const peers = alloc(max(total, 1) * 4);
  const keysAt = alloc(k * 4);
  let at = 0;
  for (let r = 0; r < k; r++) {
    const run = runAt(r);
    store<i32>(keysAt + <usize>(r * 4), at);
    const perimeter = col(run, COL_PERIMETER); const profile = col(run, COL_PROFILE); const category = col(run, COL_CATEGORY); const peer = col(run, COL_PEER);
    for (let i = 0, n = lengthOf(run); i < n; i++, at++) {
      const code = f64At(peer, i);
      const kind = kindOf(code);
      const group = ((<i64>outId(run, i32At(perimeter, i)) * <i64>strings + <i64>outId(run, i32At(profile, i))) * 64
        + <i64>load<i32>(categoryRank + <usize>(i32At(category, i) * 4))) * 4 + <i64>kind;
      store<i64>(groups + <usize>(at * 8), group);
      let key: u32 = 0;
      if (kind == KIND_IP) key = ipv4TextKey(<u32>code);
      else if (kind != KIND_NONE) key = <u32>outId(run, <i32>(code - (kind == KIND_RESOURCE ? RESOURCE : FQDN)));
      store<u32>(peers + <usize>(at * 4), key);
    }
  }
  sources = alloc(max(k * total, 1) * 4);
  memory.fill(sources, 0xff, <usize>(k * total) * 4);
  const shared = alloc(max(total, 1));
  memory.fill(shared, 0, <usize>total);
  used = alloc(USED_TABLES * 4);
  for (let u = 0; u < USED_TABLES; u++) {
    const size = u == USED_CATEGORY ? CATEGORY_SLOTS : u == USED_KIND ? 4 : strings;
    const bits = alloc(max(size, 1));
    memory.fill(bits, 0, <usize>size);
    store<usize>(used + <usize>(u * 4), bits);
  }
  const usedPerimeter = load<usize>(used + <usize>(USED_PERIMETER * 4)); const usedProfile = load<usize>(used + <usize>(USED_PROFILE * 4));
  const usedCategory = load<usize>(used + <usize>(USED_CATEGORY * 4)); const usedKind = load<usize>(used + <usize>(USED_KIND * 4));
  const heads = alloc(k * 4);
  memory.fill(heads, 0, <usize>(k * 4));
  let length = 0;
  for (;;) {
    // The smallest head, then every head equal to it (only runs after the first can hold one).
    let min = -1;
    let minGroup: i64 = 0;
    let minPeer: u32 = 0;
    for (let r = 0; r < k; r++) {
      const j = load<i32>(heads + <usize>(r * 4));
      if (j >= lengthOf(runAt(r))) continue;
      const q = load<i32>(keysAt + <usize>(r * 4)) + j;
      const g = load<i64>(groups + <usize>(q * 8));
      const p = load<u32>(peers + <usize>(q * 4));
      if (min == -1 || g < minGroup || (g == minGroup && p < minPeer)) { min = r; minGroup = g; minPeer = p; }
    }
    if (min == -1) break;
    const first = runAt(min);
    const i = load<i32>(heads + <usize>(min * 4));
    store<u8>(usedPerimeter + <usize>outId(first, i32At(col(first, COL_PERIMETER), i)), 1);
    store<u8>(usedProfile + <usize>outId(first, i32At(col(first, COL_PROFILE), i)), 1);
    store<u8>(usedCategory + <usize>i32At(col(first, COL_CATEGORY), i), 1);
    store<u8>(usedKind + <usize>kindOf(f64At(col(first, COL_PEER), i)), 1);
    let holders = 0;
    for (let r = min; r < k; r++) {
      const j = load<i32>(heads + <usize>(r * 4));
      if (j >= lengthOf(runAt(r))) continue;
      const q = load<i32>(keysAt + <usize>(r * 4)) + j;
      if (r != min && (load<i64>(groups + <usize>(q * 8)) != minGroup || load<u32>(peers + <usize>(q * 4)) != minPeer)) continue;
      store<i32>(sources + <usize>((r * total + length) * 4), j);
      holders++;
      store<i32>(heads + <usize>(r * 4), j + 1);
    }
    if (holders > 1) {
      for (let r = min; r < k; r++) {
        const j = load<i32>(sources + <usize>((r * total + length) * 4));
        if (j >= 0) store<u8>(shared + <usize>(load<i32>(keysAt + <usize>(r * 4)) + j), 1);
      }
    }
    length++;
  }
  // The sources as k columns of `length` rows (they were laid out for `total`).
  if (length < total) for (let r = 1; r < k; r++) memory.copy(sources + <usize>(r * length * 4), sources + <usize>(r * total * 4), <usize>length * 4);
  outLength = length;

  // The list values in use: every resource and rule; operations, but of a flow held by several
  // runs only those of its combined sample.
  const usedRes = load<usize>(used + <usize>(USED_RES * 4)); const usedRules = load<usize>(used + <usize>(USED_RULES * 4));
  const usedOps = load<usize>(used + <usize>(USED_OPS * 4));
  for (let r = 0; r < k; r++) {
    const run = runAt(r);
    const n = lengthOf(run);
    const res = col(run, COL_RES); const rules = col(run, COL_RULES); const ops = col(run, COL_OPS); const opOffsets = col(run, COL_OP_OFFSETS);
    for (let q = 0, m = i32At(col(run, COL_RES_OFFSETS), n); q < m; q++) store<u8>(usedRes + <usize>outId(run, i32At(res, q)), 1);
    for (let q = 0, m = i32At(col(run, COL_RULE_OFFSETS), n); q < m; q++) store<u8>(usedRules + <usize>outId(run, i32At(rules, q)), 1);
    const flags = shared + <usize>load<i32>(keysAt + <usize>(r * 4));
    for (let i = 0; i < n; i++) {
      if (load<u8>(flags + <usize>i) != 0) continue;
      for (let q = i32At(opOffsets, i), end = i32At(opOffsets, i + 1); q < end; q++) store<u8>(usedOps + <usize>outId(run, i32At(ops, q)), 1);
    }
  }
  for (let row = 0; row < length; row++) {
    if (holdersOf(row) < 2) continue;
    const m = combineIds(row, COL_OP_OFFSETS, COL_OPS, sample);
    for (let q = 0; q < m; q++) store<u8>(usedOps + <usize><i32>load<i64>(scratchIds + <usize>(q * 8)), 1);
  }
  return length;
}

/** The used-values table of the last plan (USED_TABLES addresses of byte maps). */
export function mergeUsedAt(): usize { return used; }

@inline function sourceOf(r: i32, row: i32): i32 { return load<i32>(sources + <usize>((r * outLength + row) * 4)); }

function holdersOf(row: i32): i32 {
  let holders = 0;
  for (let r = 0; r < runCount; r++) if (sourceOf(r, row) >= 0) holders++;
  return holders;
}

/** Room for `n` items in the scratch list. */
function scratchFor(n: i32): void {
  if (n <= scratchCap) return;
  scratchCap = max(n, max(scratchCap * 2, 64));
  scratchIds = alloc(scratchCap * 8);
  scratchHits = alloc(scratchCap * 8);
}

/**
 * The scratch list sorted (stable insertion sort: equal ids keep the order they came in), equal
 * ids merged (their hits summed left to right when `sum`), cut to `limit`. @returns how many are kept
 */
function sortUnique(n: i32, sum: bool, limit: i32): i32 {
  for (let k = 1; k < n; k++) {
    const x = load<i64>(scratchIds + <usize>(k * 8));
    const h = load<f64>(scratchHits + <usize>(k * 8));
    let j = k - 1;
    while (j >= 0 && load<i64>(scratchIds + <usize>(j * 8)) > x) {
      store<i64>(scratchIds + <usize>((j + 1) * 8), load<i64>(scratchIds + <usize>(j * 8)));
      store<f64>(scratchHits + <usize>((j + 1) * 8), load<f64>(scratchHits + <usize>(j * 8)));
      j--;
    }
    store<i64>(scratchIds + <usize>((j + 1) * 8), x);
    store<f64>(scratchHits + <usize>((j + 1) * 8), h);
  }
  let m = 0;
  for (let k = 0; k < n; k++) {
    const id = load<i64>(scratchIds + <usize>(k * 8));
    if (m > 0 && load<i64>(scratchIds + <usize>((m - 1) * 8)) == id) {
      if (sum) store<f64>(scratchHits + <usize>((m - 1) * 8), load<f64>(scratchHits + <usize>((m - 1) * 8)) + load<f64>(scratchHits + <usize>(k * 8)));
      continue;
    }
    store<i64>(scratchIds + <usize>(m * 8), id);
    store<f64>(scratchHits + <usize>(m * 8), load<f64>(scratchHits + <usize>(k * 8)));
    m++;
  }
  return min(m, limit);
}

/**
 * The union of one list of the runs' rows that hold output row `row`, in the scratch list:
 * values as output ids (COL_RES, COL_RULES, COL_OPS; hits from `hitsCol` when ≥ 0, summed), day
 * numbers (COL_DAYS, hits summed), or caller IPs keyed in text order (COL_IPS, the code kept as
 * the item's hits). @returns how many are kept (at most `limit`)
 */
function combineList(row: i32, offsetsCol: i32, valuesCol: i32, hitsCol: i32, limit: i32): i32 {
  let n = 0;
  for (let r = 0; r < runCount; r++) {
    const i = sourceOf(r, row);
    if (i >= 0) { const offsets = col(runAt(r), offsetsCol); n += i32At(offsets, i + 1) - i32At(offsets, i); }
  }
  scratchFor(n);
  let at = 0;
  for (let r = 0; r < runCount; r++) {
    const i = sourceOf(r, row);
    if (i < 0) continue;
    const run = runAt(r);
    const offsets = col(run, offsetsCol); const values = col(run, valuesCol);
    for (let q = i32At(offsets, i), end = i32At(offsets, i + 1); q < end; q++, at++) {
      let id: i64;
      let hits: f64 = 0;
      if (valuesCol == COL_IPS) { const code = outCode(run, f64At(values, q)); id = <i64>ipv4TextKey(<u32>code); hits = code; }
      else if (valuesCol == COL_DAYS) id = <i64>i32At(values, q);
      else id = <i64>outId(run, i32At(values, q));
      if (hitsCol >= 0) hits = f64At(col(run, hitsCol), q);
      store<i64>(scratchIds + <usize>(at * 8), id);
      store<f64>(scratchHits + <usize>(at * 8), hits);
    }
  }
  return sortUnique(n, hitsCol >= 0, limit);
}

@inline function combineIds(row: i32, offsetsCol: i32, valuesCol: i32, limit: i32): i32 {
  return combineList(row, offsetsCol, valuesCol, -1, limit);
}

/**
 * Output rows [r0, r1) as a column table (COLUMNS addresses, then the lengths of the list
 * columns' items: days, res, rules, ips, ops), in memory allocated here (the JavaScript side
 * copies it out, then rewinds the heap).
 */
export function mergeBatch(r0: i32, r1: i32): usize {
  const m = r1 - r0;
  batchRows = m;
  scratchCap = 0; // the last batch's room was given back
  // Items at most (a combined flow's lists may be shorter).
  let nd = 0; let nr = 0; let nu = 0; let ni = 0; let no = 0;
  for (let r = 0; r < runCount; r++) {
    const run = runAt(r);
    const dayOffsets = col(run, COL_DAY_OFFSETS); const resOffsets = col(run, COL_RES_OFFSETS); const ruleOffsets = col(run, COL_RULE_OFFSETS);
    const ipOffsets = col(run, COL_IP_OFFSETS); const opOffsets = col(run, COL_OP_OFFSETS);
    for (let row = r0; row < r1; row++) {
      const i = sourceOf(r, row);
      if (i < 0) continue;
      nd += i32At(dayOffsets, i + 1) - i32At(dayOffsets, i); nr += i32At(resOffsets, i + 1) - i32At(resOffsets, i);
      nu += i32At(ruleOffsets, i + 1) - i32At(ruleOffsets, i); ni += i32At(ipOffsets, i + 1) - i32At(ipOffsets, i);
      no += i32At(opOffsets, i + 1) - i32At(opOffsets, i);
    }
  }
  batch = alloc((COLUMNS + 5) * 4);
  for (let c = COL_PERIMETER; c <= COL_CATEGORY; c++) store<usize>(batch + <usize>(c * 4), alloc(max(m, 1) * 4));
  for (let c = COL_PEER; c <= COL_LAST; c++) store<usize>(batch + <usize>(c * 4), alloc(max(m, 1) * 8));
  store<usize>(batch + <usize>(COL_DAY_OFFSETS * 4), alloc((m + 1) * 4)); store<usize>(batch + <usize>(COL_RES_OFFSETS * 4), alloc((m + 1) * 4));
  store<usize>(batch + <usize>(COL_RULE_OFFSETS * 4), alloc((m + 1) * 4)); store<usize>(batch + <usize>(COL_IP_OFFSETS * 4), alloc((m + 1) * 4));
  store<usize>(batch + <usize>(COL_OP_OFFSETS * 4), alloc((m + 1) * 4));
  store<usize>(batch + <usize>(COL_DAYS * 4), alloc(max(nd, 1) * 4)); store<usize>(batch + <usize>(COL_DAY_HITS * 4), alloc(max(nd, 1) * 8));
  store<usize>(batch + <usize>(COL_RES * 4), alloc(max(nr, 1) * 4));
  store<usize>(batch + <usize>(COL_RULES * 4), alloc(max(nu, 1) * 4)); store<usize>(batch + <usize>(COL_RULE_HITS * 4), alloc(max(nu, 1) * 8));
  store<usize>(batch + <usize>(COL_IPS * 4), alloc(max(ni, 1) * 8));
  store<usize>(batch + <usize>(COL_OPS * 4), alloc(max(no, 1) * 4));

  const perimeter = col(batch, COL_PERIMETER); const profile = col(batch, COL_PROFILE); const category = col(batch, COL_CATEGORY);
  const peer = col(batch, COL_PEER); const hits = col(batch, COL_HITS); const first = col(batch, COL_FIRST); const last = col(batch, COL_LAST);
  const dayOffsets = col(batch, COL_DAY_OFFSETS); const days = col(batch, COL_DAYS); const dayHits = col(batch, COL_DAY_HITS);
  const resOffsets = col(batch, COL_RES_OFFSETS); const res = col(batch, COL_RES);
  const ruleOffsets = col(batch, COL_RULE_OFFSETS); const rules = col(batch, COL_RULES); const ruleHits = col(batch, COL_RULE_HITS);
  const ipOffsets = col(batch, COL_IP_OFFSETS); const ips = col(batch, COL_IPS);
  const opOffsets = col(batch, COL_OP_OFFSETS); const ops = col(batch, COL_OPS);
  let d = 0; let e = 0; let u = 0; let p = 0; let x = 0;
  store<i32>(dayOffsets, 0); store<i32>(resOffsets, 0); store<i32>(ruleOffsets, 0); store<i32>(ipOffsets, 0); store<i32>(opOffsets, 0);
  for (let row = r0; row < r1; row++) {
    const o = row - r0;
    let firstRun = -1;
    let holders = 0;
    for (let r = 0; r < runCount; r++) if (sourceOf(r, row) >= 0) { if (firstRun < 0) firstRun = r; holders++; }
    const run = runAt(firstRun);
    const i = sourceOf(firstRun, row);
    store<i32>(perimeter + <usize>(o * 4), outId(run, i32At(col(run, COL_PERIMETER), i)));
    store<i32>(profile + <usize>(o * 4), outId(run, i32At(col(run, COL_PROFILE), i)));
    store<i32>(category + <usize>(o * 4), i32At(col(run, COL_CATEGORY), i));
    store<f64>(peer + <usize>(o * 8), outCode(run, f64At(col(run, COL_PEER), i)));
    if (holders == 1) {
      // The common case: the run's row as it is (its lists are in order, and ids keep their order).
      store<f64>(hits + <usize>(o * 8), f64At(col(run, COL_HITS), i));
      store<f64>(first + <usize>(o * 8), f64At(col(run, COL_FIRST), i));
      store<f64>(last + <usize>(o * 8), f64At(col(run, COL_LAST), i));
      const runDayOffsets = col(run, COL_DAY_OFFSETS);
      const d0 = i32At(runDayOffsets, i); const dn = i32At(runDayOffsets, i + 1) - d0;
      memory.copy(days + <usize>(d * 4), col(run, COL_DAYS) + <usize>(d0 * 4), <usize>(dn * 4));
      memory.copy(dayHits + <usize>(d * 8), col(run, COL_DAY_HITS) + <usize>(d0 * 8), <usize>(dn * 8));
      d += dn;
      const runRes = col(run, COL_RES); const runResOffsets = col(run, COL_RES_OFFSETS);
      for (let q = i32At(runResOffsets, i), end = i32At(runResOffsets, i + 1); q < end; q++) { store<i32>(res + <usize>(e * 4), outId(run, i32At(runRes, q))); e++; }
      const runRules = col(run, COL_RULES); const runRuleHits = col(run, COL_RULE_HITS); const runRuleOffsets = col(run, COL_RULE_OFFSETS);
      for (let q = i32At(runRuleOffsets, i), end = i32At(runRuleOffsets, i + 1); q < end; q++) {
        store<i32>(rules + <usize>(u * 4), outId(run, i32At(runRules, q)));
        store<f64>(ruleHits + <usize>(u * 8), f64At(runRuleHits, q));
        u++;
      }
      const runIps = col(run, COL_IPS); const runIpOffsets = col(run, COL_IP_OFFSETS);
      for (let q = i32At(runIpOffsets, i), end = i32At(runIpOffsets, i + 1); q < end; q++) { store<f64>(ips + <usize>(p * 8), outCode(run, f64At(runIps, q))); p++; }
      const runOps = col(run, COL_OPS); const runOpOffsets = col(run, COL_OP_OFFSETS);
      for (let q = i32At(runOpOffsets, i), end = i32At(runOpOffsets, i + 1); q < end; q++) { store<i32>(ops + <usize>(x * 4), outId(run, i32At(runOps, q))); x++; }
    } else {
      // Held by several runs: sums, bounds, and the union of each list in order.
      let flowHits: f64 = 0; let firstSeen = Infinity; let lastSeen = -Infinity;
      for (let r = 0; r < runCount; r++) {
        const j = sourceOf(r, row);
        if (j < 0) continue;
        const other = runAt(r);
        flowHits += f64At(col(other, COL_HITS), j);
        firstSeen = min(firstSeen, f64At(col(other, COL_FIRST), j));
        lastSeen = max(lastSeen, f64At(col(other, COL_LAST), j));
      }
      store<f64>(hits + <usize>(o * 8), flowHits); store<f64>(first + <usize>(o * 8), firstSeen); store<f64>(last + <usize>(o * 8), lastSeen);
      let n = combineList(row, COL_DAY_OFFSETS, COL_DAYS, COL_DAY_HITS, i32.MAX_VALUE);
      for (let q = 0; q < n; q++, d++) {
        store<i32>(days + <usize>(d * 4), <i32>load<i64>(scratchIds + <usize>(q * 8)));
        store<f64>(dayHits + <usize>(d * 8), load<f64>(scratchHits + <usize>(q * 8)));
      }
      n = combineIds(row, COL_RES_OFFSETS, COL_RES, i32.MAX_VALUE);
      for (let q = 0; q < n; q++, e++) store<i32>(res + <usize>(e * 4), <i32>load<i64>(scratchIds + <usize>(q * 8)));
      n = combineList(row, COL_RULE_OFFSETS, COL_RULES, COL_RULE_HITS, i32.MAX_VALUE);
      for (let q = 0; q < n; q++, u++) {
        store<i32>(rules + <usize>(u * 4), <i32>load<i64>(scratchIds + <usize>(q * 8)));
        store<f64>(ruleHits + <usize>(u * 8), load<f64>(scratchHits + <usize>(q * 8)));
      }
      n = combineIds(row, COL_IP_OFFSETS, COL_IPS, i32.MAX_VALUE);
      for (let q = 0; q < n; q++, p++) store<f64>(ips + <usize>(p * 8), load<f64>(scratchHits + <usize>(q * 8)));
      n = combineIds(row, COL_OP_OFFSETS, COL_OPS, sample);
      for (let q = 0; q < n; q++, x++) store<i32>(ops + <usize>(x * 4), <i32>load<i64>(scratchIds + <usize>(q * 8)));
    }
    store<i32>(dayOffsets + <usize>((o + 1) * 4), d); store<i32>(resOffsets + <usize>((o + 1) * 4), e);
    store<i32>(ruleOffsets + <usize>((o + 1) * 4), u); store<i32>(ipOffsets + <usize>((o + 1) * 4), p);
    store<i32>(opOffsets + <usize>((o + 1) * 4), x);
  }
  store<i32>(batch + <usize>(COLUMNS * 4), d); store<i32>(batch + <usize>((COLUMNS + 1) * 4), e);
  store<i32>(batch + <usize>((COLUMNS + 2) * 4), u); store<i32>(batch + <usize>((COLUMNS + 3) * 4), p);
  store<i32>(batch + <usize>((COLUMNS + 4) * 4), x);
  return batch;
}

// The encoded batch's table (snapshot-encoding.ts's EncodedBatch): dictionary indexes of
// perimeter, profile, category, kind, then the peers' UTF-8 (offsets, bytes), first and last as
// 64-bit integers, days seen, dictionary indexes of resources, rules, operations, the caller IPs'
// UTF-8 (offsets, bytes); then the byte lengths of the two texts.
const ENC_PERIMETER: i32 = 0;
const ENC_PROFILE: i32 = 1;
const ENC_CATEGORY: i32 = 2;
const ENC_KIND: i32 = 3;
const ENC_PEER_OFFSETS: i32 = 4;
const ENC_PEER_BYTES: i32 = 5;
const ENC_FIRST: i32 = 6;
const ENC_LAST: i32 = 7;
const ENC_DAYS_SEEN: i32 = 8;
const ENC_RES: i32 = 9;
const ENC_RULES: i32 = 10;
const ENC_OPS: i32 = 11;
const ENC_IP_OFFSETS: i32 = 12;
const ENC_IP_BYTES: i32 = 13;
const ENC_PEER_LENGTH: i32 = 14;
const ENC_IP_LENGTH: i32 = 15;
const ENC_ENTRIES: i32 = 16;

let dictionaries: usize = 0; // USED_TABLES addresses: value id → dictionary index
let utf8Offsets: usize = 0; // per output string, where its UTF-8 starts (strings + 1)
let utf8Bytes: usize = 0;

/**
 * Sets what encoding needs: the dictionaries' index maps (a table in the order of the used-values
 * table) and the output strings' UTF-8 (offsets, bytes).
 */
export function mergeEncodingSetup(indexes: usize, offsets: usize, bytes: usize): void {
  dictionaries = indexes;
  utf8Offsets = offsets;
  utf8Bytes = bytes;
}

@inline function indexOf(dictionary: i32, id: i32): i32 { return load<i32>(load<usize>(dictionaries + <usize>(dictionary * 4)) + <usize>(id * 4)); }

/** Bytes of a peer or caller-IP code's text. */
function textLength(code: f64): i32 {
  if (code < TEXT_IP) {
    const v = <u32>code;
    let n = 3; // the dots
    for (let shift = 24; shift >= 0; shift -= 8) {
      const o = (v >> <u32>shift) & 255;
      n += o >= 100 ? 3 : o >= 10 ? 2 : 1;
    }
    return n;
  }
  if (code >= NONE) return 0;
  const id = <i32>(code - (code >= FQDN ? FQDN : code >= RESOURCE ? RESOURCE : TEXT_IP));
  return load<i32>(utf8Offsets + <usize>((id + 1) * 4)) - load<i32>(utf8Offsets + <usize>(id * 4));
}

/** Writes a code's text at `at` (as textLength() counts it). @returns the end */
function writeText(code: f64, at: usize): usize {
  if (code < TEXT_IP) {
    const v = <u32>code;
    for (let shift = 24; shift >= 0; shift -= 8) {
      const o = (v >> <u32>shift) & 255;
      if (o >= 100) { store<u8>(at, 48 + o / 100); at++; }
      if (o >= 10) { store<u8>(at, 48 + (o / 10) % 10); at++; }
      store<u8>(at, 48 + o % 10); at++;
      if (shift > 0) { store<u8>(at, 46); at++; }
    }
    return at;
  }
  if (code >= NONE) return at;
  const id = <i32>(code - (code >= FQDN ? FQDN : code >= RESOURCE ? RESOURCE : TEXT_IP));
  const from = load<i32>(utf8Offsets + <usize>(id * 4));
  const n = load<i32>(utf8Offsets + <usize>((id + 1) * 4)) - from;
  memory.copy(at, utf8Bytes + <usize>from, <usize>n);
  return at + <usize>n;
}

/** UTF-8 of `n` codes at `codes` (f64): its offsets and bytes stored at `entry`, `entry` + 1 of the table. @returns the bytes */
function encodeTexts(codes: usize, n: i32, table: usize, offsetsEntry: i32, bytesEntry: i32): i32 {
  let size = 0;
  for (let k = 0; k < n; k++) size += textLength(f64At(codes, k));
  const offsets = alloc((n + 1) * 4);
  const bytes = alloc(max(size, 1));
  store<usize>(table + <usize>(offsetsEntry * 4), offsets);
  store<usize>(table + <usize>(bytesEntry * 4), bytes);
  let at = bytes;
  store<i32>(offsets, 0);
  for (let k = 0; k < n; k++) {
    at = writeText(f64At(codes, k), at);
    store<i32>(offsets + <usize>((k + 1) * 4), <i32>(at - bytes));
  }
  return size;
}

/** Dictionary indexes of `n` ids at `ids`, into a column stored at `entry` of the table. */
function encodeIndexes(ids: usize, n: i32, dictionary: i32, table: usize, entry: i32): void {
  const out = alloc(max(n, 1) * 4);
  store<usize>(table + <usize>(entry * 4), out);
  for (let k = 0; k < n; k++) store<i32>(out + <usize>(k * 4), indexOf(dictionary, i32At(ids, k)));
}

/** Epoch milliseconds as 64-bit integers (snapshot-encoding.ts's times(): the same words). */
function encodeTimes(values: usize, n: i32, table: usize, entry: i32): void {
  const out = alloc(max(n, 1) * 8);
  store<usize>(table + <usize>(entry * 4), out);
  for (let k = 0; k < n; k++) {
    const v = f64At(values, k);
    let lo = 0; let hi = 0;
    if (isFinite(v)) {
      const high = Math.floor(v / 4294967296.0);
      lo = <i32><i64>(v - high * 4294967296.0);
      hi = <i32><i64>high;
    }
    store<i32>(out + <usize>(k * 8), lo);
    store<i32>(out + <usize>(k * 8), hi, 4);
  }
}

/** The batch of the last mergeBatch() as the snapshot stores it: an encoded table (ENC_ENTRIES entries). */
export function mergeEncode(): usize {
  const m = batchRows;
  const table = alloc(ENC_ENTRIES * 4);
  const kinds = alloc(max(m, 1) * 4);
  const daysSeen = alloc(max(m, 1) * 4);
  const peers = col(batch, COL_PEER);
  const dayOffsets = col(batch, COL_DAY_OFFSETS);
  for (let o = 0; o < m; o++) {
    store<i32>(kinds + <usize>(o * 4), kindOf(f64At(peers, o)));
    store<i32>(daysSeen + <usize>(o * 4), i32At(dayOffsets, o + 1) - i32At(dayOffsets, o));
  }
  store<usize>(table + <usize>(ENC_DAYS_SEEN * 4), daysSeen);
  encodeIndexes(col(batch, COL_PERIMETER), m, USED_PERIMETER, table, ENC_PERIMETER);
  encodeIndexes(col(batch, COL_PROFILE), m, USED_PROFILE, table, ENC_PROFILE);
  encodeIndexes(col(batch, COL_CATEGORY), m, USED_CATEGORY, table, ENC_CATEGORY);
  encodeIndexes(kinds, m, USED_KIND, table, ENC_KIND);
  store<i32>(table + <usize>(ENC_PEER_LENGTH * 4), encodeTexts(peers, m, table, ENC_PEER_OFFSETS, ENC_PEER_BYTES));
  encodeTimes(col(batch, COL_FIRST), m, table, ENC_FIRST);
  encodeTimes(col(batch, COL_LAST), m, table, ENC_LAST);
  const items = batch + <usize>(COLUMNS * 4);
  encodeIndexes(col(batch, COL_RES), load<i32>(items, 4), USED_RES, table, ENC_RES);
  encodeIndexes(col(batch, COL_RULES), load<i32>(items, 8), USED_RULES, table, ENC_RULES);
  encodeIndexes(col(batch, COL_OPS), load<i32>(items, 16), USED_OPS, table, ENC_OPS);
  store<i32>(table + <usize>(ENC_IP_LENGTH * 4), encodeTexts(col(batch, COL_IPS), load<i32>(items, 12), table, ENC_IP_OFFSETS, ENC_IP_BYTES));
  return table;
}
