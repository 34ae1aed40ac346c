// diff: figures on the fixture estate, whose rules in place include an unused rule, an unused
// element and a redundant element.

import { describe, expect, it } from 'vitest';
import { expectGolden } from './helpers/golden.js';
import { runCli } from './helpers/run-cli.js';
import type { DiffReport } from '../src/recommend/diff.js';

const ESTATE = 'fixtures/estate/storage-account';

describe('diff', () => {
  it('finds rules to add, unused and redundant elements, and counts elements', async () => {
    const r = await runCli('diff', ESTATE, '--existing', 'fixtures/existing-rules.json', '--format', 'json', '-q');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as DiffReport;
    const prod = report.profiles.find((p) => p.profile === 'defaultprofile')!;
    expect(prod.unusedRules).toEqual(['in-ip-192.0.2.10_32']);
    expect(prod.unusedElements).toEqual([{ rule: 'allow-partner', element: '192.0.2.128/25' }]);
    expect(prod.redundant).toEqual([{ rule: 'allow-ci', element: '198.51.100.17/32', containedIn: { rule: 'allow-ci', element: '198.51.100.16/30' } }]);
    expect(prod.elements.inbound).toEqual({ existing: 6, toAdd: 4, unused: 2, after: 10, limit: 200 });
    expect(prod.add.map((x) => x.name)).toEqual(['in-ip-192.0.2.10_32-2', 'in-ip-203.0.113.0_31', 'in-ip-2001-db8-10--4_127', 'in-sub-11111111-1111-1111-1111-111111111111']);
    const analytics = report.profiles.find((p) => p.profile === 'analytics')!;
    expect(analytics.unusedRules).toEqual([]);
    expect(analytics.elements.outbound).toMatchObject({ existing: 1, toAdd: 2, unused: 0 });
  });

  it('prints Markdown by default', async () => {
    const r = await runCli('diff', ESTATE, '--existing', 'fixtures/existing-rules.json', '-q');
    expect(r.code).toBe(0);
    expectGolden(r.out, 'test/golden/estate/expected.diff.md');
  });

  it('needs the rules in place', async () => {
    expect((await runCli('diff', ESTATE)).code).toBe(2);
  });
});
