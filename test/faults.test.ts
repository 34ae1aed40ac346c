// Faults on the wire: connections reset and queries that never answer are retried or split, and
// a window that cannot be read stops the run naming it — never a silently missing window.

import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ESTATE_DAYS, ESTATE_START, generateEvents, laRow } from '../fixtures/generate.js';
import { logAnalyticsSource, type LogAnalyticsSourceOptions } from '../src/ingest/log-analytics.js';
import { gatherFlows } from '../src/pipeline.js';
import { json } from '../src/recommend/emit/json.js';
import { recommend } from '../src/recommend/index.js';
import { startFakeAzure, type FakeAzure, type FakeAzureOptions } from './helpers/fake-log-analytics.js';

const DAY = 86_400_000;
const WINDOW = { start: ESTATE_START, end: ESTATE_START + ESTATE_DAYS * DAY };
const GOLDEN = readFileSync('test/golden/estate/expected.rules.json', 'utf8');
const ROWS = generateEvents().map(laRow);
const fakes: FakeAzure[] = [];
afterEach(async () => { await Promise.all(fakes.splice(0).map((f) => f.close())); });

async function run(fake: Partial<FakeAzureOptions>, source: Partial<LogAnalyticsSourceOptions> = {}) {
  const f = await startFakeAzure({ rows: ROWS, ...fake });
  fakes.push(f);
  const s = logAnalyticsSource({
    workspaceId: '0000aaaa-0000-0000-0000-000000000001', window: WINDOW, credential: f.credential, endpoint: `${f.url}/v1`, ca: f.ca,
    retryDelayMs: 1, maxRetries: 2, ...source,
  });
  return { f, result: gatherFlows({ paths: [], remote: [s] }) };
}

describe('faults', () => {
  it('retries a reset connection and gets every window', async () => {
    const { f, result } = await run({ fault: (w, attempt) => (w.start === ESTATE_START + 4 * DAY && attempt === 1 ? 'reset' : undefined) });
    expect(json(recommend((await result).summary).ruleSet)).toBe(GOLDEN);
    expect(f.requests.filter((r) => r.status === 0)).toHaveLength(1);
  });

  it('splits a window whose query never answers, and still gets every row', async () => {
    const hung = { start: ESTATE_START + 2 * DAY, end: ESTATE_START + 3 * DAY };
    const { f, result } = await run(
      { fault: (w) => (w.start === hung.start && w.end === hung.end ? 'hang' : undefined) },
      { queryTimeoutMs: 300, maxRetries: 0, minChunkMs: 3_600_000 },
    );
    expect(json(recommend((await result).summary).ruleSet)).toBe(GOLDEN);
    expect(f.requests.some((r) => r.window?.start === hung.start && r.window.end === hung.start + DAY / 2)).toBe(true);
  });

  it('stops naming the window when a connection keeps failing', async () => {
    const { result } = await run({ fault: (w) => (w.start === ESTATE_START + 6 * DAY ? 'reset' : undefined) }, { maxRetries: 1 });
    await expect(result).rejects.toMatchObject({ code: 'input-invalid', message: expect.stringContaining('2026-11-08T00:00:00') });
  });
});
