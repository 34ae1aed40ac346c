// Ingest stage: the shapes every input format shares. A format reader turns content into raw rows
// (or issues, with their line); src/ingest/index.ts normalizes the rows and keeps the accounts.

import type { IssueCode } from '../model/issue.js';

/** One raw row with its line, or a problem found at a line. */
export type RowEvent =
  | { kind: 'row'; row: Record<string, unknown>; line: number }
  | { kind: 'bad-row'; code: IssueCode; line: number; message: string }
  | { kind: 'file-issue'; code: IssueCode; line: number; message: string };

export interface FormatReader {
  /** User-facing name, shown in the summary. */
  readonly name: string;
  /** Reads the content of one file; never throws for bad content, only yields issues. */
  read(chunks: AsyncIterable<Buffer>): AsyncIterable<RowEvent>;
}

/** Rows inside a Log Analytics table: `columns` names, `rows` arrays of cells. */
export function rowFromCells(columns: readonly string[], cells: readonly unknown[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) row[columns[i]!] = cells[i];
  return row;
}

/** Column names of a Log Analytics table's `columns` value. */
export function columnNames(columns: unknown): string[] | null {
  if (!Array.isArray(columns)) return null;
  const names: string[] = [];
  for (const c of columns) {
    if (typeof c === 'string') names.push(c);
    else if (c && typeof c === 'object' && typeof (c as { name?: unknown }).name === 'string') names.push((c as { name: string }).name);
    else return null;
  }
  return names;
}

/** A plain object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Looks a key up case-insensitively. */
export function getKey(obj: Record<string, unknown>, lowerName: string): unknown {
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lowerName) return obj[key];
  return undefined;
}
