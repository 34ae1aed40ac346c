// Benchmark: `nsp-advisor analyze FILE --out flows.arrow` against DuckDB (2 threads) computing the
// same group-by into Parquet, on a generated storage-account corpus, timed alternately in one run.
// Prints MB/s, records/s, the time ratio and the peak RSS of each (the corpus read once before,
// untimed, so that every pair finds it in the page cache). Usage:
//   npm run bench -- [--size-mb 1024] [--pairs 3]
// The corpus is cached in bench/.cache (regenerated when missing).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeCorpus } from './generate-corpus.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const sizeMb = arg('size-mb', 1024);
const pairs = arg('pairs', 3);

interface Run { ms: number; peakRssMb: number; code: number }

/** Runs a command, polling its peak resident set (VmHWM) from /proc until it exits. */
function measure(command: string, args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    let peakKb = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // The process has just exited.
      }
    }, 10);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, peakRssMb: peakKb / 1024, code: code ?? -1 });
    });
  });
}

const cacheDir = join(root, 'bench', '.cache');
mkdirSync(cacheDir, { recursive: true });
const corpus = join(cacheDir, `corpus-${sizeMb}mb.jsonl`);
let records: number;
const countFile = `${corpus}.records`;
if (existsSync(corpus) && existsSync(countFile)) {
  records = Number(readFileSync(countFile, 'utf8'));
} else {
  process.stderr.write(`generating ${sizeMb} MB corpus in ${corpus} …\n`);
  records = await writeCorpus(corpus, sizeMb);
  const { writeFileSync } = await import('node:fs');
  writeFileSync(countFile, String(records));
}
const bytes = statSync(corpus).size;
const mb = bytes / (1024 * 1024);
const outArrow = join(cacheDir, 'flows.arrow');
const outParquet = join(cacheDir, 'flows.parquet');

const tool = (): Promise<Run> => measure(process.execPath, [join(root, 'bin', 'nsp-advisor.js'), 'analyze', corpus, '--out', outArrow, '--quiet']);
const duck = (): Promise<Run> => measure(process.execPath, [join(root, 'dist', 'bench', 'duckdb-groupby.js'), corpus, outParquet]);

// The corpus read once, untimed: the first pair then finds it in the page cache like the others
// (otherwise whichever tool goes first pays for the disk).
{
  const { createReadStream } = await import('node:fs');
  for await (const _ of createReadStream(corpus, { highWaterMark: 1 << 20 })) { /* read only */ }
}
console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}`);
console.log(`corpus: ${mb.toFixed(0)} MB, ${records.toLocaleString('en-US')} records`);
const rows: { pair: number; tool: Run; duck: Run }[] = [];
for (let pair = 1; pair <= pairs; pair++) {
  // Alternate which goes first, so neither always enjoys the warmer cache.
  const first = pair % 2 === 1 ? await tool() : await duck();
  const second = pair % 2 === 1 ? await duck() : await tool();
  const [t, d] = pair % 2 === 1 ? [first, second] : [second, first];
  if (t.code !== 0 || d.code !== 0) throw new Error(`a run failed: nsp-advisor exit ${t.code}, duckdb exit ${d.code}`);
  rows.push({ pair, tool: t, duck: d });
  console.log(`pair ${pair}: nsp-advisor ${(t.ms / 1000).toFixed(2)} s (${(mb / (t.ms / 1000)).toFixed(0)} MB/s, ${Math.round(records / (t.ms / 1000)).toLocaleString('en-US')} rec/s, peak RSS ${t.peakRssMb.toFixed(0)} MB) | ` +
    `duckdb ${(d.ms / 1000).toFixed(2)} s (${(mb / (d.ms / 1000)).toFixed(0)} MB/s, peak RSS ${d.peakRssMb.toFixed(0)} MB) | ratio ${(t.ms / d.ms).toFixed(2)}`);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ratio = median(rows.map((r) => r.tool.ms / r.duck.ms));
console.log(`median ratio nsp-advisor/duckdb: ${ratio.toFixed(2)} (target ≤ 1.00, stretch ≤ 0.50); peak RSS nsp-advisor ${Math.max(...rows.map((r) => r.tool.peakRssMb)).toFixed(0)} MB (bound 512 MB)`);
rmSync(outParquet, { force: true });
