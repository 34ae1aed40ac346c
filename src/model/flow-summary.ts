// Model: the analyzer's output (and the recommender's input). A FlowSummary maps a flow key
// (perimeter, profile, category → direction and decision class, peer) to what was seen of it.
// The merge logic lives in src/analyze/aggregate.ts; this file only defines the shape.

import type { PeerKind } from './record.js';

/** Number of operation names kept per flow, the smallest by code-unit order (a mergeable sample). */
export const OPERATION_SAMPLE_SIZE = 5;

export interface FlowKey {
  perimeterId: string;
  profile: string;
  /** Canonical category; direction and decision class follow from it. */
  category: string;
  peerKind: PeerKind;
  peer: string;
}

export interface FlowStats {
  /** Sum of record counts. */
  hits: number;
  /** Earliest record start, epoch ms. */
  firstSeen: number;
  /** Latest record end, epoch ms. */
  lastSeen: number;
  /** Hits per UTC day (day number since 1970-01-01); its size is "days seen". */
  dayHits: Map<number, number>;
  /** ARM ids of the resources that logged this flow. */
  resources: Set<string>;
  /** Matched rule name → hits. */
  matchedRules: Map<string, number>;
  /** Caller IPs seen with a 'resource' peer (canonical). */
  sourceIps: Set<string>;
  /** Sample of operation names (at most OPERATION_SAMPLE_SIZE, the smallest). */
  operations: Set<string>;
}

export interface Flow extends FlowKey, FlowStats {}

/** Canonical map key of a flow; fields cannot contain U+0001 after normalization. */
export function flowKeyString(key: FlowKey): string {
  return `${key.perimeterId}\u0001${key.profile}\u0001${key.category}\u0001${key.peerKind}\u0001${key.peer}`;
}

/** Milliseconds in a day, for day numbers. */
export const DAY_MS = 86_400_000;

/** The analyzer's mergeable value: flows by canonical key. */
export interface FlowSummary {
  flows: Map<string, Flow>;
}
