// Accounting end to end, on every kind of source: for each account, rows read = used + skipped
// (by reason), and over a run the hits used are exactly the hits in the flows.

import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudSettings } from 'azure-kusto-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESTATE_DAYS, ESTATE_START, generateEvents, laRow } from '../fixtures/generate.js';
import { dataExplorerSource, logAnalyticsSource } from '../src/ingest/log-analytics.js';
import { skippedRows } from '../src/model/issue.js';
import { gatherFlows, type GatheredFlows, type RemoteSource } from '../src/pipeline.js';
import { startFakeAzure, type FakeAzure } from './helpers/fake-log-analytics.js';

const DAY = 86_400_000;
const WINDOW = { start: ESTATE_START, end: ESTATE_START + ESTATE_DAYS * DAY };

/** Rows with problems, mixed into the estate: a bad count, an unknown category, a bad IP. */
function rowsWithProblems(): Record<string, string | number | null>[] {
  const rows = generateEvents().map(laRow);
  const at = (i: number, over: Record<string, string | number | null>) => ({ ...rows[i]!, ...over });
  return [...rows, at(3, { Count: -4 }), at(10, { Category: 'NspFutureCategory' }), at(20, { SourceIpAddress: '300.1.1.1', Category: 'NspPublicInboundResourceRulesAllowed' })];
}

function expectAccountsHold(g: GatheredFlows): void {
  expect(g.accounts.length).toBeGreaterThan(0);
  for (const a of g.accounts) expect(a.rowsRead, a.source).toBe(a.rowsUsed + skippedRows(a));
  const used = g.accounts.reduce((n, a) => n + a.hitsUsed, 0);
  const inFlows = [...g.summary.flows.values()].reduce((n, f) => n + f.hits, 0);
  expect(used).toBe(inFlows);
}

let fake: FakeAzure;
beforeAll(async () => {
  fake = await startFakeAzure({ rows: rowsWithProblems(), serverRowCap: 40 });
  // The Data Explorer client looks up the cluster's sign-in metadata over its own HTTP client;
  // a local fake has none to give (production fetches it).
  CloudSettings.writeToCache(fake.url);
});
afterAll(async () => { await fake.close(); });

describe('accounts hold on every source kind', () => {
  const la = (raw: boolean): RemoteSource => logAnalyticsSource({ workspaceId: '0000aaaa-0000-0000-0000-000000000001', window: WINDOW, raw, credential: fake.credential, endpoint: `${fake.url}/v1`, ca: fake.ca, retryDelayMs: 1, minChunkMs: 60_000 });
  const adx = (raw: boolean): RemoteSource => dataExplorerSource({ cluster: fake.url, database: 'db', window: WINDOW, raw, credential: fake.credential, ca: fake.ca, retryDelayMs: 1, minChunkMs: 60_000 });

  it('files of every format, malformed ones included', async () => {
    expectAccountsHold(await gatherFlows({ paths: ['fixtures/estate', 'fixtures/malformed'] }));
  });

  it('Log Analytics, pushed down and raw, with bad rows and truncated chunks', async () => {
    for (const raw of [false, true]) {
      const g = await gatherFlows({ paths: [], remote: [la(raw)] });
      expectAccountsHold(g);
      const skipped = g.accounts.reduce((n, a) => n + skippedRows(a), 0);
      expect(skipped, raw ? 'raw' : 'pushdown').toBe(3);
    }
  });

  it('Data Explorer, pushed down and raw', async () => {
    for (const raw of [false, true]) expectAccountsHold(await gatherFlows({ paths: [], remote: [adx(raw)] }));
  });

  it('files, a snapshot and a workspace in one run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nspa-acc-'));
    const { snapshotBytes } = await import('../src/analyze/snapshot.js');
    const portal = await gatherFlows({ paths: ['fixtures/estate/portal'] });
    writeFileSync(join(dir, 'flows.arrow'), snapshotBytes(portal.summary));
    const g = await gatherFlows({ paths: ['fixtures/estate/event-hubs'], snapshots: [join(dir, 'flows.arrow')], remote: [la(false)] });
    for (const a of g.accounts) expect(a.rowsRead).toBe(a.rowsUsed + skippedRows(a));
    const used = g.accounts.reduce((n, a) => n + a.hitsUsed, 0);
    const snapshotHits = [...portal.summary.flows.values()].reduce((n, f) => n + f.hits, 0);
    expect(used + snapshotHits).toBe([...g.summary.flows.values()].reduce((n, f) => n + f.hits, 0));
  });
});
