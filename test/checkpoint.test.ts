// --checkpoint: a long pull that fails part way resumes without re-reading finished chunks and
// without counting anything twice; the resumed run gives the same rules as an unbroken one.

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ESTATE_DAYS, ESTATE_START, generateEvents, laRow } from '../fixtures/generate.js';
import { logAnalyticsSource } from '../src/ingest/log-analytics.js';
import { gatherFlows } from '../src/pipeline.js';
import { json } from '../src/recommend/emit/json.js';
import { recommend } from '../src/recommend/index.js';
import { startFakeAzure, type FakeAzure } from './helpers/fake-log-analytics.js';

const DAY = 86_400_000;
const WINDOW = { start: ESTATE_START, end: ESTATE_START + ESTATE_DAYS * DAY };
const GOLDEN = readFileSync('test/golden/estate/expected.rules.json', 'utf8');
const fakes: FakeAzure[] = [];
afterEach(async () => { await Promise.all(fakes.splice(0).map((f) => f.close())); });

async function pull(f: FakeAzure, checkpointDir: string) {
  const source = logAnalyticsSource({
    workspaceId: '0000aaaa-0000-0000-0000-000000000001', window: WINDOW, credential: f.credential, endpoint: `${f.url}/v1`, ca: f.ca,
    retryDelayMs: 1, maxRetries: 0, minChunkMs: DAY, concurrency: 1, checkpointDir,
  });
  return gatherFlows({ paths: [], remote: [source] });
}

describe('--checkpoint', () => {
  it('resumes after a failure without re-querying finished chunks, and without double counting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nspa-checkpoint-'));
    const rows = generateEvents().map(laRow);
    const failing = await startFakeAzure({ rows, answer: (w) => (w.start === ESTATE_START + 9 * DAY ? { status: 500, body: { error: { code: 'InternalServerError', message: 'down' } } } : undefined) });
    fakes.push(failing);
    await expect(pull(failing, dir)).rejects.toMatchObject({ code: 'input-invalid', message: expect.stringContaining('2026-11-11T00:00:00') });
    const saved = readdirSync(join(dir, readdirSync(dir)[0]!));
    expect(saved).toHaveLength(9); // days 1–9 finished before day 10 failed

    const healthy = await startFakeAzure({ rows });
    fakes.push(healthy);
    const resumed = await pull(healthy, dir);
    const queried = healthy.requests.filter((r) => r.api === 'la');
    expect(queried).toHaveLength(ESTATE_DAYS - 9);
    expect(Math.min(...queried.map((r) => r.window!.start))).toBe(ESTATE_START + 9 * DAY);
    expect(json(recommend(resumed.summary).ruleSet)).toBe(GOLDEN);
    const hits = resumed.accounts.reduce((n, a) => n + a.hitsUsed, 0);
    expect(hits).toBe(rows.reduce((n, r) => n + (typeof r.Count === 'number' ? r.Count : 1), 0));

    // A third run reads everything from the checkpoint.
    const idle = await startFakeAzure({ rows: [] });
    fakes.push(idle);
    const replayed = await pull(idle, dir);
    expect(idle.requests.filter((r) => r.api === 'la')).toHaveLength(0);
    expect(json(recommend(replayed.summary).ruleSet)).toBe(GOLDEN);
  });

  it('does not reuse results of another query', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nspa-checkpoint-'));
    const f = await startFakeAzure({ rows: generateEvents().map(laRow) });
    fakes.push(f);
    await pull(f, dir);
    const other = logAnalyticsSource({
      workspaceId: '0000aaaa-0000-0000-0000-000000000001', window: WINDOW, credential: f.credential, endpoint: `${f.url}/v1`, ca: f.ca,
      retryDelayMs: 1, maxRetries: 0, checkpointDir: dir, profiles: ['analytics'],
    });
    const before = f.requests.length;
    await gatherFlows({ paths: [], remote: [other] });
    expect(f.requests.length).toBeGreaterThan(before);
    expect(readdirSync(dir)).toHaveLength(2);
  });
});
