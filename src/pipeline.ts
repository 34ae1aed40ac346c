// The one place that composes stages: paths and snapshots → ingest → analyze → one FlowSummary,
// with the accounts of every source. Commands call this, then recommend/emit on the result.

import { realpath } from 'node:fs/promises';
import { FlowTable, type FlowColumns } from './analyze/flow-table.js';
import { analyzeFiles } from './analyze/parallel.js';
import { listInputFiles } from './ingest/index.js';
import type { FlowSummary } from './model/flow-summary.js';
import type { Issue, SourceAccount } from './model/issue.js';
import type { NspRecord } from './model/record.js';

/**
 * A source that is not a local file (a Log Analytics workspace, a Data Explorer cluster, a Blob
 * container): yields records (or pre-aggregated records: one per group, count = hits) and keeps
 * its own accounts, one per query window or blob, pushed onto `accounts`.
 */
export interface RemoteSource {
  /** Shown in the summary, e.g. `workspace 0000…`. */
  readonly name: string;
  read(options: { onIssue: (issue: Issue) => void; accounts: SourceAccount[]; abortSignal?: AbortSignal }): AsyncIterable<NspRecord>;
}

export interface GatherFlowsOptions {
  /** Files or folders of logs (and flow snapshots, detected from content). */
  paths: readonly string[];
  /** Flow snapshots (`analyze --out`) to merge in. */
  snapshots?: readonly string[];
  /** Sources that are not files, read after the files. */
  remote?: readonly RemoteSource[];
  onIssue?: (issue: Issue) => void;
  /** Called as files finish: how many of all. */
  onProgress?: (done: number, total: number) => void;
  /** Worker threads for local files (default: one per core for large inputs; 0 = this thread). */
  workers?: number;
  /**
   * Only a snapshot will be written: the local files' flows may come back as sorted runs (in
   * `runs`, not in `table`) when worker threads read them (see src/analyze/sorted-runs.ts).
   */
  runs?: boolean;
  /** Called once local files are being read (see AnalyzeFilesOptions.onReading). */
  onReading?: () => void;
  abortSignal?: AbortSignal;
}

export interface GatheredFlows {
  /** The flows, folded in a FlowTable: write snapshots from it directly. */
  table: FlowTable;
  /** With the `runs` option: flows of local files in sorted runs, not in `table` (the snapshot holds both). */
  runs: FlowColumns[];
  /** The memory the runs were placed in, for their merge (run-memory.ts); null without runs. */
  runMemory: WebAssembly.Memory | null;
  /** The FlowSummary of the table, built on first use. */
  readonly summary: FlowSummary;
  /**
   * The FlowSummary as a view of the table (each flow's lists built when first read), for a
   * command that only reads it and changes nothing after: cheaper by far on large inputs.
   */
  readonly summaryView: FlowSummary;
  accounts: SourceAccount[];
  /** The same accounts by source: the local files, then each remote source by its name. */
  accountGroups: { name: string; accounts: SourceAccount[] }[];
  /** Snapshot files merged in. */
  snapshots: string[];
}

/** Reads every input and folds it into one table of flows. */
export async function gatherFlows(options: GatherFlowsOptions): Promise<GatheredFlows> {
  const files = await listInputFiles(options.paths);
  const table = new FlowTable();
  const snapshots: string[] = [];
  const seenSnapshots = new Set<string>();
  const mergeSnapshot = async (path: string): Promise<void> => {
    // The same snapshot named twice (--flows and a path) is merged once.
    const real = await realpath(path).catch(() => path);
    if (seenSnapshots.has(real)) return;
    seenSnapshots.add(real);
    // Loaded on demand: apache-arrow costs a run without snapshots 0.1 s of start-up.
    const { loadSnapshotColumns } = await import('./analyze/snapshot.js');
    const batches = await loadSnapshotColumns(path);
    table.reserve(table.flowCount + batches.reduce((n, c) => n + c.length, 0)); // grown once, not batch by batch
    for (const columns of batches) table.importColumns(columns);
    snapshots.push(path);
  };
  for (const path of options.snapshots ?? []) await mergeSnapshot(path);
  options.abortSignal?.throwIfAborted();
  const local = await analyzeFiles(files, { onIssue: options.onIssue, onProgress: options.onProgress, workers: options.workers, into: table, runs: options.runs, onReading: options.onReading });
  for (const path of local.snapshots) await mergeSnapshot(path);
  const accountGroups = [{ name: 'files', accounts: local.accounts }];
  for (const source of options.remote ?? []) {
    const accounts: SourceAccount[] = [];
    accountGroups.push({ name: source.name, accounts });
    for await (const record of source.read({ onIssue: options.onIssue ?? (() => {}), accounts, abortSignal: options.abortSignal })) table.addRecord(record);
  }
  let summary: FlowSummary | undefined;
  let summaryView: FlowSummary | undefined;
  return {
    table, runs: local.runs, runMemory: local.runMemory,
    get summary() { return (summary ??= table.toSummary()); },
    get summaryView() { return (summaryView ??= table.toSummary({ view: true })); },
    accounts: accountGroups.flatMap((g) => g.accounts), accountGroups, snapshots,
  };
}
