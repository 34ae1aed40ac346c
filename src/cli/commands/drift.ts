// CLI command `drift`: ingest + analyze + recommend/drift (+ report for --format html). The
// scheduled check: the logs against the rules in place, compared with the previous run kept in
// --history. Exit 1 when a --fail-on condition holds, 0 otherwise, 2 on errors.

import { resolve, sep } from 'node:path';
import { NspError, isNspError } from '../../errors.js';
import { readRuleFiles } from '../../ingest/existing-rules.js';
import { DEFAULT_FAIL_ON, FAIL_CONDITIONS, drift, driftToJson, driftToMarkdown, parseFailOn, type DriftReport } from '../../recommend/drift.js';
import { compareWithHistory, historySnapshotName, loadHistory, saveHistorySnapshot, type DriftHistory } from '../../recommend/history.js';
import { recommend } from '../../recommend/index.js';
import type { FlowSummary } from '../../model/flow-summary.js';
import type { RuleSet } from '../../model/rule-set.js';
import { renderHtmlReport } from '../../report/html.js';
import { writeFileAtomic } from '../../write-atomic.js';
import { EXIT, inputOptions, outputText, redactOption, stringList, type CommandSpec } from '../command.js';
import { gatherCommandInputs } from '../gather.js';

export type DriftFormat = 'md' | 'json' | 'html';

/** One line for stderr: what was found and why the exit code is what it is. */
export function driftSummaryLine(report: DriftReport): string {
  const c = report.conditions;
  const denied = report.profiles.reduce((n, p) => n + p.denied.length, 0);
  const found = `${denied} denied flows (${c['denied-legitimate']} legitimate-looking), ${c['new-blockers']} uncovered blockers, ` +
    `${c['unused-rules']} unused rules/elements${report.history?.previous ? `, ${c['new-sources']} new sources` : ''}`;
  return `drift: ${found}; ${report.failed.length ? `failing on ${report.failed.join(', ')}` : 'no --fail-on condition holds'}`;
}

/**
 * Refuses a history folder inside a log folder: input folders are walked recursively, so the
 * kept snapshots would be read back as logs and every run would count the earlier ones again.
 * @throws NspError usage
 */
export function assertHistoryOutsideInputs(historyDir: string, paths: readonly string[]): void {
  const history = resolve(historyDir);
  for (const path of paths) {
    const input = resolve(path);
    if (history === input || history.startsWith(`${input}${sep}`)) {
      throw new NspError('usage', `Cannot keep --history "${historyDir}" inside the log folder "${path}": its snapshots would be read as logs`, {
        hint: 'Put the history folder next to the logs, e.g. --history ./drift-history',
      });
    }
  }
}

export const driftCommand: CommandSpec = {
  command: 'drift [paths..]',
  describe: 'Scheduled drift report: logs against the rules in place, compared with the previous run (exit 1 on --fail-on findings)',
  examples: [
    ['$0 drift ./insights-logs --baseline rules.json', 'Markdown report on stdout; exit 1 on new blockers or legitimate-looking denials'],
    ['$0 drift ./last-14-days --baseline rules.json --history ./drift-history --format html --out drift.html', 'a daily run that keeps its history'],
    ['$0 drift --flows flows.arrow --baseline review.json --fail-on new-blockers,unused-rules --format json', 'choose what fails the job'],
  ],
  builder: (y) => redactOption(inputOptions(y
    .option('baseline', { type: 'string', array: true, demandOption: true, describe: 'Rules in place: "az … access-rule list" JSON or a rules review document (repeatable)' })
    .option('history', { type: 'string', describe: 'Folder of earlier runs: compare with the latest, then add this run as flows-<last day>.arrow' })
    .option('fail-on', {
      type: 'string', array: true, default: [DEFAULT_FAIL_ON.join(',')],
      describe: `Exit 1 when any of these holds (comma-separated): ${FAIL_CONDITIONS.join(', ')}, or none`,
    })
    .option('format', { choices: ['md', 'json', 'html'] as const, default: 'md' as const, describe: 'Output format' })
    .option('out', { type: 'string', describe: 'Write the report to this file (atomically) instead of stdout' })
    .option('legit-min-days', { type: 'number', default: 2, describe: 'A denied flow seen on this many days looks legitimate' })
    .option('legit-min-hits', { type: 'number', default: 10, describe: 'A denied flow with this many hits looks legitimate' })
    .check((a) => {
      parseFailOn(stringList(a['fail-on']));
      for (const name of ['legit-min-days', 'legit-min-hits']) {
        const v = a[name] as number;
        if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a whole number of at least 1`);
      }
      return true;
    }))),
  async run(args, io, deps) {
    const failOn = parseFailOn(stringList(args['fail-on'] ?? DEFAULT_FAIL_ON.join(',')));
    const baseline = await readRuleFiles(stringList(args.baseline));
    const { summary, reporter } = await gatherCommandInputs(args, io, deps);

    const historyDir = typeof args.history === 'string' ? args.history : undefined;
    if (historyDir !== undefined) assertHistoryOutsideInputs(historyDir, stringList(args.paths));
    const currentName = historySnapshotName(summary);
    let previous: FlowSummary | null = null;
    let history: DriftHistory | null = null;
    if (historyDir !== undefined && currentName !== null) {
      const loaded = await loadHistory(historyDir, currentName);
      previous = loaded.previous?.summary ?? null;
      history = compareWithHistory(currentName, summary, loaded);
    } else if (historyDir !== undefined) {
      reporter.line('drift: no flows in the logs, so no history snapshot is written');
    }

    const report = drift(summary, {
      baseline: baseline.rules, previous, history, failOn,
      legitimacy: { minDays: Number(args['legit-min-days'] ?? 2), minHits: Number(args['legit-min-hits'] ?? 10) },
    });

    const format = (args.format ?? 'md') as DriftFormat;
    let text: string;
    if (format === 'html') {
      // The HTML report also shows the rules a reviewer would add (recommend's defaults: run
      // `recommend` for other budgets). A profile over the element limit must not stop a
      // scheduled drift report, so that failure is shown in the page instead.
      let ruleSet: RuleSet | null = null;
      let recommendError: string | undefined;
      try {
        ruleSet = recommend(summary, baseline.rules).ruleSet;
      } catch (error) {
        if (!isNspError(error)) throw error;
        recommendError = error.message;
      }
      text = renderHtmlReport({ summary, ruleSet, recommendError, baseline: baseline.rules, drift: report });
    } else {
      text = format === 'json' ? driftToJson(report) : driftToMarkdown(report);
    }
    if (typeof args.out === 'string') {
      await writeFileAtomic(args.out, outputText(args, text));
      reporter.line(`wrote ${args.out}`);
    } else io.stdout.write(outputText(args, text));

    // The snapshot goes in last: a run that failed to report leaves the history as it was.
    if (historyDir !== undefined && currentName !== null) {
      const path = await saveHistorySnapshot(historyDir, currentName, summary);
      reporter.line(`drift: kept this run as ${path}`);
    }
    reporter.line(driftSummaryLine(report));
    return report.failed.length > 0 ? EXIT.finding : EXIT.ok;
  },
};
