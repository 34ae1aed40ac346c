// Recommend: which flows become rules and which never do, subscription vs IP, lossless merging,
// existing-rule subtraction, the element limit, unresolved sources, names and determinism.

import { mergeCidr } from 'cidr-tools';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addRecord, emptySummary } from '../src/analyze/index.js';
import { listInputFiles, readRecords } from '../src/ingest/index.js';
import { readExistingRules } from '../src/ingest/existing-rules.js';
import { categories, lookupCategory } from '../src/model/category.js';
import type { FlowSummary } from '../src/model/flow-summary.js';
import { formatIPv4 } from '../src/model/ip.js';
import type { NspRecord } from '../src/model/record.js';
import { ruleElements, type RuleSet } from '../src/model/rule-set.js';
import { json } from '../src/recommend/emit/json.js';
import { recommend } from '../src/recommend/index.js';
import { isValidRuleName, ruleName } from '../src/recommend/rule-names.js';
import { expectGolden } from './helpers/golden.js';

const PERIMETER = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/networkSecurityPerimeters/nsp';
const STORAGE = '/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg/providers/microsoft.storage/storageaccounts/st';

function record(over: Partial<NspRecord>): NspRecord {
  const category = lookupCategory(over.category ?? 'NspPublicInboundResourceRulesAllowed')!;
  return {
    time: Date.UTC(2026, 10, 2, 8), endTime: Date.UTC(2026, 10, 2, 8), count: 1, perimeterId: PERIMETER, profile: 'p',
    category: category.name, direction: category.direction, decision: category.decision, resourceId: STORAGE,
    peerKind: 'ip', peer: '198.51.100.1', sourceIp: '', matchedRule: '', operation: 'GetBlob', ...over,
  };
}

function summaryOf(records: NspRecord[]): FlowSummary {
  const s = emptySummary();
  for (const r of records) addRecord(s, r);
  return s;
}

const elements = (rs: RuleSet): string[] => rs.profiles.flatMap((p) => p.rules.flatMap(ruleElements));

async function estate(path = 'fixtures/estate/storage-account'): Promise<FlowSummary> {
  const s = emptySummary();
  for await (const r of readRecords(await listInputFiles([path]))) addRecord(s, r);
  return s;
}

describe('recommend on the fixture estate', () => {
  it('matches the golden review document', async () => {
    expectGolden(json(recommend(await estate()).ruleSet), 'test/golden/estate/expected.rules.json');
  });

  it('subtracts the rules in place and never reuses an existing name with other content', async () => {
    const existing = await readExistingRules(['fixtures/existing-rules.json']);
    const { ruleSet } = recommend(await estate(), existing);
    expectGolden(json(ruleSet), 'test/golden/estate/expected.existing.rules.json');
    const prod = ruleSet.profiles.find((p) => p.profile === 'defaultprofile')!;
    const prefixes = prod.rules.flatMap(ruleElements);
    // 203.0.113.2/31 is in place: only the other half of the /30 is recommended.
    expect(prefixes).toContain('203.0.113.0/31');
    expect(prefixes).not.toContain('203.0.113.0/30');
    // An existing rule is named in-ip-192.0.2.10_32 but holds another address.
    expect(prod.rules.find((r) => ruleElements(r)[0] === '192.0.2.10/32')!.name).toBe('in-ip-192.0.2.10_32-2');
    const analytics = ruleSet.profiles.find((p) => p.profile === 'analytics')!;
    expect(analytics.rules.flatMap(ruleElements)).not.toContain('docs.contoso.com');
  });

  it('extends the rules in place with their full content when asked', async () => {
    const existing = await readExistingRules(['fixtures/existing-rules.json']);
    const { ruleSet } = recommend(await estate(), existing, { extendExisting: true });
    const prod = ruleSet.profiles.find((p) => p.profile === 'defaultprofile')!;
    const ci = prod.rules.find((r) => r.name === 'allow-ci')!;
    expect(ci.extendsExisting).toBe(true);
    // Full content: the elements in place first, then the new ones; a PUT of this replaces the rule.
    expect(ruleElements(ci)).toEqual(['198.51.100.16/30', '198.51.100.17/32', '192.0.2.10/32', '203.0.113.0/31', '2001:db8:10::4/127']);
    expect(ci.evidence.sources).toBe(5);
    // No type in place for subscriptions: a rule of its own as usual.
    expect(prod.rules.map((r) => r.name)).toEqual(['allow-ci', 'in-sub-11111111-1111-1111-1111-111111111111']);
    const analytics = ruleSet.profiles.find((p) => p.profile === 'analytics')!;
    expect(analytics.rules.find((r) => r.name === 'allow-docs')).toMatchObject({ fullyQualifiedDomainNames: ['docs.contoso.com', 'api.contoso.com', 'hooks.partner.example'] });
  });

  it('is byte-identical on every run and every input format', async () => {
    const a = json(recommend(await estate()).ruleSet);
    expect(json(recommend(await estate()).ruleSet)).toBe(a);
    expect(json(recommend(await estate('fixtures/estate/portal')).ruleSet)).toBe(a);
  });
});

describe('which categories produce rules', () => {
  it('makes rules only from …ResourceRulesAllowed flows', () => {
    for (const c of categories) {
      const peer = c.direction === 'Inbound' ? { peerKind: 'ip' as const, peer: '198.51.100.1' } : { peerKind: 'fqdn' as const, peer: 'api.contoso.com' };
      const { ruleSet } = recommend(summaryOf([record({ category: c.name, ...peer })]));
      expect(elements(ruleSet).length, c.name).toBe(c.decision === 'blocker' ? 1 : 0);
      expect(ruleSet.profiles[0]!.unresolved, c.name).toEqual([]);
    }
  });
});

describe('rule choice per source', () => {
  it('uses a subscription rule for Azure callers and an IP rule otherwise', () => {
    const caller = (name: string): string => `/subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups/rg/providers/microsoft.web/sites/${name}`;
    const { ruleSet } = recommend(summaryOf([
      record({ peerKind: 'resource', peer: caller('a'), sourceIp: '198.51.100.5' }),
      record({ peerKind: 'resource', peer: caller('b') }),
      record({ peer: '198.51.100.9' }),
      record({ peerKind: 'ip', peer: '2001:db8::7' }),
    ]));
    const rules = ruleSet.profiles[0]!.rules;
    expect(rules.map((r) => [r.name, ruleElements(r)])).toEqual([
      ['in-ip-198.51.100.9_32', ['198.51.100.9/32']],
      ['in-ip-2001-db8--7_128', ['2001:db8::7/128']],
      ['in-sub-11111111-1111-1111-1111-111111111111', ['/subscriptions/11111111-1111-1111-1111-111111111111']],
    ]);
    expect(rules[2]!.evidence).toMatchObject({ hits: 2, sources: 2 });
    expect(rules.every((r) => ruleElements(r).length === 1)).toBe(true);
  });

  it('sends what no rule can fix to unresolved, with reason and hits', () => {
    const { ruleSet } = recommend(summaryOf([
      record({ peer: '10.1.2.3', count: 3 }),
      record({ peer: '127.0.0.1' }),
      record({ peerKind: 'none', peer: '', count: 4 }),
      record({ peerKind: 'resource', peer: STORAGE, count: 2 }),
      record({ category: 'NspPublicOutboundResourceRulesAllowed', peerKind: 'none', peer: '' }),
    ]));
    expect(elements(ruleSet)).toEqual([]);
    expect(ruleSet.profiles[0]!.unresolved.map((u) => [u.reason, u.source ?? u.destination, u.hits])).toEqual([
      ['empty-source-ip', '', 4],
      ['private-address', '10.1.2.3', 3],
      ['reserved-address', '127.0.0.1', 1],
      ['same-perimeter-caller', STORAGE, 2],
      ['empty-destination', '', 1],
    ]);
  });

  it('writes exact FQDNs, lower case, without the trailing dot', async () => {
    const { ruleSet } = recommend(await estate());
    const fqdns = ruleSet.profiles.flatMap((p) => p.rules).filter((r) => r.direction === 'Outbound').flatMap(ruleElements);
    expect(fqdns).toEqual(['api.contoso.com', 'hooks.partner.example']);
  });
});

describe('lossless prefix merging', () => {
  it('equals the exact collapse of the observed addresses when it fits', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 511 }), { minLength: 1, maxLength: 120 }), (offsets) => {
      // Addresses inside 198.51.100.0/23 … but the floor is /24: compare with a /24-split collapse.
      const base = (198 * 256 + 51) * 65536 + 100 * 256;
      const ips = offsets.map((o) => formatIPv4(base + o));
      const { ruleSet } = recommend(summaryOf(ips.map((peer) => record({ peer }))));
      const expected = mergeCidr(ips.map((ip) => `${ip}/32`)).flatMap((c) => (c === '198.51.100.0/23' ? ['198.51.100.0/24', '198.51.101.0/24'] : [c]));
      expect(elements(ruleSet)).toEqual(expected);
      expect(ruleSet.profiles[0]!.rules.every((r) => r.evidence.observedAddresses === undefined)).toBe(true);
    }), { numRuns: 60 });
  });
});

describe('the element limit', () => {
  it('fails clearly, naming the profile and the count, when no cover fits', () => {
    // 250 addresses in 250 different /24s: at the /24 floor no cover has fewer than 250 elements.
    const records = Array.from({ length: 250 }, (_, i) => record({ peer: `198.${51 + (i >> 8)}.${i & 255}.1` }));
    expect(() => recommend(summaryOf(records))).toThrow(expect.objectContaining({
      code: 'over-limit',
      message: expect.stringMatching(/profile "p" of perimeter ".*nsp".*need 250 elements.*limit is 200/),
      hint: expect.stringMatching(/--min-prefix-v4.*split the profile/),
    }));
  });

  it('counts existing elements against the limit', () => {
    const records = Array.from({ length: 150 }, (_, i) => record({ peer: `198.51.${i}.1` }));
    const existing = [{
      perimeterId: PERIMETER, profile: 'p', name: 'old', direction: 'Inbound' as const,
      addressPrefixes: Array.from({ length: 60 }, (_, i) => `192.0.2.${i}/32`), subscriptions: [], fullyQualifiedDomainNames: [], serviceTags: [],
    }];
    expect(recommend(summaryOf(records)).ruleSet.profiles[0]!.rules).toHaveLength(150);
    expect(() => recommend(summaryOf(records), existing)).toThrow(expect.objectContaining({ code: 'over-limit', message: expect.stringContaining('need 210 elements') }));
  });

  it('fails on more than 200 FQDNs in one profile', () => {
    const records = Array.from({ length: 201 }, (_, i) => record({ category: 'NspPublicOutboundResourceRulesAllowed', peerKind: 'fqdn', peer: `h${i}.contoso.com` }));
    expect(() => recommend(summaryOf(records))).toThrow(expect.objectContaining({ code: 'over-limit', message: expect.stringContaining('201 new FQDNs') }));
  });
});

describe('rule names', () => {
  it('are always valid for ARM, whatever the stem', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (stem) => {
      expect(isValidRuleName(ruleName(`x${stem}`))).toBe(true);
    }));
    const long = ruleName(`out-fqdn-${'a'.repeat(100)}.contoso.com`);
    expect(long.length).toBeLessThanOrEqual(80);
    expect(long).not.toBe(ruleName(`out-fqdn-${'a'.repeat(101)}.contoso.com`));
  });
});
