// Analyze stage, hot path: the worker thread. Folds the ScanTasks it is given into one FlowTable
// and answers each with its counts and issues; at the end it hands over the whole table (records
// in shared memory) or sends the flows as columns, slice by slice.

import { parentPort } from 'node:worker_threads';
import { FlowTable } from './flow-table.js';
import { runScanTask, type ScanTask } from './scan-task.js';

// Records in shared memory: the first worker to finish hands its whole table over without a copy.
const table = new FlowTable({ shared: true });

// Flows are handed over in slices: the worker never holds a second copy of all of them.
const SLICE_FLOWS = 1 << 17;

parentPort!.on('message', (message: { id: number; task?: ScanTask; slice?: number; whole?: boolean }) => {
  if (message.whole) {
    const state = table.handOver();
    parentPort!.postMessage({ id: message.id, state }, [state.slots.buffer as ArrayBuffer]);
    return;
  }
  if (!message.task) {
    const from = (message.slice ?? 0) * SLICE_FLOWS;
    const to = Math.min(table.flowCount, from + SLICE_FLOWS);
    const columns = table.exportColumns(from, to);
    const transfer = Object.values(columns).filter((v): v is Int32Array | Float64Array => ArrayBuffer.isView(v)).map((v) => v.buffer as ArrayBuffer);
    parentPort!.postMessage({ id: message.id, columns, last: to >= table.flowCount }, transfer);
    return;
  }
  runScanTask(message.task, table).then(
    (result) => parentPort!.postMessage({ id: message.id, result, flowCount: table.flowCount }),
    (error: unknown) => parentPort!.postMessage({ id: message.id, error: (error as Error).stack ?? String(error) }),
  );
});
