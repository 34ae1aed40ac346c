// Benchmark helper: where the time of `analyze --out` goes on a cached corpus, phase by phase,
// in one process — module load, reading on 2 workers until the last task, the workers sorting
// their flows (sorted runs), the merge plan and the snapshot merged and written (by a writer
// thread, with fsync) — plus one thread's folding speed. Usage (after `npm run bench` made the corpus):
//   npm run bench:phases -- [--size-mb 1024]

import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const i = process.argv.indexOf('--size-mb');
const sizeMb = i === -1 ? 1024 : Number(process.argv[i + 1]);
const corpus = join(root, 'bench', '.cache', `corpus-${sizeMb}mb.jsonl`);
const bytes = statSync(corpus).size;
const ms = (from: number, to = performance.now()): string => `${(to - from).toFixed(0)} ms`;

let t = performance.now();
const { analyzeFiles } = await import('../src/analyze/parallel.js');
const { SnapshotWriterThread } = await import('../src/analyze/snapshot-writer.js');
const { mergedRows } = await import('../src/analyze/sorted-runs.js');
const { FlowTable } = await import('../src/analyze/flow-table.js');
const { JsonlFolder } = await import('../src/analyze/scan-jsonl.js');
const { foldPlainRange } = await import('../src/analyze/scan-file.js');
console.log(`module load ${ms(t)}`);

const writer = new SnapshotWriterThread(); // as the CLI does: started while the workers read
t = performance.now();
let lastTask = 0;
const { runs, runMemory } = await analyzeFiles([{ path: corpus }], {
  workers: 2, runs: true, onProgress: (done, total) => { if (done === total) lastTask = performance.now(); },
});
console.log(`reading on 2 workers ${ms(t, lastTask)}; their sorted runs ${ms(lastTask)} (${runs.map((r) => r.length.toLocaleString('en-US')).join(' + ')} flows)`);
t = performance.now();
const rows = mergedRows(runs, runMemory);
console.log(`merge plan ${ms(t)} (${rows.length.toLocaleString('en-US')} flows)`);
const dir = mkdtempSync(join(tmpdir(), 'nspa-phases-'));
t = performance.now();
await writer.write(join(dir, 'flows.arrow'), rows);
console.log(`snapshot merged and written ${ms(t)} (${(statSync(join(dir, 'flows.arrow')).size / 1048576).toFixed(0)} MB)`);
rmSync(dir, { recursive: true, force: true });

t = performance.now();
const one = new FlowTable();
await foldPlainRange(corpus, { start: 0, end: bytes }, new JsonlFolder(one, () => {}));
const seconds = (performance.now() - t) / 1000;
console.log(`one thread folds ${(bytes / 1048576 / seconds).toFixed(0)} MB/s (${seconds.toFixed(2)} s)`);
