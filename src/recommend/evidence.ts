// Recommend stage: accumulates the evidence behind a rule or an unresolved source from the flows
// that back it (hits, first/last seen, days seen, distinct sources, resources).

import type { Flow } from '../model/flow-summary.js';
import type { RuleEvidence } from '../model/rule-set.js';
import { byCodeUnit } from '../model/text.js';

/** ISO-8601 UTC without milliseconds when they are zero (2026-11-02T00:00:00Z). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}


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
