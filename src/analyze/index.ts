// Analyze stage entry point: records in, a FlowSummary out (or merged with snapshots loaded earlier).

import type { FlowSummary } from '../model/flow-summary.js';
import type { NspRecord } from '../model/record.js';
import { addRecord, emptySummary } from './aggregate.js';

export { addRecord, emptySummary, mergeInto, mergeSummaries, sortedFlows, summaryToJSON, summaryWindow } from './aggregate.js';
export { loadSnapshot, snapshotBytes, snapshotBytesFromTable, summaryFromSnapshot } from './snapshot.js';
export { FlowTable } from './flow-table.js';
export { analyzeFiles } from './parallel.js';

/** Folds a stream of records into a summary (into `into` when given). */
export async function analyze(records: AsyncIterable<NspRecord>, into: FlowSummary = emptySummary()): Promise<FlowSummary> {
  for await (const record of records) addRecord(into, record);
  return into;
}
