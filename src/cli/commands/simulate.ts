// CLI command `simulate`: "what would break". Replays logs as if every association were Enforced
// with the given rules and lists, per profile, the flows that would be denied. Exit 1 if any.

import { readRuleFiles } from '../../ingest/existing-rules.js';
import { simulate, type SimulationReport } from '../../recommend/simulate.js';
import { EXIT, inputOptions, outputText, redactOption, stringList, type CommandSpec } from '../command.js';
import { gatherCommandInputs } from '../gather.js';
import { formatCount } from '../report.js';
import { shortName } from '../../model/text.js';


/** The report as text, one block per profile. */
export function formatSimulation(report: SimulationReport): string {
  const lines: string[] = [];
  for (const p of report.profiles) {
    lines.push(`${shortName(p.perimeterId)}/${p.profile}: ${p.flowsReplayed} flows replayed, ${p.allowedFlows} allowed by the rules` +
      `${p.keptFlows ? `, ${p.keptFlows} kept by rules in place (not given)` : ''}, ` +
      `${p.denied.length ? `${p.denied.length} would be denied (${formatCount(p.deniedHits)} hits)` : 'nothing would be denied'}`);
    for (const d of p.denied) {
      const peer = `${d.peerKind}:${d.peer || '(empty)'}`;
      lines.push(`  DENY ${d.direction.padEnd(8)} ${peer.padEnd(46)} ${String(d.hits).padStart(7)} hits  last ${d.lastSeen}  ${d.reason}  [${d.resources.map(shortName).join(', ')}]`);
    }
  }
  lines.push(report.deniedFlows ? `${report.deniedFlows} flows (${formatCount(report.deniedHits)} hits) would be denied` : 'nothing would be denied');
  return `${lines.join('\n')}\n`;
}

export const simulateCommand: CommandSpec = {
  command: 'simulate [paths..]',
  describe: 'Replay logs as if Enforced with the given rules and show what would be denied (exit 1 if anything)',
  examples: [
    ['$0 simulate ./insights-logs --rules review.json', 'would the reviewed rules keep everything working?'],
    ['$0 simulate --flows flows.arrow --rules review.json --existing rules.json --json', 'with the rules in place too, as JSON'],
  ],
  builder: (y) => redactOption(inputOptions(y
    .option('rules', { type: 'string', array: true, demandOption: true, describe: 'Rules: a review document (recommend output) or "az … access-rule list" JSON (repeatable)' })
    .option('existing', { type: 'string', array: true, describe: 'Rules in place ("az … access-rule list" JSON), added to --rules' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the report as JSON' }))),
  async run(args, io, deps) {
    const ruleFiles = await readRuleFiles([...stringList(args.rules), ...stringList(args.existing)]);
    const { summary, reporter } = await gatherCommandInputs(args, io, deps);
    const report = simulate(summary, { rules: ruleFiles.rules, listedProfiles: ruleFiles.listedProfiles });
    io.stdout.write(outputText(args, args.json ? `${JSON.stringify(report, null, 2)}\n` : formatSimulation(report)));
    reporter.line(report.deniedFlows ? `simulate: ${report.deniedFlows} flows would be denied` : 'simulate: nothing would be denied');
    return report.deniedFlows > 0 ? EXIT.finding : EXIT.ok;
  },
};
