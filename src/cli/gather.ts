// CLI: reads a command's inputs (paths, snapshots, workspaces, clusters) into one FlowSummary, prints the accounts on
// stderr and enforces --strict. Every command that reads logs goes through here.

import { NspError } from '../errors.js';
import { releaseMemoryNow } from '../release-memory.js';
import type { FlowTable } from '../analyze/flow-table.js';
import type { SnapshotRows } from '../analyze/snapshot.js';
import type { FlowSummary } from '../model/flow-summary.js';
import { gatherFlows, type GatheredFlows } from '../pipeline.js';
import { stringList } from './command.js';
import type { CliDeps } from './deps.js';
import type { IO } from './io.js';
import { remoteSources, stderrHooks } from './remote-options.js';
import { RunReporter } from './report.js';

export interface CommandInputs {
  /** The FlowSummary, built on first use (analyze --out never needs it). */
  readonly summary: FlowSummary;
  /** The FlowSummary as a view of the flows, for a command that only reads it (see GatheredFlows.summaryView). */
  readonly summaryView: FlowSummary;
  /** The flows as a table: snapshots are written from it directly. */
  readonly table: FlowTable;
  /**
   * The flows in snapshot order for a command that writes a snapshot and needs nothing else
   * (`analyze --out`, gathered with `snapshotOnly`), releasing the table first: a large run then
   * holds the flows once. summary and table are gone after. Loads the snapshot writer.
   */
  takeSnapshotRows(): Promise<SnapshotRows>;
  reporter: RunReporter;
}

/** Reads `paths` (and `flows` snapshots) of a command. @throws NspError strict-issues under --strict */
export async function gatherCommandInputs(args: Record<string, unknown>, io: IO, deps: CliDeps, options: { snapshotOnly?: boolean; onReading?: () => void } = {}): Promise<CommandInputs> {
  const reporter = new RunReporter(io, Boolean(args.quiet));
  const remote = await remoteSources(args, deps, stderrHooks(io, Boolean(args.quiet)));
  const gathered = await gatherFlows({
    paths: stringList(args.paths), snapshots: stringList(args.flows), remote, onIssue: reporter.onIssue, onProgress: reporter.onProgress,
    runs: options.snapshotOnly, onReading: options.onReading,
  });
  reporter.accounts(gathered.accountGroups, gathered.snapshots);
  if (args.strict && reporter.issueCount > 0) {
    throw new NspError('strict-issues', `Cannot finish under --strict: ${reporter.issueCount} issues in the input`, {
      hint: 'Fix or remove the rows named above, or run without --strict',
    });
  }
  let flows: GatheredFlows | null = gathered;
  const held = (): GatheredFlows => {
    if (!flows) throw new Error('the flows were handed over as columns');
    return flows;
  };
  const whole = (): GatheredFlows => {
    const gathered = held();
    if (gathered.runs.length > 0) throw new Error('the flows of local files are in sorted runs (snapshotOnly): takeSnapshotRows() holds them');
    return gathered;
  };
  return {
    get summary() { return whole().summary; },
    get summaryView() { return whole().summaryView; },
    get table() { return whole().table; },
    async takeSnapshotRows() {
      const { table, runs, runMemory } = held();
      const { sortedRun } = await import('../analyze/flow-order.js');
      const { mergedRows } = await import('../analyze/sorted-runs.js');
      // Merged tables leave their memories behind: collected before the copy, and the table after it.
      releaseMemoryNow(table.flowCount);
      const columns = table.exportColumns();
      flows = null;
      releaseMemoryNow(columns.length);
      // apache-arrow (snapshot.js) loads here only without runs: a writer thread may write them.
      if (runs.length === 0) return (await import('../analyze/snapshot.js')).tableRows(columns);
      return mergedRows(columns.length > 0 ? [...runs, sortedRun(columns)] : runs, runMemory);
    },
    reporter,
  };
}
