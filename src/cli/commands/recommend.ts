// CLI command `recommend`: ingest + analyze + recommend + emit. Prints (or writes) the rules to
// add per profile, with a per-profile summary on stderr.

import { NspError } from '../../errors.js';
import { readExistingRules } from '../../ingest/existing-rules.js';
import { ruleElements } from '../../model/rule-set.js';
import { gatherFlows } from '../../pipeline.js';
import { emitters, formatNames, type Format } from '../../recommend/emit/index.js';
import { recommend } from '../../recommend/index.js';
import { writeFileAtomic } from '../../write-atomic.js';
import { EXIT, inputOptions, stringList, type CommandSpec } from '../command.js';
import { RunReporter, formatCount } from '../report.js';

export const recommendCommand: CommandSpec = {
  command: 'recommend [paths..]',
  describe: 'Recommend the access rules each profile needs before switching to Enforced',
  examples: [
    ['$0 recommend ./insights-logs', 'rules for a downloaded storage-account archive, on stdout'],
    ['$0 recommend --flows flows.arrow --existing rules.json --out review.json', 'from a snapshot, minus the rules in place'],
    ['$0 recommend export.csv --max-elements 150 --min-hits 5', 'leave headroom and hold rare sources for review'],
  ],
  builder: (y) => inputOptions(y
    .positional('paths', { type: 'string', array: true, describe: 'Files or folders of logs (or flow snapshots)' })
    .option('flows', { type: 'string', array: true, describe: 'Flow snapshot(s) from "analyze --out" (repeatable)' })
    .option('existing', { type: 'string', array: true, describe: 'Rules in place: JSON from "az network perimeter profile access-rule list" (repeatable)' })
    .option('out', { type: 'string', describe: 'Write the output to this file (atomically) instead of stdout' })
    .option('format', { choices: formatNames, default: 'json' as Format, describe: 'Output format' })
    .option('max-elements', { type: 'number', default: 200, describe: 'Elements allowed per profile per direction, existing included (Azure: 200)' })
    .option('min-prefix-v4', { type: 'number', default: 24, describe: 'Shortest IPv4 prefix a lossy cover may use' })
    .option('min-prefix-v6', { type: 'number', default: 64, describe: 'Shortest IPv6 prefix a lossy cover may use' })
    .option('min-hits', { type: 'number', describe: 'Hold blockers with fewer hits for review instead of making rules' })
    .option('min-days', { type: 'number', describe: 'Hold blockers seen on fewer days for review' })
    .check((a) => {
      if (stringList(a.paths).length === 0 && stringList(a.flows).length === 0) throw new Error('Give log paths or --flows');
      const maxElements = a['max-elements'] as number;
      if (!Number.isInteger(maxElements) || maxElements < 1 || maxElements > 200) throw new Error('--max-elements must be an integer from 1 to 200');
      const v4 = a['min-prefix-v4'] as number;
      const v6 = a['min-prefix-v6'] as number;
      if (!Number.isInteger(v4) || v4 < 1 || v4 > 32) throw new Error('--min-prefix-v4 must be an integer from 1 to 32');
      if (!Number.isInteger(v6) || v6 < 1 || v6 > 128) throw new Error('--min-prefix-v6 must be an integer from 1 to 128');
      return true;
    })),
  async run(args, io) {
    const reporter = new RunReporter(io, Boolean(args.quiet));
    const existing = await readExistingRules(stringList(args.existing));
    const gathered = await gatherFlows({
      paths: stringList(args.paths), snapshots: stringList(args.flows), onIssue: reporter.onIssue, onFile: reporter.onFile,
    });
    reporter.accounts(gathered.accounts, gathered.snapshots);
    if (args.strict && reporter.issueCount > 0) {
      throw new NspError('strict-issues', `Cannot finish under --strict: ${reporter.issueCount} issues in the input`, { hint: 'Fix or remove the rows named above, or run without --strict' });
    }
    const { ruleSet, notes } = recommend(gathered.summary, existing, {
      maxElements: args['max-elements'] as number,
      minPrefixV4: args['min-prefix-v4'] as number,
      minPrefixV6: args['min-prefix-v6'] as number,
      minHits: args['min-hits'] as number | undefined,
      minDays: args['min-days'] as number | undefined,
    });
    for (const [i, p] of ruleSet.profiles.entries()) {
      const note = notes[i]!;
      const inbound = p.rules.filter((r) => r.direction === 'Inbound').reduce((n, r) => n + ruleElements(r).length, 0);
      const outbound = p.rules.filter((r) => r.direction === 'Outbound').reduce((n, r) => n + ruleElements(r).length, 0);
      const name = `${p.perimeterId.split('/').pop()}/${p.profile}`;
      let line = `${name}: ${formatCount(note.blockerFlows)} blocker flows (${formatCount(note.blockerHits)} hits) → ${p.rules.length} rules ` +
        `(inbound ${inbound + note.existingInbound}/${args['max-elements']} elements, outbound ${outbound + note.existingOutbound}/${args['max-elements']}), ` +
        `${p.unresolved.length} unresolved`;
      if (p.review) line += `, ${p.review.length} held for review`;
      reporter.line(line);
      if (note.address && !note.address.exact) {
        reporter.line(`  lossy cover: ${note.address.observed} addresses need ${note.address.exactCount} exact prefixes; ` +
          `${note.address.prefixes.length} prefixes used, admitting ${formatCount(note.address.extraAddresses)} never-observed addresses`);
      }
    }
    const format = args.format as Format;
    const text = emitters[format].emit(ruleSet);
    if (typeof args.out === 'string') {
      await writeFileAtomic(args.out, text);
      reporter.line(`wrote ${args.out}`);
    } else io.stdout.write(text);
    return EXIT.ok;
  },
};
