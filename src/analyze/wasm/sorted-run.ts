// Analyze stage, end of a worker's fold (AssemblyScript, built into the fold module: see
// fold-lines.ts): a worker's sorted run (src/analyze/flow-order.ts) made where its flows are. The
// records and the parts pool are read in place; the flows are put in snapshot order by a radix
// sort on numbers (a group's rank, the peer kind, the peer's rank or dotted-quad key, worked out by
// the JavaScript side, which also lists the extras of the few flows that have them) and written
// as columns, each row's list items sorted. The JavaScript side copies the columns out, then
// rewinds the heap.

import { alloc } from '../../ingest/wasm/jsonl-scan';
import {
  COL_PERIMETER, COL_PROFILE, COL_CATEGORY, COL_PEER, COL_HITS, COL_FIRST, COL_LAST, COL_DAY_OFFSETS, COL_DAYS, COL_DAY_HITS, COL_RES_OFFSETS, COL_RES, COL_RULE_OFFSETS, COL_RULES, COL_RULE_HITS, COL_IP_OFFSETS, COL_IPS, COL_OP_OFFSETS, COL_OPS, COLUMNS,
  F_FIRST, F_HITS, F_LAST, F_RULE0_HITS, I_DAY0, I_EXTRA, I_GROUP, I_HI, I_LO, I_OP0, I_RES0, I_RULE0, PART_ENTRY, PART_VALUES, RECORD, RULES_BIT,
  PEER_FQDN, PEER_IPV4, PEER_RESOURCE, PEER_TEXT_IP, col,
} from './record-layout';

// A run's columns go in a column table (record-layout.ts); the list columns (from
// COL_DAY_OFFSETS) of another table describe the extras' lists, a row per flow with extras.

const EXTRA_INDEX: i32 = RULES_BIT - 1;

let extraFlows: usize = 0;
let extraFlowCount: i32 = 0;
let extraParts: usize = 0;
let extraPartCount: i32 = 0;
let columns: usize = 0;


/**
 * First step: lists the flows with extras (ascending) and the parts pool's entries of those flows
 * (the JavaScript side adds them to the extras). @returns 1 when a peer is an address kept as text
 * (the run is then made by comparing texts, on the JavaScript side), else 0
 */
export function runScan(records: usize, n: i32, pool: usize, parts: i32): i32 {
  extraFlows = alloc(n * 4);
  extraFlowCount = 0;
  for (let f = 0; f < n; f++) {
    const at = records + <usize>f * RECORD;
    if (load<i32>(at, I_HI) == PEER_TEXT_IP) return 1;
    if ((load<i32>(at, I_EXTRA) & EXTRA_INDEX) != 0) store<i32>(extraFlows + <usize>(extraFlowCount++ * 4), f);
  }
  extraPartCount = 0;
  if (extraFlowCount > 0) {
    extraParts = alloc(parts * 4);
    for (let k = 0; k < parts; k++) {
      const flow = load<i32>(pool + <usize>k * PART_ENTRY);
      if (flow != 0 && (load<i32>(records + <usize>(flow - 1) * RECORD, I_EXTRA) & EXTRA_INDEX) != 0) store<i32>(extraParts + <usize>(extraPartCount++ * 4), k);
    }
  }
  return 0;
}
export function runExtraFlowsAt(): usize { return extraFlows; }
export function runExtraFlowCount(): i32 { return extraFlowCount; }
export function runExtraPartsAt(): usize { return extraParts; }
export function runExtraPartCount(): i32 { return extraPartCount; }

/** Room for a column table (COLUMNS addresses). */
export function runColumnTable(): usize { return alloc(COLUMNS * 4); }

/**
 * Second step: the run's columns, in a column table allocated here (runColumnsAt()). `pool`
 * holds only parts of flows without extras now. `rank`: per string id, its rank in text order;
 * `groupKey`: per group (pair · 64 + category), its rank in snapshot order, perimeter id, profile
 * id; `octetRank`: per octet, its rank in text order; `extras`: the lists of the flows with
 * extras (a column table, a row per flow of runExtraFlowsAt(), IP addresses already in order).
 * The records are copied in snapshot order first, and the parts listed by row, so that the
 * columns are then written in one pass in order: writing each flow where its row goes, or reading
 * flows in row order where they lie, waits on memory at every flow.
 */
export function runExport(records: usize, n: i32, pool: usize, parts: i32, rank: usize, groupKey: usize, groupRanks: i32,
  octetRank: usize, extras: usize, sample: i32): void {
  // Which flows have extras: their row in `extras`, else -1.
  const extraRow = alloc(n * 4);
  memory.fill(extraRow, 0xff, n * 4);
  for (let k = 0; k < extraFlowCount; k++) store<i32>(extraRow + <usize>(load<i32>(extraFlows + <usize>(k * 4)) * 4), k);

  const order = snapshotOrder(records, n, rank, groupKey, groupRanks, octetRank);
  // The records in order, each with its row in `extras` in place of its extras index.
  const sorted = alloc(n * RECORD);
  const pos = alloc(n * 4);
  for (let r = 0; r < n; r++) {
    const f = load<i32>(order + <usize>(r * 4));
    const from = records + <usize>f * RECORD;
    const to = sorted + <usize>r * RECORD;
    v128.store(to, v128.load(from)); v128.store(to, v128.load(from, 16), 16);
    v128.store(to, v128.load(from, 32), 32); v128.store(to, v128.load(from, 48), 48);
    store<i32>(to, load<i32>(extraRow + <usize>(f * 4)), I_EXTRA);
    store<i32>(pos + <usize>(f * 4), r);
  }
  // The parts by row, in pool order within a row (the order the JavaScript side sums the other
  // days' hits in): (tag, pad, hits) each.
  const rowParts = alloc((n + 1) * 4);
  memory.fill(rowParts, 0, (n + 1) * 4);
  for (let k = 0; k < parts; k++) {
    const flow = load<i32>(pool + <usize>k * PART_ENTRY);
    if (flow == 0) continue;
    const at = rowParts + <usize>((load<i32>(pos + <usize>((flow - 1) * 4)) + 1) * 4);
    store<i32>(at, load<i32>(at) + 1);
  }
  for (let r = 0; r < n; r++) {
    const at = rowParts + <usize>(r * 4);
    store<i32>(at, load<i32>(at, 4) + load<i32>(at), 4);
  }
  const fill = alloc(n * 4);
  memory.copy(fill, rowParts, <usize>n * 4);
  const byRow = alloc(max(load<i32>(rowParts + <usize>(n * 4)), 1) * 16);
  for (let k = 0; k < parts; k++) {
    const part = pool + <usize>k * PART_ENTRY;
    const flow = load<i32>(part);
    if (flow == 0) continue;
    const at = fill + <usize>(load<i32>(pos + <usize>((flow - 1) * 4)) * 4);
    const q = load<i32>(at);
    store<i32>(at, q + 1);
    store<i32>(byRow + <usize>(q * 16), load<i32>(part, 4));
    store<f64>(byRow + <usize>(q * 16), load<f64>(part, 16), 8);
  }

  // The list offsets. A row's operations are all written, sorted, then cut to the sample: in a
  // column of their own (at `allOpsAt`) when a flow has more.
  columns = alloc(COLUMNS * 4);
  // (No arrays here: the heap is the scanner's, outside the runtime's.)
  for (let c = COL_PERIMETER; c <= COL_CATEGORY; c++) store<usize>(columns + <usize>(c * 4), alloc(n * 4));
  for (let c = COL_PEER; c <= COL_LAST; c++) store<usize>(columns + <usize>(c * 4), alloc(n * 8));
  store<usize>(columns + <usize>(COL_DAY_OFFSETS * 4), alloc((n + 1) * 4)); store<usize>(columns + <usize>(COL_RES_OFFSETS * 4), alloc((n + 1) * 4));
  store<usize>(columns + <usize>(COL_RULE_OFFSETS * 4), alloc((n + 1) * 4)); store<usize>(columns + <usize>(COL_IP_OFFSETS * 4), alloc((n + 1) * 4));
  store<usize>(columns + <usize>(COL_OP_OFFSETS * 4), alloc((n + 1) * 4));
  const allOpOffsets = alloc((n + 1) * 4);
  const dayOffsets = col(columns, COL_DAY_OFFSETS); const resOffsets = col(columns, COL_RES_OFFSETS);
  const ruleOffsets = col(columns, COL_RULE_OFFSETS); const ipOffsets = col(columns, COL_IP_OFFSETS); const opOffsets = col(columns, COL_OP_OFFSETS);
  let nd = 0; let nr = 0; let nu = 0; let ni = 0; let no = 0; let allOps = 0;
  store<i32>(dayOffsets, 0); store<i32>(resOffsets, 0); store<i32>(ruleOffsets, 0); store<i32>(ipOffsets, 0); store<i32>(opOffsets, 0);
  store<i32>(allOpOffsets, 0);
  for (let r = 0; r < n; r++) {
    const at = sorted + <usize>r * RECORD;
    const x = load<i32>(at, I_EXTRA);
    if (x >= 0) {
      nd += listLength(extras, COL_DAY_OFFSETS, x); nr += listLength(extras, COL_RES_OFFSETS, x); nu += listLength(extras, COL_RULE_OFFSETS, x);
      ni += listLength(extras, COL_IP_OFFSETS, x);
      const ops = listLength(extras, COL_OP_OFFSETS, x);
      no += ops; allOps += ops;
    } else {
      let days = 1; let res = load<i32>(at, I_RES0) >= 0 ? 1 : 0; let rules = load<i32>(at, I_RULE0) >= 0 ? 1 : 0; let ops = load<i32>(at, I_OP0) >= 0 ? 1 : 0;
      const q1 = load<i32>(rowParts + <usize>((r + 1) * 4));
      for (let q = load<i32>(rowParts + <usize>(r * 4)); q < q1; q++) {
        const kind = <u32>load<i32>(byRow + <usize>(q * 16)) >> 29;
        if (kind == 0) days++; else if (kind == 1) res++; else if (kind == 2) rules++; else ops++;
      }
      nd += days; nr += res; nu += rules;
      no += min(ops, sample); allOps += ops;
    }
    store<i32>(dayOffsets + <usize>((r + 1) * 4), nd); store<i32>(resOffsets + <usize>((r + 1) * 4), nr);
    store<i32>(ruleOffsets + <usize>((r + 1) * 4), nu); store<i32>(ipOffsets + <usize>((r + 1) * 4), ni);
    store<i32>(opOffsets + <usize>((r + 1) * 4), no); store<i32>(allOpOffsets + <usize>((r + 1) * 4), allOps);
  }
  store<usize>(columns + <usize>(COL_DAYS * 4), alloc(nd * 4)); store<usize>(columns + <usize>(COL_DAY_HITS * 4), alloc(nd * 8));
  store<usize>(columns + <usize>(COL_RES * 4), alloc(nr * 4));
  store<usize>(columns + <usize>(COL_RULES * 4), alloc(nu * 4)); store<usize>(columns + <usize>(COL_RULE_HITS * 4), alloc(nu * 8));
  store<usize>(columns + <usize>(COL_IPS * 4), alloc(ni * 8));
  store<usize>(columns + <usize>(COL_OPS * 4), alloc(no * 4));
  const ops = col(columns, COL_OPS);
  const cut = allOps > no;
  const allOpsAt = cut ? alloc(allOps * 4) : ops;

  // The columns, row by row.
  const perimeter = col(columns, COL_PERIMETER); const profile = col(columns, COL_PROFILE); const category = col(columns, COL_CATEGORY);
  const peer = col(columns, COL_PEER); const hits = col(columns, COL_HITS); const first = col(columns, COL_FIRST); const last = col(columns, COL_LAST);
  const days = col(columns, COL_DAYS); const dayHits = col(columns, COL_DAY_HITS); const res = col(columns, COL_RES);
  const rules = col(columns, COL_RULES); const ruleHits = col(columns, COL_RULE_HITS); const ips = col(columns, COL_IPS);
  for (let r = 0; r < n; r++) {
    const at = sorted + <usize>r * RECORD;
    const g = load<i32>(at, I_GROUP);
    const key = groupKey + <usize>(g * 12);
    store<i32>(perimeter + <usize>(r * 4), load<i32>(key, 4));
    store<i32>(profile + <usize>(r * 4), load<i32>(key, 8));
    store<i32>(category + <usize>(r * 4), g & 63);
    store<f64>(peer + <usize>(r * 8), <f64>load<i32>(at, I_HI) * 4294967296.0 + <f64>load<u32>(at, I_LO));
    const flowHits = load<f64>(at, F_HITS);
    store<f64>(hits + <usize>(r * 8), flowHits);
    store<f64>(first + <usize>(r * 8), load<f64>(at, F_FIRST));
    store<f64>(last + <usize>(r * 8), load<f64>(at, F_LAST));
    const d0 = load<i32>(dayOffsets + <usize>(r * 4)); let d = d0;
    const e0 = load<i32>(resOffsets + <usize>(r * 4)); let e = e0;
    const u0 = load<i32>(ruleOffsets + <usize>(r * 4)); let u = u0;
    const o0 = load<i32>(allOpOffsets + <usize>(r * 4)); let o = o0;
    const x = load<i32>(at, I_EXTRA);
    if (x >= 0) {
      // Copied from the extras' lists (IP addresses are in order there, the rest is sorted below).
      d = copyList(extras, COL_DAY_OFFSETS, COL_DAYS, COL_DAY_HITS, x, days, dayHits, d);
      e = copyList(extras, COL_RES_OFFSETS, COL_RES, -1, x, res, 0, e);
      u = copyList(extras, COL_RULE_OFFSETS, COL_RULES, COL_RULE_HITS, x, rules, ruleHits, u);
      o = copyList(extras, COL_OP_OFFSETS, COL_OPS, -1, x, allOpsAt, 0, o);
      const i0 = load<i32>(ipOffsets + <usize>(r * 4));
      const from = col(extras, COL_IPS) + <usize>(load<i32>(col(extras, COL_IP_OFFSETS) + <usize>(x * 4)) * 8);
      memory.copy(ips + <usize>(i0 * 8), from, <usize>(load<i32>(ipOffsets + <usize>((r + 1) * 4)) - i0) * 8);
    } else {
      // The record's values, then the flow's parts: the first day's hits are the flow's less the
      // other days'.
      const res0 = load<i32>(at, I_RES0); const rule0 = load<i32>(at, I_RULE0); const op0 = load<i32>(at, I_OP0);
      store<i32>(days + <usize>(d * 4), load<i32>(at, I_DAY0));
      d++;
      if (res0 >= 0) { store<i32>(res + <usize>(e * 4), res0); e++; }
      if (rule0 >= 0) { store<i32>(rules + <usize>(u * 4), rule0); store<f64>(ruleHits + <usize>(u * 8), load<f64>(at, F_RULE0_HITS)); u++; }
      if (op0 >= 0) { store<i32>(allOpsAt + <usize>(o * 4), op0); o++; }
      let moved: f64 = 0;
      const q1 = load<i32>(rowParts + <usize>((r + 1) * 4));
      for (let q = load<i32>(rowParts + <usize>(r * 4)); q < q1; q++) {
        const part = byRow + <usize>(q * 16);
        const tag = load<i32>(part);
        const value = tag & (PART_VALUES - 1);
        const partHits = load<f64>(part, 8);
        const kind = <u32>tag >> 29;
        if (kind == 0) { store<i32>(days + <usize>(d * 4), value); store<f64>(dayHits + <usize>(d * 8), partHits); d++; moved += partHits; }
        else if (kind == 1) { store<i32>(res + <usize>(e * 4), value); e++; }
        else if (kind == 2) { store<i32>(rules + <usize>(u * 4), value); store<f64>(ruleHits + <usize>(u * 8), partHits); u++; }
        else { store<i32>(allOpsAt + <usize>(o * 4), value); o++; }
      }
      store<f64>(dayHits + <usize>(d0 * 8), flowHits - moved);
    }
    sortByValue(days, dayHits, d0, d);
    sortByRank(res, 0, e0, e, rank);
    sortByRank(rules, ruleHits, u0, u, rank);
    // The operations sample: the smallest names (the JavaScript fold keeps the same ones).
    sortByRank(allOpsAt, 0, o0, o, rank);
    if (cut) {
      const to = load<i32>(opOffsets + <usize>(r * 4));
      memory.copy(ops + <usize>(to * 4), allOpsAt + <usize>(o0 * 4), <usize>(load<i32>(opOffsets + <usize>((r + 1) * 4)) - to) * 4);
    }
  }
}

/** The column table of the last runExport(). */
export function runColumnsAt(): usize { return columns; }

@inline function listLength(table: usize, offsetsCol: i32, row: i32): i32 {
  const offsets = col(table, offsetsCol) + <usize>(row * 4);
  return load<i32>(offsets, 4) - load<i32>(offsets);
}

/** Copies row `row` of a list of `from` to `to` at `at` (values, and hits unless `hitsCol` < 0). @returns the end */
function copyList(from: usize, offsetsCol: i32, valuesCol: i32, hitsCol: i32, row: i32, to: usize, toHits: usize, at: i32): i32 {
  const offsets = col(from, offsetsCol) + <usize>(row * 4);
  const a = load<i32>(offsets);
  const m = load<i32>(offsets, 4) - a;
  memory.copy(to + <usize>(at * 4), col(from, valuesCol) + <usize>(a * 4), <usize>m * 4);
  if (hitsCol >= 0) memory.copy(toHits + <usize>(at * 8), col(from, hitsCol) + <usize>(a * 8), <usize>m * 8);
  return at + m;
}

/** Sorts items [a, b) of `values` (i32) by value, moving `hits` (f64) along (rows are short: insertion sort). */
function sortByValue(values: usize, hits: usize, a: i32, b: i32): void {
  for (let k = a + 1; k < b; k++) {
    const v = load<i32>(values + <usize>(k * 4));
    const h = load<f64>(hits + <usize>(k * 8));
    let j = k - 1;
    while (j >= a && load<i32>(values + <usize>(j * 4)) > v) {
      store<i32>(values + <usize>((j + 1) * 4), load<i32>(values + <usize>(j * 4)));
      store<f64>(hits + <usize>((j + 1) * 8), load<f64>(hits + <usize>(j * 8)));
      j--;
    }
    store<i32>(values + <usize>((j + 1) * 4), v);
    store<f64>(hits + <usize>((j + 1) * 8), h);
  }
}

/** Sorts string ids [a, b) of `ids` by their rank, moving `hits` (f64) along unless it is 0. */
function sortByRank(ids: usize, hits: usize, a: i32, b: i32, rank: usize): void {
  for (let k = a + 1; k < b; k++) {
    const v = load<i32>(ids + <usize>(k * 4));
    const key = load<i32>(rank + <usize>(v * 4));
    const h = hits != 0 ? load<f64>(hits + <usize>(k * 8)) : 0;
    let j = k - 1;
    while (j >= a) {
      const w = load<i32>(ids + <usize>(j * 4));
      if (load<i32>(rank + <usize>(w * 4)) <= key) break;
      store<i32>(ids + <usize>((j + 1) * 4), w);
      if (hits != 0) store<f64>(hits + <usize>((j + 1) * 8), load<f64>(hits + <usize>(j * 8)));
      j--;
    }
    store<i32>(ids + <usize>((j + 1) * 4), v);
    if (hits != 0) store<f64>(hits + <usize>((j + 1) * 8), h);
  }
}

/**
 * Flow numbers in snapshot order: by group rank and peer kind, then the peer's key (a string's
 * rank, a dotted quad's key in text order). Least significant first, each a stable counting sort:
 * the key's low and high 16 bits, then group and kind.
 */
function snapshotOrder(records: usize, n: i32, rank: usize, groupKey: usize, groupRanks: i32, octetRank: usize): usize {
  const lo = alloc(n * 4); const hi = alloc(n * 4); const major = alloc(n * 4);
  for (let f = 0; f < n; f++) {
    const at = records + <usize>f * RECORD;
    const kind = load<i32>(at, I_HI);
    const v = load<u32>(at, I_LO);
    let key: u32 = 0;
    let kindRank = 0; // peer kinds in snapshot order: fqdn, ip, none, resource (flow-order.ts KIND_RANK)
    if (kind == PEER_IPV4) {
      kindRank = 1;
      key = (load<u32>(octetRank + <usize>((v >> 24) * 4)) << 24) | (load<u32>(octetRank + <usize>(((v >> 16) & 255) * 4)) << 16)
        | (load<u32>(octetRank + <usize>(((v >> 8) & 255) * 4)) << 8) | load<u32>(octetRank + <usize>((v & 255) * 4));
    } else if (kind == PEER_FQDN) { key = load<u32>(rank + <usize>(v * 4)); kindRank = 0; }
    else if (kind == PEER_RESOURCE) { key = load<u32>(rank + <usize>(v * 4)); kindRank = 3; }
    else kindRank = 2; // PEER_NONE
    store<u32>(lo + <usize>(f * 4), key & 0xffff);
    store<u32>(hi + <usize>(f * 4), key >> 16);
    store<i32>(major + <usize>(f * 4), load<i32>(groupKey + <usize>(load<i32>(at, I_GROUP) * 12)) * 4 + kindRank);
  }
  let order = alloc(n * 4);
  for (let f = 0; f < n; f++) store<i32>(order + <usize>(f * 4), f);
  let next = alloc(n * 4);
  const counts = alloc(max(1 << 16, groupRanks * 4) * 4 + 4);
  if (countingSort(lo, 1 << 16, n, order, next, counts)) { const t = order; order = next; next = t; }
  if (countingSort(hi, 1 << 16, n, order, next, counts)) { const t = order; order = next; next = t; }
  if (countingSort(major, groupRanks * 4, n, order, next, counts)) { const t = order; order = next; next = t; }
  return order;
}

/** One stable counting-sort pass of `order` into `next` by `keys` (< size). @returns false when every key is the same (nothing moved) */
function countingSort(keys: usize, size: i32, n: i32, order: usize, next: usize, counts: usize): bool {
  if (n == 0) return false;
  memory.fill(counts, 0, (size + 1) * 4);
  for (let i = 0; i < n; i++) {
    const at = counts + <usize>((load<i32>(keys + <usize>(i * 4)) + 1) * 4);
    store<i32>(at, load<i32>(at) + 1);
  }
  if (load<i32>(counts + <usize>((load<i32>(keys) + 1) * 4)) == n) return false;
  for (let k = 0; k < size; k++) {
    const at = counts + <usize>(k * 4);
    store<i32>(at, load<i32>(at, 4) + load<i32>(at), 4);
  }
  for (let r = 0; r < n; r++) {
    const i = load<i32>(order + <usize>(r * 4));
    const at = counts + <usize>(load<i32>(keys + <usize>(i * 4)) * 4);
    const to = load<i32>(at);
    store<i32>(next + <usize>(to * 4), i);
    store<i32>(at, to + 1);
  }
  return true;
}
