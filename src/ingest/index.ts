// Ingest stage entry point: expands paths into files, detects each file's format from its content,
// reads raw rows through the format registry, normalizes them into NspRecords and keeps the
// accounts (rows read = used + skipped by reason, hits in = hits used) per file.

import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NspError } from '../errors.js';
import { emptyAccount, type Issue, type IssueCode, type SourceAccount } from '../model/issue.js';
import type { NspRecord } from '../model/record.js';
import { avroCapture } from './avro-capture.js';
import { DecompressionLimitError, openFile } from './byte-source.js';
import { csv } from './csv.js';
import { jsonDocument } from './json-document.js';
import { jsonl } from './jsonl.js';
import { normalizeRow } from './normalize.js';
import type { FormatReader, RowEvent } from './source.js';

/** Format readers by user-facing name. */
export const formats = { jsonl, json: jsonDocument, csv, avro: avroCapture } satisfies Record<string, FormatReader>;
export type FormatName = keyof typeof formats;

/** What a file holds, judged from its first bytes. */
export type DetectedKind = FormatName | 'arrow' | 'unknown';

const ARROW_MAGIC = 'ARROW1';

/** Decides a file's format from its first (inflated) bytes. */
export function detectFormat(head: Buffer): DetectedKind {
  if (head.subarray(0, 6).toString('latin1') === ARROW_MAGIC) return 'arrow';
  // An Avro object container: Event Hubs Capture writes these.
  if (head.subarray(0, 4).toString('latin1') === 'Obj\u0001') return 'avro';
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  const start = text.search(/\S/);
  // Only blanks so far (or nothing): read on as JSON lines, which skips blank lines and still
  // reports anything after them; an empty file gives no rows.
  if (start === -1) return 'jsonl';
  const c = text[start];
  if (c === '[') return 'json';
  if (c === '{') {
    // JSON lines when the first line is a whole object (or looks like one, broken: a bad row among
    // JSON lines). Otherwise, and when the first line is longer than the head, a JSON document,
    // whose reader also reads a sequence of objects, so JSON lines are never lost either way.
    const newline = text.indexOf('\n', start);
    const first = (newline === -1 ? text.slice(start) : text.slice(start, newline)).trim();
    try {
      if (typeof JSON.parse(first) === 'object') return 'jsonl';
    } catch {
      // Not a whole object on its own line.
    }
    return newline !== -1 && first.endsWith('}') ? 'jsonl' : 'json';
  }
  const firstLine = text.slice(start).split('\n', 1)[0]!.toLowerCase();
  if (firstLine.includes(',') && /(^|,)"?(category|timegenerated)/.test(firstLine)) return 'csv';
  return 'unknown';
}

export interface InputFile {
  path: string;
  /** Found by walking a folder (not named on the command line). */
  inFolder?: boolean;
}

/** Why a flow snapshot met while walking a folder is not read: it may hold the same logs again. */
export const SNAPSHOT_IN_FOLDER = 'Skipped a flow snapshot found in a folder: it may hold logs of the same folder again; pass it with --flows or by name';

/**
 * Expands paths into files: a directory is walked recursively in name order (dot files are left
 * out), a file is taken as it is. A file reached twice (named twice, or inside two folders given)
 * is read once. @throws NspError input-missing naming the path
 */
export async function listInputFiles(paths: readonly string[]): Promise<InputFile[]> {
  const files: InputFile[] = [];
  const seen = new Set<string>();
  const add = async (path: string, inFolder: boolean): Promise<void> => {
    const real = await realpath(path);
    if (seen.has(real)) return;
    seen.add(real);
    files.push(inFolder ? { path, inFolder } : { path });
  };
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) await add(full, true);
    }
  };
  for (const path of paths) {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      throw new NspError('input-missing', `Cannot read "${path}": ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (error as Error).message}`, {
        hint: 'Check the path; pass files or folders of exported NSP access logs', cause: error,
      });
    }
    if (info.isDirectory()) {
      try {
        await walk(path);
      } catch (error) {
        throw new NspError('input-missing', `Cannot list "${path}": ${(error as Error).message}`, { cause: error });
      }
    } else await add(path, false);
  }
  return files;
}

export interface ReadRecordsOptions {
  /** Called for every issue, in order. */
  onIssue?: (issue: Issue) => void;
  /** One account per file is appended here as the file is read. */
  accounts?: SourceAccount[];
  /** Called with each Arrow flow snapshot found among the files (they hold summaries, not rows). */
  onSnapshot?: (path: string) => Promise<void>;
  abortSignal?: AbortSignal;
}

/** The issue for an error that stopped reading a file part way (the rows before it are kept). */
export function readFailure(error: unknown): { code: IssueCode; message: string } {
  if (error instanceof DecompressionLimitError) return { code: 'decompression-limit', message: error.message };
  const cut = (error as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' || /unexpected end of file/i.test((error as Error).message);
  return cut
    ? { code: 'truncated-input', message: 'Cannot read the rest of the gzip stream: it ends early' }
    : { code: 'read-error', message: `Cannot read the rest of the file: ${(error as Error).message}` };
}

/**
 * Accounts one row event of a reader: a file-level issue, a bad row (skipped, by reason) or a row,
 * normalized. Every reader of content (files, blobs) goes through here, so the accounts mean the
 * same everywhere. @returns the record, or null when the event was not a usable row
 */
export function accountRowEvent(event: RowEvent, location: string, account: SourceAccount, report: (issue: Issue) => void): NspRecord | null {
  if (event.kind === 'file-issue') {
    account.fileIssues++;
    report({ code: event.code, location, message: event.message });
    return null;
  }
  account.rowsRead++;
  if (event.kind === 'bad-row') {
    account.skipped[event.code] = (account.skipped[event.code] ?? 0) + 1;
    report({ code: event.code, location, message: event.message });
    return null;
  }
  const result = normalizeRow(event.row);
  account.hitsRead += result.ok ? result.record.count : result.hits;
  if (!result.ok) {
    account.skipped[result.code] = (account.skipped[result.code] ?? 0) + 1;
    report({ code: result.code, location, message: result.message });
    return null;
  }
  account.rowsUsed++;
  account.hitsUsed += result.record.count;
  return result.record;
}

/** Reads every file as NspRecords, streaming; bad rows become issues and the run goes on. */
export async function* readRecords(files: readonly InputFile[], options: ReadRecordsOptions = {}): AsyncGenerator<NspRecord> {
  for (const file of files) {
    options.abortSignal?.throwIfAborted();
    const account = emptyAccount(file.path);
    options.accounts?.push(account);
    const report = (issue: Issue): void => options.onIssue?.(issue);
    let opened;
    try {
      opened = await openFile(file.path);
    } catch (error) {
      throw new NspError('input-missing', `Cannot read "${file.path}": ${(error as Error).message}`, { cause: error });
    }
    let kind: DetectedKind;
    try {
      kind = detectFormat(opened.head);
    } catch {
      kind = 'unknown';
    }
    if (kind === 'arrow' || kind === 'unknown') opened.close();
    if (kind === 'arrow' && file.inFolder) {
      account.fileIssues++;
      report({ code: 'unknown-format', location: file.path, message: SNAPSHOT_IN_FOLDER });
      continue;
    }
    if (kind === 'arrow') {
      if (!options.onSnapshot) throw new NspError('input-invalid', `Cannot use flow snapshot "${file.path}" here`, { hint: 'Snapshots are read by analyze and recommend' });
      await options.onSnapshot(file.path);
      continue;
    }
    if (kind === 'unknown') {
      account.fileIssues++;
      report({
        code: 'unknown-format', location: file.path,
        message: 'Cannot detect the format: expected JSON lines, a JSON document, CSV, an Event Hubs Capture (Avro) file or an Arrow flow snapshot',
      });
      continue;
    }
    const reader: FormatReader = formats[kind];
    let lastLine = 0;
    try {
      for await (const event of reader.read(opened.chunks)) {
        lastLine = event.line;
        const record = accountRowEvent(event, `${file.path}:${event.line}`, account, report);
        if (record) yield record;
      }
    } catch (error) {
      account.fileIssues++;
      report({ ...readFailure(error), location: `${file.path}:${lastLine + 1}` });
    } finally {
      // A reader may stop before the end (a corrupt Avro file), and so may the consumer of this
      // generator: release the file either way (a no-op once it was read to the end).
      opened.close();
    }
  }
}
