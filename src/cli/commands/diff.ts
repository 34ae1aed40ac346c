// CLI command `diff`: the rules in place against what the logs need, per profile: rules to add,
// unused rules and elements (removal candidates), redundant elements, element counts. Exit 0.

import { readExistingRules } from '../../ingest/existing-rules.js';
import { diffRules, diffToMarkdown } from '../../recommend/diff.js';
import { recommend } from '../../recommend/index.js';
import { EXIT, inputOptions, outputText, redactOption, stringList, type CommandSpec } from '../command.js';
import { gatherCommandInputs } from '../gather.js';
import { existingFromAzure, seenProfiles, stderrHooks } from '../remote-options.js';
import { recommendOptions, recommendOptionsFrom } from '../recommend-options.js';

export const diffCommand: CommandSpec = {
  command: 'diff [paths..]',
  describe: 'Compare the rules in place with what the logs need: rules to add, unused and redundant elements',
  examples: [
    ['$0 diff ./insights-logs --existing rules.json', 'a Markdown report per profile'],
    ['$0 diff --flows flows.arrow --existing rules.json --format json', 'the same as JSON'],
  ],
  builder: (y) => redactOption(recommendOptions(inputOptions(y
    .option('existing', { type: 'string', array: true, describe: 'Rules in place: JSON from "az network perimeter profile access-rule list" (repeatable)' })
    .option('format', { choices: ['md', 'json'] as const, default: 'md' as const, describe: 'Output format' })
    .check((a) => {
      if (stringList(a.existing).length === 0 && !a['existing-from-azure']) throw new Error('Give the rules in place with --existing');
      return true;
    })))),
  async run(args, io, deps) {
    const fromFiles = await readExistingRules(stringList(args.existing));
    const { summary } = await gatherCommandInputs(args, io, deps);
    const existing = [...fromFiles, ...await existingFromAzure(args, deps, seenProfiles(summary), stderrHooks(io, Boolean(args.quiet)))];
    const options = recommendOptionsFrom(args);
    const { ruleSet } = recommend(summary, existing, options);
    const report = diffRules(summary, existing, ruleSet, options.maxElements);
    io.stdout.write(outputText(args, args.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : diffToMarkdown(report)));
    return EXIT.ok;
  },
};
