// Analyze stage, hot path: the worker thread. Folds the ScanTasks it is given into one FlowTable
// and answers each with its counts and issues; at the end it sends the flows as columns.

import { parentPort } from 'node:worker_threads';
import { FlowTable } from './flow-table.js';
import { runScanTask, type ScanTask } from './scan-task.js';

const table = new FlowTable();

parentPort!.on('message', (message: { id: number; task?: ScanTask }) => {
  if (!message.task) {
    const columns = table.exportColumns();
    const transfer = Object.values(columns).filter((v): v is Int32Array | Float64Array => ArrayBuffer.isView(v)).map((v) => v.buffer as ArrayBuffer);
    parentPort!.postMessage({ id: message.id, columns }, transfer);
    return;
  }
  runScanTask(message.task, table).then(
    (result) => parentPort!.postMessage({ id: message.id, result }),
    (error: unknown) => parentPort!.postMessage({ id: message.id, error: (error as Error).stack ?? String(error) }),
  );
});
