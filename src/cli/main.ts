// CLI entry: argv → command → exit code. Usage errors and NspErrors print a message and a hint on
// stderr and exit 2; nothing else decides exit codes.

import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { isNspError } from '../errors.js';
import { EXIT, type CommandSpec, type ExitCode } from './command.js';
import { analyzeCommand } from './commands/analyze.js';
import { backtestCommand } from './commands/backtest.js';
import { diffCommand } from './commands/diff.js';
import { driftCommand } from './commands/drift.js';
import { kqlCommand } from './commands/kql.js';
import { recommendCommand } from './commands/recommend.js';
import { reportCommand } from './commands/report.js';
import { simulateCommand } from './commands/simulate.js';
import type { CliDeps } from './deps.js';
import { createProcessIO, type IO } from './io.js';

/** Commands by name; the order is the order of `--help`. */
export const commands: CommandSpec[] = [analyzeCommand, recommendCommand, simulateCommand, backtestCommand, diffCommand, driftCommand, reportCommand, kqlCommand];

/**
 * The package's version, from the package.json found upward from this file (compiled, bundled
 * into dist/src/bundle or run from src: yargs' own lookup starts from where yargs lies, which a
 * bundle moves).
 */
function packageVersion(): string {
  for (let dir = new URL('.', import.meta.url); ;) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'nsp-advisor' && pkg.version) return pkg.version;
    } catch {
      // No package.json here: look further up.
    }
    const up = new URL('..', dir);
    if (up.href === dir.href) return 'unknown';
    dir = up;
  }
}

/** Runs the CLI with the given arguments. @returns the exit code */
export async function main(argv: readonly string[], io: IO = createProcessIO(), deps: CliDeps = {}): Promise<ExitCode> {
  let chosen: { spec: CommandSpec; args: Record<string, unknown> } | null = null;
  let parser: Argv = yargs()
    .scriptName('nsp-advisor')
    .usage('$0 <command> [options]\n\nTurns Azure Network Security Perimeter access logs into the access rules to add before enforcing.')
    .strict()
    .demandCommand(1, 'Name a command')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .epilogue('Exit codes: 0 ok, 1 finding, 2 error. Docs: README.md')
    .help()
    .alias('help', 'h')
    .version(packageVersion())
    .exitProcess(false);
  for (const spec of commands) {
    parser = parser.command(spec.command, spec.describe, (y) => {
      let built = spec.builder(y);
      for (const [cmd, text] of spec.examples) built = built.example(cmd, text);
      return built;
    }, (args) => { chosen = { spec, args: args as Record<string, unknown> }; });
  }
  // After a command's handler yargs renders that command's help, to show it later on demand (it is
  // not, here): a twentieth of a second of every run, skipped.
  const usage = (parser as unknown as { getInternalMethods?(): { getUsageInstance?(): { cacheHelpMessage?(): void } } })
    .getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => {};
  let usageError: Error | null = null;
  let output = '';
  try {
    await new Promise<void>((resolve) => {
      parser.parse([...argv], {}, (error, _args, text) => {
        if (error) usageError = error;
        output = text ?? '';
        resolve();
      });
    });
  } catch (error) {
    usageError = error as Error;
  }
  if (usageError) {
    if (output) io.stderr.write(`${output}\n`);
    else io.stderr.write(`nsp-advisor: ${(usageError as Error).message}\n`);
    return EXIT.error;
  }
  if (!chosen) {
    if (output) io.stdout.write(`${output}\n`);
    return EXIT.ok;
  }
  const { spec, args } = chosen as { spec: CommandSpec; args: Record<string, unknown> };
  try {
    return await spec.run(args, io, deps);
  } catch (error) {
    if (isNspError(error)) {
      io.stderr.write(`nsp-advisor: ${error.message}\n`);
      if (error.hint) io.stderr.write(`hint: ${error.hint}\n`);
      return EXIT.error;
    }
    io.stderr.write(`nsp-advisor: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.error;
  }
}
