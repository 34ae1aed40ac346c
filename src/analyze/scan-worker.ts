// Analyze stage, hot path: the worker thread. Folds the ScanTasks it is given into one FlowTable
// and answers each with its counts and issues; at the end it hands over the whole table (its
// records in shared memory: nothing copied), or its flows sorted for a snapshot writer.

import { parentPort, workerData } from 'node:worker_threads';
import { useFoldModule } from './fold-module.js';
import { isNspError } from '../errors.js';
import { FlowTable, columnsTransferList, stateTransferList } from './flow-table.js';
import { sortedRunOfTable } from './flow-order.js';
import type { RunRegion } from './run-memory.js';
import { runScanTask, type ScanTask } from './scan-task.js';

// The fold module of the thread that started this one: its machine code is shared.
if (workerData?.foldModule) useFoldModule(workerData.foldModule as WebAssembly.Module);

// Records in shared memory: the table is handed over at the end without a copy.
const table = new FlowTable({ shared: true });

parentPort!.on('message', (message: { id: number; task?: ScanTask; run?: boolean; region?: RunRegion }) => {
  if (message.run) {
    // The flows in snapshot order, sorted here (on every worker at once) for a snapshot writer,
    // placed in the worker's region of the run memory when given one.
    const run = sortedRunOfTable(table, undefined, message.region);
    parentPort!.postMessage({ id: message.id, run }, columnsTransferList(run));
    return;
  }
  if (!message.task) {
    const state = table.handOver();
    parentPort!.postMessage({ id: message.id, state }, stateTransferList(state));
    return;
  }
  runScanTask(message.task, table).then(
    (result) => parentPort!.postMessage({ id: message.id, result, flows: table.flowCount }),
    (error: unknown) => parentPort!.postMessage({
      id: message.id, error: (error as Error).stack ?? String(error),
      // The tool's own errors cross as themselves (code, message, hint), not as a crash.
      nsp: isNspError(error) ? { code: error.code, message: error.message, hint: error.hint } : undefined,
    }),
  );
});
