// The Azure sources, drift, report and kql through the real CLI entry (main with injected deps):
// the workspace path gives the file path's rules byte for byte; --existing-from-azure subtracts
// the rules Azure lists; exit codes of the remote-related usage errors.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESTATE_START, generateEvents, laRow, PERIMETERS } from '../fixtures/generate.js';
import { main } from '../src/cli/main.js';
import { createTestIO } from '../src/cli/io.js';
import type { CliDeps } from '../src/cli/deps.js';
import { startFakeAzure, type FakeAzure } from './helpers/fake-log-analytics.js';
import { runCli } from './helpers/run-cli.js';

const WS = '0000aaaa-0000-0000-0000-000000000001';
let fake: FakeAzure;
let deps: CliDeps;

beforeAll(async () => {
  fake = await startFakeAzure({
    rows: generateEvents().map(laRow),
    accessRules: {
      [`${PERIMETERS.prod}/profiles/defaultprofile`.toLowerCase()]: [{
        id: `${PERIMETERS.prod}/profiles/defaultProfile/accessRules/allow-ci`, name: 'allow-ci',
        properties: { direction: 'Inbound', addressPrefixes: ['198.51.100.16/31'] },
      }],
    },
  });
  deps = { azure: { credential: fake.credential, logAnalyticsEndpoint: `${fake.url}/v1`, armEndpoint: fake.url, ca: fake.ca, retryDelayMs: 1, now: () => ESTATE_START + 20 * 86_400_000 } };
});
afterAll(async () => { await fake.close(); });

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = createTestIO();
  const code = await main(args, io, deps);
  return { code, out: io.out(), err: io.err() };
}

describe('--workspace through the CLI', () => {
  it('gives the same review document as the files', async () => {
    const r = await run('recommend', '--workspace', WS, '--since', '30d', '-q');
    expect(r.code).toBe(0);
    expect(r.out).toBe(readFileSync('test/golden/estate/expected.rules.json', 'utf8'));
    expect(fake.requests.some((q) => q.api === 'la' && q.authorization?.startsWith('Bearer '))).toBe(true);
  });

  it('subtracts the rules listed from Azure with --existing-from-azure', async () => {
    const r = await run('recommend', '--workspace', WS, '--since', '30d', '--existing-from-azure', '-q');
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('198.51.100.16/31');
    expect(r.out).toContain('203.0.113.0/30');
    expect(fake.requests.some((q) => q.api === 'arm')).toBe(true);
  });

  it('refuses bad remote arguments with exit 2', async () => {
    expect((await run('recommend', '--workspace', 'not-a-guid')).code).toBe(2);
    expect((await run('recommend', '--workspace', WS, '--since', '3x')).code).toBe(2);
    expect((await run('recommend', '--cluster', 'https://c.example')).code).toBe(2);
    expect((await run('recommend', '--workspace', WS, '--perimeter', "x' | take 1")).err).toContain('not a perimeter name');
  });

  it('prints the pushdown query with kql', async () => {
    const r = await run('kql', '--since', '14d', '--profile', "it's");
    expect(r.code).toBe(0);
    expect(r.out).toContain('summarize');
    expect(r.out).toContain("'it\\'s'");
  });
});

describe('drift and report through the CLI', () => {
  const ESTATE = 'fixtures/estate/storage-account';

  it('drift exits 1 on findings and 0 with --fail-on none, 2 on a bad condition', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nspa-drift-cli-'));
    const baseline = join(dir, 'review.json');
    writeFileSync(baseline, (await runCli('recommend', ESTATE, '-q')).out);
    const found = await runCli('drift', ESTATE, '--baseline', baseline, '--history', join(dir, 'history'), '--format', 'json', '-q');
    expect(found.code).toBe(1);
    expect(JSON.parse(found.out)).toHaveProperty('profiles');
    expect((await runCli('drift', ESTATE, '--baseline', baseline, '--fail-on', 'none', '-q')).code).toBe(0);
    expect((await runCli('drift', ESTATE, '--baseline', baseline, '--fail-on', 'bogus')).code).toBe(2);
    expect((await runCli('drift', ESTATE)).code).toBe(2);
  });

  it('report writes one self-contained HTML file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nspa-report-cli-'));
    const out = join(dir, 'report.html');
    const r = await runCli('report', ESTATE, '--out', out, '-q');
    expect(r.code).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/i);
    expect(html).toMatch(/Content-Security-Policy" content="default-src (&#39;|')none/);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/);
  });
});
