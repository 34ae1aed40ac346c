// Ingest stage: the Azure sources. A Log Analytics workspace (LogsQueryClient) or a Data Explorer
// cluster (azure-kusto-data) is read in time chunks, aggregation pushed down into the engine
// (kql.ts); a chunk that is truncated or too big is split in halves until it fits or the run fails.
// Also lists the access rules in place on each profile through ARM (--existing-from-azure).

import { randomUUID } from 'node:crypto';
import https from 'node:https';
import type { TokenCredential } from '@azure/core-auth';
import { createRequire } from 'node:module';
import { ChunkCheckpoint } from './checkpoint.js';
import type { NetworkManagementClient } from '@azure/arm-network';
import type { LogsQueryClient } from '@azure/monitor-query-logs';

// The Azure SDKs are loaded on first use: most runs read files and should not pay for them.
const require = createRequire(import.meta.url);
const monitorQuery = (): typeof import('@azure/monitor-query-logs') => require('@azure/monitor-query-logs') as typeof import('@azure/monitor-query-logs');
const armNetwork = (): typeof import('@azure/arm-network') => require('@azure/arm-network') as typeof import('@azure/arm-network');
const kusto = (): typeof import('azure-kusto-data') => require('azure-kusto-data') as typeof import('azure-kusto-data');
import { NspError } from '../errors.js';
import type { ExistingRule } from '../model/existing-rules.js';
import { emptyAccount, type Issue, type SourceAccount } from '../model/issue.js';
import type { NspRecord } from '../model/record.js';
import type { RemoteSource } from '../pipeline.js';
import { clouds } from './azure-auth.js';
import { parseExistingRule } from './existing-rules.js';
import { buildQuery, pushdownRow, rawRow, type KqlFilters, type QueryWindow } from './kql.js';
import { canonicalPerimeterId, normalizeRow, parseLogTime } from './normalize.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Rows at which a result is taken as truncated: the query API returns at most 500,000 rows. */
export const DEFAULT_ROW_CAP = 500_000;
/** A chunk that still fails at this size fails the run. */
export const DEFAULT_MIN_CHUNK_MS = MINUTE_MS;
/** Chunk length (a day) and chunk queries in flight, unless told otherwise. */
export const DEFAULT_CHUNK_MS = DAY_MS;
export const DEFAULT_CONCURRENCY = 2;

// ---------------------------------------------------------------------------------------------
// Time windows

const UNIT_MS: Record<string, number> = { w: 7 * DAY_MS, d: DAY_MS, h: HOUR_MS, m: MINUTE_MS, s: 1000 };

/**
 * Parses a duration: `14d`, `36h`, `90m`, `30s`, `2w`, or ISO 8601 (`P14D`, `PT36H`, `P1DT12H`).
 * @returns milliseconds @throws NspError usage when it is not a positive duration
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  let ms = NaN;
  const simple = /^(\d+(?:\.\d+)?)\s*([wdhms])$/i.exec(s);
  if (simple) ms = Number(simple[1]) * UNIT_MS[simple[2]!.toLowerCase()]!;
  const iso = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(s);
  if (!simple && iso && s.length > 1 && !/T$/i.test(s)) {
    const [, w, d, h, m, sec] = iso;
    ms = (Number(w ?? 0) * 7 + Number(d ?? 0)) * DAY_MS + Number(h ?? 0) * HOUR_MS + Number(m ?? 0) * MINUTE_MS + Number(sec ?? 0) * 1000;
  }
  if (!Number.isFinite(ms) || ms <= 0) throw new NspError('usage', `Cannot read duration "${text}"`, { hint: 'Write a number and a unit: 14d, 36h, 90m (or ISO 8601: P14D)' });
  return Math.round(ms);
}

/** Parses a --start/--end time: ISO 8601 (a time without zone is UTC) or a date `2026-11-02` (midnight UTC). */
export function parseTime(text: string, what: string): number {
  const s = text.trim();
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(s) ? parseLogTime(`${s}T00:00:00Z`) : parseLogTime(s);
  if (Number.isNaN(ms)) throw new NspError('usage', `Cannot read ${what} "${text}" as a time`, { hint: 'Use ISO 8601, e.g. 2026-11-02 or 2026-11-02T08:00:00Z' });
  return ms;
}

/**
 * The query window from --since or --start/--end (end defaults to now; with neither, the last 14 days).
 * @throws NspError usage for both --since and --start, or an empty window
 */
export function resolveWindow(options: { since?: string; start?: string; end?: string; now: number }): QueryWindow {
  if (options.since !== undefined && options.start !== undefined) throw new NspError('usage', 'Cannot use --since with --start: give one of them');
  const end = options.end !== undefined ? parseTime(options.end, '--end') : options.now;
  const start = options.start !== undefined ? parseTime(options.start, '--start') : end - parseDuration(options.since ?? '14d');
  if (!(end > start)) throw new NspError('usage', `Cannot query an empty window: ${formatWindow({ start, end })}`);
  return { start, end };
}

/** `2026-11-02T00:00:00.000Z/2026-11-03T00:00:00.000Z`: how windows are named in accounts and errors. */
export function formatWindow(window: QueryWindow): string {
  return `${new Date(window.start).toISOString()}/${new Date(window.end).toISOString()}`;
}

/**
 * Cuts a window into chunks at multiples of `chunkMs` since the epoch (UTC midnights for 1 day),
 * so a day never straddles two chunks unless the chunk is shorter. The chunks cover the window
 * exactly: each starts where the previous ended.
 */
export function chunkWindow(window: QueryWindow, chunkMs: number): QueryWindow[] {
  if (!(chunkMs > 0)) throw new RangeError(`Cannot cut windows into chunks of ${chunkMs} ms`);
  const chunks: QueryWindow[] = [];
  let start = window.start;
  while (start < window.end) {
    const end = Math.min(window.end, (Math.floor(start / chunkMs) + 1) * chunkMs);
    chunks.push({ start, end });
    start = end;
  }
  return chunks;
}

function formatDuration(ms: number): string {
  if (ms % DAY_MS === 0) return `${ms / DAY_MS}d`;
  if (ms % HOUR_MS === 0) return `${ms / HOUR_MS}h`;
  if (ms % MINUTE_MS === 0) return `${ms / MINUTE_MS}m`;
  return `${ms / 1000}s`;
}

// ---------------------------------------------------------------------------------------------
// Chunked, split-on-limit execution

/** Thrown by a chunk query when the result is truncated or the query hit a size/time limit. */
class SplitNeeded extends Error {
  override readonly name = 'SplitNeeded';
}

/** Progress of a windowed read, after each chunk (in chunk order). */
export interface ChunkProgress {
  source: string;
  /** Chunks finished and the total (before any splitting). */
  done: number;
  total: number;
  window: QueryWindow;
  /** Result rows the chunk returned, all its splits included. */
  rows: number;
}

interface Leaf {
  window: QueryWindow;
  rows: Record<string, unknown>[];
}

/** A counting semaphore: at most `permits` queries in flight. */
class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(permits: number) { this.#free = permits; }
  async acquire(): Promise<void> {
    if (this.#free > 0) { this.#free--; return; }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }
  release(): void {
    const next = this.#waiting.shift();
    if (next) next(); else this.#free++;
  }
}

interface RunOptions {
  source: string;
  concurrency: number;
  minChunkMs: number;
  abortSignal?: AbortSignal;
  onProgress?: (progress: ChunkProgress) => void;
}

/**
 * Runs `query` over the chunks, `concurrency` queries in flight, and yields the results in chunk
 * order (splits in time order). A chunk whose query throws SplitNeeded is run again as two halves;
 * at `minChunkMs` it fails the run with an NspError naming the window. The first failure aborts
 * every other query.
 */
async function* runChunks(chunks: readonly QueryWindow[], query: (window: QueryWindow, signal: AbortSignal) => Promise<Record<string, unknown>[]>, options: RunOptions): AsyncGenerator<Leaf> {
  const controller = new AbortController();
  const outer = options.abortSignal;
  const onOuterAbort = (): void => controller.abort(outer?.reason);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  const semaphore = new Semaphore(options.concurrency);
  let failure: { error: unknown } | null = null;

  const solve = async (window: QueryWindow): Promise<Leaf[]> => {
    let reason: string;
    await semaphore.acquire();
    try {
      controller.signal.throwIfAborted();
      return [{ window, rows: await query(window, controller.signal) }];
    } catch (error) {
      if (!(error instanceof SplitNeeded)) throw error;
      reason = error.message;
    } finally {
      semaphore.release();
    }
    const length = window.end - window.start;
    if (length <= options.minChunkMs) {
      throw new NspError('input-invalid', `Cannot read ${options.source} for ${formatWindow(window)}: ${reason}, even in a window of ${formatDuration(length)}; the rules would miss this window`, {
        hint: 'Narrow the query with --perimeter, --profile or --resource (and drop --raw); if the service was overloaded, retry later with a lower --concurrency',
      });
    }
    // Halves run one after the other (other chunks keep the concurrency busy): a failure that no
    // window size cures then reaches the minimum depth-first, in ~log2(chunk/min) queries, not thousands.
    const mid = window.start + Math.floor(length / 2);
    const first = await solve({ start: window.start, end: mid });
    const second = await solve({ start: mid, end: window.end });
    return [...first, ...second];
  };

  const tasks: (Promise<Leaf[]> | undefined)[] = [];
  const launch = (i: number): void => {
    const task = solve(chunks[i]!).catch((error: unknown) => {
      if (!failure) { failure = { error }; controller.abort(error); }
      throw error;
    });
    task.catch(() => {}); // awaited in order below; this only keeps it from counting as unhandled
    tasks[i] = task;
  };
  let launched = 0;
  try {
    for (let i = 0; i < chunks.length; i++) {
      // Keep `concurrency` chunks ahead started, so their queries overlap while earlier ones are yielded.
      while (launched < chunks.length && launched <= i + options.concurrency) launch(launched++);
      let leaves: Leaf[];
      try {
        leaves = await tasks[i]!;
      } catch (error) {
        // A chunk aborted because a later one failed reports the later one's error.
        throw failure ? (failure as { error: unknown }).error : error;
      }
      tasks[i] = undefined;
      for (const leaf of leaves) yield leaf;
      options.onProgress?.({ source: options.source, done: i + 1, total: chunks.length, window: chunks[i]!, rows: leaves.reduce((n, l) => n + l.rows.length, 0) });
    }
  } finally {
    controller.abort(); // the consumer stopped early or something failed: stop what is still running
    outer?.removeEventListener('abort', onOuterAbort);
    await Promise.allSettled(tasks.filter((t): t is Promise<Leaf[]> => t !== undefined));
  }
}

/** Turns one window's result rows into records, keeping the window's account and reporting bad rows. */
function* windowRecords(leaf: Leaf, location: string, raw: boolean, account: SourceAccount, onIssue: (issue: Issue) => void): Generator<NspRecord> {
  const skip = (code: Issue['code'], message: string): void => {
    account.skipped[code] = (account.skipped[code] ?? 0) + 1;
    onIssue({ code, location, message });
  };
  for (const cells of leaf.rows) {
    if (raw) {
      account.rowsRead++;
      const result = normalizeRow(rawRow(cells));
      account.hitsRead += result.ok ? result.record.count : result.hits;
      if (!result.ok) { skip(result.code, result.message); continue; }
      account.rowsUsed++;
      account.hitsUsed += result.record.count;
      yield result.record;
      continue;
    }
    const group = pushdownRow(cells);
    // Rows with a negative Count are skipped by files one by one; here they arrive counted per group
    // and are accounted as one skipped row apart from the group's usable part.
    if (group.badCountRows > 0) {
      account.rowsRead++;
      skip('invalid-count', `Cannot read a negative Count: ${group.badCountRows} rows of one group`);
    }
    if (group.goodRows === 0) continue;
    account.rowsRead++;
    const result = normalizeRow(group.row);
    account.hitsRead += result.ok ? result.record.count : result.hits;
    if (!result.ok) { skip(result.code, `${result.message} (a group of ${group.goodRows} rows)`); continue; }
    account.rowsUsed++;
    account.hitsUsed += result.record.count;
    yield result.record;
    // The group's other operation names, as records of count 0: same flow, time and day, so they
    // add nothing but the name to the flow's operation sample.
    for (const name of group.operations.slice(1)) {
      const operation = name.trim();
      if (operation !== '' && operation !== result.record.operation) yield { ...result.record, count: 0, operation };
    }
  }
}

interface WindowedSourceOptions {
  name: string;
  chunks: QueryWindow[];
  raw: boolean;
  /**
   * --checkpoint: the folder, what identifies this source's query apart from its window, and the
   * latest window end that may be saved (later windows may still receive late rows).
   */
  checkpoint?: { dir: string; identity: string; until: number };
  concurrency: number;
  minChunkMs: number;
  onProgress?: (progress: ChunkProgress) => void;
  open(): { query: (window: QueryWindow, signal: AbortSignal) => Promise<Record<string, unknown>[]>; close?: () => void };
}

function windowedSource(options: WindowedSourceOptions): RemoteSource {
  return {
    name: options.name,
    async *read({ onIssue, accounts, abortSignal }) {
      const checkpoint = options.checkpoint ? new ChunkCheckpoint(options.checkpoint.dir, options.checkpoint.identity) : null;
      // Chunks a checkpoint already holds are replayed; the others are queried.
      const replay = new Map<number, Leaf[]>();
      if (checkpoint) {
        for (const [i, chunk] of options.chunks.entries()) {
          const saved = await checkpoint.tiling(chunk);
          if (saved) replay.set(i, saved);
        }
      }
      const { query, close } = options.open();
      try {
        const queried = runChunks(options.chunks.filter((_, i) => !replay.has(i)), query, {
          source: options.name, concurrency: options.concurrency, minChunkMs: options.minChunkMs, abortSignal, onProgress: options.onProgress,
        })[Symbol.asyncIterator]();
        for (const [i, chunk] of options.chunks.entries()) {
          const saved = replay.get(i);
          // Leaves come in chunk order, splits in time order: take this chunk's until its end.
          const leaves: AsyncIterable<Leaf> | Iterable<Leaf> = saved ?? (async function* () {
            for (;;) {
              const next = await queried.next();
              if (next.done) return;
              yield next.value;
              if (next.value.window.end >= chunk.end) return;
            }
          })();
          for await (const leaf of leaves) {
            const location = `${options.name} ${formatWindow(leaf.window)}`;
            const account = emptyAccount(location);
            accounts.push(account);
            yield* windowRecords(leaf, location, options.raw, account, onIssue);
            // Saved once its records are folded: a crash before this re-queries the window.
            if (!saved && checkpoint && leaf.window.end <= options.checkpoint!.until) await checkpoint.save(leaf);
          }
        }
        // Let the query runner finish (its last progress report, its cleanup); every chunk's
        // leaves were taken above, so it has nothing more to give.
        for (let next = await queried.next(); !next.done; next = await queried.next()) {
          throw new Error(`query window ${formatWindow(next.value.window)} came after every chunk was read`);
        }
      } finally {
        close?.();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Error classification

// Codes and texts of the engine's limits (https://aka.ms/kustoquerylimits) and gateway timeouts:
// a smaller window can get under them, so these split the chunk instead of failing the run.
const LIMIT_ERROR = /E_QUERY_RESULT_SET_TOO_LARGE|E_LOW_MEMORY_CONDITION|E_RUNAWAY_QUERY|ResponseSizeError|ResponsePayloadTooLarge|LimitsExceeded|QueryTimeout|GatewayTimeout|80DA0001|80DA0003|exceeded the (?:allowed|internal)|result set has exceeded|response size|too large|timed? ?out|timeout/i;

/** Every code and message in an error object, its details and inner errors. */
function errorTexts(error: unknown, depth = 0): string[] {
  if (depth > 6 || error === null || typeof error !== 'object') return typeof error === 'string' ? [error] : [];
  const texts: string[] = [];
  const obj = error as Record<string, unknown>;
  for (const key of ['code', 'message', '@message']) if (typeof obj[key] === 'string' || typeof obj[key] === 'number') texts.push(String(obj[key]));
  // `response.data` is where axios (Data Explorer) keeps the service's error body; only its codes and
  // messages are read, never the request or its headers.
  for (const key of ['details', 'innererror', 'innerError', 'error', 'response', 'data']) {
    const inner = obj[key];
    if (Array.isArray(inner)) for (const item of inner) texts.push(...errorTexts(item, depth + 1));
    else if (inner) texts.push(...errorTexts(inner, depth + 1));
  }
  return texts;
}

const isLimitError = (error: unknown): boolean => errorTexts(error).some((t) => LIMIT_ERROR.test(t));

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || (error as { code?: unknown }).code === 'ERR_CANCELED');
}

function statusOf(error: unknown): number | undefined {
  const e = error as { statusCode?: unknown; response?: { status?: unknown } } | null;
  if (typeof e?.statusCode === 'number') return e.statusCode;
  if (typeof e?.response?.status === 'number') return e.response.status;
  return undefined;
}

/** The service's own words for an error (codes and messages), never request headers or tokens. */
function describeError(error: unknown, status = statusOf(error)): string {
  const texts = errorTexts(error).filter((t, i, all) => all.indexOf(t) === i);
  let text = texts.join(': ') || (error instanceof Error ? error.message : String(error));
  if (text.length > 400) text = `${text.slice(0, 399)}…`;
  return status ? `HTTP ${status}: ${text}` : text;
}

const SIGN_IN_ERRORS = new Set(['CredentialUnavailableError', 'AuthenticationError', 'AggregateAuthenticationError', 'KustoAuthenticationError']);

/** Maps a query failure that splitting cannot fix to an NspError naming the source and window. */
function queryFailure(source: string, window: QueryWindow, error: unknown, full: unknown = error): NspError {
  const where = `${source} for ${formatWindow(window)}`;
  const status = statusOf(error);
  const describe = (): string => describeError(full, status);
  if (error instanceof Error && SIGN_IN_ERRORS.has(error.name)) {
    return new NspError('input-missing', `Cannot sign in to query ${source}: ${error.message.split('\n')[0]}`, { cause: error, hint: 'Sign in with "az login" or pick a credential with --auth (cli, device-code, managed-identity, env)' });
  }
  if (status === 401 || status === 403) {
    return new NspError('input-missing', `Cannot query ${where}: access denied (${describe()})`, { cause: error, hint: 'The identity needs read access to the logs (e.g. Log Analytics Reader on the workspace); check --cloud' });
  }
  if (status === 404) return new NspError('input-missing', `Cannot query ${where}: not found (${describe()})`, { cause: error, hint: 'Check the workspace id (a GUID), the cluster URL and database, and --cloud' });
  if (status === 429) return new NspError('input-invalid', `Cannot query ${where}: still throttled after retries (${describe()})`, { cause: error, hint: 'Retry later or lower --concurrency' });
  return new NspError('input-invalid', `Cannot query ${where}: ${describe()}`, { cause: error });
}

// ---------------------------------------------------------------------------------------------
// Log Analytics

/** What the Log Analytics and Data Explorer sources share. */
export interface AzureQueryOptions extends KqlFilters {
  /** The whole window; read in chunks. */
  window: QueryWindow;
  /** Chunk length (default 1 day). */
  chunkMs?: number;
  /** Chunk queries in flight at once (default 2). */
  concurrency?: number;
  /** Fetch the rows themselves instead of the pushed-down aggregation. */
  raw?: boolean;
  /** Table to query (default NSPAccessLogs; any other name goes in the bracket form). */
  table?: string;
  credential: TokenCredential;
  /** Extra trusted CA certificate(s), PEM (a local test server). */
  ca?: string;
  /** Retries of 429/5xx answers (default 3) and the base backoff delay (default 1 s). */
  maxRetries?: number;
  retryDelayMs?: number;
  /** Result rows taken as truncated (default 500,000). */
  rowCap?: number;
  /** Smallest window a failing chunk is split into (default 1 minute, at least 1 second). */
  minChunkMs?: number;
  onProgress?: (progress: ChunkProgress) => void;
  /** --checkpoint: save completed windows here and replay them on the next run. */
  checkpointDir?: string;
  /**
   * Windows ending after this (epoch ms) are not checkpointed: logs reach a workspace minutes late,
   * so a recent window may still grow (default: one hour before now).
   */
  checkpointUntil?: number;
  /**
   * A query with no answer after this long is abandoned and its window split, like a server-side
   * timeout (default: the server timeout, 180 s, plus 30 s): a hung connection never hangs the run.
   */
  queryTimeoutMs?: number;
}

/** What the Log Analytics and Data Explorer sources set the same way on windowedSource. */
function windowedSettings(name: string, options: AzureQueryOptions): Omit<WindowedSourceOptions, 'open'> {
  return {
    name,
    chunks: chunkWindow(options.window, options.chunkMs ?? DEFAULT_CHUNK_MS),
    raw: options.raw ?? false,
    checkpoint: checkpointOf(name, options),
    concurrency: options.concurrency ?? DEFAULT_CONCURRENCY,
    minChunkMs: Math.max(1000, options.minChunkMs ?? DEFAULT_MIN_CHUNK_MS),
    onProgress: options.onProgress,
  };
}

/** Checkpoint settings of a source: results are reusable for the same source and query text. */
function checkpointOf(name: string, options: AzureQueryOptions): { dir: string; identity: string; until: number } | undefined {
  if (!options.checkpointDir) return undefined;
  const query = buildQuery({ ...options, window: { start: 0, end: 1 } });
  return { dir: options.checkpointDir, identity: JSON.stringify({ name, query, raw: options.raw ?? false }), until: options.checkpointUntil ?? Date.now() - 3_600_000 };
}

/** A Log Analytics workspace to read, and how to reach it. */
export interface LogAnalyticsSourceOptions extends AzureQueryOptions {
  /** Workspace id (GUID). */
  workspaceId: string;
  /** Query API base URL with `/v1` (default: public cloud). */
  endpoint?: string;
  /** Token scope (default: public cloud's Log Analytics scope). */
  scope?: string;
  /** Server-side timeout per query, seconds (the service's default is 180, its maximum 600). */
  serverTimeoutSeconds?: number;
}

/**
 * A Log Analytics workspace as a RemoteSource: NSPAccessLogs queried per chunk with the pushdown
 * (or raw) query. One account per window read, named `workspace <id> <start>/<end>`. A truncated
 * or partial answer is never taken as complete: the chunk is split, or the run fails.
 */
export function logAnalyticsSource(options: LogAnalyticsSourceOptions): RemoteSource {
  const name = `workspace ${options.workspaceId}`;
  const rowCap = options.rowCap ?? DEFAULT_ROW_CAP;
  return windowedSource({
    ...windowedSettings(name, options),
    open() {
      const endpoint = options.endpoint ?? clouds.AzureCloud.logAnalytics;
      const client = new (monitorQuery().LogsQueryClient)(options.credential, {
        endpoint,
        credentials: { scopes: [options.scope ?? clouds.AzureCloud.logAnalyticsScope] },
        retryOptions: { maxRetries: options.maxRetries ?? 3, retryDelayInMs: options.retryDelayMs ?? 1000 },
        ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
      });
      const calls = attachCallContext(client);
      return {
        async query(window, signal) {
          const query = buildQuery({ ...options, window });
          const timeoutMs = options.queryTimeoutMs ?? ((options.serverTimeoutSeconds ?? 180) + 30) * 1000;
          const timeout = AbortSignal.timeout(timeoutMs);
          const call = calls.start(AbortSignal.any([signal, timeout]));
          let result;
          try {
            result = await client.queryWorkspace(options.workspaceId, query, { startTime: new Date(window.start), endTime: new Date(window.end) }, {
              requestOptions: { headers: { [CALL_HEADER]: call.id } },
              ...(options.serverTimeoutSeconds ? { serverTimeoutInSeconds: options.serverTimeoutSeconds } : {}),
            });
          } catch (error) {
            if (timeout.aborted && !signal.aborted) throw new SplitNeeded(`no answer within ${formatDuration(timeoutMs)}`);
            if (isAbort(error) || signal.aborted) throw signal.aborted ? signal.reason : error;
            const full = call.error() ?? error;
            const status = statusOf(error);
            if (status === 504 || status === 408 || status === 413 || isLimitError(full)) throw new SplitNeeded(describeError(full, status));
            throw queryFailure(name, window, error, full);
          } finally {
            calls.end(call.id);
          }
          if (result.status === monitorQuery().LogsQueryResultStatus.PartialFailure) {
            const full = call.error() ?? result.partialError;
            if (isLimitError(full)) throw new SplitNeeded(`partial result (${describeError(full)})`);
            throw new NspError('input-invalid', `Cannot read ${name} for ${formatWindow(window)}: the service returned a partial result (${describeError(full)})`, {
              hint: 'A partial result would silently drop flows, so the run stops; retry later',
            });
          }
          const table = result.tables[0];
          if (!table) return [];
          if (table.rows.length >= rowCap) throw new SplitNeeded(`the result reached ${rowCap} rows and may be truncated`);
          const names = table.columnDescriptors.map((c) => c.name ?? '');
          return table.rows.map((cells) => {
            const row: Record<string, unknown> = {};
            for (let i = 0; i < names.length; i++) row[names[i]!] = cells[i];
            return row;
          });
        },
      };
    },
  });
}

// LogsQueryClient 1.0.0 drops a call's abortSignal and onResponse, and its error deserializer drops
// the `innererror` of each detail, which is where the engine names the limit it hit
// (E_QUERY_RESULT_SET_TOO_LARGE under a generic "PartialError"/"EngineError"). A pipeline policy
// recovers both: a call is tagged with a header, and the policy gives its request the call's
// abort signal and keeps its final response so the full error can be read.
const CALL_HEADER = 'x-nsp-advisor-call';

type PipelinePolicy = Parameters<LogsQueryClient['pipeline']['addPolicy']>[0];
type PipelineResponse = Awaited<ReturnType<PipelinePolicy['sendRequest']>>;

interface CallContexts {
  start(signal: AbortSignal): { id: string; error(): unknown };
  end(id: string): void;
}

function attachCallContext(client: LogsQueryClient): CallContexts {
  const calls = new Map<string, { signal: AbortSignal; response?: PipelineResponse }>();
  let next = 0;
  client.pipeline.addPolicy({
    name: 'nspAdvisorCallContext',
    async sendRequest(request, send) {
      const id = request.headers.get(CALL_HEADER);
      const call = id ? calls.get(id) : undefined;
      if (id) request.headers.delete(CALL_HEADER);
      if (call) request.abortSignal = call.signal;
      const response = await send(request);
      if (call) call.response = response;
      return response;
    },
  });
  return {
    start(signal) {
      const id = String(next++);
      const call: { signal: AbortSignal; response?: PipelineResponse } = { signal };
      calls.set(id, call);
      return {
        id,
        // Parsed only when needed: answers with errors are small, successes are never re-parsed.
        error() {
          const text = call.response?.bodyAsText;
          if (!text) return undefined;
          try {
            return (JSON.parse(text) as { error?: unknown }).error;
          } catch {
            return undefined;
          }
        },
      };
    },
    end(id) { calls.delete(id); },
  };
}

// ---------------------------------------------------------------------------------------------
// Azure Data Explorer

/** A Data Explorer database to read (the table is `table`, default NSPAccessLogs). */
export interface DataExplorerSourceOptions extends AzureQueryOptions {
  /** Cluster URL, e.g. https://mycluster.westeurope.kusto.windows.net. */
  cluster: string;
  database: string;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> => new Promise((resolve, reject) => {
  if (signal.aborted) { reject(signal.reason); return; }
  const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = (): void => { clearTimeout(timer); reject(signal.reason); };
  signal.addEventListener('abort', onAbort, { once: true });
});

/**
 * A Data Explorer table as a RemoteSource: the same pushdown (or raw) query, the table named in
 * the bracket form. azure-kusto-data does not retry, so 429 and 5xx (but 504, which splits) are
 * retried here with exponential backoff. One account per window, `cluster <url> <db> <start>/<end>`.
 */
export function dataExplorerSource(options: DataExplorerSourceOptions): RemoteSource {
  const cluster = options.cluster.replace(/\/+$/, '');
  const name = `cluster ${cluster} ${options.database}`;
  const rowCap = options.rowCap ?? DEFAULT_ROW_CAP;
  const maxRetries = options.maxRetries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  return windowedSource({
    ...windowedSettings(name, options),
    open() {
      const { Client: KustoClient, KustoConnectionStringBuilder } = kusto();
      const client = new KustoClient(KustoConnectionStringBuilder.withTokenCredential(cluster, options.credential));
      if (options.ca) client.axiosInstance.defaults.httpsAgent = new https.Agent({ keepAlive: true, ca: options.ca });
      return {
        close: () => client.close(),
        async query(window, signal) {
          const query = buildQuery({ ...options, window });
          for (let attempt = 0; ; attempt++) {
            try {
              const properties = new (kusto().ClientRequestProperties)();
              properties.clientRequestId = `nsp-advisor;${randomUUID()}`;
              const onAbort = (): void => client.cancelToken.cancel();
              signal.addEventListener('abort', onAbort, { once: true });
              let response;
              try {
                response = await client.executeQuery(options.database, query, properties);
              } finally {
                signal.removeEventListener('abort', onAbort);
              }
              const table = response.primaryResults[0];
              if (!table) return [];
              // Keep datetimes as the service's ISO text; normalizeRow reads them (7 fraction digits too).
              table.dateTimeParser = (value) => value;
              const rows: Record<string, unknown>[] = [];
              for (const row of table.rows()) rows.push(row.toJSON());
              if (rows.length >= rowCap) throw new SplitNeeded(`the result reached ${rowCap} rows and may be truncated`);
              return rows;
            } catch (error) {
              if (error instanceof SplitNeeded) throw error;
              if (isAbort(error) || signal.aborted) throw signal.aborted ? signal.reason : error;
              const status = statusOf(error) ?? (error instanceof Error && error.name === 'ThrottlingError' ? 429 : undefined);
              if (status === 504 || status === 408 || status === 413 || isLimitError(error)) throw new SplitNeeded(describeError(error));
              const transient = status === 429 || (status !== undefined && status >= 500 && status !== 501 && status !== 505);
              if (!transient || attempt >= maxRetries) throw queryFailure(name, window, error);
              await sleep(Math.min(retryDelayMs * 2 ** attempt, 64_000), signal);
            }
          }
        },
      };
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Access rules in place (ARM)

/** A profile seen in the logs. */
export interface ProfileRef {
  /** Canonical perimeter id. */
  perimeterId: string;
  /** Profile name (any case). */
  profile: string;
}

/** How to reach ARM for listAccessRules(). */
export interface ListAccessRulesOptions {
  credential: TokenCredential;
  /** ARM base URL (default: public cloud) and token scope. */
  endpoint?: string;
  scope?: string;
  ca?: string;
  maxRetries?: number;
  retryDelayMs?: number;
  /** A profile that no longer exists (404) has no rules; this hears about it. */
  onWarning?: (message: string) => void;
}

const PERIMETER_PARTS = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/networkSecurityPerimeters\/([^/]+)$/;

/**
 * Lists the access rules of each profile through ARM
 * (`networkSecurityPerimeterAccessRules.list(rg, nsp, profile)`), parsed like a rules file.
 * @throws NspError input-missing when access is denied, input-invalid for other failures
 */
export async function listAccessRules(profiles: readonly ProfileRef[], options: ListAccessRulesOptions): Promise<ExistingRule[]> {
  const endpoint = (options.endpoint ?? clouds.AzureCloud.arm).replace(/\/+$/, '');
  const clients = new Map<string, NetworkManagementClient>();
  const seen = new Set<string>();
  const rules: ExistingRule[] = [];
  for (const ref of profiles) {
    const perimeterId = canonicalPerimeterId(ref.perimeterId);
    const m = PERIMETER_PARTS.exec(perimeterId);
    if (!m) throw new NspError('input-invalid', `Cannot list access rules: "${ref.perimeterId}" is not a perimeter id`);
    const subscription = m[1]!;
    const group = m[2]!;
    const perimeter = m[3]!;
    const profileId = `${perimeterId}/profiles/${ref.profile}`;
    if (seen.has(profileId.toLowerCase())) continue;
    seen.add(profileId.toLowerCase());
    let client = clients.get(subscription);
    if (!client) {
      client = new (armNetwork().NetworkManagementClient)(options.credential, subscription, {
        endpoint, $host: endpoint,
        credentialScopes: [options.scope ?? clouds.AzureCloud.armScope],
        retryOptions: { maxRetries: options.maxRetries ?? 3, retryDelayInMs: options.retryDelayMs ?? 1000 },
        ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
      });
      clients.set(subscription, client);
    }
    try {
      let index = 0;
      for await (const rule of client.networkSecurityPerimeterAccessRules.list(group, perimeter, ref.profile)) {
        rules.push(parseExistingRule(rule, `#${index++} of ${profileId} (ARM)`));
      }
    } catch (error) {
      if (error instanceof NspError) throw error;
      const status = statusOf(error);
      if (status === 404) { options.onWarning?.(`${profileId} not found in Azure: no rules in place assumed`); continue; }
      if (error instanceof Error && SIGN_IN_ERRORS.has(error.name)) {
        throw new NspError('input-missing', `Cannot sign in to list access rules: ${error.message.split('\n')[0]}`, { cause: error, hint: 'Sign in with "az login" or pick a credential with --auth' });
      }
      if (status === 401 || status === 403) {
        throw new NspError('input-missing', `Cannot list the access rules of ${profileId}: access denied (${describeError(error)})`, { cause: error, hint: 'The identity needs Microsoft.Network/networkSecurityPerimeters/profiles/accessRules/read (e.g. Reader on the perimeter)' });
      }
      throw new NspError('input-invalid', `Cannot list the access rules of ${profileId}: ${describeError(error)}`, { cause: error });
    }
  }
  return rules;
}
