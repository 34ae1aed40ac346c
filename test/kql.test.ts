/// <reference types="@kusto/language-service-next" />
// KQL builder: string literals that cannot be broken out of (property-tested with the Kusto
// language service's own lexer), and every query the tool sends checked against the full
// NSPAccessLogs schema with zero diagnostics. The language service loads once (~1.6 s).

import { createRequire } from 'node:module';
import fc from 'fast-check';
import yargs from 'yargs';
import { beforeAll, describe, expect, it } from 'vitest';
import { kqlCommand } from '../src/cli/commands/kql.js';
import { createTestIO } from '../src/cli/io.js';
import { checkRemoteArgs } from '../src/cli/remote-options.js';
import { isNspError } from '../src/errors.js';
import {
  DEFAULT_TABLE, GROUP_COLUMNS, RAW_COLUMNS, buildQuery, filterClauses, kqlString, kqlTableName, pushdownQuery, pushdownRow, rawQuery,
  type KqlFilters, type QueryOptions,
} from '../src/ingest/kql.js';
import { NSP_ACCESS_LOGS_COLUMNS, NSP_ACCESS_LOGS_SCHEMA } from '../src/ingest/kusto-schema.js';
import { project, summarize } from './helpers/fake-log-analytics.js';
import { runs } from './helpers/runs.js';

let K: typeof Kusto.Language;
let globals: Kusto.Language.GlobalState;

beforeAll(() => {
  const require = createRequire(import.meta.url);
  require('@kusto/language-service-next/bridge.js'); // Bridge.NET runtime: globals Bridge, System
  require('@kusto/language-service-next'); // global Kusto
  K = Kusto.Language;
  globals = globalsWith([DEFAULT_TABLE]);
}, 30_000);

function globalsWith(tables: string[]): Kusto.Language.GlobalState {
  const symbols = tables.map((name) => new K.Symbols.TableSymbol.$ctor7(name, NSP_ACCESS_LOGS_SCHEMA, null));
  return K.GlobalState.Default!.WithDatabase(new K.Symbols.DatabaseSymbol.ctor('db', symbols))!;
}

interface Analysis { diagnostics: string[]; columns: [string, string][] }

function analyze(query: string, state = globals): Analysis {
  const code = K.KustoCode.ParseAndAnalyze(query, state)!;
  const list = code.GetDiagnostics()!;
  const diagnostics: string[] = [];
  for (let i = 0; i < list.Count; i++) { const d = list.getItem(i)!; diagnostics.push(`${d.Code} ${d.Message} @${d.Start}`); }
  const columns: [string, string][] = [];
  const result = code.ResultType as Kusto.Language.Symbols.TableSymbol | null;
  const cols = result?.Columns;
  if (cols) for (let i = 0; i < cols.Count; i++) { const c = cols.getItem(i)!; columns.push([c.Name!, c.Type!.Name!]); }
  return { diagnostics, columns };
}

/** Kinds, texts and values of the tokens of `text` as the query parser sees them. */
function tokens(text: string): { kind: number; text: string; value: unknown }[] {
  const code = K.KustoCode.Parse(text, null)!;
  const out: { kind: number; text: string; value: unknown }[] = [];
  for (let t = code.Syntax!.GetFirstToken(); t; t = t.GetNextToken()) out.push({ kind: t.Kind, text: t.Text ?? '', value: t.Value });
  return out;
}

const forbidden = (s: string): boolean => /[\p{Cc}\p{Cs}]/u.test(s.replace(/[\n\r\t]/g, ''));

describe('kqlString', () => {
  it('is one string literal token whose value is the input, for any string it accepts', () => {
    // Any UTF-16 (lone surrogates and controls included), any Unicode text, and strings made of the
    // characters that matter to the lexer.
    const values = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.string({ unit: fc.constantFrom("'", '"', '\\', '\n', '\r', '\t', '|', '/', '@', 'h', 'x', ' ', '`', '\u2028'), maxLength: 30 }),
    );
    fc.assert(fc.property(values, (value) => {
      let literal: string;
      try {
        literal = kqlString(value);
      } catch (error) {
        // Refused exactly when the value has a control character other than \n \r \t, or a lone surrogate.
        expect(isNspError(error) && error.code === 'usage').toBe(true);
        expect(forbidden(value)).toBe(true);
        return;
      }
      expect(forbidden(value)).toBe(false);
      const lexed = K.Parsing.TokenParser.ParseTokens(literal, null)!;
      expect(lexed.map((t) => t.Kind)).toEqual([K.Syntax.SyntaxKind.StringLiteralToken, K.Syntax.SyntaxKind.EndOfTextToken]);
      expect(lexed[0]!.Text).toBe(literal);
      expect(lexed[1]!.Trivia).toBe('');
      expect(K.KustoFacts.GetStringLiteralValue(literal)).toBe(value);
      // Inside a query: the same token structure as with a plain literal, the value intact, no diagnostics.
      const query = `NSPAccessLogs | where Profile == ${literal} | take 1`;
      const got = tokens(query);
      expect(got.map((t) => t.kind)).toEqual(tokens(`NSPAccessLogs | where Profile == 'x' | take 1`).map((t) => t.kind));
      expect(got[5]!.value).toBe(value);
      expect(analyze(query).diagnostics).toEqual([]);
    }), { numRuns: runs(300) });
  });

  it('keeps injection attempts inside the literal', () => {
    for (const attack of ["x' | project secret //", "x\\' | project secret //", "x\\\\' | take 1 //", "x'\n| project secret", 'x" | project secret //', "'; .drop table NSPAccessLogs", "a@'b'", '\\', "'"]) {
      const query = `NSPAccessLogs | where Profile == ${kqlString(attack)} | take 1`;
      const got = tokens(query);
      expect(got.filter((t) => t.kind === K.Syntax.SyntaxKind.StringLiteralToken).map((t) => t.value)).toEqual([attack]);
      expect(got.some((t) => t.text === 'project' || t.text === 'drop')).toBe(false);
      expect(analyze(query).diagnostics).toEqual([]);
    }
  });

  it('refuses control characters with a usage error naming the code point', () => {
    expect(() => kqlString('a\u0000b')).toThrow(/U\+0000/);
    expect(() => kqlString('a\u001bb')).toThrow(/U\+001B/);
    expect(() => kqlString('\ud800')).toThrow(/U\+D800/);
    expect(kqlString('tab\there\nnew\rline')).toBe("'tab\\there\\nnew\\rline'");
    expect(kqlString('\u{1F600} é')).toBe("'\u{1F600} é'");
  });
});

describe('kqlTableName', () => {
  it('writes the default table bare and any other name as a bracketed literal the engine resolves', () => {
    expect(kqlTableName('NSPAccessLogs')).toBe('NSPAccessLogs');
    for (const name of ['NspLogs', 'my table', "o'brien]", 'where', 'x\\y', 'NSPAccessLogs_CL']) {
      const ref = kqlTableName(name);
      expect(ref).toBe(`[${kqlString(name)}]`);
      const window = { start: Date.UTC(2026, 10, 2), end: Date.UTC(2026, 10, 3) };
      expect(analyze(pushdownQuery({ window, table: name }), globalsWith([name])).diagnostics).toEqual([]);
    }
    expect(() => kqlTableName(' ')).toThrow(/empty name/);
  });
});

const WINDOW = { start: Date.UTC(2026, 10, 2), end: Date.UTC(2026, 10, 16) };
const PROD = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-nsp/providers/Microsoft.Network/networkSecurityPerimeters/nsp-prod';
const STORAGE = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-app/providers/Microsoft.Storage/storageAccounts/stapp01';

const FILTERS: Record<string, KqlFilters> = {
  none: {},
  'perimeter name': { perimeters: ['nsp-prod'] },
  'perimeter id': { perimeters: [PROD] },
  'profile id as perimeter': { perimeters: [`${PROD}/profiles/defaultProfile`] },
  'names and ids': { perimeters: ['nsp-dev', PROD] },
  profiles: { profiles: ['defaultProfile', 'analytics'] },
  resource: { resources: [`${STORAGE}/`] },
  everything: { perimeters: ['nsp-prod'], profiles: ["it's \\ odd"], resources: [STORAGE, "x' | project secret // y"] },
};

describe('queries', () => {
  const expectedPushdown: [string, string][] = [
    ...GROUP_COLUMNS.map((c): [string, string] => [c, 'string']), ['Day', 'datetime'], ['Hits', 'long'], ['GoodRows', 'long'],
    ['BadCountRows', 'long'], ['FirstSeen', 'datetime'], ['LastSeen', 'datetime'], ['Operations', 'dynamic'],
  ];

  for (const [label, filters] of Object.entries(FILTERS)) {
    it(`pushdown and raw with ${label} filters: zero diagnostics against the full schema`, () => {
      const options: QueryOptions = { ...filters, window: WINDOW };
      const push = analyze(pushdownQuery(options));
      expect(push.diagnostics).toEqual([]);
      expect(push.columns).toEqual(expectedPushdown);
      const raw = analyze(rawQuery(options));
      expect(raw.diagnostics).toEqual([]);
      const types = new Map(NSP_ACCESS_LOGS_COLUMNS.map(([n, t]) => [n, t]));
      expect(raw.columns).toEqual(RAW_COLUMNS.map((c) => [c, types.get(c)]));
      expect(buildQuery({ ...options, raw: true })).toBe(rawQuery(options));
      expect(buildQuery(options)).toBe(pushdownQuery(options));
    });
  }

  it('uses the full NSPAccessLogs schema (40 columns, nothing dynamic)', () => {
    expect(NSP_ACCESS_LOGS_COLUMNS).toHaveLength(40);
    expect(NSP_ACCESS_LOGS_COLUMNS.some(([, t]) => t === 'dynamic')).toBe(false);
    expect(analyze('NSPAccessLogs | where SourceIPAddress == "x"').diagnostics.join()).toMatch(/KS142/);
  });

  it('matches the fake server: the columns it answers with are the ones the engine would return', () => {
    expect(summarize([], 'la').columns.map((c) => [c.name, c.type])).toEqual(expectedPushdown);
    expect(project([]).columns.map((c) => [c.name, c.type])).toEqual(analyze(rawQuery({ window: WINDOW })).columns);
  });

  it('writes a half-open window and the filters as literals', () => {
    const q = pushdownQuery({ window: { start: Date.UTC(2026, 10, 2, 6), end: Date.UTC(2026, 10, 2, 7, 30) }, ...FILTERS.everything });
    expect(q).toContain('| where TimeGenerated >= datetime(2026-11-02T06:00:00.000Z) and TimeGenerated < datetime(2026-11-02T07:30:00.000Z)');
    expect(q).toContain("| where _ResourceId endswith '/networksecurityperimeters/nsp-prod'");
    expect(q).toContain("| where Profile in~ ('it\\'s \\\\ odd')");
    expect(q).toContain(`| where ServiceResourceId in~ ('${STORAGE.toLowerCase()}', 'x\\' | project secret // y')`);
    expect(filterClauses(FILTERS['perimeter id']!)).toEqual([`| where _ResourceId in~ ('${PROD}')`]);
    expect(filterClauses({ perimeters: ['nsp-dev', PROD] })).toEqual([`| where _ResourceId in~ ('${PROD}') or _ResourceId endswith '/networksecurityperimeters/nsp-dev'`]);
    expect(() => filterClauses({ perimeters: ['/subscriptions/x/resourceGroups/y'] })).toThrow(/not a network security perimeter id/);
    expect(() => filterClauses({ perimeters: ["nsp' or 1==1"] })).toThrow(/not a perimeter name/);
    expect(() => pushdownQuery({ window: { start: 5, end: 5 } })).toThrow(RangeError);
  });
});

describe('pushdownRow', () => {
  it('turns a result row back into a log row with Count = hits', () => {
    const got = pushdownRow({
      _ResourceId: PROD.toLowerCase(), Profile: 'defaultProfile', Category: 'NspPublicInboundResourceRulesAllowed', ServiceResourceId: STORAGE,
      SourceIpAddress: '198.51.100.16', SourceResourceId: '', DestinationFqdn: '', DestinationResourceId: '', MatchedRule: '{"accessRule":"IP firewall"}',
      Day: new Date('2026-11-02T00:00:00Z'), Hits: 42, GoodRows: 3, BadCountRows: 1,
      FirstSeen: new Date('2026-11-02T07:00:00.123Z'), LastSeen: '2026-11-02T09:00:00.1234567Z', Operations: '["GetBlob","PutBlob"]',
    });
    expect(got.row).toMatchObject({ TimeGenerated: '2026-11-02T07:00:00.123Z', TimeGeneratedEndTime: '2026-11-02T09:00:00.1234567Z', Count: 42, OperationName: 'GetBlob', Profile: 'defaultProfile' });
    expect(got.operations).toEqual(['GetBlob', 'PutBlob']);
    expect([got.goodRows, got.badCountRows]).toEqual([3, 1]);
    expect(pushdownRow({ Operations: ['a'] }).operations).toEqual(['a']);
    expect(pushdownRow({ Operations: 'not json' }).operations).toEqual([]);
  });
});

describe('kql command', () => {
  it('prints the pushdown query for the window, valid against the schema', async () => {
    const io = createTestIO();
    const code = await kqlCommand.run({ since: '14d', profile: ['defaultProfile'], raw: false, table: DEFAULT_TABLE, chunk: '1d' }, io, { azure: { now: () => WINDOW.end } });
    expect(code).toBe(0);
    expect(io.out()).toBe(`${pushdownQuery({ window: WINDOW, profiles: ['defaultProfile'] })}\n`);
    expect(analyze(io.out()).diagnostics).toEqual([]);
    expect(io.err()).toContain('2026-11-02T00:00:00.000Z/2026-11-16T00:00:00.000Z');
  });

  it('prints the raw query with --raw and explicit dates', async () => {
    const io = createTestIO();
    await kqlCommand.run({ start: '2026-11-02', end: '2026-11-02T06:00:00Z', raw: true, table: DEFAULT_TABLE }, io, {});
    expect(io.out()).toBe(`${rawQuery({ window: { start: Date.UTC(2026, 10, 2), end: Date.UTC(2026, 10, 2, 6) } })}\n`);
  });

  it('parses its options with yargs (repeatable filters, --raw, --table)', async () => {
    const argv = await kqlCommand.builder(yargs().strict().exitProcess(false).fail((msg) => { throw new Error(msg); }))
      .parseAsync(['--start', '2026-11-02', '--end', '2026-11-03', '--profile', 'a', '--profile', 'b', '--table', 'Logs', '--raw']);
    const io = createTestIO();
    await kqlCommand.run(argv as Record<string, unknown>, io, {});
    const expected = rawQuery({ window: { start: Date.UTC(2026, 10, 2), end: Date.UTC(2026, 10, 3) }, profiles: ['a', 'b'], table: 'Logs' });
    expect(io.out()).toBe(`${expected}\n`);
    expect(analyze(expected, globalsWith(['Logs'])).diagnostics).toEqual([]);
    const bad = async (): Promise<unknown> => kqlCommand.builder(yargs().strict().exitProcess(false).fail((msg) => { throw new Error(msg); })).parseAsync(['--since', '1d', '--start', '2026-11-02']);
    await expect(bad()).rejects.toThrow(/--since or --start/);
  });

  it('rejects contradictory or malformed options', () => {
    expect(() => checkRemoteArgs({ since: '14d', start: '2026-11-02' })).toThrow(/--since or --start/);
    expect(() => checkRemoteArgs({ since: 'fortnight' })).toThrow(/duration/);
    expect(() => checkRemoteArgs({ start: 'yesterday' })).toThrow(/--start/);
    expect(() => checkRemoteArgs({ workspace: ['/subscriptions/x'] })).toThrow(/GUID/);
    expect(() => checkRemoteArgs({ cluster: 'https://c.kusto.windows.net' })).toThrow(/together/);
    expect(() => checkRemoteArgs({ cluster: 'http://c', database: 'd' })).toThrow(/https/);
    expect(() => checkRemoteArgs({ concurrency: 0 })).toThrow(/concurrency/);
    expect(() => checkRemoteArgs({ profile: ['a\u0000'] })).toThrow(/control character/);
    expect(() => checkRemoteArgs({ since: '36h', perimeter: ['nsp-prod'], workspace: ['00000000-0000-0000-0000-0000000000aa'] })).not.toThrow();
  });
});
