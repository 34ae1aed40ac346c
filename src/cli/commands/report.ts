// CLI command `report`: ingest + analyze + recommend + report. Writes one self-contained HTML file
// (inline SVG charts, no network) with per-profile overview, traffic charts and the rules to add.

import { NspError, isNspError } from '../../errors.js';
import { readRuleFiles } from '../../ingest/existing-rules.js';
import type { RuleSet } from '../../model/rule-set.js';
import { recommend } from '../../recommend/index.js';
import { renderHtmlReport } from '../../report/html.js';
import { writeFileAtomic } from '../../write-atomic.js';
import { EXIT, inputOptions, outputText, redactOption, stringList, type CommandSpec } from '../command.js';
import { gatherCommandInputs } from '../gather.js';
import { recommendOptions, recommendOptionsFrom } from '../recommend-options.js';

export const reportCommand: CommandSpec = {
  command: 'report [paths..]',
  describe: 'Write a self-contained HTML report: profiles, traffic charts and the rules to add with their evidence',
  examples: [
    ['$0 report ./insights-logs --out report.html', 'open report.html in any browser, offline'],
    ['$0 report --flows flows.arrow --existing rules.json --out report.html', 'from a snapshot, minus the rules in place (unused ones charted)'],
  ],
  builder: (y) => redactOption(recommendOptions(inputOptions(y
    .option('existing', { type: 'string', array: true, describe: 'Rules in place: "az … access-rule list" JSON or a rules review document (repeatable)' })
    .option('out', { type: 'string', describe: 'Write the HTML to this file (atomically) instead of stdout' })
    .option('title', { type: 'string', describe: 'Page title (default "NSP access report")' })))),
  async run(args, io, deps) {
    const existing = await readRuleFiles(stringList(args.existing));
    const { summary, reporter } = await gatherCommandInputs(args, io, deps);
    // A profile over the element limit still gets its charts; the page says why it has no rules
    // (and the run exits 2, as `recommend` would).
    let ruleSet: RuleSet | null = null;
    let recommendError: NspError | undefined;
    try {
      ruleSet = recommend(summary, existing.rules, recommendOptionsFrom(args)).ruleSet;
    } catch (error) {
      if (!isNspError(error)) throw error;
      recommendError = error;
    }
    const html = renderHtmlReport({
      summary, ruleSet, recommendError: recommendError?.message, baseline: existing.rules,
      title: typeof args.title === 'string' ? args.title : undefined,
    });
    if (typeof args.out === 'string') {
      await writeFileAtomic(args.out, outputText(args, html));
      const rules = ruleSet ? `${ruleSet.profiles.reduce((n, p) => n + p.rules.length, 0)} rules to add` : 'no rules';
      reporter.line(`report: ${new Set([...summary.flows.values()].map((f) => `${f.perimeterId}\u0001${f.profile}`)).size} profiles, ${rules}; wrote ${args.out}`);
    } else io.stdout.write(outputText(args, html));
    if (recommendError) throw recommendError;
    return EXIT.ok;
  },
};
