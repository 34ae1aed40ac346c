// Ingest: every input format and spelling variant reads into the same records; bad input is
// counted and reported with its place, never dropped silently.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyze, summaryToJSON } from '../src/analyze/index.js';
import { JsonElementSplitter, type JsonElement } from '../src/ingest/json-elements.js';
import { detectFormat, listInputFiles, readRecords } from '../src/ingest/index.js';
import { canonicalFqdn, canonicalPerimeterId, normalizeRow, parseLogTime } from '../src/ingest/normalize.js';
import { categories } from '../src/model/category.js';
import type { Issue, SourceAccount } from '../src/model/issue.js';
import { skippedRows } from '../src/model/issue.js';
import type { NspRecord } from '../src/model/record.js';

const ESTATE = 'fixtures/estate';

async function read(paths: string[]): Promise<{ records: NspRecord[]; issues: Issue[]; accounts: SourceAccount[] }> {
  const issues: Issue[] = [];
  const accounts: SourceAccount[] = [];
  const records: NspRecord[] = [];
  for await (const r of readRecords(await listInputFiles(paths), { onIssue: (i) => issues.push(i), accounts })) records.push(r);
  return { records, issues, accounts };
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'nspa-ingest-'));
}

describe('every input format of the estate', () => {
  const formats = ['storage-account', 'event-hubs', 'log-analytics/query-api.json', 'log-analytics/rows.json', 'portal/NSPAccessLogs.csv'];

  it('reads the same flows from each format, with every row used', async () => {
    const summaries: string[] = [];
    for (const f of formats) {
      const { records, issues, accounts } = await read([join(ESTATE, f)]);
      expect(issues, f).toEqual([]);
      const rows = accounts.reduce((n, a) => n + a.rowsRead, 0);
      expect(rows, f).toBe(records.length);
      expect(records.length, f).toBeGreaterThan(400);
      summaries.push(JSON.stringify(summaryToJSON(await analyze((async function* () { yield* records; })()))));
    }
    for (const s of summaries) expect(s).toBe(summaries[0]);
  });

  it('walks the storage-account tree recursively, gzip blobs included', async () => {
    const files = await listInputFiles([join(ESTATE, 'storage-account')]);
    expect(files.some((f) => f.path.endsWith('PT1H.json.gz'))).toBe(true);
    expect(files.every((f) => /insights-logs-nsp[a-z]+\/resourceId=\/SUBSCRIPTIONS\/.+\/y=\d{4}\/m=\d\d\/d=\d\d\/h=\d\d\/m=00\/PT1H\.json(\.gz)?$/.test(f.path))).toBe(true);
    const seen = new Set((await read([join(ESTATE, 'storage-account')])).records.map((r) => r.category));
    // Every current category (the deprecated and profile-level spellings are tested in normalizeRow).
    const current = categories.map((c) => c.name).filter((n) => n.startsWith('Nsp') && n !== 'NspIntraPerimeterOutboundAllowed');
    expect([...seen].sort()).toEqual(current.sort());
  });

  it('mixes formats in one run', async () => {
    const { records } = await read([join(ESTATE, 'portal'), join(ESTATE, 'event-hubs')]);
    const single = await read([join(ESTATE, 'portal')]);
    expect(records.length).toBe(single.records.length * 2);
  });
});

describe('normalizeRow', () => {
  const perimeter = '/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG-NSP/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYPERIMETERS/NSP-PROD';
  const camel = {
    time: '2026-11-02T08:00:00', count: '7', resourceId: perimeter, category: 'NspPublicInboundResourceRulesAllowed', operationName: 'GetBlob',
    properties: { profile: 'defaultProfile', serviceResourceId: '/subscriptions/x/Res', matchedRule: { accessRule: 'IP firewall' }, source: { ipAddress: '198.51.100.1', port: '1' } },
  };
  const pascal = {
    Time: '2026-11-02T08:00:00Z', Count: 7, ResourceId: perimeter, Category: 'nsppublicinboundresourcerulesallowed', OperationName: 'GetBlob',
    Properties: { Profile: 'DEFAULTPROFILE', ServiceResourceId: '/subscriptions/x/res', MatchedRule: { AccessRule: 'IP firewall' }, Source: { IpAddress: '198.51.100.1' } },
  };
  const la = {
    TimeGenerated: '2026-11-02T08:00:00.000Z', Count: '7', _ResourceId: perimeter.toLowerCase(), Category: 'NspPublicInboundResourceRulesAllowed', OperationName: 'GetBlob',
    Profile: 'defaultProfile', ServiceResourceId: '/subscriptions/x/res', MatchedRule: '{"accessRule":"IP firewall"}', SourceIpAddress: '198.51.100.1',
  };

  it('gives the same record for camelCase, PascalCase and Log Analytics spellings', () => {
    const a = normalizeRow(camel);
    expect(a.ok).toBe(true);
    expect(normalizeRow(pascal)).toEqual(a);
    expect(normalizeRow(la)).toEqual(a);
    if (a.ok) {
      expect(a.record).toMatchObject({ count: 7, profile: 'defaultprofile', peerKind: 'ip', peer: '198.51.100.1', matchedRule: 'IP firewall', decision: 'blocker', direction: 'Inbound' });
      expect(a.record.perimeterId).toBe('/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-nsp/providers/Microsoft.Network/networkSecurityPerimeters/nsp-prod');
    }
  });

  it('takes count as string or number, missing as 1, and refuses garbage', () => {
    const { Count: _, ...noCount } = la;
    expect(normalizeRow(noCount)).toMatchObject({ ok: true, record: { count: 1 } });
    expect(normalizeRow({ ...la, Count: '' })).toMatchObject({ ok: true, record: { count: 1 } });
    expect(normalizeRow({ ...la, Count: 12 })).toMatchObject({ ok: true, record: { count: 12 } });
    expect(normalizeRow({ ...la, Count: 'lots' })).toMatchObject({ ok: false, code: 'invalid-count' });
    expect(normalizeRow({ ...la, Count: -3 })).toMatchObject({ ok: false, code: 'invalid-count' });
  });

  it('accepts properties as JSON text and old category spellings', () => {
    const r = normalizeRow({ ...camel, category: 'perimeterPublicInboundResourceRulesAllowed', properties: JSON.stringify(camel.properties) });
    expect(r).toMatchObject({ ok: true, record: { category: 'NspPublicInboundResourceRulesAllowed', peer: '198.51.100.1' } });
  });

  it('chooses the peer: Azure caller resource, IP, FQDN, or none', () => {
    expect(normalizeRow({ ...la, SourceResourceId: '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/RG/providers/Microsoft.Web/sites/F' }))
      .toMatchObject({ ok: true, record: { peerKind: 'resource', peer: '/subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups/rg/providers/microsoft.web/sites/f', sourceIp: '198.51.100.1' } });
    expect(normalizeRow({ ...la, SourceIpAddress: '' })).toMatchObject({ ok: true, record: { peerKind: 'none', peer: '' } });
    expect(normalizeRow({ ...la, SourceIpAddress: '[2001:DB8::1]:443' })).toMatchObject({ ok: true, record: { peer: '2001:db8::1' } });
    expect(normalizeRow({ ...la, SourceIpAddress: '198.51.100.9:5000' })).toMatchObject({ ok: true, record: { peer: '198.51.100.9' } });
    expect(normalizeRow({ ...la, SourceIpAddress: '::ffff:198.51.100.9' })).toMatchObject({ ok: true, record: { peer: '198.51.100.9' } });
    expect(normalizeRow({ ...la, Category: 'NspPublicOutboundResourceRulesAllowed', DestinationFqdn: 'API.Contoso.COM.' }))
      .toMatchObject({ ok: true, record: { peerKind: 'fqdn', peer: 'api.contoso.com', direction: 'Outbound' } });
  });

  it('reports each kind of bad row with a code', () => {
    expect(normalizeRow({ ...la, Category: 'NspBrandNew' })).toMatchObject({ ok: false, code: 'unknown-category', hits: 7 });
    expect(normalizeRow({ ...la, SourceIpAddress: '010.1.1.1' })).toMatchObject({ ok: false, code: 'invalid-ip' });
    expect(normalizeRow({ ...la, TimeGenerated: 'yesterday' })).toMatchObject({ ok: false, code: 'invalid-time' });
    expect(normalizeRow({ ...la, _ResourceId: '/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z' })).toMatchObject({ ok: false, code: 'invalid-perimeter' });
    expect(normalizeRow({ ...la, Profile: '' })).toMatchObject({ ok: false, code: 'missing-field' });
    expect(normalizeRow({ ...la, Category: 'NspPublicOutboundResourceRulesAllowed', DestinationFqdn: 'not a host' })).toMatchObject({ ok: false, code: 'invalid-fqdn' });
  });
});

describe('field parsers', () => {
  it('reads every timestamp shape the logs carry, as UTC', () => {
    const t = Date.UTC(2026, 10, 12, 20, 3, 2);
    expect(parseLogTime('2026-11-12T20:03:02')).toBe(t);
    expect(parseLogTime('2026-11-12T20:03:02Z')).toBe(t);
    expect(parseLogTime('2026-11-12T20:03:02.0000000Z')).toBe(t);
    expect(parseLogTime('2026-11-12T20:03:02.1234567Z')).toBe(t + 123);
    expect(parseLogTime('2026-11-12 20:03:02')).toBe(t);
    expect(parseLogTime('2026-11-12T21:03:02+01:00')).toBe(t);
    expect(parseLogTime('11/12/2026, 8:03:02.000 PM')).toBe(t);
    expect(parseLogTime('11/12/2026, 12:03:02.000 AM')).toBe(Date.UTC(2026, 10, 12, 0, 3, 2));
    expect(parseLogTime('11/12/2026, 12:03:02.000 PM')).toBe(Date.UTC(2026, 10, 12, 12, 3, 2));
    for (const bad of ['2026-02-30T00:00:00Z', '2026-13-01T00:00:00Z', '13/12/2026, 8:03:02.000 PM', '11/12/2026, 13:03:02 PM', 'now']) {
      expect(parseLogTime(bad), bad).toBeNaN();
    }
  });

  it('canonicalizes FQDNs and perimeter ids', () => {
    expect(canonicalFqdn('HTTPS://Hooks.Partner.Example:443/notify?x=1')).toBe('hooks.partner.example');
    expect(canonicalFqdn('api.contoso.com..')).toBe('api.contoso.com');
    expect(canonicalFqdn('localhost')).toBe('');
    expect(canonicalPerimeterId('/subscriptions/S/resourceGroups/R/providers/Microsoft.Network/networkSecurityPerimeters/N/profiles/P'))
      .toBe('/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/networkSecurityPerimeters/n');
  });
});

describe('format detection', () => {
  it('tells the formats apart from content, not names', () => {
    const b = (s: string): Buffer => Buffer.from(s);
    expect(detectFormat(b('{"time":"x"}\n{"time":"y"}\n'))).toBe('jsonl');
    expect(detectFormat(b('not json\n{"time":"y"}\n'))).toBe('unknown');
    expect(detectFormat(b('{"time": broken}\n{"time":"y"}\n'))).toBe('jsonl');
    expect(detectFormat(b('{\n  "records": [\n    {\n'))).toBe('json');
    expect(detectFormat(b('{"records":[{"a":1}]}'))).toBe('jsonl');
    expect(detectFormat(b('{"records":[{"a":1}]'))).toBe('json');
    expect(detectFormat(b('{"records": [\n{"a":1},\n{"a":2}\n]}\n'))).toBe('json');
    expect(detectFormat(b('\uFEFF[\n {"a":1}\n]'))).toBe('json');
    expect(detectFormat(b('TimeGenerated [UTC],Category,Profile\n'))).toBe('csv');
    expect(detectFormat(b('ARROW1\0\0'))).toBe('arrow');
    expect(detectFormat(b('  \n'))).toBe('jsonl');
  });
});

const textOf = (e: JsonElement): string => ('text' in e ? e.text : '');

describe('JsonElementSplitter', () => {
  const split = (doc: string, chunkSizes: number[]): { elements: JsonElement[]; complete: boolean } => {
    const elements: JsonElement[] = [];
    const s = new JsonElementSplitter((e) => elements.push(e));
    let i = 0;
    let k = 0;
    while (i < doc.length) {
      const n = Math.max(1, chunkSizes[k++ % chunkSizes.length]!);
      s.push(doc.slice(i, i + n));
      i += n;
    }
    return { elements, complete: s.end() };
  };
  const rowArb = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });

  it('hands out every element of a records wrapper, whatever the chunking and spacing', () => {
    fc.assert(fc.property(fc.array(rowArb, { maxLength: 8 }), fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 3 }),
      (rows, sizes, indent) => {
        const doc = JSON.stringify({ other: { records: [1] }, records: rows, tail: 'x' }, null, indent);
        const { elements, complete } = split(doc, sizes);
        expect(complete).toBe(true);
        expect(elements.map((e) => JSON.parse(textOf(e)))).toEqual(rows.map((r) => JSON.parse(JSON.stringify(r))));
      }));
  });

  it('hands out Log Analytics columns and cell rows, and top-level arrays', () => {
    fc.assert(fc.property(fc.array(fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { minLength: 2, maxLength: 2 }), { maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }), (rows, sizes) => {
        const doc = JSON.stringify({ Tables: [{ name: 'PrimaryResult', columns: [{ name: 'a', type: 'string' }, { name: 'b', type: 'long' }], rows }] }, null, 1);
        const { elements } = split(doc, sizes);
        expect(elements[0]!.kind).toBe('columns');
        expect(elements.slice(1).map((e) => JSON.parse(textOf(e)))).toEqual(rows);
        const arr = split(JSON.stringify(rows.map((r) => ({ a: r[0] }))), sizes);
        expect(arr.elements.map((e) => JSON.parse(textOf(e)))).toEqual(rows.map((r) => ({ a: r[0] })));
      }));
  });

  it('says when a document ends early, and numbers lines', () => {
    const { elements, complete } = split('{\n"records": [\n{"a": 1},\n{"a": 2},\n{"a"', [5]);
    expect(complete).toBe(false);
    expect(elements.map((e) => e.line)).toEqual([3, 4]);
  });
});

describe('bad input', () => {
  it('counts and places every bad row of a JSON lines file, and goes on', async () => {
    const { records, issues, accounts } = await read(['fixtures/malformed/bad-rows.jsonl']);
    expect(issues.map((i) => [i.code, i.location])).toEqual([
      ['invalid-json', 'fixtures/malformed/bad-rows.jsonl:2'],
      ['unknown-category', 'fixtures/malformed/bad-rows.jsonl:4'],
      ['invalid-ip', 'fixtures/malformed/bad-rows.jsonl:5'],
      ['invalid-count', 'fixtures/malformed/bad-rows.jsonl:7'],
    ]);
    expect(records).toHaveLength(4);
    expect(accounts[0]).toMatchObject({ rowsRead: 8, rowsUsed: 4, skipped: { 'invalid-json': 1, 'unknown-category': 1, 'invalid-ip': 1, 'invalid-count': 1 } });
    expect(accounts[0]!.rowsRead).toBe(accounts[0]!.rowsUsed + skippedRows(accounts[0]!));
  });

  it('keeps the rows before a gzip stream that ends early and reports the cut', async () => {
    const { records, issues } = await read(['fixtures/malformed/truncated.jsonl.gz']);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.code).toBe('truncated-input');
    expect(records.length).toBeLessThan(6);
  });

  it('reports CSV rows with the wrong column count by line', async () => {
    const { records, issues } = await read(['fixtures/malformed/bad-columns.csv']);
    expect(issues.map((i) => [i.code, i.location])).toEqual([['wrong-column-count', 'fixtures/malformed/bad-columns.csv:3']]);
    expect(records).toHaveLength(4);
  });

  it('reads CSV with embedded newlines and quotes', async () => {
    const dir = tempDir();
    const path = join(dir, 'x.csv');
    writeFileSync(path, 'TimeGenerated [UTC],Category,Profile,_ResourceId,SourceIpAddress,OperationName\n' +
      '"11/12/2026, 8:03:02.000 PM",NspPublicInboundResourceRulesAllowed,p,/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/networkSecurityPerimeters/n,198.51.100.1,"Get ""blob""\nsecond line"\n');
    const { records, issues } = await read([path]);
    expect(issues).toEqual([]);
    expect(records[0]!.operation).toBe('Get "blob"\nsecond line');
  });

  it('reads documents in every shape without losing rows', async () => {
    const dir = tempDir();
    const record = (i: number) => ({ time: '2026-11-02T08:00:00Z', count: '37', category: 'NspPublicInboundResourceRulesAllowed', resourceId: '/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/networkSecurityPerimeters/n', properties: { profile: 'p', source: { ipAddress: `198.51.100.${i}` } } });
    const cases: [string, string, number][] = [
      ['pretty single record', JSON.stringify(record(1), null, 2), 1],
      ['one record, no newline', JSON.stringify(record(1)), 1],
      ['records wrapper, a record per line', `{"records": [\n${[1, 2, 3].map((i) => JSON.stringify(record(i))).join(',\n')}\n]}\n`, 3],
      ['JSON lines whose first line is over a megabyte', [0, 1, 2].map(() => JSON.stringify({ records: Array.from({ length: 4000 }, (_, i) => record(i % 250)) })).join('\n'), 12_000],
      ['pretty records one after another', [1, 2].map((i) => JSON.stringify(record(i), null, 1)).join('\n'), 2],
    ];
    for (const [name, content, rows] of cases) {
      const path = join(dir, `${name.replace(/\W+/g, '-')}.json`);
      writeFileSync(path, content);
      const { records, issues, accounts } = await read([path]);
      expect(issues, name).toEqual([]);
      expect(records.length, name).toBe(rows);
      expect(accounts[0]!.hitsUsed, name).toBe(rows * 37);
    }
  });

  it('reads concatenated gzip members and a records wrapper in a .gz', async () => {
    const dir = tempDir();
    const line = (ip: string): string => JSON.stringify({ time: '2026-11-02T00:00:00Z', category: 'NspPublicInboundResourceRulesAllowed', resourceId: '/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/networkSecurityPerimeters/n', properties: { profile: 'p', source: { ipAddress: ip } } });
    writeFileSync(join(dir, 'a.gz'), Buffer.concat([gzipSync(`${line('198.51.100.1')}\n`), gzipSync(`${line('198.51.100.2')}\n`)]));
    writeFileSync(join(dir, 'b.json.gz'), gzipSync(JSON.stringify({ records: [JSON.parse(line('198.51.100.3'))] }, null, 2)));
    const { records, issues } = await read([dir]);
    expect(issues).toEqual([]);
    expect(records.map((r) => r.peer)).toEqual(['198.51.100.1', '198.51.100.2', '198.51.100.3']);
  });

  it('reports files of no known format without stopping', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'notes.txt'), 'hello\n');
    const { issues } = await read([dir, join(ESTATE, 'portal')]);
    expect(issues.map((i) => i.code)).toEqual(['unknown-format']);
  });

  it('fails clearly on a missing path', async () => {
    await expect(listInputFiles(['no/such/dir'])).rejects.toMatchObject({ code: 'input-missing', message: expect.stringContaining('no/such/dir') });
  });
});
