// Benchmark helper: where the time of `analyze --out` goes on a cached corpus, phase by phase,
// in one process (module load, scanning on the workers and merging, the columns copy, the
// snapshot), plus one thread's folding speed. Usage (after `npm run bench` made the corpus):
//   npm run bench:phases -- [--size-mb 1024]

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const i = process.argv.indexOf('--size-mb');
const sizeMb = i === -1 ? 1024 : Number(process.argv[i + 1]);
const corpus = join(root, 'bench', '.cache', `corpus-${sizeMb}mb.jsonl`);
const bytes = statSync(corpus).size;
const ms = (from: number): string => `${(performance.now() - from).toFixed(0)} ms`;

let t = performance.now();
const { analyzeFiles } = await import('../src/analyze/parallel.js');
const { snapshotBytesFromColumns } = await import('../src/analyze/snapshot.js');
const { FlowTable } = await import('../src/analyze/flow-table.js');
const { JsonlFolder } = await import('../src/analyze/scan-jsonl.js');
const { foldPlainRange } = await import('../src/analyze/scan-file.js');
console.log(`module load ${ms(t)}`);

t = performance.now();
const { table } = await analyzeFiles([{ path: corpus }], { workers: 2 });
console.log(`scan on 2 workers + merge ${ms(t)} (${table.flowCount.toLocaleString('en-US')} flows)`);
t = performance.now();
const columns = table.exportColumns();
console.log(`columns copy ${ms(t)}`);
t = performance.now();
const snapshot = snapshotBytesFromColumns(columns);
console.log(`snapshot in memory ${ms(t)} (${(snapshot.length / 1048576).toFixed(0)} MB)`);

t = performance.now();
const one = new FlowTable();
await foldPlainRange(corpus, { start: 0, end: bytes }, new JsonlFolder(one, () => {}));
const seconds = (performance.now() - t) / 1000;
console.log(`one thread folds ${(bytes / 1048576 / seconds).toFixed(0)} MB/s (${seconds.toFixed(2)} s)`);
