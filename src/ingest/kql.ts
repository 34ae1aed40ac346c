// Ingest stage: builds the KQL that the Log Analytics and Data Explorer sources send, and reads
// its result rows back. Pure. A user value enters a query only as an escaped string literal
// (kqlString) or a bracketed table name (kqlTableName); times enter as datetime(ISO) from numbers.

import { NspError } from '../errors.js';
import { canonicalPerimeterId, canonicalResourceId } from './normalize.js';

/** The Log Analytics table of NSP access logs. */
export const DEFAULT_TABLE = 'NSPAccessLogs';

/**
 * Distinct operation names returned per result row. The analyzer keeps the 5 smallest per flow;
 * returning the whole (small) set lets it pick them exactly as the file path does, without relying
 * on the server's string collation. A group with more names than this gives an inexact sample.
 */
export const OPERATIONS_CAP = 256;

/** Server-side filters; each list is OR-ed, the lists are AND-ed. */
export interface KqlFilters {
  /** Perimeter names or full ids (a profile id is cut back to its perimeter). */
  perimeters?: readonly string[];
  /** Profile names, matched case-insensitively. */
  profiles?: readonly string[];
  /** ARM ids of the PaaS resources that logged (ServiceResourceId), matched case-insensitively. */
  resources?: readonly string[];
}

/** A time window, epoch ms, half-open: start ≤ TimeGenerated < end. */
export interface QueryWindow {
  start: number;
  end: number;
}

/** What a query reads: a window, the filters, the table. */
export interface QueryOptions extends KqlFilters {
  window: QueryWindow;
  /** Table to read (Data Explorer); default NSPAccessLogs. */
  table?: string;
}

// Control characters have no documented escape except \n, \t and \r (the Kusto string data type
// page), and a lone surrogate cannot travel as UTF-8: such values are refused, never guessed at.
const UNSAFE = /[\p{Cc}\p{Cs}]/u;
const ESCAPES: Record<string, string> = { '\\': '\\\\', "'": "\\'", '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A KQL string literal whose value is exactly `value`: single-quoted, with `\`, `'`, newline,
 * carriage return and tab backslash-escaped. Nothing else is special inside '…', so the literal
 * always ends at its last quote and no value can break out of it.
 * @throws NspError usage for other control characters and lone surrogates
 */
export function kqlString(value: string): string {
  const withoutEscapable = value.replace(/[\n\r\t]/g, '');
  const bad = UNSAFE.exec(withoutEscapable);
  if (bad) {
    const cp = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new NspError('usage', `Cannot put ${JSON.stringify(value)} into a query: it holds the control character or lone surrogate U+${cp}`);
  }
  return `'${value.replace(/[\\'\n\r\t]/g, (c) => ESCAPES[c]!)}'`;
}

/** A table reference: the bare default name, anything else in the bracket form `['name']`. */
export function kqlTableName(name: string): string {
  if (name === DEFAULT_TABLE) return name;
  if (name.trim() === '') throw new NspError('usage', 'Cannot query a table with an empty name');
  return `[${kqlString(name)}]`;
}

/** `datetime(2026-11-02T00:00:00.000Z)` for an epoch-ms time. @throws RangeError for non-finite times */
export function kqlDatetime(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`Cannot write time ${ms} as a datetime`);
  return `datetime(${new Date(ms).toISOString()})`;
}

// nsp-reference.md §4.4: perimeter names.
const PERIMETER_NAME = /^(?:[a-zA-Z0-9]+[a-zA-Z0-9_.-]*[a-zA-Z0-9_]+|[a-zA-Z0-9])$/;

const list = (values: readonly string[]): string => values.map(kqlString).join(', ');

/** The `where` lines for the filters (none when no filter is set). @throws NspError usage for a bad perimeter */
export function filterClauses(filters: KqlFilters): string[] {
  const clauses: string[] = [];
  const perimeters = (filters.perimeters ?? []).map((p) => p.trim()).filter((p) => p !== '');
  if (perimeters.length > 0) {
    const ids: string[] = [];
    const names: string[] = [];
    for (const p of perimeters) {
      if (p.includes('/')) {
        const id = canonicalPerimeterId(p);
        if (id === '') throw new NspError('usage', `Cannot use --perimeter "${p}": not a network security perimeter id`, { hint: 'Give a perimeter name or /subscriptions/…/providers/Microsoft.Network/networkSecurityPerimeters/<name>' });
        ids.push(id);
      } else {
        if (p.length > 80 || !PERIMETER_NAME.test(p)) throw new NspError('usage', `Cannot use --perimeter "${p}": not a perimeter name`);
        names.push(p.toLowerCase());
      }
    }
    const parts: string[] = [];
    if (ids.length > 0) parts.push(`_ResourceId in~ (${list(ids)})`);
    // A name matches the last segment of the id; endswith is case-insensitive in KQL.
    for (const name of names) parts.push(`_ResourceId endswith ${kqlString(`/networksecurityperimeters/${name}`)}`);
    clauses.push(`| where ${parts.join(' or ')}`);
  }
  const profiles = (filters.profiles ?? []).map((p) => p.trim()).filter((p) => p !== '');
  if (profiles.length > 0) clauses.push(`| where Profile in~ (${list(profiles)})`);
  const resources = (filters.resources ?? []).map(canonicalResourceId).filter((r) => r !== '');
  if (resources.length > 0) clauses.push(`| where ServiceResourceId in~ (${list(resources)})`);
  return clauses;
}

function head(options: QueryOptions): string[] {
  const { start, end } = options.window;
  if (!(end > start)) throw new RangeError(`Cannot query an empty window ${start}..${end}`);
  return [
    kqlTableName(options.table ?? DEFAULT_TABLE),
    // Half-open, so adjacent chunks never count a row twice whatever the service does with `timespan`.
    `| where TimeGenerated >= ${kqlDatetime(start)} and TimeGenerated < ${kqlDatetime(end)}`,
    ...filterClauses(options),
  ];
}

/**
 * Columns the pushdown groups by: every column normalizeRow reads to place a row in a flow, raw
 * (MatchedRule as text, so a non-JSON label is read exactly as in files), plus the UTC day.
 */
export const GROUP_COLUMNS = [
  '_ResourceId', 'Profile', 'Category', 'ServiceResourceId', 'SourceIpAddress', 'SourceResourceId',
  'DestinationFqdn', 'DestinationResourceId', 'MatchedRule',
] as const;

/**
 * The pushdown query: NSPAccessLogs summarized in Azure Monitor's engine into one row per group and
 * UTC day. Each row, turned back into a log row by pushdownRow(), folds into the same flow stats as
 * the rows it stands for: hits (Count, missing = 1), first start, last end (an end before its start
 * counts as the start, as normalizeRow does), the day, resources, matched rules, peers, operations.
 * Rows with a negative Count are counted apart (BadCountRows), as files skip them.
 */
export function pushdownQuery(options: QueryOptions): string {
  return [
    ...head(options),
    '| extend CountOk = isnull(Count) or Count >= 0',
    '| summarize Hits = sumif(coalesce(Count, 1), CountOk), GoodRows = countif(CountOk), BadCountRows = countif(not(CountOk)),',
    '    FirstSeen = minif(TimeGenerated, CountOk),',
    '    LastSeen = maxif(max_of(TimeGenerated, coalesce(TimeGeneratedEndTime, TimeGenerated)), CountOk),',
    `    Operations = make_set_if(OperationName, CountOk, ${OPERATIONS_CAP})`,
    `    by ${GROUP_COLUMNS.join(', ')}, Day = bin(TimeGenerated, 1d)`,
  ].join('\n');
}

/** Columns the raw query returns: what normalizeRow reads. */
export const RAW_COLUMNS = [
  'TimeGenerated', 'TimeGeneratedEndTime', 'Count', 'OperationName', ...GROUP_COLUMNS,
] as const;

/** The raw query (`--raw`): the log rows themselves, only the columns the tool reads. For small windows. */
export function rawQuery(options: QueryOptions): string {
  return [...head(options), `| project ${RAW_COLUMNS.join(', ')}`].join('\n');
}

/** pushdownQuery or rawQuery. */
export function buildQuery(options: QueryOptions & { raw?: boolean }): string {
  return options.raw ? rawQuery(options) : pushdownQuery(options);
}

/** One pushdown result row, read back. */
export interface PushdownRow {
  /** A row with NSPAccessLogs column names that normalizeRow turns into the group's record (Count = hits). */
  row: Record<string, unknown>;
  /** Every distinct operation name of the group (the row carries the first). */
  operations: string[];
  /** Rows of the group that were used, and rows skipped for a negative Count. */
  goodRows: number;
  badCountRows: number;
}

/** A datetime cell as text: the SDKs give Date objects (Log Analytics) or ISO strings (Data Explorer). */
function timeText(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? '' : value.toISOString();
  return value;
}

function operationList(value: unknown): string[] {
  let v = value;
  if (typeof v === 'string') {
    try { v = JSON.parse(v); } catch { return []; }
  }
  return Array.isArray(v) ? v.filter((o): o is string => typeof o === 'string') : [];
}

function count(value: unknown): number {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}

/** Reads a pushdownQuery() result row (column name → cell) back as a log row plus its extras. */
export function pushdownRow(cells: Record<string, unknown>): PushdownRow {
  const operations = operationList(cells.Operations);
  const row: Record<string, unknown> = {};
  for (const name of GROUP_COLUMNS) row[name] = cells[name] ?? null;
  row.TimeGenerated = timeText(cells.FirstSeen);
  row.TimeGeneratedEndTime = timeText(cells.LastSeen);
  row.Count = cells.Hits;
  row.OperationName = operations[0] ?? '';
  return { row, operations, goodRows: count(cells.GoodRows), badCountRows: count(cells.BadCountRows) };
}

/** Reads a rawQuery() result row: datetimes as text, the rest as is. */
export function rawRow(cells: Record<string, unknown>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const name of RAW_COLUMNS) row[name] = cells[name] ?? null;
  row.TimeGenerated = timeText(row.TimeGenerated);
  row.TimeGeneratedEndTime = timeText(row.TimeGeneratedEndTime);
  return row;
}
