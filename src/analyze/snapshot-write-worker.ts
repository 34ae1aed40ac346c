// Analyze stage, the end of `analyze --out`: the snapshot writer's thread (started by
// snapshot-writer.ts). It loads apache-arrow while the workers read, then takes the merged batches
// one by one and writes them as Arrow record batches to the file the main thread opened — so the
// merge (main thread) and the encoding (here) of the next batches run at once.

import { writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { FlowColumns } from './flow-table.js';
import { SnapshotWriter, type UsedValues } from './snapshot.js';

/** Messages from the main thread: the file and its values, then batches, then the end. */
export type WriterMessage =
  | { start: { fd: number; strings: string[]; used: UsedValues } }
  | { batch: Omit<FlowColumns, 'strings'> }
  | { end: true };

let writer: SnapshotWriter | null = null;
let strings: string[] = [];

parentPort!.on('message', (m: WriterMessage) => {
  try {
    if ('start' in m) {
      const { fd } = m.start;
      strings = m.start.strings;
      writer = new SnapshotWriter(strings, m.start.used, (chunk) => {
        for (let done = 0; done < chunk.byteLength;) done += writeSync(fd, chunk, done, chunk.byteLength - done);
      });
    } else if ('batch' in m) {
      writer!.add({ ...m.batch, strings });
      parentPort!.postMessage({ written: true });
    } else {
      writer!.finish();
      parentPort!.postMessage({ finished: true });
    }
  } catch (error) {
    parentPort!.postMessage({ error: (error as Error).message ?? String(error) });
  }
});
