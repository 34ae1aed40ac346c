// Analyze stage: folds NspRecords into a FlowSummary and merges summaries. merge() is associative
// and commutative with the empty summary as identity, so files, time chunks, workers and saved
// snapshots combine in any grouping and order (test/analyze.test.ts proves it byte for byte).

import { DAY_MS, OPERATION_SAMPLE_SIZE, flowKeyString, type Flow, type FlowSummary } from '../model/flow-summary.js';
import type { NspRecord } from '../model/record.js';
import { byCodeUnit } from '../model/text.js';

export function emptySummary(): FlowSummary {
  return { flows: new Map() };
}

/** Keeps the smallest OPERATION_SAMPLE_SIZE names: a sample that merges the same in any order. */
function addOperation(sample: Set<string>, operation: string): void {
  if (operation === '' || sample.has(operation)) return;
  if (sample.size < OPERATION_SAMPLE_SIZE) { sample.add(operation); return; }
  let largest = '';
  for (const op of sample) if (op > largest) largest = op;
  if (operation < largest) { sample.delete(largest); sample.add(operation); }
}

/** Adds one record to a summary (mutates it). */
export function addRecord(summary: FlowSummary, record: NspRecord): void {
  const key = flowKeyString(record);
  let flow = summary.flows.get(key);
  if (!flow) {
    flow = {
      perimeterId: record.perimeterId, profile: record.profile, category: record.category,
      peerKind: record.peerKind, peer: record.peer,
      hits: 0, firstSeen: record.time, lastSeen: record.endTime,
      dayHits: new Map(), resources: new Set(), matchedRules: new Map(), sourceIps: new Set(), operations: new Set(),
    };
    summary.flows.set(key, flow);
  }
  flow.hits += record.count;
  if (record.time < flow.firstSeen) flow.firstSeen = record.time;
  if (record.endTime > flow.lastSeen) flow.lastSeen = record.endTime;
  const day = Math.floor(record.time / DAY_MS);
  flow.dayHits.set(day, (flow.dayHits.get(day) ?? 0) + record.count);
  if (record.resourceId !== '') flow.resources.add(record.resourceId);
  if (record.matchedRule !== '') flow.matchedRules.set(record.matchedRule, (flow.matchedRules.get(record.matchedRule) ?? 0) + record.count);
  if (record.sourceIp !== '') flow.sourceIps.add(record.sourceIp);
  addOperation(flow.operations, record.operation);
}

function copyFlow(flow: Flow): Flow {
  return {
    ...flow,
    dayHits: new Map(flow.dayHits), resources: new Set(flow.resources), matchedRules: new Map(flow.matchedRules),
    sourceIps: new Set(flow.sourceIps), operations: new Set(flow.operations),
  };
}

/** Folds `from` into `into` (mutates `into`, leaves `from` untouched). */
export function mergeInto(into: FlowSummary, from: FlowSummary): FlowSummary {
  for (const [key, flow] of from.flows) {
    const target = into.flows.get(key);
    if (!target) { into.flows.set(key, copyFlow(flow)); continue; }
    target.hits += flow.hits;
    target.firstSeen = Math.min(target.firstSeen, flow.firstSeen);
    target.lastSeen = Math.max(target.lastSeen, flow.lastSeen);
    for (const [day, hits] of flow.dayHits) target.dayHits.set(day, (target.dayHits.get(day) ?? 0) + hits);
    for (const r of flow.resources) target.resources.add(r);
    for (const [rule, hits] of flow.matchedRules) target.matchedRules.set(rule, (target.matchedRules.get(rule) ?? 0) + hits);
    for (const ip of flow.sourceIps) target.sourceIps.add(ip);
    for (const op of flow.operations) addOperation(target.operations, op);
  }
  return into;
}

/** Merges summaries into a new one; associative and commutative, emptySummary() is the identity. */
export function mergeSummaries(...summaries: FlowSummary[]): FlowSummary {
  const result = emptySummary();
  for (const s of summaries) mergeInto(result, s);
  return result;
}


/** Flows in canonical key order (the order every output uses). */
export function sortedFlows(summary: FlowSummary): Flow[] {
  return [...summary.flows.entries()].sort((a, b) => byCodeUnit(a[0], b[0])).map(([, flow]) => flow);
}

/** Deterministic plain-data form of a summary (sorted keys, sets and maps as sorted arrays). */
export function summaryToJSON(summary: FlowSummary): unknown {
  return {
    flows: sortedFlows(summary).map((f) => ({
      perimeterId: f.perimeterId, profile: f.profile, category: f.category, peerKind: f.peerKind, peer: f.peer,
      hits: f.hits, firstSeen: new Date(f.firstSeen).toISOString(), lastSeen: new Date(f.lastSeen).toISOString(),
      daysSeen: f.dayHits.size,
      dayHits: [...f.dayHits.entries()].sort((a, b) => a[0] - b[0]).map(([day, hits]) => ({ day: new Date(day * DAY_MS).toISOString().slice(0, 10), hits })),
      resources: [...f.resources].sort(byCodeUnit),
      matchedRules: [...f.matchedRules.entries()].sort((a, b) => byCodeUnit(a[0], b[0])).map(([rule, hits]) => ({ rule, hits })),
      sourceIps: [...f.sourceIps].sort(byCodeUnit),
      operations: [...f.operations].sort(byCodeUnit),
    })),
  };
}

/** Time covered by a summary: earliest start and latest end, or null when empty. */
export function summaryWindow(summary: FlowSummary): { start: number; end: number } | null {
  let start = Infinity;
  let end = -Infinity;
  for (const f of summary.flows.values()) {
    if (f.firstSeen < start) start = f.firstSeen;
    if (f.lastSeen > end) end = f.lastSeen;
  }
  return start === Infinity ? null : { start, end };
}
