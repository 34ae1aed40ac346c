// Analyze stage, hot path: one unit of work for a worker thread (or the main thread): some whole
// files or one byte range of a large JSON lines file, folded into a FlowTable. The result carries
// the counts and the issues per file part; the flows stay in the table.

import { emptyAccount, type IssueCode, type SourceAccount } from '../model/issue.js';
import { SNAPSHOT_IN_FOLDER, detectFormat, readFailure, readRecords } from '../ingest/index.js';
import { openFile } from '../ingest/byte-source.js';
import { isTableFull } from './fold-engine.js';
import { FlowTable } from './flow-table.js';
import { foldChunks, foldPlainRange } from './scan-file.js';
import { JsonlFolder, type LineIssue } from './scan-jsonl.js';

/** A part of one file: the whole file, or the lines starting in [start, end) of a plain JSONL file. */
export interface FilePart {
  fileIndex: number;
  path: string;
  /** Position of this part among the parts of its file (line numbers are made absolute from it). */
  part: number;
  /** Plain JSON lines, already detected by the caller: fold [start, end) directly. */
  range?: { start: number; end: number };
  /** Found by walking a folder: a snapshot there is not read (see SNAPSHOT_IN_FOLDER). */
  inFolder?: boolean;
}

export interface ScanTask { parts: FilePart[] }

export interface PartResult {
  fileIndex: number;
  part: number;
  counts: Omit<SourceAccount, 'source'>;
  /** Lines in this part, to number the next part's lines. */
  lines: number;
  /** Issues with line numbers relative to the part (0 = a file-level issue without a line). */
  issues: { code: IssueCode; line: number; message: string; fileLevel: boolean }[];
  /** The file is a flow snapshot: the caller loads it. */
  snapshot?: boolean;
}

export interface TaskResult { parts: PartResult[]; carefulLines: number }

function counts(): Omit<SourceAccount, 'source'> {
  const { source: _, ...rest } = emptyAccount('');
  return rest;
}

/**
 * Runs one task into `table` (a worker keeps one table for all its tasks, so partial summaries
 * are converted and merged once per worker, not once per task). Never throws for bad content; a
 * file that cannot be opened is a read-error issue.
 */
export async function runScanTask(task: ScanTask, table: FlowTable): Promise<TaskResult> {
  const parts: PartResult[] = [];
  let carefulLines = 0;
  for (const part of task.parts) {
    const result: PartResult = { fileIndex: part.fileIndex, part: part.part, counts: counts(), lines: 0, issues: [] };
    parts.push(result);
    const issue = (i: LineIssue): void => { result.issues.push({ ...i, fileLevel: false }); };
    const fileIssue = (code: IssueCode, line: number, message: string): void => {
      result.counts.fileIssues++;
      result.issues.push({ code, line, message, fileLevel: true });
    };
    const folder = new JsonlFolder(table, issue);
    const addFolded = (): void => {
      const c = folder.counts;
      result.counts.rowsRead += c.rowsRead; result.counts.rowsUsed += c.rowsUsed;
      result.counts.hitsRead += c.hitsRead; result.counts.hitsUsed += c.hitsUsed;
      for (const [code, n] of Object.entries(c.skipped)) result.counts.skipped[code as IssueCode] = (result.counts.skipped[code as IssueCode] ?? 0) + (n ?? 0);
      carefulLines += c.carefulLines;
    };
    try {
      if (part.range) {
        try {
          result.lines = (await foldPlainRange(part.path, part.range, folder)).lines;
        } finally {
          addFolded(); // rows folded before a read error still count
        }
        continue;
      }
      const opened = await openFile(part.path);
      const kind = detectFormat(opened.head);
      if (kind === 'jsonl') {
        const r = await foldChunks(opened.chunks, folder);
        result.lines = r.lines;
        addFolded();
        if (r.error) {
          const failure = readFailure(r.error);
          fileIssue(failure.code, r.lines + 1, failure.message);
        }
        continue;
      }
      opened.close();
      if (kind === 'arrow' && part.inFolder) { fileIssue('unknown-format', 0, SNAPSHOT_IN_FOLDER); continue; }
      if (kind === 'arrow') { result.snapshot = true; continue; }
      // Every other format: the careful reader, record by record.
      const accounts: SourceAccount[] = [];
      let fileIssuesSeen = 0;
      for await (const record of readRecords([{ path: part.path }], {
        accounts,
        onIssue: (i) => {
          const m = /:(\d+)$/.exec(i.location);
          // readRecords counts a file-level issue just before reporting it.
          const fileLevel = accounts[0]!.fileIssues > fileIssuesSeen;
          fileIssuesSeen = accounts[0]!.fileIssues;
          result.issues.push({ code: i.code, line: m ? Number(m[1]) : 0, message: i.message, fileLevel });
        },
      })) table.addRecord(record);
      const a = accounts[0];
      if (a) {
        const { source: _, ...rest } = a;
        result.counts = rest;
      }
    } catch (error) {
      // A table that cannot hold the flows ends the run; other errors are the file's.
      if (isTableFull(error)) throw error;
      fileIssue('read-error', 0, `Cannot read: ${(error as Error).message}`);
    }
  }
  return { parts, carefulLines };
}
