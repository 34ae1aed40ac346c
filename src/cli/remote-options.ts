// CLI: the options that read NSP logs from Azure instead of files (Log Analytics workspaces, a Data
// Explorer cluster, storage accounts over the Blob API) and the rules in place from ARM, and the
// code that turns them into sources.
// Commands add remoteOptions() to their builder and call remoteSources()/existingFromAzure().

import type { TokenCredential } from '@azure/core-auth';
import type { Argv } from 'yargs';
import { NspError } from '../errors.js';
import { authModes, cloudNames, clouds, createCredential, type AuthMode, type CloudName } from '../ingest/azure-auth.js';
import {
  blobStorageSource, connectionStringAccount, containerNames, parseStorageUrl, sameAccount, type BlobProgress, type BlobStorageSourceOptions,
} from '../ingest/blob-storage.js';
import { DEFAULT_TABLE, filterClauses, type KqlFilters, type QueryWindow } from '../ingest/kql.js';
import {
  DEFAULT_CHUNK_MS, DEFAULT_CONCURRENCY, dataExplorerSource, listAccessRules, logAnalyticsSource, parseDuration, parseTime,
  resolveWindow, type AzureQueryOptions, type ChunkProgress, type ProfileRef,
} from '../ingest/log-analytics.js';
import type { ExistingRule } from '../model/existing-rules.js';
import type { FlowSummary } from '../model/flow-summary.js';
import type { RemoteSource } from '../pipeline.js';
import { stringList } from './command.js';
import type { CliDeps } from './deps.js';
import type { IO } from './io.js';

const GROUP = 'Azure sources:';

/** --since, --start, --end, --chunk: the time window read from Azure. */
export function windowOptions(yargs: Argv): Argv {
  return yargs
    .option('since', { type: 'string', group: GROUP, describe: 'Read this far back from now: 14d, 36h, 90m (default 14d)' })
    .option('start', { type: 'string', group: GROUP, describe: 'Window start, ISO 8601 (2026-11-02 or 2026-11-02T08:00:00Z; UTC when no zone)' })
    .option('end', { type: 'string', group: GROUP, describe: 'Window end, ISO 8601 (default now)' })
    .option('chunk', { type: 'string', default: '1d', group: GROUP, describe: 'Query the window in chunks of this length; a chunk that is too big is split further' });
}

/** --perimeter, --profile, --resource, --raw, --table: what the query reads. */
export function filterOptions(yargs: Argv): Argv {
  return yargs
    .option('perimeter', { type: 'string', array: true, group: GROUP, describe: 'Only this perimeter: a name or a full id (repeatable)' })
    .option('profile', { type: 'string', array: true, group: GROUP, describe: 'Only this profile (repeatable)' })
    .option('resource', { type: 'string', array: true, group: GROUP, describe: 'Only logs of this PaaS resource id, ServiceResourceId (repeatable)' })
    .option('raw', { type: 'boolean', default: false, group: GROUP, describe: 'Fetch the log rows instead of aggregating in Azure (small windows only)' })
    .option('table', { type: 'string', default: DEFAULT_TABLE, group: GROUP, describe: 'Table to query (a Data Explorer table, or a custom Log Analytics table)' });
}

/** Every remote option: sources, sign-in, window, filters, and --existing-from-azure. */
export function remoteOptions(yargs: Argv): Argv {
  return filterOptions(windowOptions(yargs
    .option('workspace', { type: 'string', array: true, group: GROUP, describe: 'Read NSPAccessLogs from this Log Analytics workspace id (repeatable)' })
    .option('cluster', { type: 'string', group: GROUP, describe: 'Read from this Azure Data Explorer cluster URL (with --database)' })
    .option('database', { type: 'string', group: GROUP, describe: 'Data Explorer database (with --cluster)' })
    .option('storage-account', { type: 'string', array: true, group: GROUP, describe: 'Read the insights-logs-* containers of this storage account: its blob URL, or one container\'s; a SAS URL signs in with the SAS (repeatable)' })
    .option('connection-string', { type: 'string', group: GROUP, describe: 'Read (or sign in to) the storage account of this connection string (default: AZURE_STORAGE_CONNECTION_STRING, for a --storage-account it names)' })
    .option('category', { type: 'string', array: true, group: GROUP, describe: 'Only the container of this log category, e.g. NspPublicInboundResourceRulesAllowed (repeatable; storage accounts)' })
    .option('auth', { choices: authModes, default: 'default' as AuthMode, group: GROUP, describe: 'How to sign in: DefaultAzureCredential, or only Azure CLI, device code, managed identity, or AZURE_* variables' })
    .option('cloud', { choices: cloudNames, default: 'AzureCloud' as CloudName, group: GROUP, describe: 'Azure cloud (endpoints and sign-in authority)' })
    .option('concurrency', { type: 'number', default: DEFAULT_CONCURRENCY, group: GROUP, describe: 'Chunk queries (or blobs) in flight at once (1–16)' })
    .option('checkpoint', { type: 'string', group: GROUP, describe: 'Save each query window read into this folder; a rerun resumes from it instead of querying again' })
    .option('existing-from-azure', { type: 'boolean', default: false, group: GROUP, describe: 'Subtract the access rules in place, read from Azure for every profile in the logs' })))
    .check((a) => {
      checkRemoteArgs(a as Record<string, unknown>);
      return true;
    });
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Validates the remote options (also used by the `kql` command). @throws Error with a usage message
 */
export function checkRemoteArgs(a: Record<string, unknown>): void {
  const fail = (message: string): never => { throw new Error(message); };
  const guard = (f: () => unknown): void => {
    try { f(); } catch (error) { fail((error as Error).message); }
  };
  if (a.since !== undefined && a.start !== undefined) fail('Give --since or --start, not both');
  if (typeof a.since === 'string') guard(() => parseDuration(a.since as string));
  if (typeof a.start === 'string') guard(() => parseTime(a.start as string, '--start'));
  if (typeof a.end === 'string') guard(() => parseTime(a.end as string, '--end'));
  if (typeof a.chunk === 'string') guard(() => parseDuration(a.chunk as string));
  guard(() => filterClauses(queryFilters(a)));
  if (a.concurrency !== undefined) {
    const n = a.concurrency as number;
    if (!Number.isInteger(n) || n < 1 || n > 16) fail('--concurrency must be an integer from 1 to 16');
  }
  for (const id of stringList(a.workspace)) if (!GUID.test(id.trim())) fail(`--workspace "${id}" is not a workspace id (a GUID, "Workspace ID" on the workspace's overview page)`);
  if ((a.cluster === undefined) !== (a.database === undefined)) fail('Give --cluster and --database together');
  if (typeof a.cluster === 'string') {
    let url: URL | null = null;
    try { url = new URL(a.cluster); } catch { /* reported below */ }
    if (!url || url.protocol !== 'https:') fail(`--cluster "${a.cluster}" is not an https:// URL`);
  }
  // parseStorageUrl's messages never hold the query string (a SAS).
  for (const url of stringList(a['storage-account'])) guard(() => parseStorageUrl(url));
  if (a['connection-string'] !== undefined) {
    if (typeof a['connection-string'] !== 'string' || a['connection-string'].trim() === '') fail('--connection-string needs a value');
    guard(() => connectionStringAccount(a['connection-string'] as string));
  }
  guard(() => containerNames(stringList(a.category)));
}

/** True when the arguments name a workspace, a cluster or a storage account (commands then need no paths). */
export function hasRemoteSource(args: Record<string, unknown>): boolean {
  return stringList(args.workspace).length > 0 || typeof args.cluster === 'string' ||
    stringList(args['storage-account']).length > 0 || typeof args['connection-string'] === 'string';
}

/** The filters from --perimeter, --profile, --resource. */
export function queryFilters(args: Record<string, unknown>): KqlFilters {
  return { perimeters: stringList(args.perimeter), profiles: stringList(args.profile), resources: stringList(args.resource) };
}

/** The window from --since / --start / --end (now from deps.azure.now when set). @throws NspError usage */
export function queryWindow(args: Record<string, unknown>, deps: CliDeps): QueryWindow {
  return resolveWindow({
    since: typeof args.since === 'string' ? args.since : undefined,
    start: typeof args.start === 'string' ? args.start : undefined,
    end: typeof args.end === 'string' ? args.end : undefined,
    now: deps.azure?.now?.() ?? Date.now(),
  });
}

/** Callbacks a command may give for what the Azure sources say while they run. */
export interface RemoteHooks {
  /** After each chunk of each source. */
  onProgress?: (progress: ChunkProgress) => void;
  /** After each blob of each storage account. */
  onBlobProgress?: (progress: BlobProgress) => void;
  /** The device-code sign-in prompt (--auth device-code). */
  onDeviceCode?: (message: string) => void;
  /** Not errors: e.g. a profile of the logs that no longer exists in Azure. */
  onWarning?: (message: string) => void;
}

/** Hooks that write to stderr: the sign-in prompt and warnings always, progress only on a terminal. */
export function stderrHooks(io: IO, quiet = false): RemoteHooks {
  return {
    onDeviceCode: (message) => io.stderr.write(`${message}\n`),
    onWarning: (message) => { if (!quiet) io.stderr.write(`warning: ${message}\n`); },
    onProgress: (p) => {
      if (quiet || !io.stderrIsTTY) return;
      io.stderr.write(p.done === p.total ? '\r\x1b[K' : `\r\x1b[Kquerying ${p.source}: ${p.done}/${p.total} chunks read, up to ${new Date(p.window.end).toISOString()}`);
    },
    onBlobProgress: (p) => {
      if (quiet || !io.stderrIsTTY) return;
      io.stderr.write(p.done === p.total ? '\r\x1b[K' : `\r\x1b[Kreading ${p.source}: ${p.done}/${p.total} blobs`);
    },
  };
}

// One credential per parsed command line, so remoteSources() and existingFromAzure() sign in once.
const credentials = new WeakMap<object, TokenCredential>();

function credentialFor(args: Record<string, unknown>, deps: CliDeps, hooks: RemoteHooks): TokenCredential {
  if (deps.azure?.credential) return deps.azure.credential;
  let credential = credentials.get(args);
  if (!credential) {
    credential = createCredential((args.auth as AuthMode | undefined) ?? 'default', cloudOf(args), { onDeviceCode: hooks.onDeviceCode });
    credentials.set(args, credential);
  }
  return credential;
}

const cloudOf = (args: Record<string, unknown>): CloudName => (args.cloud as CloudName | undefined) ?? 'AzureCloud';

/**
 * The sources the arguments name: one per --workspace, plus the --cluster/--database one.
 * Nothing is contacted until a source is read.
 */
export async function remoteSources(args: Record<string, unknown>, deps: CliDeps, hooks: RemoteHooks = {}): Promise<RemoteSource[]> {
  try {
    checkRemoteArgs(args); // the builder's check already ran under yargs; this covers direct callers
  } catch (error) {
    throw new NspError('usage', (error as Error).message);
  }
  if (!hasRemoteSource(args)) return [];
  const azure = deps.azure ?? {};
  const cloud = clouds[cloudOf(args)];
  const common: Omit<AzureQueryOptions, 'credential'> = {
    ...queryFilters(args),
    window: queryWindow(args, deps),
    chunkMs: typeof args.chunk === 'string' ? parseDuration(args.chunk) : DEFAULT_CHUNK_MS,
    concurrency: (args.concurrency as number | undefined) ?? DEFAULT_CONCURRENCY,
    raw: Boolean(args.raw),
    ca: azure.ca, maxRetries: azure.maxRetries, retryDelayMs: azure.retryDelayMs, rowCap: azure.rowCap, minChunkMs: azure.minChunkMs,
    queryTimeoutMs: azure.queryTimeoutMs,
    checkpointDir: typeof args.checkpoint === 'string' ? args.checkpoint : undefined,
    checkpointUntil: (azure.now?.() ?? Date.now()) - 3_600_000,
    onProgress: hooks.onProgress,
  };
  // Built on first need: a run that reads storage by SAS or connection string never loads @azure/identity.
  const credential = (): TokenCredential => credentialFor(args, deps, hooks);
  const table = typeof args.table === 'string' ? args.table : DEFAULT_TABLE;
  // The same workspace named twice is read once.
  const workspaces = [...new Set(stringList(args.workspace).map((w) => w.trim().toLowerCase()))];
  const sources: RemoteSource[] = workspaces.map((workspaceId) => logAnalyticsSource({
    ...common, credential: credential(), workspaceId, table,
    endpoint: azure.logAnalyticsEndpoint ?? cloud.logAnalytics, scope: cloud.logAnalyticsScope,
  }));
  if (typeof args.cluster === 'string' && typeof args.database === 'string') {
    sources.push(dataExplorerSource({ ...common, credential: credential(), cluster: args.cluster, database: args.database, table }));
  }
  sources.push(...storageSources(args, deps, hooks, common.window, credential));
  return sources;
}

/**
 * One source per --storage-account, signed in by its SAS, else by the connection string when that
 * names the same account, else by --auth; plus the account of a --connection-string no URL names.
 * AZURE_STORAGE_CONNECTION_STRING stands in for --connection-string, but only for an account a
 * --storage-account names: the variable alone never adds a source to a run.
 */
function storageSources(args: Record<string, unknown>, deps: CliDeps, hooks: RemoteHooks, window: QueryWindow, credential: () => TokenCredential): RemoteSource[] {
  const urls = stringList(args['storage-account']);
  const explicit = typeof args['connection-string'] === 'string' ? args['connection-string'] : undefined;
  if (urls.length === 0 && explicit === undefined) return [];
  const fromEnv = explicit === undefined && urls.length > 0 ? process.env.AZURE_STORAGE_CONNECTION_STRING?.trim() || undefined : undefined;
  const connectionString = explicit ?? fromEnv;
  const csAccount = connectionString !== undefined
    ? connectionStringAccount(connectionString, explicit !== undefined ? '--connection-string' : 'AZURE_STORAGE_CONNECTION_STRING')
    : undefined;
  const azure = deps.azure ?? {};
  const common: Omit<BlobStorageSourceOptions, 'url' | 'connectionString' | 'credential'> = {
    window,
    categories: stringList(args.category),
    perimeters: stringList(args.perimeter),
    concurrency: (args.concurrency as number | undefined) ?? DEFAULT_CONCURRENCY,
    maxRetries: azure.maxRetries, retryDelayMs: azure.retryDelayMs,
    now: azure.now?.() ?? Date.now(),
    onProgress: hooks.onBlobProgress, onWarning: hooks.onWarning,
  };
  if (stringList(args.profile).length > 0 || stringList(args.resource).length > 0) {
    // Blob folders are per perimeter only; reading part of a blob would differ from the same folder on disk.
    hooks.onWarning?.('--profile and --resource narrow queries, not storage accounts: every profile and resource of the blobs read is used');
  }
  let csUsed = false;
  const sources = urls.map((url) => {
    const target = parseStorageUrl(url);
    // A URL of the connection string's account is that account: reading it once is enough.
    if (csAccount !== undefined && sameAccount(target.accountUrl, csAccount)) csUsed = true;
    if (target.sas !== undefined) return blobStorageSource({ ...common, url });
    if (csAccount !== undefined && sameAccount(target.accountUrl, csAccount)) return blobStorageSource({ ...common, url, connectionString });
    return blobStorageSource({ ...common, url, credential: credential() });
  });
  if (explicit !== undefined && !csUsed) sources.push(blobStorageSource({ ...common, connectionString: explicit }));
  return sources;
}

/** The profiles a summary holds flows of, for existingFromAzure(). */
export function seenProfiles(summary: FlowSummary): ProfileRef[] {
  // Keyed by perimeter, then profile: no key string made per flow (a large summary has many).
  const seen = new Map<string, Map<string, ProfileRef>>();
  for (const flow of summary.flows.values()) {
    let profiles = seen.get(flow.perimeterId);
    if (!profiles) { profiles = new Map(); seen.set(flow.perimeterId, profiles); }
    if (!profiles.has(flow.profile)) profiles.set(flow.profile, { perimeterId: flow.perimeterId, profile: flow.profile });
  }
  return [...seen.values()].flatMap((p) => [...p.values()]).sort((a, b) => (a.perimeterId + a.profile < b.perimeterId + b.profile ? -1 : 1));
}

/**
 * With --existing-from-azure, the access rules in place on the given profiles, read from ARM;
 * otherwise none.
 */
export async function existingFromAzure(args: Record<string, unknown>, deps: CliDeps, profiles: readonly ProfileRef[], hooks: RemoteHooks = {}): Promise<ExistingRule[]> {
  if (!args['existing-from-azure'] || profiles.length === 0) return [];
  const azure = deps.azure ?? {};
  const cloud = clouds[cloudOf(args)];
  return listAccessRules(profiles, {
    credential: credentialFor(args, deps, hooks),
    endpoint: azure.armEndpoint ?? cloud.arm, scope: cloud.armScope, ca: azure.ca,
    maxRetries: azure.maxRetries, retryDelayMs: azure.retryDelayMs, onWarning: hooks.onWarning,
  });
}
