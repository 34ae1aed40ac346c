// CLI: the flags that shape a recommendation, shared by recommend and backtest.

import type { Argv } from 'yargs';
import type { RecommendOptions } from '../recommend/index.js';

export function recommendOptions(yargs: Argv): Argv {
  return yargs
    .option('max-elements', { type: 'number', default: 200, describe: 'Elements allowed per profile per direction, existing included (Azure: 200)' })
    .option('min-prefix-v4', { type: 'number', default: 24, describe: 'Shortest IPv4 prefix a lossy cover may use' })
    .option('min-prefix-v6', { type: 'number', default: 64, describe: 'Shortest IPv6 prefix a lossy cover may use' })
    .option('min-hits', { type: 'number', describe: 'Hold blockers with fewer hits for review instead of making rules' })
    .option('min-days', { type: 'number', describe: 'Hold blockers seen on fewer days for review' })
    .check((a) => {
      const int = (name: string, min: number, max: number): void => {
        const v = a[name] as number | undefined;
        if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) throw new Error(`--${name} must be an integer from ${min} to ${max}`);
      };
      int('max-elements', 1, 200);
      int('min-prefix-v4', 1, 32);
      int('min-prefix-v6', 1, 128);
      int('min-hits', 0, Number.MAX_SAFE_INTEGER);
      int('min-days', 0, 10_000);
      return true;
    });
}

export function recommendOptionsFrom(args: Record<string, unknown>): RecommendOptions {
  return {
    maxElements: args['max-elements'] as number,
    minPrefixV4: args['min-prefix-v4'] as number,
    minPrefixV6: args['min-prefix-v6'] as number,
    minHits: args['min-hits'] as number | undefined,
    minDays: args['min-days'] as number | undefined,
  };
}
