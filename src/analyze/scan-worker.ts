// Analyze stage, hot path: the worker thread. Folds the ScanTasks it is given into one FlowTable
// and answers each with its counts and issues; at the end it hands over the whole table (its
// records in shared memory: nothing copied).

import { parentPort } from 'node:worker_threads';
import { FlowTable, stateTransferList } from './flow-table.js';
import { runScanTask, type ScanTask } from './scan-task.js';

// Records in shared memory: the table is handed over at the end without a copy.
const table = new FlowTable({ shared: true });

parentPort!.on('message', (message: { id: number; task?: ScanTask }) => {
  if (!message.task) {
    const state = table.handOver();
    parentPort!.postMessage({ id: message.id, state }, stateTransferList(state));
    return;
  }
  runScanTask(message.task, table).then(
    (result) => parentPort!.postMessage({ id: message.id, result }),
    (error: unknown) => parentPort!.postMessage({ id: message.id, error: (error as Error).stack ?? String(error) }),
  );
});
