// Analyze stage, the end of `analyze --out`: writes a snapshot on a thread of its own. The main
// thread merges the workers' sorted runs into batches (merge-engine.ts, encoded there as the file
// stores them and handed over in place; or sorted-runs.ts) while the writer thread
// (snapshot-write-worker.ts) frames and writes the ones before, at most two ahead; the bytes are
// the same as writeSnapshotFile's (one SnapshotWriter, the same batches). Started while the
// workers read, so apache-arrow is loaded there by the time the merge begins, never on this thread.

import { Worker } from 'node:worker_threads';
import { writeFileAtomicWith } from '../write-atomic.js';
import type { SnapshotRows } from './snapshot.js';
import type { WriterMessage } from './snapshot-write-worker.js';

// Rows per batch: writeSnapshotRows's (snapshot.ts), so the file holds the same record batches.
const BATCH_ROWS = 1 << 16;
// Batches handed over and not yet written: the merge waits beyond this (memory stays flat).
const AHEAD = 2;

/** The compiled writer thread; under the TypeScript test runner, the build's copy in dist/. */
function writerUrl(): URL {
  const here = import.meta.url;
  if (here.endsWith('.ts')) return new URL(here.replace(/\/src\/analyze\/snapshot-writer\.ts$/, '/dist/src/analyze/snapshot-write-worker.js'));
  return new URL('./snapshot-write-worker.js', here);
}

interface Reply { written?: true; finished?: true; error?: string }

export class SnapshotWriterThread {
  readonly #worker: Worker;
  #failure: Error | null = null;
  #waiting: (() => void) | null = null;
  #ahead = 0;
  #written = 0;
  #finished = false;

  /** Starts the thread (it loads the Arrow writer at once). */
  constructor() {
    this.#worker = new Worker(writerUrl());
    this.#worker.unref(); // until it writes: a run that fails before never waits for it
    this.#worker.on('message', (m: Reply) => {
      if (m.error) this.#failure = new Error(m.error);
      if (m.written) { this.#ahead--; this.#written++; }
      if (m.finished) this.#finished = true;
      this.#wake();
    });
    this.#worker.on('error', (error) => { this.#failure = error; this.#wake(); });
    this.#worker.on('exit', () => { if (!this.#finished) this.#failure ??= new Error('the snapshot writer thread stopped'); this.#wake(); });
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.();
  }

  /** Waits until `done()` holds, or the thread fails. */
  async #until(done: () => boolean): Promise<void> {
    while (!done()) {
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve) => { this.#waiting = resolve; });
    }
    if (this.#failure) throw this.#failure;
  }

  #post(message: WriterMessage, transfer: ArrayBuffer[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  /** Writes `rows` to `path` atomically, then ends the thread. @throws NspError output-failed naming the path */
  async write(path: string, rows: SnapshotRows): Promise<void> {
    this.#worker.ref();
    try {
      await writeFileAtomicWith(path, async (fd) => {
        try {
          // Posted at once: a thread still booting takes its messages once it listens.
          this.#post({ start: { fd, strings: rows.strings as string[], used: rows.used } });
          // Encoded here already when the rows are made so (the WebAssembly merge): the thread only frames them.
          const next = (): WriterMessage | null => {
            const encoded = rows.nextEncoded?.(BATCH_ROWS);
            if (encoded) return { encoded };
            const b = encoded === undefined ? rows.next(BATCH_ROWS) : null;
            if (!b) return null;
            const { strings: _, ...batch } = b;
            return { batch };
          };
          // Batches the thread has written are released first (their memory may go to the next).
          let released = 0;
          for (;;) {
            for (; released < this.#written; released++) rows.release?.();
            const m = next();
            if (!m) break;
            await this.#until(() => this.#ahead < AHEAD);
            this.#ahead++;
            this.#post(m, transferList(m));
          }
          this.#post({ end: true });
          await this.#until(() => this.#finished);
        } catch (error) {
          await this.close(); // before the file is closed: batches still queued are never written to it
          throw error;
        }
      });
    } finally {
      await this.close();
    }
  }

  /** Ends the thread (a run that writes nothing after all, or failed); once it has finished, it ends on its own. */
  async close(): Promise<void> {
    if (this.#finished) { this.#worker.unref(); return; }
    await this.#worker.terminate();
  }
}

/** The buffers of a batch message, to transfer with it. */
function transferList(m: WriterMessage): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  const add = (value: unknown): void => {
    if (ArrayBuffer.isView(value)) { if (value.buffer instanceof ArrayBuffer) buffers.add(value.buffer); }
    else if (value && typeof value === 'object') for (const v of Object.values(value)) add(v);
  };
  add('batch' in m ? m.batch : 'encoded' in m ? m.encoded : null);
  return [...buffers];
}
