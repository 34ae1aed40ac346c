// CLI command `recommend`: ingest + analyze + recommend + emit. Prints (or writes) the rules to
// add per profile, with a per-profile summary on stderr.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readExistingRules } from '../../ingest/existing-rules.js';
import { emitFiles, emitters, formatNames, type Format } from '../../recommend/emit/index.js';
import { recommend } from '../../recommend/index.js';
import { writeFileAtomic } from '../../write-atomic.js';
import { EXIT, inputOptions, stringList, type CommandSpec } from '../command.js';
import { recommendOptions, recommendOptionsFrom } from '../recommend-options.js';
import { gatherCommandInputs } from '../gather.js';
import { existingFromAzure, seenProfiles, stderrHooks } from '../remote-options.js';
import { formatCount } from '../report.js';
import { shortName } from '../../model/text.js';

export const recommendCommand: CommandSpec = {
  command: 'recommend [paths..]',
  describe: 'Recommend the access rules each profile needs before switching to Enforced',
  examples: [
    ['$0 recommend ./insights-logs', 'rules for a downloaded storage-account archive, on stdout'],
    ['$0 recommend --flows flows.arrow --existing rules.json --out review.json', 'from a snapshot, minus the rules in place'],
    ['$0 recommend export.csv --max-elements 150 --min-hits 5', 'leave headroom and hold rare sources for review'],
    ['$0 recommend ./insights-logs --format bicep --out-dir deploy/', 'one Bicep file per perimeter'],
    ['$0 recommend ./insights-logs --format azcli --existing rules.json > add-rules.sh', 'a re-runnable az script'],
  ],
  builder: (y) => recommendOptions(inputOptions(y
    .option('existing', { type: 'string', array: true, describe: 'Rules in place: JSON from "az network perimeter profile access-rule list" (repeatable)' })
    .option('out', { type: 'string', describe: 'Write the output to this file (atomically) instead of stdout' })
    .option('format', { choices: formatNames, default: 'json' as Format, describe: 'Output format' })
    .option('out-dir', { type: 'string', describe: 'Write one file per perimeter (arm, bicep) or one file (other formats) into this folder' })
    .option('api-version', { type: 'string', default: '2024-07-01', describe: 'API version of the access-rule resources (arm, bicep)' })
    .option('extend-existing', { type: 'boolean', default: false, describe: 'Add new elements to the rules in place (emitted with their full content) instead of new rules' })
    .conflicts('out', 'out-dir'))),
  async run(args, io, deps) {
    const fromFiles = await readExistingRules(stringList(args.existing));
    // Only read from here on: the view builds a flow's lists when recommend reads them.
    const { summaryView: summary, reporter } = await gatherCommandInputs(args, io, deps);
    const existing = [...fromFiles, ...await existingFromAzure(args, deps, seenProfiles(summary), stderrHooks(io, Boolean(args.quiet)))];
    const { ruleSet, notes } = recommend(summary, existing, { ...recommendOptionsFrom(args), extendExisting: Boolean(args['extend-existing']) });
    for (const [i, p] of ruleSet.profiles.entries()) {
      const note = notes[i]!;
      const name = `${shortName(p.perimeterId)}/${p.profile}`;
      let line = `${name}: ${formatCount(note.blockerFlows)} blocker flows (${formatCount(note.blockerHits)} hits) → ${p.rules.length} rules ` +
        `(inbound ${note.newInbound + note.existingInbound}/${args['max-elements']} elements, outbound ${note.newOutbound + note.existingOutbound}/${args['max-elements']}), ` +
        `${p.unresolved.length} unresolved`;
      if (p.review) line += `, ${p.review.length} held for review`;
      reporter.line(line);
      if (note.address && !note.address.exact) {
        reporter.line(`  lossy cover: ${note.address.observed} addresses need ${note.address.exactCount} exact prefixes; ` +
          `${note.address.prefixes.length} prefixes used, admitting ${formatCount(note.address.extraAddresses)} never-observed addresses`);
      }
    }
    const format = args.format as Format;
    const emitOptions = { apiVersion: String(args['api-version']) };
    if (typeof args['out-dir'] === 'string') {
      const dir = args['out-dir'];
      await mkdir(dir, { recursive: true });
      for (const file of emitFiles(ruleSet, format, emitOptions)) {
        await writeFileAtomic(join(dir, file.name), file.content);
        reporter.line(`wrote ${join(dir, file.name)}`);
      }
      return EXIT.ok;
    }
    const text = emitters[format].emit(ruleSet, emitOptions);
    if (typeof args.out === 'string') {
      await writeFileAtomic(args.out, text);
      reporter.line(`wrote ${args.out}`);
    } else io.stdout.write(text);
    return EXIT.ok;
  },
};
