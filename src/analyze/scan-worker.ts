// Analyze stage, hot path: the worker thread. Receives ScanTasks, answers with TaskResults.

import { parentPort } from 'node:worker_threads';
import { runScanTask, type ScanTask } from './scan-task.js';

parentPort!.on('message', (message: { id: number; task: ScanTask }) => {
  runScanTask(message.task).then(
    (result) => parentPort!.postMessage({ id: message.id, result }),
    (error: unknown) => parentPort!.postMessage({ id: message.id, error: (error as Error).stack ?? String(error) }),
  );
});
