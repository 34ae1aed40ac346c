// Storage-account archive over the Blob API, against Azurite behind a counting proxy (loopback): the
// rules of the folder on disk by SAS and connection string; only the window's hours ±1 read; deleted,
// throttled, rewritten, dropped and still-open blobs reported, never silent; no SAS or key in outputs.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import {
  AccountSASPermissions, BlobServiceClient, ContainerSASPermissions, SASProtocol, StorageSharedKeyCredential,
  generateAccountSASQueryParameters, generateBlobSASQueryParameters, type ContainerClient,
} from '@azure/storage-blob';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { summaryToJSON } from '../src/analyze/index.js';
import type { CliDeps } from '../src/cli/deps.js';
import { createTestIO } from '../src/cli/io.js';
import { main } from '../src/cli/main.js';
import { checkRemoteArgs, remoteSources } from '../src/cli/remote-options.js';
import {
  PREFETCH_BYTES, blobHour, blobHours, blobStorageSource, containerNames, createBlobClient, parseStorageUrl, redactSecrets, timePrefixes,
  type BlobStorageSourceOptions,
} from '../src/ingest/blob-storage.js';
import type { Issue } from '../src/model/issue.js';
import { gatherFlows } from '../src/pipeline.js';
import { DEV_ACCOUNT, DEV_KEY, devConnectionString, startAzurite, startProxy, storageError, type Azurite, type Proxy } from './helpers/azurite.js';

const ESTATE = 'fixtures/estate/storage-account';
const GOLDEN = readFileSync('test/golden/estate/expected.rules.json', 'utf8');
const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 10, 16, 12);
const WINDOW = ['--start', '2026-11-02', '--end', '2026-11-16'];
const deps: CliDeps = { azure: { now: () => NOW, maxRetries: 2, retryDelayMs: 1 } };
const PERIMETER_FOLDER = 'resourceId=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG-NSP/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYPERIMETERS/NSP-PROD';
/** A container no category maps to: the destructive cases live there, read by container URL. */
const SCRATCH = 'scratch';

/** Every fixture file as container + blob name. */
function fixtureBlobs(): { path: string; container: string; name: string }[] {
  const out: { path: string; container: string; name: string }[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir).sort()) {
      const full = join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const [container, ...rest] = relative(ESTATE, full).split(sep);
        out.push({ path: full, container: container!, name: rest.join('/') });
      }
    }
  };
  walk(ESTATE);
  return out;
}

let azurite: Azurite;
let proxy: Proxy;
let direct: BlobServiceClient;
let scratch: ContainerClient;
let sas: string;
const FIXTURES = fixtureBlobs();

async function pool<T>(items: readonly T[], n: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => { while (next < items.length) await f(items[next++]!); }));
}

beforeAll(async () => {
  azurite = await startAzurite();
  proxy = await startProxy(azurite.origin);
  direct = BlobServiceClient.fromConnectionString(azurite.connectionString);
  for (const c of new Set(FIXTURES.map((f) => f.container))) await direct.createContainer(c);
  // Append blobs, as diagnostic settings write them.
  await pool(FIXTURES, 16, async (f) => {
    const blob = direct.getContainerClient(f.container).getAppendBlobClient(f.name);
    const body = readFileSync(f.path);
    await blob.create();
    await blob.appendBlock(body, body.length);
  });
  scratch = (await direct.createContainer(SCRATCH)).containerClient;
  sas = generateAccountSASQueryParameters({
    permissions: AccountSASPermissions.parse('rl'), services: 'b', resourceTypes: 'sco',
    expiresOn: new Date(Date.now() + 3_600_000), protocol: SASProtocol.HttpsAndHttp,
  }, new StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY)).toString();
}, 30_000);

afterAll(async () => {
  await proxy?.close();
  await azurite?.stop();
});

afterEach(() => {
  proxy.hook = null;
  proxy.requests.length = 0;
  vi.unstubAllEnvs();
});

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = createTestIO();
  const code = await main(args, io, deps);
  return { code, out: io.out(), err: io.err() };
}

/** GETs of blob contents (not listings) the proxy saw, by decoded path. */
const blobGets = (): string[] => proxy.requests.filter((r) => r.method === 'GET' && !r.query.has('comp')).map((r) => r.path);
const listings = (): SeenList[] => proxy.requests.filter((r) => r.query.get('comp') === 'list').map((r) => ({ container: r.path.split('/')[2]!, prefix: r.query.get('prefix') ?? '' }));
interface SeenList { container: string; prefix: string }

const sigOf = (query: string): string => new URLSearchParams(query).get('sig')!;

/** Asserts no SAS signature or key shows in any of the texts. */
function expectNoSecrets(...texts: string[]): void {
  const sig = sigOf(sas);
  for (const text of texts) {
    expect(text).not.toContain(sig);
    expect(text).not.toContain(encodeURIComponent(sig));
    expect(text).not.toContain(DEV_KEY);
    expect(text).not.toMatch(/sig=(?!REDACTED)[^&\s]/);
  }
}

function source(over: Partial<BlobStorageSourceOptions> = {}) {
  return blobStorageSource({
    url: `${proxy.blobEndpoint}?${sas}`, window: { start: Date.UTC(2026, 10, 2), end: Date.UTC(2026, 10, 16) },
    concurrency: 4, now: NOW, maxRetries: 2, retryDelayMs: 1, ...over,
  });
}

async function gather(over: Partial<BlobStorageSourceOptions> = {}) {
  const issues: Issue[] = [];
  const flows = await gatherFlows({ paths: [], remote: [source(over)], onIssue: (i) => issues.push(i) });
  return { ...flows, issues };
}

const scratchName = (hour: number, file = 'PT1H.json'): string => {
  const d = new Date(hour);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${PERIMETER_FOLDER}/y=${d.getUTCFullYear()}/m=${p(d.getUTCMonth() + 1)}/d=${p(d.getUTCDate())}/h=${p(d.getUTCHours())}/m=00/${file}`;
};
const scratchUrl = (name: string): string => `${proxy.blobEndpoint}/${SCRATCH}/${name}`;
/** Whole lines of one fixture blob, to write scratch blobs from. */
const LINES = readFileSync(FIXTURES.find((f) => f.path.endsWith('PT1H.json') && readFileSync(f.path, 'utf8').split('\n').length > 4)!.path, 'utf8').split('\n').filter((l) => l !== '');

async function putAppend(name: string, text: string): Promise<void> {
  const blob = scratch.getAppendBlobClient(name);
  await blob.createIfNotExists();
  await blob.appendBlock(text, Buffer.byteLength(text));
}

describe('storage account over the Blob API', () => {
  it('gives byte-for-byte the rules of the folder on disk, by account SAS, reading each blob once', async () => {
    const r = await cli('recommend', '--storage-account', `${proxy.blobEndpoint}/?${sas}`, ...WINDOW, '--concurrency', '8');
    expect(r.err).toContain(`read storage ${proxy.blobEndpoint} (357 blobs): 496 rows = 496 used + 0 skipped; hits 4,599 read, 4,599 used\n`);
    expect(r.code).toBe(0);
    expect(r.out).toBe(GOLDEN);
    const gets = blobGets();
    expect(gets).toHaveLength(FIXTURES.length);
    expect(new Set(gets)).toEqual(new Set(FIXTURES.map((f) => `/${DEV_ACCOUNT}/${f.container}/${f.name}`)));
    expect(proxy.requests.every((r) => r.query.has('sig'))).toBe(true); // the SAS signed every request
    expectNoSecrets(r.out, r.err);
  });

  it('gives the same by --connection-string, and by AZURE_STORAGE_CONNECTION_STRING for the account named', async () => {
    const cs = devConnectionString(proxy.blobEndpoint);
    const byFlag = await cli('recommend', '--connection-string', cs, ...WINDOW);
    expect(byFlag.code).toBe(0);
    expect(byFlag.out).toBe(GOLDEN);
    expect(proxy.requests.some((r) => r.query.has('sig'))).toBe(false); // shared key, not a SAS
    vi.stubEnv('AZURE_STORAGE_CONNECTION_STRING', cs);
    const byEnv = await cli('analyze', '--storage-account', proxy.blobEndpoint, '--since', '1h');
    expect(byEnv.code).toBe(0);
    expect(byEnv.err).toMatch(/read 0 files/);
    // The variable alone adds no source: a run over files is unchanged.
    const files = await cli('analyze', join(ESTATE, FIXTURES[0]!.container));
    expect(files.code).toBe(0);
    expectNoSecrets(byFlag.out, byFlag.err, byEnv.err, files.err);
  });

  it('lists and reads only the blobs of the window hours ±1, whole, one account per blob without the SAS', async () => {
    const window = { start: Date.UTC(2026, 10, 5, 10), end: Date.UTC(2026, 10, 5, 12) };
    const remote = await gather({ window });
    const hours = new Set([9, 10, 11, 12].map((h) => Date.UTC(2026, 10, 5, h)));
    const expected = FIXTURES.filter((f) => hours.has(blobHour(f.name)!)).sort((a, b) => (`${a.container}/${a.name}` < `${b.container}/${b.name}` ? -1 : 1));
    expect(expected.length).toBeGreaterThan(5);
    expect(remote.accounts.map((a) => a.source)).toEqual(expected.map((f) => `${proxy.blobEndpoint}/${f.container}/${f.name}`));
    expect(blobGets().sort()).toEqual(expected.map((f) => `/${DEV_ACCOUNT}/${f.container}/${f.name}`).sort());
    // Listings: the resourceId= folders, then only the hours 09–12 of 11/05.
    for (const l of listings()) {
      const time = /y=(\d+)\/m=(\d+)\/d=(\d+)\/h=(\d+)\/$/.exec(l.prefix);
      if (time) expect(hours.has(Date.UTC(Number(time[1]), Number(time[2]) - 1, Number(time[3]), Number(time[4])))).toBe(true);
      else expect(l.prefix).toMatch(/^resourceId=\/([^/]+\/)*$/);
      expect(l.prefix).not.toMatch(/y=\d+\/m=\d+\/d=\d+\/$/); // no whole day listed for a 2-hour window
    }
    // Records are not filtered by time: the same blobs read from disk give the same flows.
    const disk = await gatherFlows({ paths: expected.map((f) => f.path) });
    expect(summaryToJSON(remote.summary)).toEqual(summaryToJSON(disk.summary));
    expect(remote.issues).toEqual([]);
    expectNoSecrets(JSON.stringify(remote.accounts));
  });

  it('lists whole days as one prefix, hours at the ends; a missing container is fine; --category and --perimeter narrow', async () => {
    expect(timePrefixes(blobHours({ start: Date.UTC(2026, 10, 2, 0), end: Date.UTC(2026, 10, 4, 0) }))).toEqual([
      'y=2026/m=11/d=01/h=23/', 'y=2026/m=11/d=02/', 'y=2026/m=11/d=03/', 'y=2026/m=11/d=04/h=00/',
    ]);
    expect(timePrefixes(blobHours({ start: Date.UTC(2026, 9, 31, 12), end: Date.UTC(2027, 0, 2) }))).toEqual([
      ...Array.from({ length: 13 }, (_, i) => `y=2026/m=10/d=31/h=${String(11 + i).padStart(2, '0')}/`), 'y=2026/m=11/', 'y=2026/m=12/', 'y=2027/m=01/d=01/', 'y=2027/m=01/d=02/h=00/',
    ]);
    expect(blobHours({ start: Date.UTC(2026, 10, 2, 10, 30), end: Date.UTC(2026, 10, 2, 11, 5) })).toEqual({ start: Date.UTC(2026, 10, 2, 9), end: Date.UTC(2026, 10, 2, 13) });

    const remote = await gather({ categories: ['NspPublicInboundResourceRulesAllowed', 'NspIntraPerimeterOutboundAllowed'], perimeters: ['nsp-prod'] });
    const containers = new Set(listings().map((l) => l.container));
    expect(containers).toEqual(new Set(['insights-logs-nsppublicinboundresourcerulesallowed', 'insights-logs-nspintraperimeteroutboundallowed']));
    expect(remote.accounts.length).toBeGreaterThan(0);
    for (const a of remote.accounts) expect(a.source).toContain('/insights-logs-nsppublicinboundresourcerulesallowed/resourceId=/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG-NSP/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYPERIMETERS/NSP-PROD/');
    const expected = FIXTURES.filter((f) => f.container === 'insights-logs-nsppublicinboundresourcerulesallowed' && f.name.includes('/NSP-PROD/'));
    expect(remote.accounts).toHaveLength(expected.length);
    expect(remote.issues).toEqual([]);

    // An account with none of the containers: a warning, not an error.
    const warnings: string[] = [];
    const empty = await gatherFlows({ paths: [], remote: [source({ categories: ['NSPInboundAccessDenied'], onWarning: (m) => warnings.push(m) })] });
    expect(empty.accounts).toEqual([]);
    expect(warnings).toEqual([`${proxy.blobEndpoint} has no insights-logs-* container of the categories read: nothing was read from it`]);
  });

  it('reads one container with a container SAS', async () => {
    const container = 'insights-logs-nspintraperimeterinboundallowed';
    const containerSas = generateBlobSASQueryParameters({
      containerName: container, permissions: ContainerSASPermissions.parse('rl'),
      expiresOn: new Date(Date.now() + 3_600_000), protocol: SASProtocol.HttpsAndHttp,
    }, new StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY)).toString();
    const r = await cli('analyze', '--storage-account', `${proxy.blobEndpoint}/${container}?${containerSas}`, ...WINDOW);
    expect(r.code).toBe(0);
    const expected = FIXTURES.filter((f) => f.container === container);
    expect(r.err).toContain(`read storage ${proxy.blobEndpoint}/${container} (${expected.length} blobs)`);
    expect(new Set(listings().map((l) => l.container))).toEqual(new Set([container]));
    expect(r.err + r.out).not.toContain(sigOf(containerSas));
  });

  it('retries 503 ServerBusy, and reports a blob that stays unavailable, naming it, while the run goes on', async () => {
    const [first, second] = FIXTURES.filter((f) => f.container === 'insights-logs-nspintraperimeterinboundallowed' && blobHour(f.name)! >= Date.UTC(2026, 10, 6) && blobHour(f.name)! < Date.UTC(2026, 10, 7));
    expect(second).toBeDefined();
    const path = (f: typeof first): string => `/${DEV_ACCOUNT}/${f!.container}/${f!.name}`;
    let busyOnce = true;
    proxy.hook = (req) => {
      if (req.method !== 'GET' || req.query.has('comp')) return;
      if (req.path === path(first) && busyOnce) { busyOnce = false; return storageError(503, 'ServerBusy', 'The server is busy.'); }
      if (req.path === path(second)) return storageError(503, 'ServerBusy', 'The server is busy.');
    };
    const remote = await gather({ window: { start: Date.UTC(2026, 10, 6), end: Date.UTC(2026, 10, 7) } });
    expect(blobGets().filter((p) => p === path(first))).toHaveLength(2);
    expect(blobGets().filter((p) => p === path(second))).toHaveLength(3); // 1 + maxRetries
    const url = `${proxy.blobEndpoint}/${second!.container}/${second!.name}`;
    expect(remote.issues).toEqual([{ code: 'read-error', location: url, message: expect.stringMatching(/^Cannot read the blob: the service did not answer, even after retries \(HTTP 503: ServerBusy/) }]);
    const account = remote.accounts.find((a) => a.source === url)!;
    expect(account.fileIssues).toBe(1);
    expect(account.rowsRead).toBe(0);
    expect(remote.accounts.find((a) => a.source.endsWith(first!.name) && a.source.includes(first!.container))!.rowsUsed).toBeGreaterThan(0);
    expect(remote.accounts.length).toBeGreaterThan(2);
    expectNoSecrets(JSON.stringify(remote.issues), JSON.stringify(remote.accounts));
  });

  it('reports a blob deleted after listing (404), and one rewritten after listing (412), and goes on', async () => {
    const hour = Date.UTC(2026, 10, 5, 10);
    const gone = scratchName(hour);
    const rewritten = scratchName(hour + HOUR, 'PT1H.json');
    const kept = scratchName(hour + 2 * HOUR);
    await putAppend(gone, `${LINES[0]}\n`);
    await scratch.getBlockBlobClient(rewritten).upload(`${LINES[1]}\n`, Buffer.byteLength(`${LINES[1]}\n`));
    await putAppend(kept, `${LINES[2]}\n`);
    proxy.hook = async (req) => {
      if (req.method !== 'GET' || req.query.has('comp')) return;
      if (req.path === `/${DEV_ACCOUNT}/${SCRATCH}/${gone}`) await scratch.deleteBlob(gone);
      if (req.path === `/${DEV_ACCOUNT}/${SCRATCH}/${rewritten}`) await scratch.getBlockBlobClient(rewritten).upload(`${LINES[3]}\n`, Buffer.byteLength(`${LINES[3]}\n`));
    };
    const r = await cli('analyze', '--storage-account', `${proxy.blobEndpoint}/${SCRATCH}?${sas}`, '--start', '2026-11-05T10:00:00Z', '--end', '2026-11-05T13:00:00Z');
    expect(r.code).toBe(0);
    expect(r.err).toContain(`warning: ${scratchUrl(gone)}: read-error: Cannot read the blob: it was deleted after it was listed (HTTP 404: BlobNotFound`);
    expect(r.err).toContain(`warning: ${scratchUrl(rewritten)}: read-error: Cannot read the blob: it was rewritten after it was listed (not an append blob) (HTTP 412: ConditionNotMet`);
    expect(r.err).toMatch(/read storage \S+\/scratch \(3 blobs\): 1 rows = 1 used \+ 0 skipped; hits [\d,]+ read, [\d,]+ used; 2 file issues/);
    const strict = await cli('analyze', '--storage-account', `${proxy.blobEndpoint}/${SCRATCH}?${sas}`, '--start', '2026-11-05T10:00:00Z', '--end', '2026-11-05T13:00:00Z', '--strict');
    expect(strict.code).toBe(2); // the rewrite happens again: an issue fails --strict
    expectNoSecrets(r.out, r.err, strict.err);
    await scratch.deleteBlob(rewritten);
    await scratch.deleteBlob(kept);
  });

  it('reads an hour still being written up to its listed length, and holds back a torn last line with an issue', async () => {
    const hour = Date.UTC(2026, 10, 6, 8);
    const name = scratchName(hour);
    const torn = LINES[2]!.slice(0, 40);
    await putAppend(name, `${LINES[0]}\n${LINES[1]}\n${torn}`);
    // An append lands between listing and reading: the read stops at the listed length.
    proxy.hook = async (req) => {
      if (req.method === 'GET' && !req.query.has('comp') && req.path.endsWith(name)) {
        const more = `${LINES[2]!.slice(40)}\n${LINES[3]}\n`;
        await scratch.getAppendBlobClient(name).appendBlock(more, Buffer.byteLength(more));
      }
    };
    const url = `${proxy.blobEndpoint}/${SCRATCH}?${sas}`;
    const open = await gather({ url, window: { start: hour, end: hour + HOUR }, now: hour + 30 * 60_000 });
    expect(open.accounts).toHaveLength(1);
    expect(open.accounts[0]).toMatchObject({ source: scratchUrl(name), rowsRead: 2, rowsUsed: 2, fileIssues: 1 });
    expect(open.issues).toEqual([{ code: 'truncated-input', location: `${scratchUrl(name)}:3`, message: expect.stringMatching(/^Cannot use the last line yet: the hour was still being written/) }]);

    // A later run, the hour closed: the whole blob, the completed line included, and nothing twice.
    proxy.hook = null;
    const later = await gather({ url, window: { start: hour, end: hour + HOUR }, now: hour + 5 * HOUR });
    expect(later.accounts[0]).toMatchObject({ rowsRead: 4, rowsUsed: 4, fileIssues: 0 });
    expect(later.issues).toEqual([]);

    // A closed hour whose last line has no newline is read like a file: a broken one is bad JSON.
    const closed = scratchName(hour - 5 * HOUR);
    await putAppend(closed, `${LINES[0]}\n${torn}`);
    const old = await gather({ url, window: { start: hour - 5 * HOUR, end: hour - 4 * HOUR }, now: hour });
    expect(old.accounts[0]).toMatchObject({ rowsRead: 2, rowsUsed: 1 });
    expect(old.issues).toEqual([expect.objectContaining({ code: 'invalid-json', location: `${scratchUrl(closed)}:2` })]);
    await scratch.deleteBlob(name);
    await scratch.deleteBlob(closed);
  });

  it('streams a blob bigger than the prefetch buffer, resuming a dropped connection without reading a byte twice', async () => {
    const hour = Date.UTC(2026, 10, 7, 8);
    const big = scratchName(hour);
    const small = scratchName(hour + HOUR);
    // ~5 MB of whole lines, in two append blocks; then a small blob after it, read in parallel.
    const lines: string[] = [];
    for (let size = 0; size < 5 * PREFETCH_BYTES / 2;) { const l = LINES[lines.length % LINES.length]!; lines.push(l); size += l.length + 1; }
    const half = Math.floor(lines.length / 2);
    await putAppend(big, `${lines.slice(0, half).join('\n')}\n`);
    await putAppend(big, `${lines.slice(half).join('\n')}\n`);
    await putAppend(small, `${LINES[0]}\n`);
    let cut = true;
    proxy.hook = (req) => {
      if (req.method !== 'GET' || req.query.has('comp')) return;
      if (req.path.endsWith(big) && cut) { cut = false; return { cutAfter: 3_000_000 }; }
      if (req.path.endsWith(small)) return { cutAfter: 100 }; // every time: given up after the retries, reported
    };
    const progress: string[] = [];
    const remote = await gather({ url: `${proxy.blobEndpoint}/${SCRATCH}?${sas}`, window: { start: hour, end: hour + 2 * HOUR }, onProgress: (p) => progress.push(`${p.done}/${p.total}`) });
    expect(remote.issues).toEqual([{ code: 'read-error', location: `${scratchUrl(small)}:1`, message: expect.stringMatching(/^Cannot read the rest of the blob: the connection broke off at byte \d+ of \d+, 3 times; its remaining records are missing from this run$/) }]);
    expect(remote.accounts.map((a) => [a.source, a.rowsRead, a.rowsUsed, a.fileIssues])).toEqual([[scratchUrl(big), lines.length, lines.length, 0], [scratchUrl(small), 0, 0, 1]]);
    expect(blobGets().filter((p) => p.endsWith(big))).toHaveLength(2); // the cut, then the rest from where it stopped
    expect(progress).toEqual(['1/2', '2/2']);
    await scratch.deleteBlob(big);
    await scratch.deleteBlob(small);
  });

  it('stops the run on access denied or a bad SAS, naming the account, never the signature', async () => {
    const forged = sas.replace(/sig=[^&]+/, `sig=${encodeURIComponent('AAAA'.repeat(11))}`);
    const r = await cli('analyze', '--storage-account', `${proxy.blobEndpoint}?${forged}`, '--since', '2h');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(new RegExp(`nsp-advisor: Cannot read ${proxy.blobEndpoint}: access denied \\(HTTP 403`));
    expect(r.err).toContain('hint: The identity needs "Storage Blob Data Reader"');
    expect(r.err).not.toContain('AAAAAAAA');
    expectNoSecrets(r.err);
  });

  it('builds the client with the --auth credential when there is no SAS or connection string (no token flow here)', async () => {
    const credential: TokenCredential = { getToken: async (): Promise<AccessToken> => { throw new Error('not in tests'); } };
    const { client, accountUrl, container } = createBlobClient({ url: 'https://acct.blob.core.windows.net/insights-logs-nspoutboundattempt', credential });
    expect(client.credential).toBe(credential);
    expect(client.url).toBe('https://acct.blob.core.windows.net/');
    expect(accountUrl).toBe('https://acct.blob.core.windows.net');
    expect(container).toBe('insights-logs-nspoutboundattempt');
    const sources = await remoteSources({ 'storage-account': ['https://acct.blob.core.windows.net'], since: '1d' }, { azure: { credential, now: () => NOW } });
    expect(sources.map((s) => s.name)).toEqual(['storage https://acct.blob.core.windows.net']);
    // A SAS URL signs by itself; a matching connection string signs its account.
    expect(createBlobClient({ url: `https://acct.blob.core.windows.net/?${sas}` }).client.credential.constructor.name).toBe('AnonymousCredential');
    const cs = createBlobClient({ url: azurite.blobEndpoint, connectionString: azurite.connectionString });
    expect(cs.client.credential.constructor.name).toBe('StorageSharedKeyCredential');
    expect(() => createBlobClient({ url: 'https://other.blob.core.windows.net', connectionString: azurite.connectionString })).toThrow(/connection string is for http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1, not https:\/\/other/);
  });

  it('checks URLs, categories and connection strings without echoing secrets', () => {
    expect(parseStorageUrl('https://acct.blob.core.windows.net/')).toEqual({ accountUrl: 'https://acct.blob.core.windows.net' });
    expect(parseStorageUrl('https://acct.blob.core.windows.net/c1?sv=1&sig=abc')).toEqual({ accountUrl: 'https://acct.blob.core.windows.net', container: 'c1', sas: 'sv=1&sig=abc' });
    expect(parseStorageUrl('http://127.0.0.1:10000/devstoreaccount1/c1')).toEqual({ accountUrl: 'http://127.0.0.1:10000/devstoreaccount1', container: 'c1' });
    const bad = (a: Record<string, unknown>): string => {
      try { checkRemoteArgs(a); } catch (error) { return (error as Error).message; }
      return 'accepted';
    };
    expect(bad({ 'storage-account': ['http://acct.blob.core.windows.net/?sig=SECRET1'] })).toBe('--storage-account "http://acct.blob.core.windows.net/" is not an https:// URL (http only for a local emulator on loopback)');
    expect(bad({ 'storage-account': ['https://acct.blob.core.windows.net/?sv=2024'] })).toMatch(/is not a SAS \(it has no sig=\)/);
    expect(bad({ 'storage-account': ['https://acct.blob.core.windows.net/c/d?sig=SECRET2'] })).toBe('--storage-account "https://acct.blob.core.windows.net/c/d" is not an account or container URL');
    expect(bad({ 'connection-string': 'AccountName=x;AccountKey=SECRET3' })).toBe('Cannot read --connection-string: not a storage connection string');
    expect(bad({ 'connection-string': 'DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=U0VDUkVUNA==;EndpointSuffix=core.windows.net' })).toBe(
      'Cannot use --connection-string: its endpoint http://acct.blob.core.windows.net is not https:// (http only for a local emulator on loopback)',
    );
    expect(bad({ category: ['NspNope'] })).toBe('Cannot read category "NspNope": not an NSP log category');
    expect(bad({ 'storage-account': ['https://acct.blob.core.windows.net'], category: ['nsppublicinboundresourcerulesallowed'] })).toBe('accepted');
    expect(containerNames()).toContain('insights-logs-nsppublicinboundperimeterrulesallowed');
    expect(containerNames(['PerimeterPublicInboundResourceRulesAllowed'])).toEqual(['insights-logs-perimeterpublicinboundresourcerulesallowed']);
    expect(redactSecrets('GET https://a/c?sv=1&sig=abc%2Bdef&se=2 AccountKey=k+/=;x SharedAccessSignature=sv=1&sig=z')).toBe(
      'GET https://a/c?sv=1&sig=REDACTED&se=2 AccountKey=REDACTED;x SharedAccessSignature=REDACTED',
    );
  });
});
