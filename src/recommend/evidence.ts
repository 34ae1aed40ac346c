// Recommend stage: accumulates the evidence behind a rule or an unresolved source from the flows
// that back it (hits, first/last seen, days seen, distinct sources, resources).

import { DAY_MS, type Flow } from '../model/flow-summary.js';
import type { RuleEvidence } from '../model/rule-set.js';
import { byCodeUnit } from '../model/text.js';

/** ISO-8601 UTC without milliseconds when they are zero (2026-11-02T00:00:00Z). */
export function isoTime(ms: number): string {
  // The date of each day made once, the time of day by arithmetic: a large review list has
  // hundreds of thousands of times (years 1970–9999; others as Date writes them).
  if (!Number.isInteger(ms) || ms < 0 || ms >= LAST_FAST_MS) return new Date(ms).toISOString().replace('.000Z', 'Z');
  const day = Math.floor(ms / DAY_MS);
  let date = dates.get(day);
  if (date === undefined) {
    date = new Date(day * DAY_MS).toISOString().slice(0, 11);
    if (dates.size > 4096) dates.clear();
    dates.set(day, date);
  }
  const inDay = ms - day * DAY_MS;
  const seconds = Math.floor(inDay / 1000);
  const milli = inDay - seconds * 1000;
  const two = (n: number): string => (n < 10 ? `0${n}` : `${n}`);
  const time = `${date}${two(Math.floor(seconds / 3600))}:${two(Math.floor(seconds / 60) % 60)}:${two(seconds % 60)}`;
  return milli === 0 ? `${time}Z` : `${time}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}
/** 10000-01-01: from here Date writes six-digit years. */
const LAST_FAST_MS = 253_402_300_800_000;
const dates = new Map<number, string>();


/** Mutable evidence under construction. */
export class EvidenceBuilder {
  hits = 0;
  firstSeen = Infinity;
  lastSeen = -Infinity;
  readonly days = new Set<number>();
  readonly sources = new Set<string>();
  readonly resources = new Set<string>();

  /** Adds a flow; `source` is the peer it counts as (an address, a caller, an FQDN). */
  add(flow: Flow, source: string): this {
    this.hits += flow.hits;
    this.firstSeen = Math.min(this.firstSeen, flow.firstSeen);
    this.lastSeen = Math.max(this.lastSeen, flow.lastSeen);
    for (const day of flow.dayHits.keys()) this.days.add(day);
    this.sources.add(source);
    for (const r of flow.resources) this.resources.add(r);
    return this;
  }

  /** Adds everything another builder has seen. */
  addAll(other: EvidenceBuilder): this {
    this.hits += other.hits;
    this.firstSeen = Math.min(this.firstSeen, other.firstSeen);
    this.lastSeen = Math.max(this.lastSeen, other.lastSeen);
    for (const d of other.days) this.days.add(d);
    for (const s of other.sources) this.sources.add(s);
    for (const r of other.resources) this.resources.add(r);
    return this;
  }

  build(): RuleEvidence {
    return {
      hits: this.hits,
      firstSeen: isoTime(this.firstSeen),
      lastSeen: isoTime(this.lastSeen),
      daysSeen: this.days.size,
      sources: this.sources.size,
      resources: [...this.resources].sort(byCodeUnit),
    };
  }
}
