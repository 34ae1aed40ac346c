// CLI command `kql`: prints the query the Log Analytics / Data Explorer source runs (the
// aggregation pushed down into Azure Monitor's engine, or --raw rows), to read or run by hand.

import { DEFAULT_TABLE, buildQuery } from '../../ingest/kql.js';
import { formatWindow } from '../../ingest/log-analytics.js';
import { EXIT, type CommandSpec } from '../command.js';
import { checkRemoteArgs, filterOptions, queryFilters, queryWindow, windowOptions } from '../remote-options.js';

export const kqlCommand: CommandSpec = {
  command: 'kql',
  describe: 'Print the KQL query that --workspace / --cluster runs (paste it into Logs in the portal)',
  examples: [
    ['$0 kql --since 14d', 'the pushdown query over the last two weeks'],
    ['$0 kql --start 2026-11-02 --end 2026-11-16 --perimeter nsp-prod --profile defaultProfile', 'one profile of one perimeter, fixed dates'],
    ['$0 kql --since 6h --raw', 'the rows themselves, for a short window'],
    ['$0 kql --since 7d --table NspAccessLogsArchive', 'for a Data Explorer table of another name'],
  ],
  builder: (y) => filterOptions(windowOptions(y)).check((a) => {
    checkRemoteArgs(a as Record<string, unknown>);
    return true;
  }),
  async run(args, io, deps) {
    const window = queryWindow(args, deps);
    const query = buildQuery({
      ...queryFilters(args), window, raw: Boolean(args.raw), table: typeof args.table === 'string' ? args.table : DEFAULT_TABLE,
    });
    io.stdout.write(`${query}\n`);
    // The tool itself runs the same query per chunk (--chunk), with each chunk's bounds.
    io.stderr.write(`window ${formatWindow(window)}; nsp-advisor runs this per ${typeof args.chunk === 'string' ? args.chunk : '1d'} chunk\n`);
    return EXIT.ok;
  },
};
