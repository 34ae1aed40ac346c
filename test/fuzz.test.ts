// Fuzz and hostile input for every parser: random bytes, JSON, CSV, gzip (truncated,
// concatenated, bombs), IP/CIDR text, rule files. Nothing throws past the ingest boundary, nothing
// hangs, and the accounts always hold (rows read = used + skipped by reason). NSPA_FUZZ_RUNS
// raises the run counts (`npm run fuzz`).

import { isIPv4, isIPv6 } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeFiles } from '../src/analyze/parallel.js';
import { isNspError } from '../src/errors.js';
import { parseExistingRules } from '../src/ingest/existing-rules.js';
import { listInputFiles, readRecords } from '../src/ingest/index.js';
import { formatPrefix, parseIPv4, parseIPv6, parseLoggedIp, parsePrefix, formatAddress } from '../src/model/ip.js';
import { skippedRows, type SourceAccount } from '../src/model/issue.js';
import { formatCount } from '../src/model/text.js';
import { isoTime } from '../src/recommend/evidence.js';

const RUNS = Number(process.env.NSPA_FUZZ_RUNS ?? 60);
const dir = mkdtempSync(join(tmpdir(), 'nspa-fuzz-'));
let n = 0;
const file = (content: string | Uint8Array, ext = ''): string => {
  const path = join(dir, `f${n++}${ext}`);
  writeFileSync(path, content);
  return path;
};

/** Reads a file both ways; checks the accounts and that both paths agree on them. */
async function readBothWays(path: string): Promise<SourceAccount> {
  const accounts: SourceAccount[] = [];
  for await (const _ of readRecords([{ path }], { accounts, onSnapshot: async () => {} })) { /* drain */ }
  const fast = await analyzeFiles([{ path }], { workers: 0 });
  for (const a of [...accounts, ...fast.accounts]) {
    expect(a.rowsRead).toBe(a.rowsUsed + skippedRows(a));
    expect(a.hitsUsed).toBeLessThanOrEqual(a.hitsRead);
  }
  expect(fast.accounts).toEqual(accounts);
  return accounts[0]!;
}

const PERIMETER = '/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/networkSecurityPerimeters/n';
const goodLine = (i: number): string => JSON.stringify({ time: '2026-11-02T08:00:00Z', category: 'NspPublicInboundResourceRulesAllowed', resourceId: PERIMETER, properties: { profile: 'p', source: { ipAddress: `198.51.100.${i % 250}` } } });

describe('fuzz: files of random content', () => {
  it('random bytes, random text and random JSON never throw and keep the accounts', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      fc.string({ maxLength: 2000 }),
      fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 10 }).map((xs) => xs.map((x) => JSON.stringify(x)).join('\n')),
      fc.jsonValue({ maxDepth: 5 }).map((x) => JSON.stringify({ records: [x, x] }, null, 1)),
      fc.jsonValue({ maxDepth: 5 }).map((x) => JSON.stringify({ tables: [{ columns: [{ name: 'Category' }], rows: [[x], x] }] })),
      fc.array(fc.array(fc.string({ maxLength: 8 }), { maxLength: 6 }), { maxLength: 8 }).map((rows) => ['TimeGenerated [UTC],Category,Profile', ...rows.map((r) => r.map((c) => `"${c.replace(/"/g, '""')}"`).join(','))].join('\n')),
    ), async (content) => {
      await readBothWays(file(content));
    }), { numRuns: RUNS });
  });

  it('gzip: random, truncated at any point, and concatenated members', async () => {
    const body = Buffer.from(Array.from({ length: 30 }, (_, i) => goodLine(i)).join('\n') + '\n');
    const gz = gzipSync(body);
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: gz.length }), fc.integer({ min: 1, max: 3 }), async (cut, members) => {
      const a = await readBothWays(file(gz.subarray(0, cut), '.gz'));
      // A cut in the trailer still inflates every row, but the cut is reported all the same.
      expect(a.rowsUsed).toBeLessThanOrEqual(30);
      expect(a.fileIssues).toBe(cut === gz.length ? 0 : 1);
      const b = await readBothWays(file(Buffer.concat(Array.from({ length: members }, () => gz)), '.gz'));
      expect(b.rowsUsed).toBe(30 * members);
    }), { numRuns: Math.min(RUNS, 40) });
    await readBothWays(file(gzipSync(Buffer.from(Array.from({ length: 2000 }, () => 0x7b))), '.gz'));
  });
});

describe('hostile shapes', () => {
  it('a 100 MB line is capped with a clear issue, and the lines around it are read', async () => {
    const path = file(`${goodLine(1)}\n${'x'.repeat(100 * 1024 * 1024)}\n${goodLine(2)}\n`);
    const issues: string[] = [];
    const r = await analyzeFiles([{ path }], { workers: 0, onIssue: (i) => issues.push(`${i.code} ${i.location}`) });
    expect(issues).toEqual([`line-too-long ${path}:2`]);
    expect(r.accounts[0]).toMatchObject({ rowsRead: 3, rowsUsed: 2 });
  });

  it('a gzip bomb stops at a bounded ratio with an issue', async () => {
    const path = file(gzipSync(Buffer.alloc(200 * 1024 * 1024, 0x20)), '.gz');
    const issues: string[] = [];
    await analyzeFiles([{ path }], { workers: 0, onIssue: (i) => issues.push(i.code) });
    expect(issues).toEqual(['decompression-limit']);
  });

  it('deep nesting, NUL bytes and invalid UTF-8 are bad rows, not crashes', async () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const deepObject = `{"a":${'{"b":'.repeat(50_000)}1${'}'.repeat(50_000)}}`;
    const content = Buffer.concat([
      Buffer.from(`${goodLine(1)}\n${deep}\n${deepObject}\n`),
      Buffer.from([0x7b, 0x22, 0x00, 0x22, 0x3a, 0x31, 0x7d, 0x0a, 0xff, 0xfe, 0x7b, 0x7d, 0x0a]),
      Buffer.from(`${goodLine(2).replace('"p"', '"p\\u0000"')}\n${goodLine(3)}\n`),
    ]);
    const a = await readBothWays(file(content));
    expect(a.rowsUsed).toBe(3);
    expect(a.rowsRead).toBeGreaterThanOrEqual(7);
  });
});

describe('fuzz: IP and prefix parsers', () => {
  it('agree with node:net on random dotted and colon text, and round-trip', () => {
    fc.assert(fc.property(fc.oneof(
      fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((p) => p.join('.')),
      fc.ipV4(), fc.ipV6(), fc.string({ maxLength: 45 }),
      fc.array(fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), maxLength: 5 }), { maxLength: 9 }).map((g) => g.join(':')),
    ), (text) => {
      expect(parseIPv4(text) >= 0).toBe(isIPv4(text) && !/(^|\.)0\d/.test(text));
      if (!text.includes('%') && !text.includes('.')) expect(parseIPv6(text) !== null).toBe(isIPv6(text));
      const ip = parseLoggedIp(text);
      if (ip) expect(parseLoggedIp(formatAddress(ip))).toEqual(ip);
      const prefix = parsePrefix(text);
      if (prefix) expect(parsePrefix(formatPrefix(prefix))).toEqual(prefix);
    }), { numRuns: RUNS * 50 });
  });
});

describe('fuzz: times in rules and reports', () => {
  it('writes ISO times as Date does, without zero milliseconds', () => {
    const expected = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
    fc.assert(fc.property(fc.oneof(
      fc.integer({ min: 0, max: 253_402_300_799_999 }), fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }).map((ms) => ms - (ms % 1000)),
      fc.integer({ min: -8_640_000_000_000_000, max: 8_640_000_000_000_000 }), fc.double({ min: 0, max: 2e12, noNaN: true }),
      fc.constantFrom(0, 999, 1000, 86_399_999, 253_402_300_799_999, 253_402_300_800_000, -1),
    ), (ms) => {
      expect(isoTime(ms)).toBe(expected(ms));
    }), { numRuns: 5000 });
  });
});

describe('fuzz: counts in reports', () => {
  it('writes thousands separators as toLocaleString en-US does', () => {
    fc.assert(fc.property(fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.maxSafeNat(), fc.bigInt(), fc.double(), fc.constantFrom(0, -0, 999, 1000, -1000, 123456789)), (n) => {
      expect(formatCount(n)).toBe(n.toLocaleString('en-US'));
    }), { numRuns: 2000 });
  });
});

describe('fuzz: rule files', () => {
  it('either parse or fail with an NspError, never anything else', () => {
    const ruleish = fc.record({
      id: fc.oneof(fc.string(), fc.constant(`${PERIMETER}/profiles/p/accessRules/r`)),
      name: fc.oneof(fc.string(), fc.integer()),
      direction: fc.oneof(fc.constantFrom('Inbound', 'outbound', 'Transition'), fc.jsonValue()),
      addressPrefixes: fc.oneof(fc.array(fc.string()), fc.jsonValue()),
      subscriptions: fc.oneof(fc.array(fc.record({ id: fc.string() })), fc.jsonValue()),
      fullyQualifiedDomainNames: fc.oneof(fc.array(fc.domain()), fc.jsonValue()),
    }, { requiredKeys: [] });
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), fc.array(ruleish), ruleish.map((r) => ({ value: [r] }))), (json) => {
      try {
        parseExistingRules(json, 'fuzz.json');
      } catch (error) {
        expect(isNspError(error)).toBe(true);
      }
    }), { numRuns: RUNS * 20 });
  });
});

describe('the whole tree of files at once', () => {
  it('reads the estate and the malformed files together with the accounts holding', async () => {
    const files = await listInputFiles(['fixtures/estate', 'fixtures/malformed']);
    const r = await analyzeFiles(files, { workers: 2 });
    for (const a of r.accounts) expect(a.rowsRead).toBe(a.rowsUsed + skippedRows(a));
  });
});
