// Security promises (SECURITY.md): secrets never reach outputs, --redact hides addresses and ids,
// an interrupted run leaves no partial files, and the guard rails hold for any input in every
// output format.

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESTATE_START, generateEvents, laRow } from '../fixtures/generate.js';
import { addRecord, emptySummary } from '../src/analyze/index.js';
import { main } from '../src/cli/main.js';
import { createTestIO } from '../src/cli/io.js';
import { isNspError } from '../src/errors.js';
import { lookupCategory } from '../src/model/category.js';
import { formatIPv4, overlapsNonPublic, parsePrefix } from '../src/model/ip.js';
import type { NspRecord } from '../src/model/record.js';
import { ruleElements } from '../src/model/rule-set.js';
import { emitters, formatNames } from '../src/recommend/emit/index.js';
import { recommend } from '../src/recommend/index.js';
import { isValidRuleName } from '../src/recommend/rule-names.js';
import { redactText } from '../src/report/redact.js';
import { startFakeAzure, type FakeAzure } from './helpers/fake-log-analytics.js';
import { runs } from './helpers/runs.js';
import { runCli } from './helpers/run-cli.js';

const ESTATE = 'fixtures/estate/storage-account';
const tempDir = (): string => mkdtempSync(join(tmpdir(), 'nspa-sec-'));

describe('secrets never appear in outputs', () => {
  const TOKEN = 'eyJ0eXAiOiJKV1QiSECRET.TOKEN.value';
  let fake: FakeAzure;
  beforeAll(async () => {
    fake = await startFakeAzure({
      rows: generateEvents().map(laRow),
      answer: (w) => (w.start >= ESTATE_START + 3 * 86_400_000 ? { status: 500, body: { error: { code: 'InternalError', message: 'boom' } } } : undefined),
    });
  });
  afterAll(async () => { await fake.close(); });

  it('a failing workspace query names the window, never the token', async () => {
    const io = createTestIO();
    const credential = { getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }) };
    const out = join(tempDir(), 'review.json');
    const code = await main(['recommend', '--workspace', '0000aaaa-0000-0000-0000-000000000001', '--since', '30d', '--out', out],
      io, { azure: { credential, logAnalyticsEndpoint: `${fake.url}/v1`, ca: fake.ca, retryDelayMs: 1, maxRetries: 0, minChunkMs: 3_600_000, now: () => ESTATE_START + 20 * 86_400_000 } });
    expect(code).toBe(2);
    expect(io.err()).toMatch(/window|\d{4}-\d\d-\d\dT/);
    for (const text of [io.out(), io.err()]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toMatch(/Bearer\s+\S/);
    }
    expect(readdirSync(join(out, '..'))).toEqual([]);
  });
});

describe('--redact', () => {
  const sensitive = /198\.51\.100\.|203\.0\.113\.|192\.0\.2\.|2001:db8|in-ip-2001|00000000-0000-0000|11111111-1111-1111/i;

  it('hides every address and id in every report format', async () => {
    const dir = tempDir();
    const baseline = join(dir, 'review.json');
    writeFileSync(baseline, (await runCli('recommend', ESTATE, '-q')).out);
    const outputs = [
      (await runCli('analyze', ESTATE, '--redact', '-q')).out,
      (await runCli('analyze', ESTATE, '--json', '--redact', '-q')).out,
      (await runCli('diff', ESTATE, '--existing', 'fixtures/existing-rules.json', '--redact', '-q')).out,
      (await runCli('simulate', ESTATE, '--rules', baseline, '--redact', '-q')).out,
      (await runCli('backtest', ESTATE, '--json', '--redact', '-q')).out,
      (await runCli('drift', ESTATE, '--baseline', baseline, '--format', 'json', '--redact', '-q')).out,
      (await runCli('drift', ESTATE, '--baseline', baseline, '--format', 'html', '--redact', '-q')).out,
    ];
    await runCli('report', ESTATE, '--out', join(dir, 'r.html'), '--redact', '-q');
    outputs.push(readFileSync(join(dir, 'r.html'), 'utf8'));
    for (const text of outputs) {
      expect(text.length).toBeGreaterThan(100);
      expect(text).not.toMatch(sensitive);
    }
    // Without --redact the same outputs do hold them: the check above can fail.
    expect((await runCli('analyze', ESTATE, '-q')).out).toMatch(sensitive);
  });

  it('hashes deterministically per key, for any address in any text', () => {
    fc.assert(fc.property(fc.ipV4(), fc.ipV6(), fc.uuid(), fc.string({ maxLength: 20 }), (v4, v6, guid, noise) => {
      const text = `${noise} ${v4} x ${v6}/64 (${guid}) ${noise}`;
      const once = redactText(text, 'k');
      expect(redactText(text, 'k')).toBe(once);
      expect(once).not.toContain(` ${v4} `);
      expect(once).not.toContain(guid);
      expect(once.includes(`${v6}/64`)).toBe(false);
      expect(redactText(text, 'other')).not.toBe(once);
    }), { numRuns: runs(300) });
  });
});

describe('an interrupted run', () => {
  it('exits 130 and leaves no output and no temp file', async () => {
    const dir = tempDir();
    const input = join(dir, 'big.jsonl');
    // 400,000 flows: the snapshot takes a while to write, and the run is interrupted while it does.
    const line = (i: number): string => JSON.stringify({ time: '2026-11-02T08:00:00Z', category: 'NspPublicInboundResourceRulesAllowed', resourceId: '/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/networkSecurityPerimeters/n', properties: { profile: 'p', source: { ipAddress: formatIPv4(0xc6336400 + i) } } });
    writeFileSync(input, `${Array.from({ length: 400_000 }, (_, i) => line(i)).join('\n')}\n`);
    const outDir = join(dir, 'out');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(outDir);
    const child = spawn(process.execPath, ['bin/nsp-advisor.js', 'analyze', input, '--out', join(outDir, 'flows.arrow'), '-q'], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    let written: string[] = [];
    for (let waited = 0; written.length === 0 && waited < 20_000; waited += 2) {
      await new Promise((r) => setTimeout(r, 2));
      written = readdirSync(outDir);
    }
    expect(written).toEqual([expect.stringMatching(/^\.flows\.arrow\..*\.tmp$/)]); // the temp file, not yet the output
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(readdirSync(outDir)).toEqual([]);
  });
});

describe('guard rails hold for any input', () => {
  const PERIMETER = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/networkSecurityPerimeters/nsp';
  it('no 0.0.0.0/0, ::/0, private/reserved or wider-than-floor prefix, valid names, in every format', () => {
    const ipArb = fc.oneof(fc.ipV4(), fc.ipV6(), fc.constantFrom('10.0.0.1', '127.0.0.1', '0.0.0.0', '255.255.255.255', '::', '::1', 'fe80::1', '100.64.1.1', '169.254.1.1'));
    fc.assert(fc.property(
      fc.array(fc.record({ ip: ipArb, hits: fc.integer({ min: 1, max: 50 }), day: fc.integer({ min: 0, max: 13 }) }), { minLength: 1, maxLength: 120 }),
      fc.integer({ min: 1, max: 200 }), fc.integer({ min: 8, max: 32 }), fc.integer({ min: 32, max: 128 }),
      (rows, maxElements, floor4, floor6) => {
        const s = emptySummary();
        const info = lookupCategory('NspPublicInboundResourceRulesAllowed')!;
        for (const r of rows) {
          const record: NspRecord = {
            time: Date.UTC(2026, 10, 2 + r.day), endTime: Date.UTC(2026, 10, 2 + r.day), count: r.hits, perimeterId: PERIMETER, profile: 'p',
            category: info.name, direction: info.direction, decision: info.decision, resourceId: 'res', peerKind: 'ip',
            peer: r.ip.includes(':') ? r.ip.toLowerCase() : r.ip, sourceIp: '', matchedRule: '', operation: '',
          };
          addRecord(s, record);
        }
        let result;
        try {
          result = recommend(s, [], { maxElements, minPrefixV4: floor4, minPrefixV6: floor6 });
        } catch (error) {
          expect(isNspError(error) && error.code === 'over-limit').toBe(true);
          return;
        }
        for (const rule of result.ruleSet.profiles.flatMap((p) => p.rules)) {
          expect(isValidRuleName(rule.name)).toBe(true);
          for (const element of ruleElements(rule)) {
            const prefix = parsePrefix(element)!;
            expect(prefix.length).toBeGreaterThanOrEqual(prefix.version === 4 ? floor4 : floor6);
            expect(prefix.length).toBeGreaterThan(0);
            expect(overlapsNonPublic(prefix)).toBe(false);
          }
        }
        for (const format of formatNames) {
          const text = emitters[format].emit(result.ruleSet);
          expect(text).not.toMatch(/(^|[^\d.])0\.0\.0\.0\/0|["' ]::\/0/);
          expect(text).not.toMatch(/(^|[^\d.])(10|127)\.\d+\.\d+\.\d+\//);
        }
      }), { numRuns: runs(150) });
  });
});
