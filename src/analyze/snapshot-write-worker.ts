// Analyze stage, the end of `analyze --out`: the snapshot writer's thread (started by
// snapshot-writer.ts). It loads apache-arrow while the workers read, then takes the merged batches
// one by one (encoded already, read in place from the merge's shared memory, or as columns it
// encodes) and writes them as Arrow record batches to the file the main thread opened — so the
// merge (main thread) and the writing (here) of the next batches run at once.

import { fdatasync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { parentPort } from 'node:worker_threads';
import type { FlowColumns } from './flow-table.js';
import { SnapshotWriter, type UsedValues } from './snapshot.js';
import type { EncodedBatch } from './snapshot-encoding.js';

/** Messages from the main thread: the file and its values, then batches, then the end. */
export type WriterMessage =
  | { start: { fd: number; strings: string[]; used: UsedValues } }
  | { batch: Omit<FlowColumns, 'strings'> }
  | { encoded: EncodedBatch }
  | { end: true };

let writer: SnapshotWriter | null = null;
let strings: string[] = [];
let file = -1;
// Each batch written is flushed to disk in the background (so the main thread's fsync at the end
// has little left to wait for); a failure is reported at the end, never dropped.
const flushes: Promise<void>[] = [];
let flushFailure: Error | null = null;

parentPort!.on('message', (m: WriterMessage) => {
  void (async () => {
    if ('start' in m) {
      file = m.start.fd;
      strings = m.start.strings;
      writer = new SnapshotWriter(strings, m.start.used, (chunk) => {
        for (let done = 0; done < chunk.byteLength;) done += writeSync(file, chunk, done, chunk.byteLength - done);
      });
    } else if ('batch' in m || 'encoded' in m) {
      if ('batch' in m) writer!.add({ ...m.batch, strings });
      else writer!.addEncoded(m.encoded);
      flushes.push(promisify(fdatasync)(file).catch((error: Error) => { flushFailure ??= error; }));
      parentPort!.postMessage({ written: true });
    } else {
      writer!.finish();
      await Promise.all(flushes);
      if (flushFailure) throw flushFailure;
      parentPort!.postMessage({ finished: true });
      parentPort!.close(); // the thread ends on its own: nothing waits for it
    }
  })().catch((error: unknown) => {
    parentPort!.postMessage({ error: (error as Error).message ?? String(error) });
  });
});
