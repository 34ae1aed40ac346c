// Analyze stage: the order of flows in a snapshot, shared by the snapshot writer (snapshot.ts) and
// the workers' sorted runs (sorted-runs.ts): flows by perimeter, profile, category, peer kind and
// peer text, compared by code units; the items of each list sorted too (days by number, names and
// addresses by text). Computed on numbers: ranks of the strings in use, dotted quads keyed in text
// order.

import { categories } from '../model/category.js';
import { byCodeUnit } from '../model/text.js';
import { releaseMemoryNow } from '../release-memory.js';
import { placeRun, type RunRegion } from './run-memory.js';
import { PEER_CODE, ipOfCode, peerOfCode, type FlowColumns, type FlowTable } from './flow-table.js';

/** Peer kinds in code-unit order of their names: flows sort by kind before peer. */
export const KIND_RANK = { fqdn: 0, ip: 1, none: 2, resource: 3 } as const;
export const KIND_NAMES = ['fqdn', 'ip', 'none', 'resource'] as const;

// Dotted quads in text order: octets compare as their decimal strings, so the rank of each
// octet's string among the 256 gives a number whose order is the text's.
export const OCTET_RANK = (() => {
  const rank = new Int32Array(256);
  Array.from({ length: 256 }, (_, i) => String(i)).sort().forEach((text, r) => { rank[Number(text)] = r; });
  return rank;
})();
export const ipv4TextKey = (v: number): number =>
  ((OCTET_RANK[(v >>> 24) & 255]! << 24) | (OCTET_RANK[(v >>> 16) & 255]! << 16) | (OCTET_RANK[(v >>> 8) & 255]! << 8) | OCTET_RANK[v & 255]!) >>> 0;

/** Kind rank of a peer code (see flow-table.ts): the high word is the kind. */
export function peerKindRank(code: number): number {
  if (code < PEER_CODE.RESOURCE) return KIND_RANK.ip;
  if (code < PEER_CODE.FQDN) return KIND_RANK.resource;
  if (code < PEER_CODE.NONE) return KIND_RANK.fqdn;
  return KIND_RANK.none;
}

/** List offsets for rows taken in `order` from CSR `offsets`, and the source index of every item. */
export function gatherList(order: Int32Array, offsets: Int32Array): { listOffsets: Int32Array; items: Int32Array } {
  const listOffsets = new Int32Array(order.length + 1);
  for (let r = 0; r < order.length; r++) { const i = order[r]!; listOffsets[r + 1] = listOffsets[r]! + offsets[i + 1]! - offsets[i]!; }
  const items = new Int32Array(listOffsets[order.length]!);
  for (let r = 0; r < order.length; r++) {
    const i = order[r]!;
    for (let k = offsets[i]!, o = listOffsets[r]!; k < offsets[i + 1]!; k++, o++) items[o] = k;
  }
  return { listOffsets, items };
}

/** Sorts each row's items in place by `compare` (rows are short: insertion sort). */
export function sortRows(list: { listOffsets: Int32Array; items: Int32Array }, compare: (a: number, b: number) => number): void {
  const { listOffsets, items } = list;
  for (let r = 0; r + 1 < listOffsets.length; r++) {
    for (let k = listOffsets[r]! + 1; k < listOffsets[r + 1]!; k++) {
      const x = items[k]!;
      let j = k - 1;
      while (j >= listOffsets[r]! && compare(items[j]!, x) > 0) { items[j + 1] = items[j]!; j--; }
      items[j + 1] = x;
    }
  }
}

/**
 * Row order of the flows: by perimeter, profile, category, peer kind and peer text, compared by
 * code units (the order of flowKeyString). Computed on numbers — string ranks, and for IPv4 peers
 * a number in text order — by a radix sort.
 */
export function flowOrder(c: FlowColumns, rank: Int32Array, rankCount: number, categoryRank: readonly number[]): Int32Array {
  const n = c.length;
  let textIps = false;
  for (let i = 0; i < n; i++) if (c.peer[i]! >= PEER_CODE.TEXT_IP && c.peer[i]! < PEER_CODE.RESOURCE) { textIps = true; break; }
  if (textIps || rankCount >= 2 ** 22) return flowOrderByText(c, rank, categoryRank);
  if (n === 0) return new Int32Array(0);
  // Least significant first, each a stable counting sort: the peer key's low and high 16 bits,
  // peer kind, category, profile, perimeter (ties keep the rows' order).
  const lo = new Int32Array(n); const hi = new Int32Array(n); const kinds = new Int32Array(n);
  const cats = new Int32Array(n); const profiles = new Int32Array(n); const perimeters = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const code = c.peer[i]!;
    const kind = peerKindRank(code);
    const key = kind === KIND_RANK.ip ? ipv4TextKey(code) : kind === KIND_RANK.none ? 0 : rank[code % PEER_CODE.TEXT_IP]!;
    lo[i] = key & 0xffff; hi[i] = key >>> 16; kinds[i] = kind;
    cats[i] = categoryRank[c.category[i]!]!; profiles[i] = rank[c.profile[i]!]!; perimeters[i] = rank[c.perimeter[i]!]!;
  }
  let order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let next = new Int32Array(n);
  for (const [keys, size] of [[lo, 1 << 16], [hi, 1 << 16], [kinds, 4], [cats, categoryRank.length], [profiles, rankCount], [perimeters, rankCount]] as const) {
    const starts = new Int32Array(size + 1);
    for (let i = 0; i < n; i++) starts[keys[i]! + 1]!++;
    if (starts[keys[0]! + 1] === n) continue; // one value only: nothing moves
    for (let k = 0; k < size; k++) starts[k + 1] = starts[k + 1]! + starts[k]!;
    for (let r = 0; r < n; r++) { const i = order[r]!; next[starts[keys[i]!]!++] = i; }
    [order, next] = [next, order];
  }
  return order;
}

/** The same order by comparing peer texts (text IPs beside dotted quads, or millions of names). */
function flowOrderByText(c: FlowColumns, rank: Int32Array, categoryRank: readonly number[]): Int32Array {
  const peers = Array.from({ length: c.length }, (_, i) => peerOfCode(c.peer[i]!, c.strings));
  return Int32Array.from({ length: c.length }, (_, i) => i).sort((a, b) =>
    rank[c.perimeter[a]!]! - rank[c.perimeter[b]!]! || rank[c.profile[a]!]! - rank[c.profile[b]!]!
    || categoryRank[c.category[a]!]! - categoryRank[c.category[b]!]!
    || byCodeUnit(peers[a]!.kind, peers[b]!.kind) || byCodeUnit(peers[a]!.text, peers[b]!.text));
}


/** Rank of every category in code-unit order of the names (flows sort by category name). */
export const CATEGORY_RANK: readonly number[] = (() => {
  const names = categories.map((c) => c.name);
  const sorted = [...names].sort(byCodeUnit);
  return names.map((name) => sorted.indexOf(name));
})();

/** Ranks of the strings the flows use (code-unit order; other strings rank 0), and how many are used. */
export function stringRanks(c: FlowColumns): { rank: Int32Array; count: number } {
  const strings = c.strings;
  const used = new Uint8Array(strings.length);
  const useCode = (code: number): void => {
    if (code >= PEER_CODE.TEXT_IP && code < PEER_CODE.NONE) used[code % PEER_CODE.TEXT_IP] = 1;
  };
  for (let i = 0; i < c.length; i++) { used[c.perimeter[i]!] = 1; used[c.profile[i]!] = 1; useCode(c.peer[i]!); }
  for (const ids of [c.res, c.rules, c.ops]) for (let k = 0; k < ids.length; k++) used[ids[k]!] = 1;
  for (let k = 0; k < c.ips.length; k++) useCode(c.ips[k]!);
  const usedTexts: string[] = [];
  const idOfText = new Map<string, number>();
  for (let id = 0; id < strings.length; id++) if (used[id]) { usedTexts.push(strings[id]!); idOfText.set(strings[id]!, id); }
  usedTexts.sort();
  const rank = new Int32Array(strings.length);
  usedTexts.forEach((text, r) => { rank[idOfText.get(text)!] = r; });
  return { rank, count: usedTexts.length };
}

const GATHER_BELOW_FLOWS = 500_000;

/** Ranks of all `strings` (distinct, as an interner's) in code-unit order. */
function rankAll(strings: readonly string[]): { rank: Int32Array; count: number; order: Int32Array } {
  const idOf = new Map<string, number>();
  strings.forEach((text, id) => idOf.set(text, id));
  const rank = new Int32Array(strings.length);
  const order = new Int32Array(strings.length);
  [...strings].sort().forEach((text, r) => { const id = idOf.get(text)!; rank[id] = r; order[r] = id; });
  return { rank, count: strings.length, order };
}

/** The rows of `c` in snapshot order, and each row's list items in their order. */
export interface OrderedLists {
  order: Int32Array;
  days: { listOffsets: Int32Array; items: Int32Array };
  resources: { listOffsets: Int32Array; items: Int32Array };
  rules: { listOffsets: Int32Array; items: Int32Array };
  ops: { listOffsets: Int32Array; items: Int32Array };
  ips: { listOffsets: Int32Array; items: Int32Array };
}

export function orderFlows(c: FlowColumns, ranks: { rank: Int32Array; count: number } = stringRanks(c)): OrderedLists {
  const { rank, count } = ranks;
  const order = flowOrder(c, rank, count, CATEGORY_RANK);
  const byRank = (ids: Int32Array) => (a: number, b: number): number => rank[ids[a]!]! - rank[ids[b]!]!;
  const days = gatherList(order, c.dayOffsets);
  sortRows(days, (a, b) => c.days[a]! - c.days[b]!);
  const resources = gatherList(order, c.resOffsets);
  sortRows(resources, byRank(c.res));
  const rules = gatherList(order, c.ruleOffsets);
  sortRows(rules, byRank(c.rules));
  const ops = gatherList(order, c.opOffsets);
  sortRows(ops, byRank(c.ops));
  const ips = gatherList(order, c.ipOffsets);
  const ipTexts = Array.from(c.ips, (code) => ipOfCode(code, c.strings));
  sortRows(ips, (a, b) => byCodeUnit(ipTexts[a]!, ipTexts[b]!));
  return { order, days, resources, rules, ops, ips };
}

/** Values of `values` at `items`, as a new array of the same type. */
export function gather<T extends Int32Array | Float64Array>(values: T, items: Int32Array): T {
  // One loop per element type: a loop that sees both is several times slower.
  return (values instanceof Int32Array ? gatherInts(values, items) : gatherDoubles(values as Float64Array, items)) as T;
}

function gatherInts(values: Int32Array, items: Int32Array): Int32Array {
  const out = new Int32Array(items.length);
  for (let k = 0; k < items.length; k++) out[k] = values[items[k]!]!;
  return out;
}

function gatherDoubles(values: Float64Array, items: Int32Array): Float64Array {
  const out = new Float64Array(items.length);
  for (let k = 0; k < items.length; k++) out[k] = values[items[k]!]!;
  return out;
}

/** Rows [r0, r1) of an order as columns of their own, lists in order (ids still into c.strings). */
export function gatherRows(c: FlowColumns, o: OrderedLists, r0: number, r1: number): FlowColumns {
  const rows = o.order.subarray(r0, r1);
  const m = rows.length;
  const offsetsOf = (l: { listOffsets: Int32Array }): Int32Array => {
    const base = l.listOffsets[r0]!;
    const offsets = new Int32Array(m + 1);
    for (let r = 0; r <= m; r++) offsets[r] = l.listOffsets[r0 + r]! - base;
    return offsets;
  };
  const itemsOf = (l: { listOffsets: Int32Array; items: Int32Array }): Int32Array => l.items.subarray(l.listOffsets[r0]!, l.listOffsets[r1]!);
  const d = itemsOf(o.days); const res = itemsOf(o.resources); const rul = itemsOf(o.rules); const op = itemsOf(o.ops); const ip = itemsOf(o.ips);
  return {
    strings: c.strings, length: m,
    perimeter: gather(c.perimeter, rows), profile: gather(c.profile, rows), category: gather(c.category, rows), peer: gather(c.peer, rows),
    hits: gather(c.hits, rows), first: gather(c.first, rows), last: gather(c.last, rows),
    dayOffsets: offsetsOf(o.days), days: gather(c.days, d), dayHits: gather(c.dayHits, d),
    resOffsets: offsetsOf(o.resources), res: gather(c.res, res),
    ruleOffsets: offsetsOf(o.rules), rules: gather(c.rules, rul), ruleHits: gather(c.ruleHits, rul),
    ipOffsets: offsetsOf(o.ips), ips: gather(c.ips, ip),
    opOffsets: offsetsOf(o.ops), ops: gather(c.ops, op),
  };
}

/** All the flows of `c` in snapshot order (a worker's sorted run: see sorted-runs.ts). */
export function sortedRun(c: FlowColumns): FlowColumns {
  return gatherRows(c, orderFlows(c), 0, c.length);
}

/** Sorts the items of each row in place by `compare` on the values of `a`, moving `b` along. */
function sortRowsInPlace(offsets: Int32Array, a: Int32Array | Float64Array, b: Float64Array | null, compare: (x: number, y: number) => number): void {
  for (let r = 0; r + 1 < offsets.length; r++) {
    const start = offsets[r]!;
    for (let k = start + 1; k < offsets[r + 1]!; k++) {
      const x = a[k]!;
      const y = b ? b[k]! : 0;
      let j = k - 1;
      while (j >= start && compare(a[j]!, x) > 0) { a[j + 1] = a[j]!; if (b) b[j + 1] = b[j]!; j--; }
      a[j + 1] = x;
      if (b) b[j + 1] = y;
    }
  }
}

/**
 * A table's flows in snapshot order (a worker's sorted run: see sorted-runs.ts). Given a worker's
 * `region` of the run memory (run-memory.ts), placed there for the merge when it fits.
 */
export function sortedRunOfTable(table: FlowTable, gatherBelowFlows = GATHER_BELOW_FLOWS, region?: RunRegion): FlowColumns {
  const run = sortedRunOf(table, gatherBelowFlows, region);
  if (!region || run.placed) return run;
  return placeRun(run, region) ?? run;
}

/**
 * A table's sorted run: made in its fold engine, or exported once in that order, their lists then
 * sorted in place (no second copy of the columns).
 */
function sortedRunOf(table: FlowTable, gatherBelowFlows: number, region: RunRegion | undefined): FlowColumns {
  // Every string ranked once (flows and list items alike): an interner holds few beside those used.
  const ranks = rankAll(table.interner.strings);
  const { rank, count } = ranks;
  // A small table is exported as it lies in memory, then gathered in order (two copies, but the
  // records are read in order); a large one is exported in order straight away (one copy).
  if (table.flowCount < gatherBelowFlows) {
    // Made by the fold engine where the records are, when the table is in one (its copies stay
    // in the engine's memory until the worker ends: a large table takes the way below).
    const inEngine = table.sortedRunInEngine({ rank, categoryRank: CATEGORY_RANK, octetRank: OCTET_RANK }, region);
    if (inEngine) return { ...inEngine, stringOrder: ranks.order };
    const c = table.exportColumns();
    // The strings' text order goes along: a merge of runs takes their union in one pass.
    return { ...gatherRows(c, orderFlows(c, ranks), 0, c.length), stringOrder: ranks.order };
  }
  const order = flowOrder(table.keyColumns(), rank, count, CATEGORY_RANK);
  releaseMemoryNow(order.length); // the keys and the sort's temporaries, before the copy
  const c = table.exportColumns(0, table.flowCount, order, region);
  const byRank = (x: number, y: number): number => rank[x]! - rank[y]!;
  sortRowsInPlace(c.dayOffsets, c.days, c.dayHits, (x, y) => x - y);
  sortRowsInPlace(c.resOffsets, c.res, null, byRank);
  sortRowsInPlace(c.ruleOffsets, c.rules, c.ruleHits, byRank);
  sortRowsInPlace(c.opOffsets, c.ops, null, byRank);
  sortRowsInPlace(c.ipOffsets, c.ips, null, (x, y) => byCodeUnit(ipOfCode(x, c.strings), ipOfCode(y, c.strings)));
  c.stringOrder = ranks.order;
  return c;
}
