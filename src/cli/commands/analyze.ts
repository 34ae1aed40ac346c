// CLI command `analyze`: ingest + analyze. Folds logs into flows and saves them as an Arrow flow
// snapshot (--out), prints them as JSON (--json), or prints a table of flows per profile.

import { sortedFlows, summaryToJSON } from '../../analyze/aggregate.js';
import { lookupCategory } from '../../model/category.js';
import { EXIT, inputOptions, outputText, redactOption, type CommandSpec } from '../command.js';
import { gatherCommandInputs } from '../gather.js';
import { SnapshotWriterThread } from '../../analyze/snapshot-writer.js';
import { formatCount } from '../report.js';
import { shortName } from '../../model/text.js';

export const analyzeCommand: CommandSpec = {
  command: 'analyze [paths..]',
  describe: 'Fold NSP access logs into flows per perimeter, profile, category and peer',
  examples: [
    ['$0 analyze ./insights-logs --out flows.arrow', 'save the flows of a storage-account archive as a snapshot'],
    ['$0 analyze export.csv week2.arrow --json', 'merge a portal CSV export with an earlier snapshot, print JSON'],
  ],
  builder: (y) => redactOption(inputOptions(y
    .option('out', { type: 'string', describe: 'Write the flows as an Arrow IPC snapshot to this file' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the flows as JSON on stdout' }))),
  async run(args, io, deps) {
    // With nothing else to print, workers sort their own flows and the main thread merges them
    // into batches (sorted-runs.ts) that a writer thread writes meanwhile (snapshot-writer.ts);
    // the table is released before: a large run holds the flows once, not twice.
    const snapshotOnly = typeof args.out === 'string' && !args.json;
    // The snapshot writer (apache-arrow) loads while workers read the logs — on its thread, or on
    // this one when it is idle then (loaded before, it would hold back their start).
    let writer: Promise<typeof import('../../analyze/snapshot.js')> | undefined;
    let writerThread: SnapshotWriterThread | undefined;
    const loadWriter = (): void => {
      if (snapshotOnly) { writerThread ??= new SnapshotWriterThread(); return; }
      writer ??= import('../../analyze/snapshot.js');
      writer.catch(() => {}); // awaited below; a failure surfaces there
    };
    let inputs: Awaited<ReturnType<typeof gatherCommandInputs>>;
    try {
      inputs = await gatherCommandInputs(args, io, deps, { snapshotOnly, onReading: typeof args.out === 'string' ? loadWriter : undefined });
      if (typeof args.out === 'string') {
        loadWriter();
        let flows: number;
        if (snapshotOnly) {
          const rows = await inputs.takeSnapshotRows();
          await writerThread!.write(args.out, rows);
          flows = rows.length;
        } else {
          const { tableRows, writeSnapshotFile } = await writer!;
          const rows = tableRows(inputs.table.exportColumns());
          await writeSnapshotFile(args.out, rows);
          flows = rows.length;
        }
        inputs.reporter.line(`wrote ${formatCount(flows)} flows to ${args.out}`);
      }
    } finally {
      await writerThread?.close(); // a failed run's (one that wrote is ended already)
    }
    if (args.json) io.stdout.write(outputText(args, `${JSON.stringify(summaryToJSON(inputs.summary), null, 2)}\n`));
    else if (typeof args.out !== 'string') {
      // A readable table per profile: blockers first, then covered, denied, exempt; busiest first.
      const order = { blocker: 0, covered: 1, denied: 2, exempt: 3 };
      const rows = sortedFlows(inputs.summary).map((f) => ({ f, info: lookupCategory(f.category)!, profile: `${shortName(f.perimeterId)}/${f.profile}` }));
      rows.sort((a, b) => (a.profile < b.profile ? -1 : a.profile > b.profile ? 1 : 0)
        || order[a.info.decision] - order[b.info.decision] || b.f.hits - a.f.hits);
      let current = '';
      let text = '';
      for (const { f, info, profile } of rows) {
        if (profile !== current) { text += `${current ? '\n' : ''}${profile}\n`; current = profile; }
        const peer = `${f.peerKind}:${f.peer || '(empty)'}`;
        text += `  ${info.decision.padEnd(8)} ${info.direction.padEnd(8)} ${peer.padEnd(48)} ${String(f.hits).padStart(8)} hits ${String(f.dayHits.size).padStart(3)} days\n`;
      }
      io.stdout.write(outputText(args, text));
    }
    return EXIT.ok;
  },
};
