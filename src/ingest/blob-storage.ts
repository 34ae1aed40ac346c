// Ingest stage: a storage-account archive read over the Blob API (@azure/storage-blob). Lists the
// insights-logs-<category> containers by their y=/m=/d=/h= folders (only the hours of the window,
// ±1 hour) and streams each PT1H.json blob through the same format readers as files.

import { PassThrough, type Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type { TokenCredential } from '@azure/core-auth';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { NspError } from '../errors.js';
import { categories, lookupCategory } from '../model/category.js';
import { emptyAccount, type Issue, type IssueCode, type SourceAccount } from '../model/issue.js';
import type { NspRecord } from '../model/record.js';
import type { RemoteSource } from '../pipeline.js';
import { inflateBounded } from './byte-source.js';
import { accountRowEvent, detectFormat, formats, readFailure, type DetectedKind } from './index.js';
import type { QueryWindow } from './kql.js';
import type { FormatReader } from './source.js';

// The SDK is loaded on first use: most runs read files and should not pay for it.
const require = createRequire(import.meta.url);
const storageBlob = (): typeof import('@azure/storage-blob') => require('@azure/storage-blob') as typeof import('@azure/storage-blob');

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Blobs in flight at once, unless told otherwise. */
export const DEFAULT_BLOB_CONCURRENCY = 2;
/**
 * Bytes of each blob in flight fetched ahead of the parser. Small blobs (the common case) arrive
 * whole while an earlier one is parsed; a big one is streamed with backpressure, never held whole.
 */
export const PREFETCH_BYTES = 2 << 20;
/** Inflated bytes looked at to decide the format (several whole lines of a PT1H.json). */
const HEAD_BYTES = 64 * 1024;

/** The container of a category: `insights-logs-<category in lower case>` (nsp-reference.md §3.1). */
export function containerOf(category: string): string {
  return `insights-logs-${category.trim().toLowerCase()}`;
}

/** The containers to read: one per category given (any known spelling), or one per known category. */
export function containerNames(only: readonly string[] = []): string[] {
  const names = only.length ? only.map((c) => {
    if (!lookupCategory(c)) throw new NspError('usage', `Cannot read category "${c}": not an NSP log category`, { hint: `Known categories: ${categories.map((k) => k.name).join(', ')}` });
    return containerOf(c);
  }) : categories.map((c) => containerOf(c.name));
  return [...new Set(names)].sort();
}

// ---------------------------------------------------------------------------------------------
// URLs and secrets

/** Where to read: the account's blob endpoint, maybe one container, maybe a SAS. */
export interface BlobTarget {
  /** Blob endpoint without query string or trailing slash, e.g. `https://acct.blob.core.windows.net` (`http://127.0.0.1:10000/devstoreaccount1` for an emulator). */
  accountUrl: string;
  /** Set when the URL names a container: only it is read. */
  container?: string;
  /** The SAS query string (without `?`): a secret, never printed. */
  sas?: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * Emulator URLs carry the account in the path (`http://127.0.0.1:10000/devstoreaccount1/container`),
 * like the SDK decides it: an IP address or localhost as the host.
 */
function isPathStyle(url: URL): boolean {
  return /^\[.*\]$|^(localhost|host\.docker\.internal)$|^\d{1,3}(\.\d{1,3}){3}$/.test(url.hostname);
}

/**
 * Reads `--storage-account`: an account or container URL, with a SAS query string or none.
 * http is accepted only on loopback (a local emulator), so a SAS never crosses a network in clear.
 * @throws NspError usage; the message never holds the query string
 */
export function parseStorageUrl(text: string): BlobTarget {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new NspError('usage', `--storage-account "${redactUrl(text)}" is not a URL`, { hint: 'Give the blob endpoint, e.g. https://myaccount.blob.core.windows.net (add a SAS as its query string, or sign in)' });
  }
  const shown = redactUrl(url.href);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new NspError('usage', `--storage-account "${shown}" is not an https:// URL (http only for a local emulator on loopback)`);
  }
  if (url.username || url.password) throw new NspError('usage', `--storage-account "${shown}" cannot hold a user name or password`);
  let sas: string | undefined;
  if (url.search.length > 1) {
    if (!url.searchParams.has('sig')) throw new NspError('usage', `The query string of --storage-account "${shown}" is not a SAS (it has no sig=)`, { hint: 'Paste the "Blob SAS URL" or "SAS token" the portal gives, or leave the query string out and sign in' });
    sas = url.search.slice(1);
  }
  const parts = url.pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  const accountParts = isPathStyle(url) ? 1 : 0;
  if (accountParts === 1 && parts.length === 0) throw new NspError('usage', `--storage-account "${shown}" names no account: an emulator URL ends in the account name (e.g. /devstoreaccount1)`);
  if (parts.length > accountParts + 1) throw new NspError('usage', `--storage-account "${shown}" is not an account or container URL`, { hint: 'Give the blob endpoint (https://myaccount.blob.core.windows.net) or one container of it' });
  const accountUrl = `${url.protocol}//${url.host}${accountParts ? `/${encodeURIComponent(parts[0]!)}` : ''}`;
  const container = parts[accountParts];
  return { accountUrl, ...(container !== undefined ? { container } : {}), ...(sas !== undefined ? { sas } : {}) };
}

/** A URL with its query string and fragment cut off (a SAS lives there), for messages and accounts. */
export function redactUrl(text: string): string {
  return text.replace(/[?#].*$/s, '');
}

/** Blanks anything that looks like a SAS signature, account key or SAS token in a text. */
export function redactSecrets(text: string): string {
  return text
    .replace(/([?&;\s]|^)(sig=)[^&;\s"'<]*/gi, '$1$2REDACTED')
    .replace(/(AccountKey=|SharedAccessSignature=)[^;\s"'<]*/gi, '$1REDACTED');
}

/**
 * The blob endpoint a connection string names, without query string (never the key or SAS).
 * @throws NspError usage (naming `what`, never the string itself)
 */
export function connectionStringAccount(connectionString: string, what = '--connection-string'): string {
  let endpoint: string;
  try {
    endpoint = redactUrl(storageBlob().BlobServiceClient.fromConnectionString(connectionString).url).replace(/\/+$/, '');
  } catch {
    throw new NspError('usage', `Cannot read ${what}: not a storage connection string`, {
      hint: 'Copy it from the account\'s "Access keys" page: DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net',
    });
  }
  // As for URLs: a SAS in a connection string must not cross a network in clear.
  const url = new URL(endpoint);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
    throw new NspError('usage', `Cannot use ${what}: its endpoint ${endpoint} is not https:// (http only for a local emulator on loopback)`);
  }
  return endpoint;
}

/** True when two blob endpoints are the same account (case of scheme and host ignored). */
export function sameAccount(a: string, b: string): boolean {
  const norm = (s: string): string => {
    const u = new URL(s);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`.toLowerCase();
  };
  try {
    return norm(a) === norm(b);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Time window → folders

/**
 * The hours whose blobs are read: every hour that overlaps the window widened by one hour on each
 * side, because blobs are filed by *receive* time (a record can sit in the next hour's blob, and at
 * an hour boundary writes go to both blobs). @returns hour-aligned [start, end)
 */
export function blobHours(window: QueryWindow): QueryWindow {
  return {
    start: Math.floor((window.start - HOUR_MS) / HOUR_MS) * HOUR_MS,
    end: Math.ceil((window.end + HOUR_MS) / HOUR_MS) * HOUR_MS,
  };
}

const pad = (n: number): string => String(n).padStart(2, '0');

/**
 * The folder prefixes below a perimeter's folder that hold the hours of `hours`: a whole UTC month
 * as one `y=/m=/` prefix, a whole day as one `y=/m=/d=/` prefix, the partial days at the ends hour
 * by hour (`…/h=HH/`). Listing these never lists a blob outside the hours, in few calls.
 */
export function timePrefixes(hours: QueryWindow): string[] {
  const prefixes: string[] = [];
  for (let t = hours.start; t < hours.end;) {
    const d = new Date(t);
    const month = `y=${d.getUTCFullYear()}/m=${pad(d.getUTCMonth() + 1)}/`;
    const nextMonth = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    if (t % DAY_MS === 0 && d.getUTCDate() === 1 && nextMonth <= hours.end) {
      prefixes.push(month);
      t = nextMonth;
      continue;
    }
    const day = `${month}d=${pad(d.getUTCDate())}/`;
    if (t % DAY_MS === 0 && t + DAY_MS <= hours.end) {
      prefixes.push(day);
      t += DAY_MS;
    } else {
      prefixes.push(`${day}h=${pad(d.getUTCHours())}/`);
      t += HOUR_MS;
    }
  }
  return prefixes;
}

const HOUR_OF_NAME = /(?:^|\/)y=(\d{4})\/m=(\d{2})\/d=(\d{2})\/h=(\d{2})\//;

/** The hour a blob is filed under (epoch ms), from its `y=/m=/d=/h=` path; undefined when it has none. */
export function blobHour(name: string): number | undefined {
  const m = HOUR_OF_NAME.exec(name);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]));
  return Number.isNaN(t) ? undefined : t;
}

// Folders between `resourceId=/` and the time folders; `*` is a name (subscription, group, perimeter).
// Fixed names are matched ignoring case, so a writer that spells them otherwise is still read.
const RESOURCE_LEVELS = ['SUBSCRIPTIONS', '*', 'RESOURCEGROUPS', '*', 'PROVIDERS', 'MICROSOFT.NETWORK', 'NETWORKSECURITYPERIMETERS', '*'] as const;

/** True when a perimeter folder (`…/SUBSCRIPTIONS/s/RESOURCEGROUPS/g/…/NETWORKSECURITYPERIMETERS/n/`) passes the --perimeter filters. */
function perimeterWanted(prefix: string, filters: readonly string[]): boolean {
  if (filters.length === 0) return true;
  const parts = prefix.split('/').filter((p) => p !== '');
  const sub = parts[2]?.toLowerCase();
  const group = parts[4]?.toLowerCase();
  const name = parts.at(-1)?.toLowerCase();
  return filters.some((f) => {
    const id = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.network\/networksecurityperimeters\/([^/]+)\/?$/i.exec(f.trim());
    if (id) return id[1]!.toLowerCase() === sub && id[2]!.toLowerCase() === group && id[3]!.toLowerCase() === name;
    return f.trim().toLowerCase() === name;
  });
}

// ---------------------------------------------------------------------------------------------
// Errors

interface SdkError { statusCode?: number; code?: string; message?: string; name?: string; details?: { errorCode?: string } }

const statusOf = (error: unknown): number | undefined => {
  const s = (error as SdkError | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
};

/** The service's error code and first message line, with any secret blanked; never the request. */
function describeError(error: unknown): string {
  const e = (error ?? {}) as SdkError;
  const status = statusOf(error);
  const code = e.details?.errorCode ?? (typeof e.code === 'string' && e.code !== 'REQUEST_SEND_ERROR' ? e.code : undefined);
  const message = (typeof e.message === 'string' ? e.message : String(error)).split('\n')[0]!.trim();
  let text = [status ? `HTTP ${status}` : '', code ?? '', message].filter((t) => t !== '').join(': ');
  if (text.length > 300) text = `${text.slice(0, 299)}…`;
  return redactSecrets(text);
}

const SIGN_IN_ERRORS = new Set(['CredentialUnavailableError', 'AuthenticationError', 'AggregateAuthenticationError']);

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** A failure that stops the run: sign-in, access denied, or a listing that cannot be done. */
function fatal(what: string, error: unknown): NspError {
  if (error instanceof NspError) return error;
  if (error instanceof Error && SIGN_IN_ERRORS.has(error.name)) {
    return new NspError('input-missing', `Cannot sign in to read ${what}: ${redactSecrets(error.message.split('\n')[0]!)}`, {
      hint: 'Sign in with "az login" or pick a credential with --auth; or give a SAS URL or --connection-string',
    });
  }
  const status = statusOf(error);
  if (status === 401 || status === 403) {
    return new NspError('input-missing', `Cannot read ${what}: access denied (${describeError(error)})`, {
      hint: 'The identity needs "Storage Blob Data Reader" on the account; a SAS needs read and list permissions (sp=rl) on containers and objects, and must not have expired',
    });
  }
  return new NspError('input-invalid', `Cannot read ${what}: ${describeError(error)}`, {
    hint: status === 503 || status === 500 ? 'The service was busy even after retries: retry later or lower --concurrency' : undefined,
  });
}

// ---------------------------------------------------------------------------------------------
// Client

/** A storage account (or one container of it) to read, and how to sign in. */
export interface BlobStorageSourceOptions {
  /**
   * Account or container URL (`--storage-account`), with a SAS query string or none. With neither
   * a SAS nor a connection string, `credential` signs the requests (Entra ID).
   */
  url?: string;
  /** A connection string (account key or SAS); names the account when `url` is not given. Never printed. */
  connectionString?: string;
  /** Used when neither `url` has a SAS nor a connection string is given (DefaultAzureCredential, …). */
  credential?: TokenCredential;
  /** The window: blobs of its hours ±1 hour are read (their records are not filtered by time). */
  window: QueryWindow;
  /** Categories to read (default: every NSP category); ignored for a container URL. */
  categories?: readonly string[];
  /** Only perimeter folders of these names or ids (`--perimeter`). */
  perimeters?: readonly string[];
  /** Blobs (and listing calls) in flight at once (default 2). */
  concurrency?: number;
  /** Retries of 500/503 answers (default 3) and the base backoff delay (default 1 s). */
  maxRetries?: number;
  retryDelayMs?: number;
  /** The time of the run (epoch ms, default now): decides which hours may still be written to. */
  now?: number;
  /** After each blob is read. */
  onProgress?: (progress: BlobProgress) => void;
  /** Not errors: e.g. an account without any insights-logs container. */
  onWarning?: (message: string) => void;
}

/** Progress of a storage read, after each blob (in blob order). */
export interface BlobProgress {
  source: string;
  done: number;
  total: number;
  /** The blob just read (URL without query string). */
  blob: string;
}

/** The client a source reads with, and what it may print about it. */
export interface BlobClientTarget {
  client: BlobServiceClient;
  /** The blob endpoint without any secret, e.g. `https://acct.blob.core.windows.net`. */
  accountUrl: string;
  /** The one container to read, when the URL named one. */
  container?: string;
}

/**
 * Builds the Blob service client for the options: SAS from the URL (anonymous credential), else the
 * connection string, else the token credential. Nothing is contacted.
 * @throws NspError usage when no way to sign in is given, or the URL and connection string disagree
 */
export function createBlobClient(options: Pick<BlobStorageSourceOptions, 'url' | 'connectionString' | 'credential' | 'maxRetries' | 'retryDelayMs'>): BlobClientTarget {
  const sdk = storageBlob();
  const pipeline = {
    retryOptions: {
      // Storage's own policy: 500 and 503 (ServerBusy, its throttling answer) and network errors,
      // with exponential backoff; 404s and 403s are final.
      maxTries: (options.maxRetries ?? 3) + 1,
      retryDelayInMs: options.retryDelayMs ?? 1000,
      maxRetryDelayInMs: Math.max(options.retryDelayMs ?? 1000, 60_000),
    },
    userAgentOptions: { userAgentPrefix: 'nsp-advisor' },
  };
  const target = options.url !== undefined ? parseStorageUrl(options.url) : undefined;
  if (target?.sas !== undefined) {
    const client = new sdk.BlobServiceClient(`${target.accountUrl}?${target.sas}`, new sdk.AnonymousCredential(), pipeline);
    return { client, accountUrl: target.accountUrl, ...(target.container !== undefined ? { container: target.container } : {}) };
  }
  if (options.connectionString !== undefined) {
    const accountUrl = connectionStringAccount(options.connectionString);
    if (target && !sameAccount(target.accountUrl, accountUrl)) {
      throw new NspError('usage', `The connection string is for ${accountUrl}, not ${target.accountUrl}`);
    }
    let client: BlobServiceClient;
    try {
      client = sdk.BlobServiceClient.fromConnectionString(options.connectionString, pipeline);
    } catch {
      throw new NspError('usage', 'Cannot read the connection string: not a storage connection string');
    }
    return { client, accountUrl, ...(target?.container !== undefined ? { container: target.container } : {}) };
  }
  if (!target) throw new NspError('usage', 'Cannot read a storage account without --storage-account or a connection string');
  if (!options.credential) throw new NspError('usage', `Cannot sign in to ${target.accountUrl}: give a SAS URL, a connection string or a credential`);
  const client = new sdk.BlobServiceClient(target.accountUrl, options.credential, pipeline);
  return { client, accountUrl: target.accountUrl, ...(target.container !== undefined ? { container: target.container } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Listing

/** A counting semaphore: at most `permits` calls in flight. */
class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(permits: number) { this.#free = permits; }
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await f();
    } finally {
      const next = this.#waiting.shift();
      if (next) next(); else this.#free++;
    }
  }
}

/** One blob to read, as listed. */
export interface ListedBlob {
  container: string;
  name: string;
  /** Length at listing time: only these bytes are read. */
  length: number;
  etag: string;
  /** `AppendBlob` for what diagnostic settings write. */
  blobType: string;
  /** The hour folder (epoch ms). */
  hour: number;
  /** URL without query string, for accounts and issues. */
  url: string;
}

class ContainerMissing extends Error {}

const isContainerMissing = (error: unknown): boolean => statusOf(error) === 404 && /ContainerNotFound/i.test(describeError(error));

interface ListContext {
  client: BlobServiceClient;
  accountUrl: string;
  limit: Semaphore;
  signal: AbortSignal;
}

/** The child folders of `prefix` (one delimiter listing, every page). */
async function childFolders(ctx: ListContext, container: ContainerClient, prefix: string): Promise<string[]> {
  return ctx.limit.run(async () => {
    const out: string[] = [];
    try {
      for await (const page of container.listBlobsByHierarchy('/', { prefix, abortSignal: ctx.signal }).byPage({ maxPageSize: 5000 })) {
        for (const p of page.segment.blobPrefixes ?? []) out.push(p.name);
      }
    } catch (error) {
      if (isContainerMissing(error)) throw new ContainerMissing();
      throw error;
    }
    return out;
  });
}

/** Every blob under `prefix` (a flat listing, every page). */
async function blobsUnder(ctx: ListContext, container: ContainerClient, containerName: string, prefix: string, hours: QueryWindow): Promise<ListedBlob[]> {
  return ctx.limit.run(async () => {
    const out: ListedBlob[] = [];
    try {
      for await (const page of container.listBlobsFlat({ prefix, abortSignal: ctx.signal }).byPage({ maxPageSize: 5000 })) {
        for (const item of page.segment.blobItems) {
          const hour = blobHour(item.name);
          if (hour === undefined || hour < hours.start || hour >= hours.end) continue;
          out.push({
            container: containerName, name: item.name, hour,
            length: item.properties.contentLength ?? 0,
            etag: item.properties.etag ?? '',
            blobType: item.properties.blobType ?? 'BlockBlob',
            url: `${ctx.accountUrl}/${containerName}/${item.name}`,
          });
        }
      }
    } catch (error) {
      if (isContainerMissing(error)) throw new ContainerMissing();
      throw error;
    }
    return out;
  });
}

/**
 * The blobs of one container in the hours: descends `resourceId=/…/NETWORKSECURITYPERIMETERS/<name>/`
 * folder by folder (delimiter listings), then lists each perimeter's day or hour folders.
 * @returns null when the container does not exist
 */
async function listContainer(ctx: ListContext, containerName: string, hours: QueryWindow, perimeters: readonly string[]): Promise<ListedBlob[] | null> {
  const container = ctx.client.getContainerClient(containerName);
  try {
    let folders = ['resourceId=/'];
    for (const level of RESOURCE_LEVELS) {
      const children = (await Promise.all(folders.map((f) => childFolders(ctx, container, f)))).flat();
      folders = children.filter((child) => {
        const segment = child.slice(0, -1).split('/').pop() ?? '';
        return level === '*' || segment.toUpperCase() === level;
      });
      if (folders.length === 0) return [];
    }
    folders = folders.filter((f) => perimeterWanted(f, perimeters));
    const prefixes = timePrefixes(hours);
    const lists = await Promise.all(folders.flatMap((f) => prefixes.map((p) => blobsUnder(ctx, container, containerName, f + p, hours))));
    return lists.flat();
  } catch (error) {
    if (error instanceof ContainerMissing) return null;
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading one blob

/** Reads from an iterator until at least `min` bytes (or the end) and gives back the rest with them in front. */
async function peekBytes(source: AsyncIterable<Buffer>, min: number): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  const taken: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < min) {
    const next = await it.next();
    if (next.done) { done = true; break; }
    taken.push(next.value);
    size += next.value.length;
  }
  async function* rest(): AsyncGenerator<Buffer> {
    for (const chunk of taken) yield chunk;
    if (done) return;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head: Buffer.concat(taken), rest: rest() };
}

/** Inflated bytes allowed before the ratio check applies (as for files). */
/** Where the content ended: whether its last byte is a newline, and how many lines it has. */
interface Tail { ended: boolean; lastByte: number; newlines: number }

async function* tracked(chunks: AsyncIterable<Buffer>, tail: Tail): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    if (chunk.length) {
      tail.lastByte = chunk[chunk.length - 1]!;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) tail.newlines++;
    }
    yield chunk;
  }
  tail.ended = true;
}

/**
 * Parses one blob's bytes exactly as a file is parsed (format detection, the format readers,
 * normalizeRow), keeping its account. In a blob that may still be written to (`open`), a last
 * line without a newline may be torn by an append in progress: it is not used, and is reported.
 */
async function* blobRecords(body: AsyncIterable<Buffer>, blob: ListedBlob, open: boolean, account: SourceAccount, report: (issue: Issue) => void, signal: AbortSignal): AsyncGenerator<NspRecord> {
  const fileIssue = (code: IssueCode, location: string, message: string): void => {
    account.fileIssues++;
    report({ code, location, message });
  };
  let lastLine = 0;
  let close = (): void => {};
  try {
    const raw = await peekBytes(body, 2);
    let content = raw.rest;
    if (raw.head.length >= 2 && raw.head[0] === 0x1f && raw.head[1] === 0x8b) {
      const inflated = inflateBounded(raw.rest, blob.url);
      content = inflated.chunks;
      close = inflated.close;
    }
    const tail: Tail = { ended: false, lastByte: -1, newlines: 0 };
    const { head, rest } = await peekBytes(tracked(content, tail), HEAD_BYTES);
    let kind: DetectedKind;
    try {
      kind = detectFormat(head);
    } catch {
      kind = 'unknown';
    }
    if (kind === 'arrow' || kind === 'unknown') {
      fileIssue('unknown-format', blob.url, kind === 'arrow'
        ? 'Cannot read a flow snapshot from Blob storage: download it and pass it with --flows'
        : 'Cannot detect the format: expected JSON lines, a JSON document, CSV or an Event Hubs Capture (Avro) file');
      return;
    }
    const reader: FormatReader = formats[kind];
    let tornReported = false;
    for await (const event of reader.read(rest)) {
      lastLine = event.line;
      const location = `${blob.url}:${event.line}`;
      // The last line, with no newline after it, of a blob still being appended to: the writer may
      // be in the middle of it. Using it could count a torn record (or a broken one as bad JSON), so
      // it is left for a later run, which reads it whole, and said here. Closed hours have no torn
      // lines: there a last line without newline is read like any other (as files are).
      if (open && kind === 'jsonl' && tail.ended && tail.lastByte !== 10 && event.line === tail.newlines + 1) {
        if (!tornReported) {
          tornReported = true;
          fileIssue('truncated-input', location, 'Cannot use the last line yet: the hour was still being written when the blob was listed and the line has no end; a later run reads it whole');
        }
        continue;
      }
      const record = accountRowEvent(event, location, account, report);
      if (record) yield record;
    }
  } catch (error) {
    if (signal.aborted) throw error; // the run is stopping: not this blob's fault
    const status = statusOf(error);
    if (status === 401 || status === 403) throw fatal(blob.url, error);
    const failure = readFailure(error);
    // The file reader's words for gzip endings and bombs; an I/O error gets the service's words, secrets blanked.
    fileIssue(failure.code, `${blob.url}:${lastLine + 1}`, failure.code === 'read-error'
      ? `Cannot read the rest of the blob: ${describeError(error)}; its remaining records are missing from this run`
      : failure.message);
  } finally {
    close();
  }
}

/** A download started ahead of the parser: its bytes, or why it could not be started. */
type Fetch = { ok: true; body: AsyncIterable<Buffer> } | { ok: false; error: unknown };

interface DownloadOptions {
  signal: AbortSignal;
  /** Times a dropped body is resumed from where it stopped. */
  maxResumes: number;
  retryDelayMs: number;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> => new Promise((resolve, reject) => {
  if (signal.aborted) { reject(signal.reason); return; }
  const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = (): void => { clearTimeout(timer); reject(signal.reason); };
  signal.addEventListener('abort', onAbort, { once: true });
});

/**
 * Starts reading the first `blob.length` bytes (the length listed). Diagnostic settings write
 * append blobs, whose bytes never change once written: these bytes are a consistent snapshot of the
 * blob at listing time whatever is appended meanwhile (left for a later run). Other blob types can
 * be rewritten, so their read is pinned to the listed ETag (412 when changed).
 *
 * A body that breaks off (a dropped connection) is resumed from the byte it stopped at, so nothing
 * is read twice or skipped. The SDK's own resumption is off: it takes a dropped socket for an abort.
 */
function startDownload(client: BlobServiceClient, blob: ListedBlob, options: DownloadOptions): { promise: Promise<Fetch>; destroy(): void } {
  const { signal } = options;
  const buffer = new PassThrough({ highWaterMark: PREFETCH_BYTES });
  let current: NodeJS.ReadableStream | undefined;
  const blobClient = client.getContainerClient(blob.container).getBlobClient(blob.name);
  const conditions = blob.blobType === 'AppendBlob' || blob.etag === '' ? {} : { ifMatch: blob.etag };
  const fetch = (offset: number) => blobClient.download(offset, blob.length - offset, { abortSignal: signal, conditions, maxRetryRequests: 0 });

  async function* bytes(first: Readable): AsyncGenerator<Buffer> {
    let offset = 0;
    let stream = first;
    for (let resumes = 0; ; resumes++) {
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          offset += chunk.length;
          yield chunk;
        }
        if (offset >= blob.length) return;
        throw new Error('the answer ended early');
      } catch (error) {
        if (signal.aborted) throw signal.reason ?? error;
        // An answer with a status (412: rewritten, 404: deleted) is final; a broken body is not.
        if (statusOf(error) !== undefined) throw error;
        if (resumes >= options.maxResumes) throw new Error(`the connection broke off at byte ${offset} of ${blob.length}, ${resumes + 1} times`);
      }
      await sleep(options.retryDelayMs * 2 ** resumes, signal);
      const response = await fetch(offset);
      current = response.readableStreamBody;
      if (!current) throw new Error('the answer has no body');
      // Read through the iterator below, which sees the error too; this keeps a break that comes
      // before the iterator listens from being an uncaught 'error' event.
      current.on('error', () => {});
      stream = current as Readable;
    }
  }

  const promise = fetch(0).then((response): Fetch => {
    current = response.readableStreamBody;
    if (!current) return { ok: false, error: new Error('the answer has no body') };
    // Prefetch: up to PREFETCH_BYTES flow in while earlier blobs are parsed; then backpressure.
    // A break before the parser gets here errors the buffer with nobody reading it yet: the
    // iterator in bytes() still sees the error (a destroyed stream keeps it), so this is no loss.
    current.on('error', (error: Error) => buffer.destroy(error));
    buffer.on('error', () => {});
    current.pipe(buffer);
    return { ok: true, body: bytes(buffer) };
  }, (error: unknown): Fetch => ({ ok: false, error }));
  return {
    promise,
    destroy() {
      buffer.destroy();
      (current as Readable | undefined)?.destroy?.();
    },
  };
}

/** The issue for a blob that could not be read at all; null when it must stop the run. */
function downloadIssue(blob: ListedBlob, error: unknown): Issue | null {
  const status = statusOf(error);
  if (status === 401 || status === 403 || (error instanceof Error && SIGN_IN_ERRORS.has(error.name))) return null;
  const why = status === 404
    ? 'it was deleted after it was listed'
    : status === 412
      ? 'it was rewritten after it was listed (not an append blob)'
      : status === 416
        ? 'it got shorter after it was listed'
        : 'the service did not answer, even after retries';
  return { code: 'read-error', location: blob.url, message: `Cannot read the blob: ${why} (${describeError(error)}); its records are missing from this run` };
}

// ---------------------------------------------------------------------------------------------
// The source

/**
 * A storage account archive as a RemoteSource: the insights-logs-<category> containers (or the one
 * container of a container URL), only the blobs filed under the window's hours ±1 hour, read
 * `concurrency` at a time and yielded in blob-name order, one account per blob named by its URL
 * (no query string). Records are not filtered by time: a blob is read whole, as the same folder
 * read from disk would be. A blob that cannot be read is an issue naming it, and the run goes on;
 * sign-in, access and listing failures stop the run.
 */
export function blobStorageSource(options: BlobStorageSourceOptions): RemoteSource {
  if (options.url === undefined && options.connectionString === undefined) throw new NspError('usage', 'Cannot read a storage account without its URL or a connection string');
  const named: BlobTarget = options.url !== undefined ? parseStorageUrl(options.url) : { accountUrl: connectionStringAccount(options.connectionString!) };
  const name = `storage ${named.accountUrl}${named.container !== undefined ? `/${named.container}` : ''}`;
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_BLOB_CONCURRENCY);
  return {
    name,
    async *read({ onIssue, accounts, abortSignal }) {
      const controller = new AbortController();
      const onOuterAbort = (): void => controller.abort(abortSignal?.reason);
      if (abortSignal?.aborted) controller.abort(abortSignal.reason);
      else abortSignal?.addEventListener('abort', onOuterAbort, { once: true });
      const started: { promise: Promise<Fetch>; destroy(): void }[] = [];
      try {
        const { client, accountUrl, container } = createBlobClient(options);
        const now = options.now ?? Date.now();
        const hours = blobHours(options.window);
        const ctx: ListContext = { client, accountUrl, limit: new Semaphore(concurrency), signal: controller.signal };
        const containers = container !== undefined ? [container] : containerNames(options.categories);
        let blobs: ListedBlob[] = [];
        let found = 0;
        try {
          const lists = await Promise.all(containers.map((c) => listContainer(ctx, c, hours, options.perimeters ?? [])));
          for (const [i, list] of lists.entries()) {
            if (list === null) {
              // Not every category is exported (diagnostic settings pick them): a missing container is normal.
              if (container !== undefined) throw new NspError('input-missing', `Cannot read ${accountUrl}/${containers[i]}: no such container`);
              continue;
            }
            found++;
            blobs.push(...list);
          }
        } catch (error) {
          if (isAbort(error) && abortSignal?.aborted) throw abortSignal.reason;
          throw fatal(name.replace(/^storage /, ''), error);
        }
        if (found === 0) options.onWarning?.(`${accountUrl} has no insights-logs-* container of the categories read: nothing was read from it`);
        const key = (b: ListedBlob): string => `${b.container}/${b.name}`;
        blobs = blobs.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

        const download: DownloadOptions = { signal: controller.signal, maxResumes: options.maxRetries ?? 3, retryDelayMs: options.retryDelayMs ?? 1000 };
        let launched = 0;
        const launch = (): void => {
          const blob = blobs[launched]!;
          // An empty blob (an hour just opened) needs no request.
          started[launched++] = blob.length === 0
            ? { promise: Promise.resolve<Fetch>({ ok: true, body: (async function* () {})() }), destroy() {} }
            : startDownload(client, blob, download);
        };
        for (let i = 0; i < blobs.length; i++) {
          while (launched < blobs.length && launched < i + concurrency) launch();
          const blob = blobs[i]!;
          const account = emptyAccount(blob.url);
          accounts.push(account);
          const fetched = await started[i]!.promise;
          if (!fetched.ok) {
            if (controller.signal.aborted) throw abortSignal?.reason ?? fetched.error;
            const issue = downloadIssue(blob, fetched.error);
            if (!issue) throw fatal(blob.url, fetched.error);
            account.fileIssues++;
            onIssue(issue);
          } else {
            // Written to until an hour after its own ends (late arrivals, boundary writes: the same
            // hour of slack the listing takes).
            const open = now < blob.hour + 2 * HOUR_MS;
            try {
              yield* blobRecords(fetched.body, blob, open, account, onIssue, controller.signal);
            } finally {
              started[i]!.destroy();
            }
          }
          options.onProgress?.({ source: name, done: i + 1, total: blobs.length, blob: blob.url });
        }
      } finally {
        controller.abort(); // the consumer stopped early or something failed: stop what is still running
        abortSignal?.removeEventListener('abort', onOuterAbort);
        for (const s of started) s?.destroy();
        await Promise.allSettled(started.map((s) => s?.promise));
      }
    },
  };
}
