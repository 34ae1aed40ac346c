// Analyze stage, hot path: one unit of work for a worker thread (or the main thread): some whole
// files or one byte range of a large JSON lines file, folded into a FlowTable. The result carries
// the flows in a plain form that crosses threads cheaply, the counts and the issues per file part.

import { emptyAccount, type IssueCode, type SourceAccount } from '../model/issue.js';
import { detectFormat, readRecords } from '../ingest/index.js';
import { openFile } from '../ingest/byte-source.js';
import type { Flow, FlowSummary } from '../model/flow-summary.js';
import type { PeerKind } from '../model/record.js';
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

/** Flows as arrays: structured clone copies these far faster than Maps of objects. */
export type PlainFlow = [string, string, string, PeerKind, string, number, number, number, number[], number[], string[], string[], number[], string[], string[]];

export interface TaskResult { flows: PlainFlow[]; parts: PartResult[]; carefulLines: number }

export function toPlainFlows(summary: FlowSummary): PlainFlow[] {
  const out: PlainFlow[] = [];
  for (const f of summary.flows.values()) {
    out.push([f.perimeterId, f.profile, f.category, f.peerKind, f.peer, f.hits, f.firstSeen, f.lastSeen,
      [...f.dayHits.keys()], [...f.dayHits.values()], [...f.resources], [...f.matchedRules.keys()], [...f.matchedRules.values()],
      [...f.sourceIps], [...f.operations]]);
  }
  return out;
}

export function fromPlainFlow(p: PlainFlow): Flow {
  return {
    perimeterId: p[0], profile: p[1], category: p[2], peerKind: p[3], peer: p[4], hits: p[5], firstSeen: p[6], lastSeen: p[7],
    dayHits: new Map(p[8].map((d, i) => [d, p[9][i]!] as [number, number])), resources: new Set(p[10]),
    matchedRules: new Map(p[11].map((r, i) => [r, p[12][i]!] as [string, number])), sourceIps: new Set(p[13]), operations: new Set(p[14]),
  };
}

function counts(): Omit<SourceAccount, 'source'> {
  const { source: _, ...rest } = emptyAccount('');
  return rest;
}

/** Runs one task. Never throws for bad content; a file that cannot be opened is a read-error issue. */
export async function runScanTask(task: ScanTask): Promise<TaskResult> {
  const table = new FlowTable();
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
        const r = await foldPlainRange(part.path, part.range, folder);
        result.lines = r.lines;
        addFolded();
        continue;
      }
      const opened = await openFile(part.path);
      const kind = detectFormat(opened.head);
      if (kind === 'jsonl') {
        const r = await foldChunks(opened.chunks, folder);
        result.lines = r.lines;
        addFolded();
        if (r.error) {
          const cut = /unexpected end of file/i.test(r.error.message) || (r.error as NodeJS.ErrnoException).code === 'Z_BUF_ERROR';
          fileIssue(cut ? 'truncated-input' : 'read-error', r.lines + 1, cut ? 'Cannot read the rest of the gzip stream: it ends early' : `Cannot read the rest of the file: ${r.error.message}`);
        }
        continue;
      }
      opened.close();
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
      fileIssue('read-error', 0, `Cannot read: ${(error as Error).message}`);
    }
  }
  return { flows: toPlainFlows(table.toSummary()), parts, carefulLines };
}
