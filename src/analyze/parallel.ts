// Analyze stage, hot path: analyzes local files on all cores. Files are planned into tasks (large
// plain JSON lines files split into byte ranges at line starts, small files batched), run on
// worker threads (or in this thread for small inputs), and the partial summaries merged. Accounts
// and issues come back per file part and are put in file and line order, so the output does not
// depend on which worker finished first.

import { availableParallelism } from 'node:os';
import { open, stat } from 'node:fs/promises';
import type { Worker } from 'node:worker_threads';
import { detectFormat, type InputFile } from '../ingest/index.js';
import { emptyAccount, type Issue, type SourceAccount } from '../model/issue.js';
import { NspError, type ErrorCode } from '../errors.js';
import { FlowTable, type FlowColumns, type FlowTableState } from './flow-table.js';
import { runScanTask, type FilePart, type PartResult, type ScanTask, type TaskResult } from './scan-task.js';
import { endIdleWorkers, takeWorker, WORKERS_FROM_BYTES } from './worker-pool.js';
import { runRegions, type RunRegion } from './run-memory.js';

export interface AnalyzeFilesOptions {
  onIssue?: (issue: Issue) => void;
  /** Called as parts finish: files done so far, of all. */
  onProgress?: (done: number, total: number) => void;
  /** Worker threads; 0 = analyze in this thread. Default: one per core when the input is large. */
  workers?: number;
  /** Bytes per range of a large JSON lines file (default 16 MiB: the last ranges end close together). */
  rangeBytes?: number;
  /** Fold into this table instead of a new one. */
  into?: FlowTable;
  /**
   * For a snapshot writer that needs nothing else: workers hand over their flows sorted (see
   * sorted-runs.ts) in `runs` instead of merging them into the table.
   */
  runs?: boolean;
  /** Called once the reading is under way (on workers: once they are started): the main thread is free then. */
  onReading?: () => void;
}

export interface AnalyzedFiles {
  /** The flows (the `into` table when given); `toSummary()` gives the FlowSummary. */
  table: FlowTable;
  /** With `runs`: the workers' flows, each run in snapshot order (not in `table`). */
  runs: FlowColumns[];
  /** The memory the runs were placed in (run-memory.ts), for the merge; null without runs. */
  runMemory: WebAssembly.Memory | null;
  accounts: SourceAccount[];
  /** Files that are flow snapshots, for the caller to load and merge. */
  snapshots: string[];
  /** Lines the byte scanner left to the careful path. */
  carefulLines: number;
}

// Workers holding fewer flows than this in all sort them at once (see runOnWorkers): about 250
// bytes each while a worker makes its sorted run.
const RUNS_AT_ONCE_FLOWS = 1_000_000;
const BATCH_BYTES = 16 << 20;
const BATCH_FILES = 256;

/** Splits files into tasks. Plain JSONL files over one range get a task per range. */
export async function planTasks(files: readonly InputFile[], rangeBytes: number): Promise<{ tasks: ScanTask[]; totalBytes: number }> {
  const tasks: ScanTask[] = [];
  let batch: FilePart[] = [];
  let batchBytes = 0;
  let totalBytes = 0;
  const flush = (): void => { if (batch.length) tasks.push({ parts: batch }); batch = []; batchBytes = 0; };
  for (const [fileIndex, file] of files.entries()) {
    const size = (await stat(file.path)).size;
    totalBytes += size;
    if (size > rangeBytes && await isPlainJsonl(file.path)) {
      flush();
      let part = 0;
      for (let start = 0; start < size; start += rangeBytes) {
        tasks.push({ parts: [{ fileIndex, path: file.path, part: part++, range: { start, end: Math.min(size, start + rangeBytes) } }] });
      }
      continue;
    }
    batch.push(file.inFolder ? { fileIndex, path: file.path, part: 0, inFolder: true } : { fileIndex, path: file.path, part: 0 });
    batchBytes += size;
    if (batchBytes >= BATCH_BYTES || batch.length >= BATCH_FILES) flush();
  }
  flush();
  return { tasks, totalBytes };
}

async function isPlainJsonl(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(64 << 10);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const bytes = head.subarray(0, bytesRead);
    if (bytes[0] === 0x1f && bytes[1] === 0x8b) return false;
    return detectFormat(bytes) === 'jsonl';
  } finally {
    await handle.close();
  }
}

interface WorkerMessage {
  id: number;
  result?: TaskResult;
  /** The worker's whole table (its records in shared memory). */
  state?: FlowTableState;
  /** The worker's flows in snapshot order. */
  run?: FlowColumns;
  /** Flows in the worker's table after a task. */
  flows?: number;
  /** The worker's task ended with the tool's own error. */
  nsp?: { code: ErrorCode; message: string; hint: string | undefined };
  error?: string;
}

/**
 * Runs tasks on a pool of workers, handing each result to `onResult` as it arrives. A worker out
 * of tasks hands over its whole table (`onTable`: the records are in shared memory, nothing is
 * copied), one worker at a time, each ended before its table is merged, so its heap is freed first.
 * Given `onRun`, workers hand over their flows sorted for a snapshot writer instead: each as soon
 * as it runs out of tasks (the sorting runs on all of them at once) while the workers hold few
 * flows, one at a time like tables once they hold many (sorting makes a copy of the flows).
 */
async function runOnWorkers(tasks: readonly ScanTask[], workers: number, onResult: (r: TaskResult) => void, onTable: (state: FlowTableState) => void,
  runs?: { onRun: (run: FlowColumns) => void; regions: readonly RunRegion[] }, onStarted?: () => void): Promise<void> {
  const onRun = runs?.onRun;
  let next = 0;
  // Taken inside the try: a worker that cannot start (or onStarted failing) ends those taken before.
  const pool: Worker[] = [];
  const handedRun = new Set<Worker>(); // handed over a run
  try {
    for (let i = Math.min(workers, tasks.length); i > 0; i--) pool.push(takeWorker());
    onStarted?.();
    const ended = new Set<Worker>();
    await new Promise<void>((resolve, reject) => {
      // Workers out of tasks hand over at once, one at a time (the first is taken over while the
      // others still scan), in the order they ran out.
      const waiting: Worker[] = [];
      let handingOver: Worker | undefined; // the one handing over in turn
      let handedOver = 0;
      const flows = new Map<Worker, number>();
      const give = (worker: Worker): void => {
        if (next < tasks.length) { const id = next++; worker.postMessage({ id, task: tasks[id] }); return; }
        let held = 0;
        for (const n of flows.values()) held += n;
        if (onRun && held < RUNS_AT_ONCE_FLOWS) { askRun(worker); return; }
        waiting.push(worker);
        if (!handingOver) handOver();
      };
      // A run is placed in the worker's region of the run memory (run-memory.ts).
      const askRun = (worker: Worker): void => worker.postMessage({ id: -1, run: true, region: runs!.regions[pool.indexOf(worker)] });
      const handOver = (): void => {
        handingOver = waiting.shift();
        if (handingOver && onRun) askRun(handingOver);
        else handingOver?.postMessage({ id: -1, run: false });
      };
      pool.forEach((worker) => {
        worker.on('message', (m: WorkerMessage) => {
          if (m.nsp) { reject(new NspError(m.nsp.code, m.nsp.message, { hint: m.nsp.hint })); return; }
          if (m.error) { reject(new Error(`analysis worker failed: ${m.error}`)); return; }
          if (m.state || m.run) {
            const { state, run } = m;
            ended.add(worker);
            const taken = (): void => {
              try {
                if (run) onRun!(run);
                else onTable(state!);
                handedOver++;
                if (handedOver === pool.length) resolve();
                else if (worker === handingOver) handOver();
              } catch (error) {
                reject(error as Error);
              }
            };
            // A table is merged once its worker has ended (its heap freed first); a run, which
            // holds nothing of the worker's, at once while the worker ends.
            const ending = worker.terminate();
            if (run) { handedRun.add(worker); ending.catch(() => {}); taken(); } else void ending.then(taken, reject);
            return;
          }
          flows.set(worker, m.flows ?? 0);
          onResult(m.result!);
          give(worker);
        });
        worker.on('error', reject);
        // A worker that stops on its own (out of memory, say) would otherwise leave the run waiting.
        worker.on('exit', (code) => { if (!ended.has(worker)) reject(new Error(`analysis worker stopped (exit code ${code}) before handing over its flows`)); });
        give(worker);
      });
    });
  } finally {
    // Workers that handed over a run end meanwhile (nothing waits on them).
    await Promise.all([...pool.filter((w) => !handedRun.has(w)).map((w) => w.terminate()), endIdleWorkers()]);
  }
}

/** Analyzes local files into one summary with per-file accounts and ordered issues. */
export async function analyzeFiles(files: readonly InputFile[], options: AnalyzeFilesOptions = {}): Promise<AnalyzedFiles> {
  const { tasks, totalBytes } = await planTasks(files, options.rangeBytes ?? 16 << 20);
  const workers = options.workers ?? (totalBytes >= WORKERS_FROM_BYTES ? availableParallelism() : 0);
  const parts: PartResult[] = [];
  const totalParts = tasks.reduce((n, t) => n + t.parts.length, 0);
  let carefulLines = 0;
  let done = 0;
  const onResult = (r: TaskResult): void => {
    parts.push(...r.parts);
    carefulLines += r.carefulLines;
    done += r.parts.length;
    options.onProgress?.(done, totalParts);
  };
  const table = options.into ?? new FlowTable();
  const runs: FlowColumns[] = [];
  let runMemory: WebAssembly.Memory | null = null;
  if (workers > 0 && tasks.length > 0) {
    const regions = options.runs ? runRegions(Math.min(workers, tasks.length)) : null;
    runMemory = regions?.memory ?? null;
    await runOnWorkers(tasks, workers, onResult, (state) => table.absorb(state), regions ? { onRun: (run) => runs.push(run), regions: regions.regions } : undefined, options.onReading);
  } else {
    await endIdleWorkers(); // started ahead for a larger input than this
    options.onReading?.();
    for (const task of tasks) onResult(await runScanTask(task, table));
  }

  // Put parts back in file order; number lines across the parts of a file.
  parts.sort((a, b) => a.fileIndex - b.fileIndex || a.part - b.part);
  const accounts: SourceAccount[] = [];
  const snapshots: string[] = [];
  let lineOffset = 0;
  for (const p of parts) {
    const file = files[p.fileIndex]!;
    if (p.snapshot) { snapshots.push(file.path); continue; }
    let account = accounts[accounts.length - 1];
    if (p.part === 0 || account?.source !== file.path) {
      account = emptyAccount(file.path);
      accounts.push(account);
      lineOffset = 0;
    }
    account.rowsRead += p.counts.rowsRead; account.rowsUsed += p.counts.rowsUsed; account.fileIssues += p.counts.fileIssues;
    account.hitsRead += p.counts.hitsRead; account.hitsUsed += p.counts.hitsUsed;
    for (const [code, n] of Object.entries(p.counts.skipped)) {
      account.skipped[code as keyof typeof account.skipped] = (account.skipped[code as keyof typeof account.skipped] ?? 0) + (n ?? 0);
    }
    for (const i of p.issues) {
      options.onIssue?.({ code: i.code, location: i.line > 0 ? `${file.path}:${lineOffset + i.line}` : file.path, message: i.message });
    }
    lineOffset += p.lines;
  }
  return { table, runs, runMemory, accounts, snapshots, carefulLines };
}
