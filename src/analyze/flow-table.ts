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
    let h = 0x811c9dc5 | 0;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
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
  readonly #groupKeys = new Map<number, [number, number, number]>();
  readonly #categoryIndex = new Map(categories.map((c, i) => [c.name, i] as [string, number]));

  /** Group id of (perimeter, profile, category); perimeter and profile are interned ids. */
  group(perimeterId: number, profileId: number, categoryIndex: number): number {
    const g = (perimeterId * 65536 + profileId) * 64 + categoryIndex;
    if (!this.#groupKeys.has(g)) this.#groupKeys.set(g, [perimeterId, profileId, categoryIndex]);
    return g;
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
    let peers = this.#groups.get(group);
    if (!peers) { peers = new Map(); this.#groups.set(group, peers); }
    let acc = peers.get(peer);
    const day = Math.floor(time / DAY_MS);
    if (!acc) {
      acc = { hits: 0, first: time, last: endTime, day0: day, day0Hits: 0, days: null, res0: -1, res: null, rule0: -1, rule0Hits: 0, rules: null, ips: null, ops: [] };
      peers.set(peer, acc);
    }
    acc.hits += count;
    if (time < acc.first) acc.first = time;
    if (endTime > acc.last) acc.last = endTime;
    if (acc.days === null && day === acc.day0) acc.day0Hits += count;
    else {
      if (acc.days === null) { acc.days = new Map([[acc.day0, acc.day0Hits]]); }
      acc.days.set(day, (acc.days.get(day) ?? 0) + count);
    }
    if (resource >= 0 && resource !== acc.res0) {
      if (acc.res0 === -1) acc.res0 = resource;
      else (acc.res ??= new Set()).add(resource);
    }
    if (rule >= 0) {
      if (acc.rules === null && (acc.rule0 === -1 || acc.rule0 === rule)) { acc.rule0 = rule; acc.rule0Hits += count; }
      else {
        if (acc.rules === null) acc.rules = new Map([[acc.rule0, acc.rule0Hits]]);
        acc.rules.set(rule, (acc.rules.get(rule) ?? 0) + count);
      }
    }
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

  /** Plain FlowSummary with string keys. */
  toSummary(): FlowSummary {
    const s = this.interner.strings;
    const flows = new Map<string, Flow>();
    const ipText = (code: number): string => (code < TEXT_IP ? formatIPv4(code) : s[code - TEXT_IP]!);
    for (const [g, peers] of this.#groups) {
      const [perimeter, profile, category] = this.#groupKeys.get(g)!;
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
          dayHits: acc.days ?? new Map([[acc.day0, acc.day0Hits]]),
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
