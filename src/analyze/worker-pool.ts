// Analyze stage, start-up: the analysis workers (scan-worker.ts), which parallel.ts runs tasks on.
// A worker takes 60–200 ms to boot (Node's worker bootstrap, its modules), so the CLI shim starts them before it loads the CLI itself when the
// arguments name large local files (prestartWorkersFor): they boot on the other cores while this
// thread loads, and the run takes them instead of starting its own. Kept free of heavy imports:
// it is loaded first thing.

import { availableParallelism } from 'node:os';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { foldModule } from './fold-module.js';

/** Inputs at least this large are read on workers (parallel.ts uses the same bound). */
export const WORKERS_FROM_BYTES = 16 << 20;

/** The compiled worker; under the TypeScript test runner, the build's copy in dist/. */
function workerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL(here.replace(/\/src\/analyze\/worker-pool\.ts$/, '/dist/src/analyze/scan-worker.js'));
  return new URL('./scan-worker.js', here);
}

/** A new analysis worker, given this process's fold module (fold-module.ts: its code is shared). */
function startWorker(): Worker {
  return new Worker(workerUrl(), { workerData: { foldModule: foldModule() } });
}

// Started ahead of a run and not yet taken: unreferenced, so they never keep the process alive;
// each with the listener that drops it from here if it fails while idle.
const idle: { worker: Worker; drop: () => void }[] = [];

/** Starts `count` workers ahead of the run that will take them (takeWorker). */
export function prestartWorkers(count: number): void {
  for (let i = 0; i < count; i++) {
    const worker = startWorker();
    worker.unref();
    // An idle worker that fails is dropped; a run that takes it sees its own errors.
    const drop = (): void => { const at = idle.findIndex((w) => w.worker === worker); if (at >= 0) idle.splice(at, 1); };
    worker.once('error', drop);
    worker.once('exit', drop);
    idle.push({ worker, drop });
  }
}

/**
 * Starts a worker per core when the arguments name local files of WORKERS_FROM_BYTES or more in all,
 * flow snapshots aside (options' values included: a wrong guess only costs the boot of idle
 * workers). @returns how many
 */
export function prestartWorkersFor(args: readonly string[]): number {
  let bytes = 0;
  for (const arg of args) {
    if (arg.startsWith('-')) continue;
    try {
      const s = statSync(arg, { throwIfNoEntry: false });
      // A flow snapshot is loaded on this thread, not read by workers.
      if (s?.isFile() && !isSnapshot(arg)) bytes += s.size;
    } catch {
      // Not a path: nothing to read.
    }
  }
  if (bytes < WORKERS_FROM_BYTES) return 0;
  const count = availableParallelism();
  prestartWorkers(count);
  return count;
}

/** Whether the file starts as an Arrow IPC file (a flow snapshot). */
function isSnapshot(path: string): boolean {
  const head = Buffer.alloc(6);
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, head, 0, 6, 0) === 6 && head.toString('latin1') === 'ARROW1';
  } finally {
    closeSync(fd);
  }
}

/** Workers started ahead and not taken yet. */
export function idleWorkerCount(): number {
  return idle.length;
}

/** A started worker for a run: one started ahead when there is one, else a new one. */
export function takeWorker(): Worker {
  const taken = idle.shift();
  if (!taken) return startWorker();
  const { worker, drop } = taken;
  worker.off('error', drop);
  worker.off('exit', drop);
  worker.ref();
  return worker;
}

/** Ends the workers started ahead that no run took. */
export async function endIdleWorkers(): Promise<void> {
  await Promise.all(idle.splice(0).map(({ worker }) => worker.terminate()));
}
