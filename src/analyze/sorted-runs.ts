// Analyze stage: merges the workers' sorted runs into the snapshot writer. Each worker hands over
// its flows already in snapshot order (sortedRunOfTable in flow-order.ts, computed on all workers
// at once); mergedRows() walks the runs side by side, combining a flow found in several, and gives
// the writer one batch at a time — instead of merging tables by hash and sorting the result on one
// thread. The merge runs in WebAssembly (merge-engine.ts); the JavaScript merge here
// (mergedRowsInJavaScript: a plan from the runs' keys, then the rows) takes runs that hold an
// address kept as text, and is the reference the tests hold the other to. The strings of the
// output are all the runs' strings, in text order, so an output id is a rank and ids taken from
// any run keep their order (the writer's dictionaries hold only the values in use).

import { OPERATION_SAMPLE_SIZE } from '../model/flow-summary.js';
import { formatIPv4 } from '../model/ip.js';
import { byCodeUnit } from '../model/text.js';
import { CATEGORY_RANK, KIND_NAMES, KIND_RANK, ipv4TextKey, peerKindRank } from './flow-order.js';
import { PEER_CODE, type FlowColumns } from './flow-table.js';
import { mergedRowsInWasm } from './merge-engine.js';
import type { SnapshotRows, UsedValues } from './snapshot.js';

/** What a merge plan needs of a run: its rows' keys (in snapshot order) and its strings. */
type RunKeys = Pick<FlowColumns, 'strings' | 'stringOrder' | 'length' | 'perimeter' | 'profile' | 'category' | 'peer'>;

/** A run with its ids mapped to the output's. */
interface Run<C extends RunKeys = FlowColumns> {
  c: C;
  /** Run string id → output id. */
  out: Int32Array;
  /**
   * Per row, its place in snapshot order as two numbers (see sortKeys): everything but the peer,
   * then the peer; null when the output's strings are too many to pack (rows are compared then).
   */
  group: Float64Array | null;
  peer: Float64Array | null;
}

/**
 * How runs merge, worked out from their keys alone: the output's strings (all the runs' strings,
 * in text order, so an output id is a rank and ids taken from any run keep their order), each
 * run's map to them, and per output row the row of each run that holds it (−1 when none).
 */
interface MergePlan {
  strings: string[];
  runs: Run<RunKeys>[];
  length: number;
  sources: Int32Array[];
  /** Per run and row: held by another run too (its lists are combined). */
  shared: Uint8Array[];
  /** The values in use of the key columns. */
  used: Pick<UsedValues, 'perimeter' | 'profile' | 'category' | 'kind'>;
}

/**
 * The rows of `runs` (each in snapshot order) merged, flows found in several runs combined;
 * `runMemory`: the memory runs were placed in by workers (run-memory.ts), where the merge then runs.
 */
export function mergedRows(runs: readonly FlowColumns[], runMemory: WebAssembly.Memory | null = null): SnapshotRows {
  const union = unionOfStrings(runs);
  // In WebAssembly (merge-engine.ts) unless an address kept as text must be compared as text.
  return mergedRowsInWasm(runs, union.strings, union.outs, runMemory) ?? mergedRowsInJavaScript(runs, union);
}

/** mergedRows() in JavaScript: the WebAssembly merge's fallback, and the reference it is tested against. */
export function mergedRowsInJavaScript(runs: readonly FlowColumns[], union = unionOfStrings(runs)): SnapshotRows {
  const plan = planOfKeys(runs, union);
  const mapped = plan.runs.map((r, k): Run => ({ ...r, c: runs[k]! }));
  const { strings, sources } = plan;
  let r0 = 0;
  return {
    strings, length: plan.length, used: { ...plan.used, ...listValuesUsed(plan, mapped) },
    next(rows) {
      if (r0 >= plan.length) return null;
      const r1 = Math.min(plan.length, r0 + rows);
      const batch = new BatchBuilder(strings, r1 - r0, listSizes(mapped, sources, r0, r1));
      for (let r = r0; r < r1; r++) batch.add(mapped, sources, r);
      r0 = r1;
      return batch.build();
    },
  };
}

/** The merge plan of runs with these keys (see MergePlan). */
function planOfKeys(keys: readonly RunKeys[], union = unionOfStrings(keys)): MergePlan {
  const { strings, outs } = union;
  const runs = keys.map((c, k): Run<RunKeys> => {
    const run: Run<RunKeys> = { c, out: outs[k]!, group: null, peer: null };
    sortKeys(run, strings.length);
    return run;
  });
  return { strings, runs, ...planMerge(runs, strings) };
}

/**
 * All the runs' strings in text order, and each run's map to them: merged from the runs' own text
 * orders when every run has one (a worker's sorted run), else sorted here.
 */
function unionOfStrings(runs: readonly RunKeys[]): { strings: string[]; outs: Int32Array[] } {
  const outs = runs.map((c) => new Int32Array(c.strings.length));
  if (runs.every((c) => c.stringOrder)) {
    const strings: string[] = [];
    const heads = new Int32Array(runs.length);
    for (;;) {
      let text: string | null = null;
      for (let k = 0; k < runs.length; k++) {
        const { strings: own, stringOrder } = runs[k]!;
        if (heads[k]! < stringOrder!.length) { const t = own[stringOrder![heads[k]!]!]!; if (text === null || t < text) text = t; }
      }
      if (text === null) break;
      for (let k = 0; k < runs.length; k++) {
        const { strings: own, stringOrder } = runs[k]!;
        if (heads[k]! < stringOrder!.length && own[stringOrder![heads[k]!]!] === text) outs[k]![stringOrder![heads[k]!++]!] = strings.length;
      }
      strings.push(text);
    }
    return { strings, outs };
  }
  const texts = new Set<string>();
  for (const c of runs) for (const text of c.strings) texts.add(text);
  const strings = [...texts].sort();
  const idOf = new Map<string, number>();
  strings.forEach((text, id) => idOf.set(text, id));
  runs.forEach((c, k) => { for (let id = 0; id < c.strings.length; id++) outs[k]![id] = idOf.get(c.strings[id]!)!; });
  return { strings, outs };
}

// Sort keys pack (perimeter, profile, category, peer kind) in one exact double while the output
// has fewer strings than this.
const PACKED_STRINGS = 2 ** 22;
// A peer key that says "compare the texts" (an IP address written as text).
const TEXT_PEER = -1;

/**
 * A run's sort keys: output ranks of perimeter and profile, category rank and peer kind rank in
 * one number; the peer as a number in text order (output rank of a name, a dotted quad keyed in
 * text order) or TEXT_PEER.
 */
function sortKeys(run: Run<RunKeys>, strings: number): void {
  if (strings >= PACKED_STRINGS) return;
  const { c, out } = run;
  const group = new Float64Array(c.length);
  const peer = new Float64Array(c.length);
  for (let i = 0; i < c.length; i++) {
    const code = outCode(run, c.peer[i]!);
    const kind = peerKindRank(code);
    group[i] = ((out[c.perimeter[i]!]! * strings + out[c.profile[i]!]!) * 64 + CATEGORY_RANK[c.category[i]!]!) * 4 + kind;
    peer[i] = kind === KIND_RANK.ip ? (code < PEER_CODE.TEXT_IP ? ipv4TextKey(code) : TEXT_PEER) : kind === KIND_RANK.none ? 0 : code % PEER_CODE.TEXT_IP;
  }
  run.group = group;
  run.peer = peer;
}

/** A peer or caller-IP code of a run as the output's. */
function outCode(run: Run<RunKeys>, code: number): number {
  if (code < PEER_CODE.TEXT_IP || code >= PEER_CODE.NONE) return code;
  const base = code >= PEER_CODE.FQDN ? PEER_CODE.FQDN : code >= PEER_CODE.RESOURCE ? PEER_CODE.RESOURCE : PEER_CODE.TEXT_IP;
  return base + run.out[code - base]!;
}

/** Text order of two output IP codes (dotted quads keyed in text order, text IPs by their text). */
function compareIps(x: number, y: number, strings: readonly string[]): number {
  if (x < PEER_CODE.TEXT_IP && y < PEER_CODE.TEXT_IP) return ipv4TextKey(x) - ipv4TextKey(y);
  const text = (c: number): string => (c < PEER_CODE.TEXT_IP ? formatIPv4(c) : strings[c - PEER_CODE.TEXT_IP]!);
  return byCodeUnit(text(x), text(y));
}

/** Snapshot order of row `i` of run `a` and row `j` of run `b` (their sort keys, else output codes, compared). */
function compareRows(a: Run<RunKeys>, i: number, b: Run<RunKeys>, j: number, strings: readonly string[]): number {
  if (a.group && b.group) {
    const g = a.group[i]! - b.group[j]!;
    if (g !== 0) return g;
    const x = a.peer![i]!;
    const y = b.peer![j]!;
    if (x !== TEXT_PEER && y !== TEXT_PEER) return x - y;
    return compareIps(outCode(a, a.c.peer[i]!), outCode(b, b.c.peer[j]!), strings);
  }
  const d = a.out[a.c.perimeter[i]!]! - b.out[b.c.perimeter[j]!]! || a.out[a.c.profile[i]!]! - b.out[b.c.profile[j]!]!
    || CATEGORY_RANK[a.c.category[i]!]! - CATEGORY_RANK[b.c.category[j]!]!;
  if (d !== 0) return d;
  const x = outCode(a, a.c.peer[i]!);
  const y = outCode(b, b.c.peer[j]!);
  const kind = peerKindRank(x);
  const k = kind - peerKindRank(y);
  if (k !== 0 || kind === KIND_RANK.none) return k;
  if (kind === KIND_RANK.ip) return compareIps(x, y, strings);
  return x - y; // names: output ids are ranks
}

/** Per output row, the row of each run that holds it; which rows are shared; the key values in use. */
function planMerge(runs: readonly Run<RunKeys>[], strings: readonly string[]): Omit<MergePlan, 'strings' | 'runs'> {
  const k = runs.length;
  const total = runs.reduce((n, r) => n + r.c.length, 0);
  const sources = runs.map(() => new Int32Array(total).fill(-1));
  const shared = runs.map((r) => new Uint8Array(r.c.length));
  const n = strings.length;
  const used = { perimeter: new Uint8Array(n), profile: new Uint8Array(n), category: new Uint8Array(CATEGORY_RANK.length), kind: new Uint8Array(KIND_NAMES.length) };
  const at = new Int32Array(k);
  let length = 0;
  for (;;) {
    // The smallest head, then every head equal to it.
    let min = -1;
    for (let r = 0; r < k; r++) {
      if (at[r]! >= runs[r]!.c.length) continue;
      if (min === -1 || compareRows(runs[r]!, at[r]!, runs[min]!, at[min]!, strings) < 0) min = r;
    }
    if (min === -1) break;
    const first = runs[min]!;
    const i = at[min]!;
    used.perimeter[first.out[first.c.perimeter[i]!]!] = 1;
    used.profile[first.out[first.c.profile[i]!]!] = 1;
    used.category[first.c.category[i]!] = 1;
    used.kind[peerKindRank(first.c.peer[i]!)] = 1;
    let holders = 0;
    for (let r = min; r < k; r++) {
      const j = at[r]!;
      if (j >= runs[r]!.c.length || (r !== min && compareRows(runs[r]!, j, first, i, strings) !== 0)) continue;
      sources[r]![length] = j;
      holders++;
      at[r] = j + 1;
    }
    if (holders > 1) for (let r = min; r < k; r++) if (sources[r]![length]! >= 0) shared[r]![sources[r]![length]!] = 1;
    length++;
  }
  return { length, sources, shared, used };
}

/**
 * The values in use of the list columns: every resource and rule of the runs' rows; their
 * operations, but of a flow held by several runs only those of its combined sample.
 */
function listValuesUsed(plan: MergePlan, runs: readonly Run[]): Pick<UsedValues, 'res' | 'rules' | 'ops'> {
  const n = plan.strings.length;
  const used = { res: new Uint8Array(n), rules: new Uint8Array(n), ops: new Uint8Array(n) };
  runs.forEach(({ c, out }, k) => {
    for (let q = 0; q < c.res.length; q++) used.res[out[c.res[q]!]!] = 1;
    for (let q = 0; q < c.rules.length; q++) used.rules[out[c.rules[q]!]!] = 1;
    const shared = plan.shared[k]!;
    for (let i = 0; i < c.length; i++) if (!shared[i]) for (let q = c.opOffsets[i]!; q < c.opOffsets[i + 1]!; q++) used.ops[out[c.ops[q]!]!] = 1;
  });
  const ops = new Scratch();
  for (let r = 0; r < plan.length; r++) {
    let holders = 0;
    for (let k = 0; k < runs.length; k++) if (plan.sources[k]![r]! >= 0) holders++;
    if (holders < 2) continue;
    ops.clear();
    runs.forEach(({ c, out }, k) => {
      const i = plan.sources[k]![r]!;
      if (i >= 0) for (let q = c.opOffsets[i]!; q < c.opOffsets[i + 1]!; q++) ops.push(out[c.ops[q]!]!, 0);
    });
    for (let q = 0, m = ops.sortUnique(byNumber, false, OPERATION_SAMPLE_SIZE); q < m; q++) used.ops[ops.ids[q]!] = 1;
  }
  return used;
}

const byNumber = (x: number, y: number): number => x - y;

/**
 * The items of one combined list: ids (or codes) with hits, sorted and made unique in place —
 * short lists (a flow's days or names), so insertion sort, and no Map or Set per flow.
 */
class Scratch {
  ids = new Float64Array(64);
  hits = new Float64Array(64);
  n = 0;
  clear(): void { this.n = 0; }
  push(id: number, hits: number): void {
    if (this.n === this.ids.length) {
      const ids = new Float64Array(this.n * 2); ids.set(this.ids); this.ids = ids;
      const h = new Float64Array(this.n * 2); h.set(this.hits); this.hits = h;
    }
    this.ids[this.n] = id;
    this.hits[this.n++] = hits;
  }

  /**
   * Sorts by `compare`, merges equal ids (hits summed when `sum`), keeps the first `limit`.
   * @returns how many are kept
   */
  sortUnique(compare: (x: number, y: number) => number, sum: boolean, limit = Infinity): number {
    const { ids, hits } = this;
    for (let k = 1; k < this.n; k++) {
      const x = ids[k]!;
      const h = hits[k]!;
      let j = k - 1;
      while (j >= 0 && compare(ids[j]!, x) > 0) { ids[j + 1] = ids[j]!; hits[j + 1] = hits[j]!; j--; }
      ids[j + 1] = x;
      hits[j + 1] = h;
    }
    let m = 0;
    for (let k = 0; k < this.n; k++) {
      if (m > 0 && ids[m - 1] === ids[k]) { if (sum) hits[m - 1] = hits[m - 1]! + hits[k]!; continue; }
      ids[m] = ids[k]!;
      hits[m++] = hits[k]!;
    }
    this.n = Math.min(m, limit);
    return this.n;
  }
}

/** Items of each list column, at most, in output rows [r0, r1) (a combined flow's lists may be shorter). */
interface ListSizes { days: number; res: number; rules: number; ips: number; ops: number }

function listSizes(runs: readonly Run[], sources: readonly Int32Array[], r0: number, r1: number): ListSizes {
  const n: ListSizes = { days: 0, res: 0, rules: 0, ips: 0, ops: 0 };
  runs.forEach(({ c }, k) => {
    const from = sources[k]!;
    for (let r = r0; r < r1; r++) {
      const i = from[r]!;
      if (i < 0) continue;
      n.days += c.dayOffsets[i + 1]! - c.dayOffsets[i]!; n.res += c.resOffsets[i + 1]! - c.resOffsets[i]!;
      n.rules += c.ruleOffsets[i + 1]! - c.ruleOffsets[i]!; n.ips += c.ipOffsets[i + 1]! - c.ipOffsets[i]!; n.ops += c.opOffsets[i + 1]! - c.opOffsets[i]!;
    }
  });
  return n;
}

/** One batch of output rows, each gathered from the runs that hold it, into arrays sized beforehand. */
class BatchBuilder {
  readonly #strings: readonly string[];
  readonly #m: number;
  #row = 0;
  readonly perimeter: Int32Array; readonly profile: Int32Array; readonly category: Int32Array; readonly peer: Float64Array;
  readonly hits: Float64Array; readonly first: Float64Array; readonly last: Float64Array;
  readonly dayOffsets: Int32Array; readonly resOffsets: Int32Array; readonly ruleOffsets: Int32Array; readonly ipOffsets: Int32Array; readonly opOffsets: Int32Array;
  readonly days: Int32Array; readonly dayHits: Float64Array; readonly res: Int32Array; readonly rules: Int32Array; readonly ruleHits: Float64Array;
  readonly ips: Float64Array; readonly ops: Int32Array;
  // Items written so far, per list column.
  nDays = 0; nRes = 0; nRules = 0; nIps = 0; nOps = 0;

  constructor(strings: readonly string[], m: number, sizes: ListSizes) {
    this.#strings = strings;
    this.#m = m;
    this.perimeter = new Int32Array(m); this.profile = new Int32Array(m); this.category = new Int32Array(m); this.peer = new Float64Array(m);
    this.hits = new Float64Array(m); this.first = new Float64Array(m); this.last = new Float64Array(m);
    this.dayOffsets = new Int32Array(m + 1); this.resOffsets = new Int32Array(m + 1); this.ruleOffsets = new Int32Array(m + 1);
    this.ipOffsets = new Int32Array(m + 1); this.opOffsets = new Int32Array(m + 1);
    this.days = new Int32Array(sizes.days); this.dayHits = new Float64Array(sizes.days); this.res = new Int32Array(sizes.res);
    this.rules = new Int32Array(sizes.rules); this.ruleHits = new Float64Array(sizes.rules); this.ips = new Float64Array(sizes.ips); this.ops = new Int32Array(sizes.ops);
  }

  /** Adds output row `r` of the plan. */
  add(runs: readonly Run[], sources: readonly Int32Array[], r: number): void {
    let first = -1;
    let holders = 0;
    for (let k = 0; k < runs.length; k++) if (sources[k]![r]! >= 0) { if (first < 0) first = k; holders++; }
    const o = this.#row++;
    const run = runs[first]!;
    const i = sources[first]![r]!;
    const c = run.c;
    const out = run.out;
    this.perimeter[o] = out[c.perimeter[i]!]!;
    this.profile[o] = out[c.profile[i]!]!;
    this.category[o] = c.category[i]!;
    this.peer[o] = outCode(run, c.peer[i]!);
    if (holders === 1) {
      // The common case: the run's row as it is (its lists are in order, and ids keep their order).
      this.hits[o] = c.hits[i]!; this.first[o] = c.first[i]!; this.last[o] = c.last[i]!;
      let d = this.nDays;
      for (let q = c.dayOffsets[i]!, end = c.dayOffsets[i + 1]!; q < end; q++, d++) { this.days[d] = c.days[q]!; this.dayHits[d] = c.dayHits[q]!; }
      this.nDays = d;
      let e = this.nRes;
      for (let q = c.resOffsets[i]!, end = c.resOffsets[i + 1]!; q < end; q++) this.res[e++] = out[c.res[q]!]!;
      this.nRes = e;
      let u = this.nRules;
      for (let q = c.ruleOffsets[i]!, end = c.ruleOffsets[i + 1]!; q < end; q++, u++) { this.rules[u] = out[c.rules[q]!]!; this.ruleHits[u] = c.ruleHits[q]!; }
      this.nRules = u;
      let p = this.nIps;
      for (let q = c.ipOffsets[i]!, end = c.ipOffsets[i + 1]!; q < end; q++) this.ips[p++] = outCode(run, c.ips[q]!);
      this.nIps = p;
      let x = this.nOps;
      for (let q = c.opOffsets[i]!, end = c.opOffsets[i + 1]!; q < end; q++) this.ops[x++] = out[c.ops[q]!]!;
      this.nOps = x;
    } else {
      this.#combine(runs, sources, r, o);
    }
    this.dayOffsets[o + 1] = this.nDays; this.resOffsets[o + 1] = this.nRes; this.ruleOffsets[o + 1] = this.nRules;
    this.ipOffsets[o + 1] = this.nIps; this.opOffsets[o + 1] = this.nOps;
  }

  readonly #scratch = new Scratch();

  /** One flow held by several runs: sums, bounds, and the union of each list in order. */
  #combine(runs: readonly Run[], sources: readonly Int32Array[], r: number, o: number): void {
    let hits = 0; let first = Infinity; let last = -Infinity;
    const s = this.#scratch;
    const each = (visit: (run: Run, c: FlowColumns, i: number) => void): void => {
      for (let k = 0; k < runs.length; k++) if (sources[k]![r]! >= 0) visit(runs[k]!, runs[k]!.c, sources[k]![r]!);
    };
    each((_, c, i) => { hits += c.hits[i]!; first = Math.min(first, c.first[i]!); last = Math.max(last, c.last[i]!); });
    this.hits[o] = hits; this.first[o] = first; this.last[o] = last;
    s.clear();
    each((_, c, i) => { for (let q = c.dayOffsets[i]!; q < c.dayOffsets[i + 1]!; q++) s.push(c.days[q]!, c.dayHits[q]!); });
    for (let q = 0, n = s.sortUnique(byNumber, true); q < n; q++) { this.days[this.nDays] = s.ids[q]!; this.dayHits[this.nDays++] = s.hits[q]!; }
    s.clear();
    each((run, c, i) => { for (let q = c.resOffsets[i]!; q < c.resOffsets[i + 1]!; q++) s.push(run.out[c.res[q]!]!, 0); });
    for (let q = 0, n = s.sortUnique(byNumber, false); q < n; q++) this.res[this.nRes++] = s.ids[q]!;
    s.clear();
    each((run, c, i) => { for (let q = c.ruleOffsets[i]!; q < c.ruleOffsets[i + 1]!; q++) s.push(run.out[c.rules[q]!]!, c.ruleHits[q]!); });
    for (let q = 0, n = s.sortUnique(byNumber, true); q < n; q++) { this.rules[this.nRules] = s.ids[q]!; this.ruleHits[this.nRules++] = s.hits[q]!; }
    s.clear();
    each((run, c, i) => { for (let q = c.ipOffsets[i]!; q < c.ipOffsets[i + 1]!; q++) s.push(outCode(run, c.ips[q]!), 0); });
    for (let q = 0, n = s.sortUnique((x, y) => compareIps(x, y, this.#strings), false); q < n; q++) this.ips[this.nIps++] = s.ids[q]!;
    s.clear();
    each((run, c, i) => { for (let q = c.opOffsets[i]!; q < c.opOffsets[i + 1]!; q++) s.push(run.out[c.ops[q]!]!, 0); });
    for (let q = 0, n = s.sortUnique(byNumber, false, OPERATION_SAMPLE_SIZE); q < n; q++) this.ops[this.nOps++] = s.ids[q]!;
  }

  build(): FlowColumns {
    return {
      strings: this.#strings as string[], length: this.#m,
      perimeter: this.perimeter, profile: this.profile, category: this.category, peer: this.peer,
      hits: this.hits, first: this.first, last: this.last,
      // Combined flows' lists may be shorter than their parts': the arrays are cut to what was written.
      dayOffsets: this.dayOffsets, days: this.days.subarray(0, this.nDays), dayHits: this.dayHits.subarray(0, this.nDays),
      resOffsets: this.resOffsets, res: this.res.subarray(0, this.nRes),
      ruleOffsets: this.ruleOffsets, rules: this.rules.subarray(0, this.nRules), ruleHits: this.ruleHits.subarray(0, this.nRules),
      ipOffsets: this.ipOffsets, ips: this.ips.subarray(0, this.nIps), opOffsets: this.opOffsets, ops: this.ops.subarray(0, this.nOps),
    };
  }
}
