// Shared by the analyze stage's workers and the CLI: frees released memory at once on large runs,
// so that peak memory (issue 8's bound) does not count what is no longer used.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Above this many flows, the released table is collected at once (see releaseMemoryNow).
const COLLECT_AFTER_FLOWS = 500_000;

/**
 * Collects garbage now when a large table or large temporary columns were just released: they
 * (a WebAssembly memory of ~64 MB per million flows, say) would otherwise stay mapped until V8
 * gets round to it, beside what is built next, and peak memory would count both. Only for large
 * runs (a full collection takes tens of milliseconds).
 */
export function releaseMemoryNow(flows: number): void {
  if (flows < COLLECT_AFTER_FLOWS) return;
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

