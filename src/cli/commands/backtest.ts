// CLI command `backtest`: recommend from the earlier days, replay the last `--holdout` days, and
// give a readiness verdict per profile. Exit 1 when a profile is not ready yet.

import { NspError } from '../../errors.js';
import { readExistingRules } from '../../ingest/existing-rules.js';
import { backtest, type BacktestReport } from '../../recommend/backtest.js';
import { EXIT, inputOptions, outputText, redactOption, stringList, type CommandSpec } from '../command.js';
import { gatherCommandInputs } from '../gather.js';
import { recommendOptions, recommendOptionsFrom } from '../recommend-options.js';
import { formatCount } from '../report.js';
import { shortName } from '../../model/text.js';


/** Reads `3d` as 3 whole days. */
export function parseHoldout(text: string): number {
  const m = /^(\d{1,4})d$/.exec(text.trim());
  if (!m || Number(m[1]) < 1) throw new NspError('usage', `Cannot read --holdout "${text}": give whole days, e.g. 3d`);
  return Number(m[1]);
}

export function formatBacktest(report: BacktestReport): string {
  const lines = [`trained on ${report.window.start} … the day before ${report.window.cutoff}, replayed ${report.window.cutoff} … ${report.window.end}`];
  for (const p of report.profiles) {
    lines.push(`${shortName(p.perimeterId)}/${p.profile}: ${p.verdict === 'ready' ? 'READY' : 'NOT YET'}${p.reasons.length ? ` (${p.reasons.join('; ')})` : ''}`);
    lines.push(`  trained rules: ${p.trainedElements} elements; under-privilege: ${p.underPrivilege.flows} flows, ${formatCount(p.underPrivilege.hits)} hits; ` +
      `unfixable: ${p.unfixable.flows} flows; over-breadth: ${formatCount(BigInt(p.overBreadth.unseenAddresses))} of ${formatCount(BigInt(p.overBreadth.admittedAddresses))} admitted addresses never seen`);
    lines.push(`  new sources per day: ${p.newSourcesPerDay.map((d) => d.newSources).join(' ')}`);
    for (const d of p.underPrivilege.denied) {
      lines.push(`  would break: ${d.direction} ${d.peerKind}:${d.peer} ${d.hits} hits, last ${d.lastSeen}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export const backtestCommand: CommandSpec = {
  command: 'backtest [paths..]',
  describe: 'Recommend from the earlier days, replay the last days, and say per profile whether it is ready to enforce',
  examples: [
    ['$0 backtest ./insights-logs --holdout 3d', 'train on all but the last 3 days, replay those'],
    ['$0 backtest --flows flows.arrow --holdout 7d --json', 'from a snapshot, as JSON'],
  ],
  builder: (y) => redactOption(recommendOptions(inputOptions(y
    .option('holdout', { type: 'string', default: '3d', describe: 'Whole days at the end of the window to replay' })
    .option('existing', { type: 'string', array: true, describe: 'Rules in place ("az … access-rule list" JSON)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the report as JSON' })
    .check((a) => {
      parseHoldout(String(a.holdout));
      return true;
    })))),
  async run(args, io, deps) {
    const holdoutDays = parseHoldout(String(args.holdout));
    const existing = await readExistingRules(stringList(args.existing));
    const { summary } = await gatherCommandInputs(args, io, deps);
    const report = backtest(summary, { ...recommendOptionsFrom(args), holdoutDays, existing });
    io.stdout.write(outputText(args, args.json ? `${JSON.stringify(report, null, 2)}\n` : formatBacktest(report)));
    return report.profiles.some((p) => p.verdict !== 'ready') ? EXIT.finding : EXIT.ok;
  },
};
