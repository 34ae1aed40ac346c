// CLI: what a run says on stderr: issues as they come (the first ones in full, then a count),
// progress on a terminal, and the closing accounts (rows read = used + skipped by reason).

import type { Issue, SourceAccount } from '../model/issue.js';
import { skippedRows } from '../model/issue.js';
import type { IO } from './io.js';

/** Issues printed in full; the rest are counted. */
export const ISSUES_SHOWN = 20;

const fmt = (n: number | bigint): string => n.toLocaleString('en-US');

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

  /** Prints the accounts; under --quiet only a line about skipped rows, if any. */
  accounts(accounts: readonly SourceAccount[], snapshots: readonly string[]): void {
    this.#clearProgress();
    const total = { rowsRead: 0, rowsUsed: 0, fileIssues: 0, hitsRead: 0, hitsUsed: 0, skipped: new Map<string, number>() };
    for (const a of accounts) {
      total.rowsRead += a.rowsRead; total.rowsUsed += a.rowsUsed; total.fileIssues += a.fileIssues;
      total.hitsRead += a.hitsRead; total.hitsUsed += a.hitsUsed;
      for (const [code, n] of Object.entries(a.skipped)) total.skipped.set(code, (total.skipped.get(code) ?? 0) + (n ?? 0));
    }
    const skipped = accounts.reduce((n, a) => n + skippedRows(a), 0);
    if (this.#issueCount > ISSUES_SHOWN && !this.#quiet) this.#io.stderr.write(`warning: ${fmt(this.#issueCount - ISSUES_SHOWN)} more issues not shown\n`);
    const reasons = [...total.skipped.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([c, n]) => `${c} ${fmt(n)}`).join(', ');
    if (this.#quiet) {
      if (this.#issueCount > 0) this.#io.stderr.write(`warning: ${fmt(skipped)} rows skipped (${reasons || 'none'}), ${fmt(total.fileIssues)} file issues\n`);
      return;
    }
    const files = accounts.length === 1 ? '1 file' : `${fmt(accounts.length)} files`;
    const snaps = snapshots.length ? ` and ${snapshots.length} flow snapshot${snapshots.length === 1 ? '' : 's'}` : '';
    this.#io.stderr.write(
      `read ${files}${snaps}: ${fmt(total.rowsRead)} rows = ${fmt(total.rowsUsed)} used + ${fmt(skipped)} skipped${reasons ? ` (${reasons})` : ''}` +
      `; hits ${fmt(total.hitsRead)} read, ${fmt(total.hitsUsed)} used${total.fileIssues ? `; ${fmt(total.fileIssues)} file issues` : ''}\n`,
    );
  }

  /** A line of the closing summary (not under --quiet). */
  line(text: string): void {
    if (!this.#quiet) this.#io.stderr.write(`${text}\n`);
  }
}

export { fmt as formatCount };
