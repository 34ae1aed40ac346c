// CLI: what a run says on stderr: issues as they come (the first ones in full, then a count),
// progress on a terminal, and the closing accounts (rows read = used + skipped by reason).

import type { Issue, SourceAccount } from '../model/issue.js';
import { skippedRows } from '../model/issue.js';
import { formatCount } from '../model/text.js';
import type { IO } from './io.js';

/** Issues printed in full; the rest are counted. */
export const ISSUES_SHOWN = 20;

const fmt = formatCount;

export class RunReporter {
  readonly issues: Issue[] = [];
  #issueCount = 0;
  #progressShown = false;
  readonly #io: IO;
  readonly #quiet: boolean;

  constructor(io: IO, quiet: boolean) {
    this.#io = io;
    this.#quiet = quiet;
  }

  get issueCount(): number {
    return this.#issueCount;
  }

  readonly onIssue = (issue: Issue): void => {
    this.#issueCount++;
    if (this.issues.length < ISSUES_SHOWN) this.issues.push(issue);
    if (this.#quiet || this.#issueCount > ISSUES_SHOWN) return;
    this.#clearProgress();
    this.#io.stderr.write(`warning: ${issue.location}: ${issue.code}: ${issue.message}\n`);
  };

  readonly onProgress = (done: number, total: number): void => {
    if (this.#quiet || !this.#io.stderrIsTTY) return;
    this.#io.stderr.write(`\r\x1b[Kanalyzed ${done}/${total} files`);
    this.#progressShown = true;
  };

  #clearProgress(): void {
    if (this.#progressShown) { this.#io.stderr.write('\r\x1b[K'); this.#progressShown = false; }
  }

  /**
   * Prints the accounts, one line per source (the local files, each workspace, cluster or storage
   * account), each adding up: rows = used + skipped by reason. Under --quiet only a line about
   * skipped rows, if any.
   */
  accounts(groups: readonly { name: string; accounts: readonly SourceAccount[] }[], snapshots: readonly string[]): void {
    this.#clearProgress();
    if (this.#issueCount > ISSUES_SHOWN && !this.#quiet) this.#io.stderr.write(`warning: ${fmt(this.#issueCount - ISSUES_SHOWN)} more issues not shown\n`);
    const all = groups.flatMap((g) => g.accounts);
    if (this.#quiet) {
      if (this.#issueCount > 0) {
        const t = totals(all);
        this.#io.stderr.write(`warning: ${fmt(t.skipped)} rows skipped (${t.reasons || 'none'}), ${fmt(t.fileIssues)} file issues\n`);
      }
      return;
    }
    // Every source that read something; the local files also when they are all there is, or
    // when snapshots were merged (their line names them).
    const nothingRead = groups.every((g) => g.accounts.length === 0);
    const shown = groups.filter((g, i) => g.accounts.length > 0 || (i === 0 && (nothingRead || snapshots.length > 0)));
    for (const group of shown) {
      const t = totals(group.accounts);
      const n = group.accounts.length;
      // Azure queries are accounted per time window, storage accounts per blob.
      const unit = /^(workspace|cluster) /.test(group.name) ? 'query window' : 'blob';
      const what = group.name === 'files' ? `${fmt(n)} file${n === 1 ? '' : 's'}` : `${group.name} (${fmt(n)} ${unit}${n === 1 ? '' : 's'})`;
      const snaps = group === groups[0] && snapshots.length ? ` and ${snapshots.length} flow snapshot${snapshots.length === 1 ? '' : 's'}` : '';
      this.#io.stderr.write(
        `read ${what}${snaps}: ${fmt(t.rowsRead)} rows = ${fmt(t.rowsUsed)} used + ${fmt(t.skipped)} skipped${t.reasons ? ` (${t.reasons})` : ''}` +
        `; hits ${fmt(t.hitsRead)} read, ${fmt(t.hitsUsed)} used${t.fileIssues ? `; ${fmt(t.fileIssues)} file issues` : ''}\n`,
      );
    }
  }

  /** A line of the closing summary (not under --quiet). */
  line(text: string): void {
    if (!this.#quiet) this.#io.stderr.write(`${text}\n`);
  }
}

/** Sums of accounts, with the skip reasons as text. */
function totals(accounts: readonly SourceAccount[]): { rowsRead: number; rowsUsed: number; skipped: number; reasons: string; fileIssues: number; hitsRead: number; hitsUsed: number } {
  const t = { rowsRead: 0, rowsUsed: 0, skipped: 0, reasons: '', fileIssues: 0, hitsRead: 0, hitsUsed: 0 };
  const byReason = new Map<string, number>();
  for (const a of accounts) {
    t.rowsRead += a.rowsRead; t.rowsUsed += a.rowsUsed; t.fileIssues += a.fileIssues;
    t.hitsRead += a.hitsRead; t.hitsUsed += a.hitsUsed; t.skipped += skippedRows(a);
    for (const [code, n] of Object.entries(a.skipped)) byReason.set(code, (byReason.get(code) ?? 0) + (n ?? 0));
  }
  t.reasons = [...byReason.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([c, n]) => `${c} ${fmt(n)}`).join(', ');
  return t;
}

export { fmt as formatCount };
