// Log Analytics / Data Explorer / ARM sources against a local HTTPS fake (the real SDK clients):
// the pushed-down aggregation gives byte-for-byte the rules of the file path; chunks cover the
// window exactly; truncated or failing chunks are split, partial answers never accepted; 429s
// retried; a chunk that fails at the minimum size fails the run naming its window.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { CloudSettings } from 'azure-kusto-data';
import yargs from 'yargs';
import { afterEach, describe, expect, it } from 'vitest';
import { ESTATE_DAYS, ESTATE_START, PERIMETERS, generateEvents, laRow, renderExistingRules } from '../fixtures/generate.js';
import { summaryToJSON } from '../src/analyze/index.js';
import { existingFromAzure, remoteOptions, remoteSources, seenProfiles } from '../src/cli/remote-options.js';
import { isNspError } from '../src/errors.js';
import { readExistingRules } from '../src/ingest/existing-rules.js';
import {
  chunkWindow, dataExplorerSource, formatWindow, logAnalyticsSource, parseDuration, resolveWindow, type ChunkProgress,
  type LogAnalyticsSourceOptions,
} from '../src/ingest/log-analytics.js';
import type { SourceAccount } from '../src/model/issue.js';
import { gatherFlows, type GatheredFlows } from '../src/pipeline.js';
import { json } from '../src/recommend/emit/json.js';
import { recommend } from '../src/recommend/index.js';
import { startFakeAzure, type FakeAzure, type FakeAzureOptions } from './helpers/fake-log-analytics.js';

const WS = '0000aaaa-0000-0000-0000-000000000001';
const DAY = 86_400_000;
const ESTATE = { start: ESTATE_START, end: ESTATE_START + ESTATE_DAYS * DAY };
const ROWS = generateEvents().map(laRow);
const GOLDEN = readFileSync('test/golden/estate/expected.rules.json', 'utf8');

let fileFlows: Promise<GatheredFlows> | null = null;
/** The file path's result for the same estate (the portal CSV export). */
const fromFiles = (): Promise<GatheredFlows> => (fileFlows ??= gatherFlows({ paths: ['fixtures/estate/portal'] }));

const fakes: FakeAzure[] = [];
async function fake(options: Partial<FakeAzureOptions> = {}): Promise<FakeAzure> {
  const f = await startFakeAzure({ rows: ROWS, ...options });
  fakes.push(f);
  return f;
}
afterEach(async () => {
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

function source(f: FakeAzure, over: Partial<LogAnalyticsSourceOptions> = {}) {
  return logAnalyticsSource({
    workspaceId: WS, window: ESTATE, credential: f.credential, endpoint: `${f.url}/v1`, ca: f.ca, retryDelayMs: 1, ...over,
  });
}

/** Window of an account named `workspace <id> <start>/<end>`. */
function accountWindow(account: SourceAccount): { start: number; end: number } {
  const [start, end] = account.source.split(' ').pop()!.split('/');
  return { start: Date.parse(start!), end: Date.parse(end!) };
}

/** Asserts the windows follow each other with no gap or overlap and cover [start, end). */
function expectPartition(windows: { start: number; end: number }[], whole: { start: number; end: number }): void {
  expect(windows[0]!.start).toBe(whole.start);
  expect(windows.at(-1)!.end).toBe(whole.end);
  for (let i = 1; i < windows.length; i++) expect(windows[i]!.start).toBe(windows[i - 1]!.end);
  for (const w of windows) expect(w.end).toBeGreaterThan(w.start);
}

async function expectSameAsFiles(remote: GatheredFlows): Promise<void> {
  const files = await fromFiles();
  expect(summaryToJSON(remote.summary)).toEqual(summaryToJSON(files.summary));
  expect(json(recommend(remote.summary).ruleSet)).toBe(GOLDEN);
}

describe('time windows', () => {
  it('chunks cover the window exactly, aligned to the chunk length, none longer than it', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 4e12 }), fc.integer({ min: 1, max: 1_000_000 }), fc.constantFrom(60_000, 3_600_000, DAY, 7 * DAY, 12_345),
      (start, size, chunk) => {
        // Up to 50 chunks' worth, at any offset.
        const window = { start, end: start + Math.max(1, Math.floor((size / 1_000_000) * 50 * chunk)) };
        const chunks = chunkWindow(window, chunk);
        expectPartition(chunks, window);
        for (const c of chunks) {
          expect(c.end - c.start).toBeLessThanOrEqual(chunk);
          expect(Math.floor(c.start / chunk)).toBe(Math.floor((c.end - 1) / chunk)); // never straddles a boundary
        }
      },
    ), { numRuns: 200 });
    expect(chunkWindow({ start: Date.UTC(2026, 10, 2, 18), end: Date.UTC(2026, 10, 4, 6) }, DAY).map(formatWindow)).toEqual([
      '2026-11-02T18:00:00.000Z/2026-11-03T00:00:00.000Z', '2026-11-03T00:00:00.000Z/2026-11-04T00:00:00.000Z', '2026-11-04T00:00:00.000Z/2026-11-04T06:00:00.000Z',
    ]);
  });

  it('reads durations and --since / --start / --end', () => {
    expect(parseDuration('14d')).toBe(14 * DAY);
    expect(parseDuration('36h')).toBe(36 * 3_600_000);
    expect(parseDuration('90m')).toBe(90 * 60_000);
    expect(parseDuration('P1DT12H')).toBe(36 * 3_600_000);
    expect(parseDuration('PT30M')).toBe(30 * 60_000);
    for (const bad of ['', '14', 'd', '-1d', '0h', 'P', 'PT', '1y']) expect(() => parseDuration(bad)).toThrow(/Cannot read duration/);
    const now = Date.UTC(2026, 10, 16, 12);
    expect(resolveWindow({ since: '36h', now })).toEqual({ start: now - 36 * 3_600_000, end: now });
    expect(resolveWindow({ now })).toEqual({ start: now - 14 * DAY, end: now });
    expect(resolveWindow({ start: '2026-11-02', end: '2026-11-03T06:00:00+02:00', now })).toEqual({ start: Date.UTC(2026, 10, 2), end: Date.UTC(2026, 10, 3, 4) });
    expect(() => resolveWindow({ start: '2026-11-20', now })).toThrow(/empty window/);
  });
});

describe('Log Analytics source', () => {
  it('gives byte-for-byte the rules of the file path, one account per day chunk, with a bearer token', async () => {
    const f = await fake();
    const progress: ChunkProgress[] = [];
    const remote = await gatherFlows({ paths: [], remote: [source(f, { onProgress: (p) => progress.push(p) })] });
    await expectSameAsFiles(remote);

    expect(remote.accounts).toHaveLength(ESTATE_DAYS);
    expect(remote.accounts[0]!.source).toBe(`workspace ${WS} 2026-11-02T00:00:00.000Z/2026-11-03T00:00:00.000Z`);
    expectPartition(remote.accounts.map(accountWindow), ESTATE);
    const files = await fromFiles();
    const total = (accounts: SourceAccount[], key: 'hitsRead' | 'hitsUsed' | 'rowsRead' | 'rowsUsed'): number => accounts.reduce((n, a) => n + a[key], 0);
    expect(total(remote.accounts, 'hitsUsed')).toBe(total(files.accounts, 'hitsUsed'));
    expect(total(remote.accounts, 'hitsRead')).toBe(total(remote.accounts, 'hitsUsed'));
    expect(total(remote.accounts, 'rowsRead')).toBe(total(remote.accounts, 'rowsUsed'));
    expect(total(remote.accounts, 'rowsRead')).toBeLessThan(total(files.accounts, 'rowsRead')); // aggregated in the engine

    const queries = f.requests.filter((r) => r.api === 'la');
    expect(queries).toHaveLength(ESTATE_DAYS);
    for (const r of f.requests) expect(r.authorization).toBe('Bearer fake-token');
    for (const r of queries) expect(r.timespan).toBe(formatWindow(r.window!));
    expect(f.scopes).toEqual(expect.arrayContaining(['https://api.loganalytics.io/.default']));
    expect(progress.map((p) => `${p.done}/${p.total}`)).toEqual(Array.from({ length: ESTATE_DAYS }, (_, i) => `${i + 1}/${ESTATE_DAYS}`));
  });

  it('reads raw rows with --raw and folds them the same way', async () => {
    const f = await fake();
    const remote = await gatherFlows({ paths: [], remote: [source(f, { raw: true, chunkMs: 7 * DAY })] });
    await expectSameAsFiles(remote);
    expect(remote.accounts.reduce((n, a) => n + a.rowsRead, 0)).toBe(ROWS.length);
    expect(f.requests.every((r) => r.query!.includes('| project TimeGenerated'))).toBe(true);
  });

  it('splits a truncated chunk (a partial answer) into halves and never keeps the partial rows', async () => {
    const f = await fake({ serverRowCap: 12 });
    const remote = await gatherFlows({ paths: [], remote: [source(f, { concurrency: 3 })] });
    await expectSameAsFiles(remote);
    const windows = remote.accounts.map(accountWindow);
    expectPartition(windows, ESTATE);
    expect(windows.length).toBeGreaterThan(ESTATE_DAYS);
    expect(windows.some((w) => w.end - w.start < DAY / 2)).toBe(true);
    // Every truncated answer was followed by queries of its two halves.
    const asked = new Set(f.requests.map((r) => formatWindow(r.window!)));
    for (const r of f.requests.filter((q) => q.status === 200 && !windows.some((w) => w.start === q.window!.start && w.end === q.window!.end))) {
      const mid = r.window!.start + Math.floor((r.window!.end - r.window!.start) / 2);
      expect(asked.has(formatWindow({ start: r.window!.start, end: mid }))).toBe(true);
      expect(asked.has(formatWindow({ start: mid, end: r.window!.end }))).toBe(true);
    }
  });

  it('treats a result that reaches the row cap as truncated even without an error', async () => {
    const f = await fake();
    const remote = await gatherFlows({ paths: [], remote: [source(f, { rowCap: 15 })] });
    await expectSameAsFiles(remote);
    expect(remote.accounts.length).toBeGreaterThan(ESTATE_DAYS);
  });

  it('splits on 504 gateway timeouts', async () => {
    const day5 = ESTATE.start + 5 * DAY;
    const f = await fake({ answer: (w) => (w.start >= day5 && w.start < day5 + DAY && w.end - w.start > DAY / 2 ? { status: 504, body: { error: { code: 'GatewayTimeout', message: 'Gateway timeout' } } } : undefined) });
    const remote = await gatherFlows({ paths: [], remote: [source(f, { maxRetries: 1 })] });
    await expectSameAsFiles(remote);
    expect(remote.accounts.map((a) => a.source)).toContain(`workspace ${WS} 2026-11-07T00:00:00.000Z/2026-11-07T12:00:00.000Z`);
  });

  it('retries 429 answers (Retry-After) and then succeeds', async () => {
    const f = await fake({ throttle: 3 });
    const remote = await gatherFlows({ paths: [], remote: [source(f, { concurrency: 1 })] });
    await expectSameAsFiles(remote);
    expect(f.requests.filter((r) => r.status === 429)).toHaveLength(3);
    expect(f.requests.filter((r) => r.status === 200)).toHaveLength(ESTATE_DAYS);
  });

  it('fails naming the window when a partial answer is not about size (and never accepts it)', async () => {
    const day2 = ESTATE.start + 2 * DAY;
    const f = await fake({
      answer: (w) => (w.start === day2 ? { status: 200, body: { tables: [{ name: 'PrimaryResult', columns: [], rows: [] }], error: { code: 'PartialError', message: 'There were some errors', details: [{ code: 'InternalServiceError', message: 'A shard was unavailable' }] } } } : undefined),
    });
    const run = gatherFlows({ paths: [], remote: [source(f)] });
    await expect(run).rejects.toSatisfy((e: unknown) => isNspError(e) && e.code === 'input-invalid' &&
      e.message.includes('2026-11-04T00:00:00.000Z/2026-11-05T00:00:00.000Z') && e.message.includes('partial result') && e.message.includes('A shard was unavailable'));
    expect(f.requests.filter((r) => r.window!.start >= day2 && r.window!.start < day2 + DAY)).toHaveLength(1);
  });

  it('fails the run naming the exact window when a chunk still fails at the minimum size', async () => {
    const t = Date.UTC(2026, 10, 5, 10, 17);
    const f = await fake({
      // The real shape: the limit is named only in the detail's innererror, which the SDK drops.
      answer: (w) => (w.start <= t && t < w.end ? { status: 200, body: { tables: [{ name: 'PrimaryResult', columns: [], rows: [] }], error: { code: 'PartialError', message: 'There were some errors when processing your query.', details: [{ code: 'EngineError', message: 'Something went wrong processing your query on the server.', innererror: { code: '-2133196797', message: 'Query result set has exceeded the internal data size limit 64000000 (E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)' } }] } } } : undefined),
    });
    const run = gatherFlows({ paths: [], remote: [source(f, { minChunkMs: 3_600_000 })] });
    // 1 day → 12 h → 6 h → 3 h → 90 min → 45 min, the first window at or under the minimum.
    await expect(run).rejects.toSatisfy((e: unknown) => isNspError(e) && e.code === 'input-invalid' &&
      e.message.includes(`workspace ${WS} for 2026-11-05T09:45:00.000Z/2026-11-05T10:30:00.000Z`) && e.message.includes('45m') &&
      e.message.includes('E_QUERY_RESULT_SET_TOO_LARGE'));
    // Depth first: the failing day took 6 queries (and its healthy halves), not a breadth-first cascade.
    const day3 = f.requests.filter((r) => r.window!.start >= Date.UTC(2026, 10, 5) && r.window!.end <= Date.UTC(2026, 10, 6));
    expect(day3.length).toBeLessThanOrEqual(10);
  });

  it('maps access denied to an NspError with a hint, without the token', async () => {
    const f = await fake({ answer: () => ({ status: 403, body: { error: { code: 'InsufficientAccessError', message: 'The provided credentials have insufficient access to perform the requested operation' } } }) });
    await expect(gatherFlows({ paths: [], remote: [source(f)] })).rejects.toSatisfy((e: unknown) => isNspError(e) && e.code === 'input-missing' &&
      e.message.includes('access denied') && e.message.includes('InsufficientAccessError') && /Log Analytics Reader/.test(e.hint ?? '') && !e.message.includes('fake-token'));
  });

  it('stops in-flight queries when the run is aborted (LogsQueryClient drops abortSignal; a policy restores it)', async () => {
    const f = await fake({ delayMs: 5_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 100);
    const started = Date.now();
    await expect(gatherFlows({ paths: [], remote: [source(f)], abortSignal: controller.signal })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(f.requests.filter((r) => r.api === 'la').length).toBeLessThanOrEqual(3);
  });

  it('stops querying when the reader stops early', async () => {
    const f = await fake();
    const accounts: SourceAccount[] = [];
    for await (const record of source(f, { concurrency: 1 }).read({ onIssue: () => {}, accounts })) {
      expect(record.perimeterId).toMatch(/^\/subscriptions\//);
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(f.requests.length).toBeLessThanOrEqual(2);
    expect(accounts).toHaveLength(1);
  });

  it('runs --concurrency queries at once and still yields in chunk order', async () => {
    const f = await fake({ delayMs: 40 });
    const remote = await gatherFlows({ paths: [], remote: [source(f, { concurrency: 3 })] });
    expect(f.maxInFlight).toBe(3);
    expectPartition(remote.accounts.map(accountWindow), ESTATE);
    await expectSameAsFiles(remote);
  });

  it('pushes --profile and --perimeter filters into the query', async () => {
    const f = await fake();
    const remote = await gatherFlows({ paths: [], remote: [source(f, { profiles: ['DefaultProfile'], perimeters: ['nsp-prod'] })] });
    const files = await fromFiles();
    const only = (summary: GatheredFlows['summary']) => (summaryToJSON(summary) as { flows: { profile: string }[] }).flows.filter((fl) => fl.profile === 'defaultprofile');
    expect(summaryToJSON(remote.summary)).toEqual({ flows: only(files.summary) });
    expect(f.requests[0]!.query).toContain("| where Profile in~ ('DefaultProfile')");
  });
});

describe('remoteSources and existingFromAzure', () => {
  it('build the sources from parsed options, with the cloud\'s scope and the injected endpoint', async () => {
    const f = await fake();
    const argv = await remoteOptions(yargs().strict()).parseAsync(['--workspace', WS, '--since', '14d', '--cloud', 'AzureUSGovernment', '--concurrency', '3']);
    const deps = { azure: { credential: f.credential, logAnalyticsEndpoint: `${f.url}/v1`, ca: f.ca, retryDelayMs: 1, now: () => ESTATE.end } };
    const sources = await remoteSources(argv as Record<string, unknown>, deps);
    expect(sources.map((s) => s.name)).toEqual([`workspace ${WS}`]);
    await expectSameAsFiles(await gatherFlows({ paths: [], remote: sources }));
    expect(f.scopes).toEqual(expect.arrayContaining(['https://api.loganalytics.us/.default']));
    expect(f.scopes).not.toContain('https://api.loganalytics.io/.default');
    expect(await remoteSources({ since: '1d' }, deps)).toEqual([]);
    const parse = async (): Promise<unknown> => remoteOptions(yargs().strict().exitProcess(false).fail((msg) => { throw new Error(msg); })).parseAsync(['--workspace', 'nope']);
    await expect(parse()).rejects.toThrow(/GUID/);
  });

  it('lists the access rules in place through ARM and subtracts them like a rules file', async () => {
    // fixtures/existing-rules.json as ARM returns it: properties nested, every profile its own list.
    const accessRules: Record<string, unknown[]> = {};
    for (const rule of JSON.parse(renderExistingRules()) as Record<string, unknown>[]) {
      const { id, name, type, properties, ...flat } = rule;
      const profileId = String(id).replace(/\/accessRules\/[^/]+$/, '').toLowerCase();
      (accessRules[profileId] ??= []).push({ id, name, type: type ?? 'Microsoft.Network/networkSecurityPerimeters/profiles/accessRules', properties: properties ?? flat });
    }
    const f = await fake({ accessRules });
    const deps = { azure: { credential: f.credential, armEndpoint: f.url, ca: f.ca, retryDelayMs: 1 } };
    const gathered = await fromFiles();
    const warnings: string[] = [];
    const rules = await existingFromAzure({ 'existing-from-azure': true, cloud: 'AzureChinaCloud' }, deps, seenProfiles(gathered.summary), { onWarning: (m) => warnings.push(m) });
    const fromFile = await readExistingRules(['fixtures/existing-rules.json']);
    const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : 1);
    expect([...rules].sort(byName)).toEqual([...fromFile].sort(byName));
    expect(json(recommend(gathered.summary, rules).ruleSet)).toBe(readFileSync('test/golden/estate/expected.existing.rules.json', 'utf8'));
    // The dev profile has no rules resource in the fake: a 404 is "none in place", with a warning.
    expect(warnings).toEqual([`${PERIMETERS.dev}/profiles/devprofile not found in Azure: no rules in place assumed`]);
    const arm = f.requests.filter((r) => r.api === 'arm');
    expect(arm).toHaveLength(3);
    expect(arm.every((r) => r.authorization === 'Bearer fake-token')).toBe(true);
    expect(f.scopes).toEqual(['https://management.chinacloudapi.cn/.default']);
    expect(await existingFromAzure({ 'existing-from-azure': false }, deps, seenProfiles(gathered.summary))).toEqual([]);
  });

  it('reports access denied as an NspError with a hint, and refuses ids that are not perimeters', async () => {
    const f = await fake({ accessRules: { [`${PERIMETERS.prod}/profiles/defaultprofile`.toLowerCase()]: 403 } });
    const deps = { azure: { credential: f.credential, armEndpoint: f.url, ca: f.ca, retryDelayMs: 1, maxRetries: 0 } };
    const args = { 'existing-from-azure': true };
    await expect(existingFromAzure(args, deps, [{ perimeterId: PERIMETERS.prod, profile: 'defaultProfile' }])).rejects.toSatisfy((e: unknown) =>
      isNspError(e) && e.code === 'input-missing' && /access denied/.test(e.message) && /Reader/.test(e.hint ?? '') && !e.message.includes('fake-token'));
    await expect(existingFromAzure(args, deps, [{ perimeterId: '/subscriptions/x', profile: 'p' }])).rejects.toSatisfy((e: unknown) => isNspError(e) && e.code === 'input-invalid');
  });
});

describe('Data Explorer source', () => {
  it('runs the same pushdown on a cluster (v2 REST frames) with the same result, splitting truncated chunks', async () => {
    const f = await fake({ serverRowCap: 12 });
    // azure-kusto-data fetches the cluster's sign-in metadata with its own HTTP client; pre-fill its cache instead.
    CloudSettings.writeToCache(f.url);
    const remote = await gatherFlows({
      paths: [], remote: [dataExplorerSource({ cluster: f.url, database: 'nsplogs', table: 'NspArchive', window: ESTATE, credential: f.credential, ca: f.ca, retryDelayMs: 1 })],
    });
    await expectSameAsFiles(remote);
    const adx = f.requests.filter((r) => r.api === 'adx');
    expect(adx.every((r) => r.database === 'nsplogs' && r.query!.startsWith("['NspArchive']\n") && r.authorization === 'Bearer fake-token')).toBe(true);
    expect(remote.accounts[0]!.source).toMatch(/^cluster https:\/\/127\.0\.0\.1:\d+ nsplogs 2026-11-02T00:00:00\.000Z\//);
    expect(remote.accounts.length).toBeGreaterThan(ESTATE_DAYS); // some days were split
    expectPartition(remote.accounts.map(accountWindow), ESTATE);
  });

  it('retries throttled cluster queries and reads --raw rows', async () => {
    const f = await fake({ throttle: 2 });
    CloudSettings.writeToCache(f.url);
    const remote = await gatherFlows({
      paths: [], remote: [dataExplorerSource({ cluster: f.url, database: 'nsplogs', window: ESTATE, raw: true, chunkMs: 7 * DAY, credential: f.credential, ca: f.ca, retryDelayMs: 1, concurrency: 1 })],
    });
    await expectSameAsFiles(remote);
    expect(f.requests.filter((r) => r.status === 429)).toHaveLength(2);
  });
});
