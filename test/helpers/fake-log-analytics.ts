// Test helper: a local HTTPS fake of the Azure APIs the remote sources call: the Log Analytics
// query API (POST /v1/workspaces/{id}/query), Data Explorer's v2 query endpoint (POST
// /v2/rest/query) and ARM's access-rule list. Queries are answered from NSPAccessLogs rows by
// simulating in JS what the generated KQL does (window, filters, the pushdown summarize, raw project).

import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TokenCredential } from '@azure/core-auth';
import { GROUP_COLUMNS, OPERATIONS_CAP, RAW_COLUMNS } from '../../src/ingest/kql.js';
import { selfSignedCert } from './tls.js';

export type LaRow = Record<string, string | number | null>;

export interface Window {
  start: number;
  end: number;
}

/** A canned answer that replaces the simulated one. */
export interface CannedAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface FakeAzureOptions {
  /** The NSPAccessLogs rows (column → value, datetimes as ISO text), e.g. fixtures' laRow(). */
  rows: readonly LaRow[];
  /** Result rows above this make a truncated partial answer (E_QUERY_RESULT_SET_TOO_LARGE). */
  serverRowCap?: number;
  /** The first N queries answer 429 with Retry-After: 0. */
  throttle?: number;
  /** A canned answer for a query window (undefined: simulate). */
  answer?: (window: Window, api: 'la' | 'adx') => CannedAnswer | undefined;
  /** ARM: access rules by profile id (lower case), or an HTTP status to answer with. */
  accessRules?: Record<string, unknown[] | number>;
  /** Delay of every query answer, ms (to observe concurrency). */
  delayMs?: number;
  /**
   * A transport fault for a query (attempt counts from 1 per window): 'reset' destroys the
   * connection, 'hang' never answers.
   */
  fault?: (window: Window, attempt: number) => 'reset' | 'hang' | undefined;
}

export interface RecordedRequest {
  api: 'la' | 'adx' | 'arm' | 'other';
  method: string;
  path: string;
  authorization: string | undefined;
  query?: string;
  /** The LA body's timespan; Data Explorer's database. */
  timespan?: string;
  database?: string;
  window?: Window;
  status?: number;
}

export interface FakeAzure {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** The server certificate, PEM: pass as `ca`. */
  ca: string;
  /** A static credential; scopes asked for are recorded. */
  credential: TokenCredential;
  scopes: string[];
  requests: RecordedRequest[];
  /** Most queries answered at the same time. */
  maxInFlight: number;
  close(): Promise<void>;
}

const WINDOW = /TimeGenerated >= datetime\(([^)]+)\) and TimeGenerated < datetime\(([^)]+)\)/;
const LITERAL = /'((?:[^'\\]|\\.)*)'/g;
const UNESCAPE: Record<string, string> = { n: '\n', r: '\r', t: '\t' };

function literals(text: string): string[] {
  return [...text.matchAll(LITERAL)].map((m) => m[1]!.replace(/\\(.)/g, (_, c: string) => UNESCAPE[c] ?? c));
}

/** The row filter the query's `where` lines stand for (the clauses kql.ts writes). */
function rowFilter(query: string): (row: LaRow) => boolean {
  const tests: ((row: LaRow) => boolean)[] = [];
  const lower = (v: unknown): string => String(v ?? '').toLowerCase();
  for (const line of query.split('\n')) {
    if (line.startsWith('| where _ResourceId')) {
      const ids = /_ResourceId in~ \(([^)]*)\)/.exec(line);
      const set = new Set(ids ? literals(ids[1]!).map((s) => s.toLowerCase()) : []);
      const suffixes = [...line.matchAll(/_ResourceId endswith ('(?:[^'\\]|\\.)*')/g)].map((m) => literals(m[1]!)[0]!.toLowerCase());
      tests.push((r) => set.has(lower(r._ResourceId)) || suffixes.some((s) => lower(r._ResourceId).endsWith(s)));
    } else if (line.startsWith('| where Profile in~')) {
      const set = new Set(literals(line).map((s) => s.toLowerCase()));
      tests.push((r) => set.has(lower(r.Profile)));
    } else if (line.startsWith('| where ServiceResourceId in~')) {
      const set = new Set(literals(line).map((s) => s.toLowerCase()));
      tests.push((r) => set.has(lower(r.ServiceResourceId)));
    }
  }
  return (row) => tests.every((t) => t(row));
}

export interface Column { name: string; type: string }
export interface Result { columns: Column[]; rows: unknown[][] }

/** What the pushdown summarize computes, in JS. */
export function summarize(rows: readonly LaRow[], api: 'la' | 'adx'): Result {
  interface Group { keys: unknown[]; day: number; hits: number; good: number; bad: number; first: number; last: number; ops: Set<string> }
  const groups = new Map<string, Group>();
  for (const row of rows) {
    const time = Date.parse(String(row.TimeGenerated));
    const day = Math.floor(time / 86_400_000) * 86_400_000;
    const keys = GROUP_COLUMNS.map((c) => row[c] ?? '');
    const key = JSON.stringify([...keys, day]);
    let g = groups.get(key);
    if (!g) { g = { keys, day, hits: 0, good: 0, bad: 0, first: Infinity, last: -Infinity, ops: new Set() }; groups.set(key, g); }
    const count = row.Count === null || row.Count === undefined ? null : Number(row.Count);
    const ok = count === null || count >= 0;
    if (!ok) { g.bad++; continue; }
    g.good++;
    g.hits += count ?? 1;
    g.first = Math.min(g.first, time);
    const end = row.TimeGeneratedEndTime ? Date.parse(String(row.TimeGeneratedEndTime)) : time;
    g.last = Math.max(g.last, Math.max(time, end));
    if (g.ops.size < OPERATIONS_CAP) g.ops.add(String(row.OperationName ?? ''));
  }
  const iso = (ms: number): string | null => (Number.isFinite(ms) ? new Date(ms).toISOString() : null);
  return {
    columns: [
      ...GROUP_COLUMNS.map((name) => ({ name, type: 'string' })), { name: 'Day', type: 'datetime' },
      { name: 'Hits', type: 'long' }, { name: 'GoodRows', type: 'long' }, { name: 'BadCountRows', type: 'long' },
      { name: 'FirstSeen', type: 'datetime' }, { name: 'LastSeen', type: 'datetime' }, { name: 'Operations', type: 'dynamic' },
    ],
    rows: [...groups.values()].map((g) => [
      ...g.keys, iso(g.day), g.hits, g.good, g.bad, iso(g.first), iso(g.last),
      // Log Analytics sends dynamic cells as JSON text; Data Explorer's v2 frames as JSON values.
      api === 'la' ? JSON.stringify([...g.ops]) : [...g.ops],
    ]),
  };
}

export function project(rows: readonly LaRow[]): Result {
  const type = (c: string): string => (c === 'Count' ? 'int' : c.startsWith('TimeGenerated') ? 'datetime' : 'string');
  return { columns: RAW_COLUMNS.map((name) => ({ name, type: type(name) })), rows: rows.map((r) => RAW_COLUMNS.map((c) => r[c] ?? null)) };
}

const TRUNCATED_LA = {
  code: 'PartialError', message: 'There were some errors when processing your query.',
  details: [{
    code: 'EngineError', message: 'Something went wrong processing your query on the server.',
    innererror: { code: '-2133196797', message: 'Query result set has exceeded the internal record count limit 500000 (E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)', severity: 2, severityName: 'Error' },
  }],
};

function adxFrames(result: Result, truncated: boolean): unknown[] {
  return [
    { FrameType: 'DataSetHeader', IsProgressive: false, Version: 'v2.0' },
    { FrameType: 'DataTable', TableId: 0, TableKind: 'QueryProperties', TableName: '@ExtendedProperties', Columns: [{ ColumnName: 'TableId', ColumnType: 'int' }, { ColumnName: 'Key', ColumnType: 'string' }, { ColumnName: 'Value', ColumnType: 'dynamic' }], Rows: [] },
    { FrameType: 'DataTable', TableId: 1, TableKind: 'PrimaryResult', TableName: 'PrimaryResult', Columns: result.columns.map((c) => ({ ColumnName: c.name, ColumnType: c.type })), Rows: result.rows },
    { FrameType: 'DataTable', TableId: 2, TableKind: 'QueryCompletionInformation', TableName: 'QueryCompletionInformation', Columns: [{ ColumnName: 'Level', ColumnType: 'int' }, { ColumnName: 'Payload', ColumnType: 'string' }], Rows: [] },
    truncated
      ? { FrameType: 'DataSetCompletion', HasErrors: true, Cancelled: false, OneApiErrors: [{ error: { code: 'LimitsExceeded', message: 'Request is invalid and cannot be executed.', '@message': 'Query execution has exceeded the allowed limits (80DA0003): The Kusto query result set has exceeded the internal record count limit 500000 (E_QUERY_RESULT_SET_TOO_LARGE).' } }] }
      : { FrameType: 'DataSetCompletion', HasErrors: false, Cancelled: false },
  ];
}

const ARM_LIST = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/networkSecurityPerimeters\/([^/]+)\/profiles\/([^/]+)\/accessRules$/i;

/** Starts the fake on 127.0.0.1 with a fresh self-signed certificate. */
export async function startFakeAzure(options: FakeAzureOptions): Promise<FakeAzure> {
  const { key, cert } = selfSignedCert();
  const requests: RecordedRequest[] = [];
  const scopes: string[] = [];
  let queries = 0;
  let inFlight = 0;
  const attempts = new Map<string, number>();
  const fake: FakeAzure = {
    url: '', ca: cert, scopes, requests, maxInFlight: 0,
    credential: { getToken: async (scope) => { scopes.push(...(Array.isArray(scope) ? scope : [scope])); return { token: 'fake-token', expiresOnTimestamp: Date.now() + 3_600_000 }; } },
    close: async () => {},
  };

  const server = https.createServer({ key, cert }, (req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => { raw += c.toString('utf8'); });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://127.0.0.1');
      const recorded: RecordedRequest = { api: 'other', method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization };
      requests.push(recorded);
      const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        recorded.status = status;
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      };
      if (!req.headers.authorization?.startsWith('Bearer ')) { send(401, { error: { code: 'AuthorizationRequired', message: 'No bearer token' } }); return; }

      const arm = ARM_LIST.exec(url.pathname);
      if (req.method === 'GET' && arm) {
        recorded.api = 'arm';
        const profileId = url.pathname.replace(/\/accessRules$/i, '').toLowerCase();
        const rules = options.accessRules?.[profileId];
        if (!rules) send(404, { error: { code: 'ResourceNotFound', message: `The Resource '${arm[4]}' was not found.` } });
        else if (typeof rules === 'number') send(rules, { error: { code: 'AuthorizationFailed', message: 'The client does not have authorization to perform action' } });
        else send(200, { value: rules });
        return;
      }

      const la = /^\/v1\/workspaces\/([^/]+)\/query$/.exec(url.pathname);
      const adx = url.pathname === '/v2/rest/query';
      if (req.method !== 'POST' || (!la && !adx)) { send(404, { error: { code: 'PathNotFound', message: url.pathname } }); return; }
      const api = la ? 'la' : 'adx';
      recorded.api = api;
      const body = JSON.parse(raw) as { query?: string; timespan?: string; csl?: string; db?: string };
      const query = (la ? body.query : body.csl) ?? '';
      recorded.query = query;
      recorded.timespan = body.timespan;
      recorded.database = body.db;
      const m = WINDOW.exec(query);
      if (!m) { send(400, { error: { code: 'BadArgumentError', message: 'no window in query' } }); return; }
      const window = { start: Date.parse(m[1]!), end: Date.parse(m[2]!) };
      recorded.window = window;

      const windowKey = `${window.start}/${window.end}`;
      const attempt = (attempts.get(windowKey) ?? 0) + 1;
      attempts.set(windowKey, attempt);
      const fault = options.fault?.(window, attempt);
      if (fault === 'reset') { recorded.status = 0; req.socket.destroy(); return; }
      if (fault === 'hang') { recorded.status = 0; return; }

      if (queries++ < (options.throttle ?? 0)) {
        send(429, { error: { code: 'ThrottledError', message: 'Too many requests' } }, { 'retry-after': '0' });
        return;
      }
      const canned = options.answer?.(window, api);
      inFlight++;
      fake.maxInFlight = Math.max(fake.maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        if (canned) { send(canned.status, canned.body, canned.headers); return; }
        const keep = rowFilter(query);
        const rows = options.rows.filter((r) => {
          const t = Date.parse(String(r.TimeGenerated));
          return t >= window.start && t < window.end && keep(r);
        });
        const result = query.includes('| summarize ') ? summarize(rows, api) : project(rows);
        const cap = options.serverRowCap ?? Infinity;
        const truncated = result.rows.length > cap;
        if (truncated) result.rows = result.rows.slice(0, cap);
        if (api === 'la') {
          const answer: Record<string, unknown> = { tables: [{ name: 'PrimaryResult', columns: result.columns, rows: result.rows }] };
          if (truncated) answer.error = TRUNCATED_LA;
          send(200, answer);
        } else {
          send(200, adxFrames(result, truncated));
        }
      }, options.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return fake;
}
