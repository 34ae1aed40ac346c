// CLI: the shape of a command file (gh style): yargs spec, help examples, and a run() that takes
// parsed options and injected IO and returns the exit code.

import type { Argv } from 'yargs';
import type { CliDeps } from './deps.js';
import { redactText } from '../report/redact.js';
import { hasRemoteSource, remoteOptions } from './remote-options.js';
import type { IO } from './io.js';

export const EXIT = { ok: 0, finding: 1, error: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export interface CommandSpec {
  /** yargs command string, e.g. `analyze <paths..>`. */
  command: string;
  describe: string;
  examples: [string, string][];
  builder(yargs: Argv): Argv;
  run(args: Record<string, unknown>, io: IO, deps: CliDeps): Promise<ExitCode>;
}

/**
 * Options every command that reads logs takes: paths, --flows snapshots, the Azure sources
 * (remote-options.ts), --strict and --quiet; at least one input is required.
 */
export function inputOptions(yargs: Argv): Argv {
  return remoteOptions(yargs
    .positional('paths', { type: 'string', array: true, describe: 'Files or folders of logs: JSON lines (.gz too), JSON documents, CSV, flow snapshots' })
    .option('flows', { type: 'string', array: true, describe: 'Flow snapshot(s) from "analyze --out" (repeatable)' })
    .option('strict', { type: 'boolean', default: false, describe: 'Exit 2 when any row or file had an issue' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print no summary or warnings on stderr, only a count of skipped rows' }))
    .check((a) => {
      if (stringList(a.paths).length === 0 && stringList(a.flows).length === 0 && !hasRemoteSource(a as Record<string, unknown>)) {
        throw new Error('Give log paths, --flows, --workspace, --cluster, --storage-account or --connection-string');
      }
      return true;
    });
}

/** --redact, for commands whose output is a report for people (not rules to deploy). */
export function redactOption(yargs: Argv): Argv {
  return yargs.option('redact', { type: 'boolean', default: false, describe: 'Replace IP addresses and subscription/tenant ids with keyed hashes (key: NSPA_REDACT_KEY)' });
}

/** The output text, redacted when --redact was given. */
export function outputText(args: Record<string, unknown>, text: string): string {
  return args.redact ? redactText(text, process.env.NSPA_REDACT_KEY || undefined) : text;
}

/** A string array option value (repeatable flags). */
export function stringList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}
