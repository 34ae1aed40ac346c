// Analyze stage, hot path: a flow accumulator keyed by small integers instead of strings. Values
// are interned once (from bytes on the fast path, from strings on the careful path), so a row
// costs a few map lookups and no allocation; toSummary() turns it into the FlowSummary that the
// rest of the tool uses (identical to folding the same records with addRecord()).

import { DAY_MS, OPERATION_SAMPLE_SIZE, flowKeyString, type Flow, type FlowSummary } from '../model/flow-summary.js';
import { categories } from '../model/category.js';
import { formatIPv4 } from '../model/ip.js';
import type { NspRecord, PeerKind } from '../model/record.js';

/** Strings by id; ids are shared by the byte and string paths. */
export class Interner {
  readonly strings: string[] = [];
  readonly #ids = new Map<string, number>();
  // Bytes → id: open addressing over FNV-1a hashes.
  #hashes = new Int32Array(1 << 12);
  #slots = new Int32Array(1 << 12).fill(-1);
  #keys: Buffer[] = [];
  #keyIds: number[] = [];
  readonly #decoder = new TextDecoder();

  id(text: string): number {
    let id = this.#ids.get(text);
    if (id === undefined) { id = this.strings.length; this.strings.push(text); this.#ids.set(text, id); }
    return id;
  }

  idOfBytes(buf: Uint8Array, start: number, end: number): number {
    // Hash the length, the first 8 and the last 24 bytes: ARM ids share long prefixes and differ at
    // the end, and full comparison settles any collision.
    let h = Math.imul(0x811c9dc5 ^ (end - start), 0x01000193);
    const head = Math.min(end, start + 8);
    for (let i = start; i < head; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    for (let i = Math.max(head, end - 24); i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const mask = this.#slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = this.#slots[i]!;
      if (slot === -1) {
        const text = this.#decoder.decode(buf.subarray(start, end));
        const id = this.id(text);
        this.#slots[i] = this.#keys.length;
        this.#hashes[i] = h;
        this.#keys.push(Buffer.from(buf.subarray(start, end)));
        this.#keyIds.push(id);
        if (this.#keys.length * 2 > this.#slots.length) this.#grow();
        return id;
      }
      if (this.#hashes[i] === h) {
        const key = this.#keys[slot]!;
        if (key.length === end - start && key.compare(buf, start, end) === 0) return this.#keyIds[slot]!;
      }
    }
  }

  #grow(): void {
    const size = this.#slots.length * 2;
    const slots = new Int32Array(size).fill(-1);
    const hashes = new Int32Array(size);
    for (let i = 0; i < this.#slots.length; i++) {
      const slot = this.#slots[i]!;
      if (slot === -1) continue;
      const h = this.#hashes[i]!;
      let j = h & (size - 1);
      while (slots[j] !== -1) j = (j + 1) & (size - 1);
      slots[j] = slot;
      hashes[j] = h;
    }
    this.#slots = slots;
    this.#hashes = hashes;
  }
}

/** Accumulated stats of one flow; sets and maps are created only at their second distinct value. */
interface Acc {
  hits: number;
  first: number;
  last: number;
  day0: number; day0Hits: number; days: Map<number, number> | null;
  res0: number; res: Set<number> | null;
  rule0: number; rule0Hits: number; rules: Map<number, number> | null;
  ips: Set<number> | null;
  ops: number[];
}

// Peer codes: the kind in the high bits, the IPv4 address or interned id below.
const IPV4 = 0;
const TEXT_IP = 2 ** 32;
const RESOURCE = 2 ** 33;
const FQDN = 2 ** 34;
const NONE = 2 ** 35;

/** Code of a caller IP kept beside a resource peer: IPv4 as its number, others as interned text. */
export function ipCode(interner: Interner, text: string, v4: number): number {
  return v4 >= 0 ? v4 : TEXT_IP + interner.id(text);
}

export class FlowTable {
  readonly interner = new Interner();
  /** (perimeter id, profile id, category index) → peer code → stats. */
  readonly #groups = new Map<number, Map<number, Acc>>();
  // (perimeter, profile) pairs get dense ids of their own: interned ids of any size never collide.
  readonly #pairIds = new Map<number, Map<number, number>>();
  readonly #pairs: [number, number][] = [];
  readonly #categoryIndex = new Map(categories.map((c, i) => [c.name, i] as [string, number]));

  /** Group id of (perimeter, profile, category); perimeter and profile are interned ids. */
  group(perimeterId: number, profileId: number, categoryIndex: number): number {
    let byProfile = this.#pairIds.get(perimeterId);
    if (!byProfile) { byProfile = new Map(); this.#pairIds.set(perimeterId, byProfile); }
    let pair = byProfile.get(profileId);
    if (pair === undefined) { pair = this.#pairs.length; this.#pairs.push([perimeterId, profileId]); byProfile.set(profileId, pair); }
    return pair * 64 + categoryIndex;
  }

  /** Perimeter id, profile id and category index of a group. */
  #groupKey(g: number): [number, number, number] {
    const [perimeter, profile] = this.#pairs[Math.floor(g / 64)]!;
    return [perimeter, profile, g % 64];
  }

  /** Peer code of an IPv4 address (as a number), text IP, resource, FQDN or nothing. */
  static peerIPv4(v4: number): number { return IPV4 + v4; }
  peerTextIp(text: string): number { return TEXT_IP + this.interner.id(text); }
  static peerResource(id: number): number { return RESOURCE + id; }
  static peerFqdn(id: number): number { return FQDN + id; }
  static readonly peerNone = NONE;

  /**
   * Adds one row. `resource`, `rule`, `operation` are interned ids or -1; `sourceIp` an ipCode or -1.
   */
  add(group: number, peer: number, time: number, endTime: number, count: number, resource: number, rule: number, sourceIp: number, operation: number): void {
    const acc = this.#accFor(group, peer, time, endTime);
    acc.hits += count;
    if (time < acc.first) acc.first = time;
    if (endTime > acc.last) acc.last = endTime;
    addDay(acc, Math.floor(time / DAY_MS), count);
    if (resource >= 0) addResource(acc, resource);
    if (rule >= 0) addRule(acc, rule, count);
    if (sourceIp >= 0) (acc.ips ??= new Set()).add(sourceIp);
    if (operation >= 0 && !acc.ops.includes(operation)) this.#addOperation(acc.ops, operation);
  }

  /** The same sample rule as aggregate.ts: keep the OPERATION_SAMPLE_SIZE smallest names. */
  #addOperation(ops: number[], operation: number): void {
    if (ops.length < OPERATION_SAMPLE_SIZE) { ops.push(operation); return; }
    const s = this.interner.strings;
    let largest = 0;
    for (let i = 1; i < ops.length; i++) if (s[ops[i]!]! > s[ops[largest]!]!) largest = i;
    if (s[operation]! < s[ops[largest]!]!) ops[largest] = operation;
  }

  /** Adds a record from the careful path. */
  addRecord(r: NspRecord): void {
    const i = this.interner;
    const group = this.group(i.id(r.perimeterId), i.id(r.profile), this.#categoryIndex.get(r.category)!);
    let peer: number;
    // IPv4 peers take the numeric code on both paths, so they meet in one flow.
    if (r.peerKind === 'ip') peer = r.peer.includes(':') ? this.peerTextIp(r.peer) : ipv4Number(r.peer);
    else if (r.peerKind === 'resource') peer = FlowTable.peerResource(i.id(r.peer));
    else if (r.peerKind === 'fqdn') peer = FlowTable.peerFqdn(i.id(r.peer));
    else peer = NONE;
    this.add(group, peer, r.time, r.endTime, r.count,
      r.resourceId === '' ? -1 : i.id(r.resourceId), r.matchedRule === '' ? -1 : i.id(r.matchedRule),
      r.sourceIp === '' ? -1 : (r.sourceIp.includes(':') ? TEXT_IP + i.id(r.sourceIp) : ipv4Number(r.sourceIp)),
      r.operation === '' ? -1 : i.id(r.operation));
  }

  get flowCount(): number {
    let n = 0;
    for (const peers of this.#groups.values()) n += peers.size;
    return n;
  }

  /**
   * The flows as columns (typed arrays plus one string table): cheap to send between threads and
   * to write as Arrow. Lists are in CSR form (offsets into one values array per list column).
   */
  exportColumns(): FlowColumns {
    // Two passes over the flows: sizes first, then typed arrays filled in place (no JS arrays).
    let n = 0; let nDays = 0; let nRes = 0; let nRules = 0; let nIps = 0; let nOps = 0;
    for (const peers of this.#groups.values()) {
      for (const acc of peers.values()) {
        n++;
        nDays += acc.days ? acc.days.size : 1;
        nRes += (acc.res0 >= 0 ? 1 : 0) + (acc.res?.size ?? 0);
        nRules += acc.rules ? acc.rules.size : acc.rule0 >= 0 ? 1 : 0;
        nIps += acc.ips?.size ?? 0;
        nOps += acc.ops.length;
      }
    }
    const c: FlowColumns = {
      strings: this.interner.strings.slice(), length: n,
      perimeter: new Int32Array(n), profile: new Int32Array(n), category: new Int32Array(n), peer: new Float64Array(n),
      hits: new Float64Array(n), first: new Float64Array(n), last: new Float64Array(n),
      dayOffsets: new Int32Array(n + 1), days: new Int32Array(nDays), dayHits: new Float64Array(nDays),
      resOffsets: new Int32Array(n + 1), res: new Int32Array(nRes),
      ruleOffsets: new Int32Array(n + 1), rules: new Int32Array(nRules), ruleHits: new Float64Array(nRules),
      ipOffsets: new Int32Array(n + 1), ips: new Float64Array(nIps), opOffsets: new Int32Array(n + 1), ops: new Int32Array(nOps),
    };
    let i = 0; let d = 0; let r = 0; let u = 0; let p = 0; let o = 0;
    for (const [g, peers] of this.#groups) {
      const [perimeter, profile, category] = this.#groupKey(g);
      for (const [code, acc] of peers) {
        c.perimeter[i] = perimeter; c.profile[i] = profile; c.category[i] = category; c.peer[i] = code;
        c.hits[i] = acc.hits; c.first[i] = acc.first; c.last[i] = acc.last;
        if (acc.days) for (const [day, hits] of acc.days) { c.days[d] = day; c.dayHits[d++] = hits; }
        else { c.days[d] = acc.day0; c.dayHits[d++] = acc.day0Hits; }
        if (acc.res0 >= 0) c.res[r++] = acc.res0;
        if (acc.res) for (const x of acc.res) c.res[r++] = x;
        if (acc.rules) for (const [rule, hits] of acc.rules) { c.rules[u] = rule; c.ruleHits[u++] = hits; }
        else if (acc.rule0 >= 0) { c.rules[u] = acc.rule0; c.ruleHits[u++] = acc.rule0Hits; }
        if (acc.ips) for (const x of acc.ips) c.ips[p++] = x;
        for (const x of acc.ops) c.ops[o++] = x;
        i++;
        c.dayOffsets[i] = d; c.resOffsets[i] = r; c.ruleOffsets[i] = u; c.ipOffsets[i] = p; c.opOffsets[i] = o;
      }
    }
    return c;
  }

  /** Merges columns (from another table, a worker or a snapshot) into this table. */
  importColumns(cols: FlowColumns): void {
    const remap = new Int32Array(cols.strings.length);
    for (let k = 0; k < cols.strings.length; k++) remap[k] = this.interner.id(cols.strings[k]!);
    const code = (c: number): number => {
      if (c < TEXT_IP || c >= NONE) return c;
      const base = c >= FQDN ? FQDN : c >= RESOURCE ? RESOURCE : TEXT_IP;
      return base + remap[c - base]!;
    };
    for (let i = 0; i < cols.length; i++) {
      const group = this.group(remap[cols.perimeter[i]!]!, remap[cols.profile[i]!]!, cols.category[i]!);
      const first = cols.first[i]!;
      const last = cols.last[i]!;
      const acc = this.#accFor(group, code(cols.peer[i]!), first, last);
      acc.hits += cols.hits[i]!;
      if (first < acc.first) acc.first = first;
      if (last > acc.last) acc.last = last;
      for (let k = cols.dayOffsets[i]!; k < cols.dayOffsets[i + 1]!; k++) addDay(acc, cols.days[k]!, cols.dayHits[k]!);
      for (let k = cols.resOffsets[i]!; k < cols.resOffsets[i + 1]!; k++) addResource(acc, remap[cols.res[k]!]!);
      for (let k = cols.ruleOffsets[i]!; k < cols.ruleOffsets[i + 1]!; k++) addRule(acc, remap[cols.rules[k]!]!, cols.ruleHits[k]!);
      for (let k = cols.ipOffsets[i]!; k < cols.ipOffsets[i + 1]!; k++) (acc.ips ??= new Set()).add(code(cols.ips[k]!));
      for (let k = cols.opOffsets[i]!; k < cols.opOffsets[i + 1]!; k++) {
        const op = remap[cols.ops[k]!]!;
        if (!acc.ops.includes(op)) this.#addOperation(acc.ops, op);
      }
    }
  }

  #accFor(group: number, peer: number, first: number, last: number): Acc {
    let peers = this.#groups.get(group);
    if (!peers) { peers = new Map(); this.#groups.set(group, peers); }
    let acc = peers.get(peer);
    if (!acc) {
      acc = { hits: 0, first, last, day0: -1, day0Hits: 0, days: null, res0: -1, res: null, rule0: -1, rule0Hits: 0, rules: null, ips: null, ops: [] };
      peers.set(peer, acc);
    }
    return acc;
  }

  /** Plain FlowSummary with string keys. */
  toSummary(): FlowSummary {
    const s = this.interner.strings;
    const flows = new Map<string, Flow>();
    const ipText = (code: number): string => (code < TEXT_IP ? formatIPv4(code) : s[code - TEXT_IP]!);
    for (const [g, peers] of this.#groups) {
      const [perimeter, profile, category] = this.#groupKey(g);
      for (const [code, acc] of peers) {
        let peerKind: PeerKind;
        let peer: string;
        if (code < TEXT_IP) { peerKind = 'ip'; peer = formatIPv4(code); }
        else if (code < RESOURCE) { peerKind = 'ip'; peer = s[code - TEXT_IP]!; }
        else if (code < FQDN) { peerKind = 'resource'; peer = s[code - RESOURCE]!; }
        else if (code < NONE) { peerKind = 'fqdn'; peer = s[code - FQDN]!; }
        else { peerKind = 'none'; peer = ''; }
        const resources = new Set<string>();
        if (acc.res0 >= 0) resources.add(s[acc.res0]!);
        if (acc.res) for (const r of acc.res) resources.add(s[r]!);
        const matchedRules = new Map<string, number>();
        if (acc.rules) for (const [r, h] of acc.rules) matchedRules.set(s[r]!, h);
        else if (acc.rule0 >= 0) matchedRules.set(s[acc.rule0]!, acc.rule0Hits);
        const flow: Flow = {
          perimeterId: s[perimeter]!, profile: s[profile]!, category: categories[category]!.name, peerKind, peer,
          hits: acc.hits, firstSeen: acc.first, lastSeen: acc.last,
          dayHits: acc.days ? new Map(acc.days) : new Map([[acc.day0, acc.day0Hits]]),
          resources, matchedRules,
          sourceIps: new Set(acc.ips ? [...acc.ips].map(ipText) : []),
          operations: new Set(acc.ops.map((o) => s[o]!)),
        };
        flows.set(flowKeyString(flow), flow);
      }
    }
    return { flows };
  }
}

/** Dotted-quad text (already canonical) → number. */
function ipv4Number(text: string): number {
  let acc = 0;
  let part = 0;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (c === 46) { acc = acc * 256 + part; part = 0; } else part = part * 10 + (c - 48);
  }
  return acc * 256 + part;
}

/** Adds hits on a day; a Map only from the second distinct day. */
function addDay(acc: Acc, day: number, hits: number): void {
  if (acc.days === null && (acc.day0 === -1 || acc.day0 === day)) { acc.day0 = day; acc.day0Hits += hits; return; }
  if (acc.days === null) acc.days = new Map([[acc.day0, acc.day0Hits]]);
  acc.days.set(day, (acc.days.get(day) ?? 0) + hits);
}

function addResource(acc: Acc, resource: number): void {
  if (resource === acc.res0) return;
  if (acc.res0 === -1) acc.res0 = resource;
  else (acc.res ??= new Set()).add(resource);
}

function addRule(acc: Acc, rule: number, hits: number): void {
  if (acc.rules === null && (acc.rule0 === -1 || acc.rule0 === rule)) { acc.rule0 = rule; acc.rule0Hits += hits; return; }
  if (acc.rules === null) acc.rules = new Map([[acc.rule0, acc.rule0Hits]]);
  acc.rules.set(rule, (acc.rules.get(rule) ?? 0) + hits);
}

/** Flows as columns; see FlowTable.exportColumns(). Peer and IP codes refer to `strings`. */
export interface FlowColumns {
  strings: string[];
  length: number;
  perimeter: Int32Array; profile: Int32Array; category: Int32Array; peer: Float64Array;
  hits: Float64Array; first: Float64Array; last: Float64Array;
  dayOffsets: Int32Array; days: Int32Array; dayHits: Float64Array;
  resOffsets: Int32Array; res: Int32Array;
  ruleOffsets: Int32Array; rules: Int32Array; ruleHits: Float64Array;
  ipOffsets: Int32Array; ips: Float64Array;
  opOffsets: Int32Array; ops: Int32Array;
}

class ColumnsBuilder {
  readonly #c = { perimeter: [] as number[], profile: [] as number[], category: [] as number[], peer: [] as number[], hits: [] as number[], first: [] as number[], last: [] as number[],
    dayOffsets: [0], days: [] as number[], dayHits: [] as number[], resOffsets: [0], res: [] as number[],
    ruleOffsets: [0], rules: [] as number[], ruleHits: [] as number[], ipOffsets: [0], ips: [] as number[], opOffsets: [0], ops: [] as number[] };
  readonly #strings: string[];
  constructor(strings: string[]) { this.#strings = strings; }

  push(perimeter: number, profile: number, category: number, peer: number, hits: number, first: number, last: number,
    days: readonly (readonly [number, number])[], res: readonly number[], rules: readonly (readonly [number, number])[], ips: readonly number[], ops: readonly number[]): void {
    const c = this.#c;
    c.perimeter.push(perimeter); c.profile.push(profile); c.category.push(category); c.peer.push(peer);
    c.hits.push(hits); c.first.push(first); c.last.push(last);
    for (const [d, h] of days) { c.days.push(d); c.dayHits.push(h); }
    c.dayOffsets.push(c.days.length);
    for (const r of res) c.res.push(r);
    c.resOffsets.push(c.res.length);
    for (const [r, h] of rules) { c.rules.push(r); c.ruleHits.push(h); }
    c.ruleOffsets.push(c.rules.length);
    for (const ip of ips) c.ips.push(ip);
    c.ipOffsets.push(c.ips.length);
    for (const o of ops) c.ops.push(o);
    c.opOffsets.push(c.ops.length);
  }

  build(): FlowColumns {
    const c = this.#c;
    const i32 = Int32Array.from.bind(Int32Array);
    const f64 = Float64Array.from.bind(Float64Array);
    return {
      strings: this.#strings, length: c.perimeter.length,
      perimeter: i32(c.perimeter), profile: i32(c.profile), category: i32(c.category), peer: f64(c.peer),
      hits: f64(c.hits), first: f64(c.first), last: f64(c.last),
      dayOffsets: i32(c.dayOffsets), days: i32(c.days), dayHits: f64(c.dayHits),
      resOffsets: i32(c.resOffsets), res: i32(c.res),
      ruleOffsets: i32(c.ruleOffsets), rules: i32(c.rules), ruleHits: f64(c.ruleHits),
      ipOffsets: i32(c.ipOffsets), ips: f64(c.ips), opOffsets: i32(c.opOffsets), ops: i32(c.ops),
    };
  }
}

/** Columns of a FlowSummary (snapshots and other summaries enter a FlowTable this way). */
export function columnsFromSummary(summary: FlowSummary): FlowColumns {
  const table = new FlowTable();
  const i = table.interner;
  const b = new ColumnsBuilder(i.strings);
  const categoryIndex = new Map(categories.map((c, k) => [c.name, k] as [string, number]));
  const ip = (text: string): number => (text.includes(':') ? TEXT_IP + i.id(text) : ipv4Number(text));
  for (const f of summary.flows.values()) {
    const peer = f.peerKind === 'ip' ? ip(f.peer) : f.peerKind === 'resource' ? RESOURCE + i.id(f.peer) : f.peerKind === 'fqdn' ? FQDN + i.id(f.peer) : NONE;
    b.push(i.id(f.perimeterId), i.id(f.profile), categoryIndex.get(f.category)!, peer, f.hits, f.firstSeen, f.lastSeen,
      [...f.dayHits], [...f.resources].map((r) => i.id(r)), [...f.matchedRules].map(([r, h]) => [i.id(r), h] as [number, number]),
      [...f.sourceIps].map(ip), [...f.operations].map((o) => i.id(o)));
  }
  return b.build();
}

/** Kind and text of a peer code. */
export function peerOfCode(code: number, strings: readonly string[]): { kind: PeerKind; text: string } {
  if (code < TEXT_IP) return { kind: 'ip', text: formatIPv4(code) };
  if (code < RESOURCE) return { kind: 'ip', text: strings[code - TEXT_IP]! };
  if (code < FQDN) return { kind: 'resource', text: strings[code - RESOURCE]! };
  if (code < NONE) return { kind: 'fqdn', text: strings[code - FQDN]! };
  return { kind: 'none', text: '' };
}

/** Text of a caller-IP code. */
export function ipOfCode(code: number, strings: readonly string[]): string {
  return code < TEXT_IP ? formatIPv4(code) : strings[code - TEXT_IP]!;
}
