import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { mergeCidr } from 'cidr-tools';
import {
  ADDRESS_BITS, PRIVATE_RANGES, RESERVED_RANGES, comparePrefixes, formatAddress, formatPrefix, parsePrefix,
  prefixMask, prefixesOverlap, type IpPrefix, type IpVersion,
} from '../src/model/ip.js';
import { runs } from './helpers/runs.js';
import {
  exactCollapse, solvePrefixCover, type SolveCoverOptions,
} from '../src/recommend/prefix-solver.js';

const prefix = (text: string): IpPrefix => parsePrefix(text)!;
const address = (text: string): bigint => prefix(text).base;
const show = (prefixes: readonly IpPrefix[]): string[] => prefixes.map(formatPrefix);

function defaultForbidden(version: IpVersion): IpPrefix[] {
  return [...PRIVATE_RANGES, ...RESERVED_RANGES].filter((range) => range.version === version);
}

function isForbidden(value: bigint, version: IpVersion, forbidden: readonly IpPrefix[]): boolean {
  const bits = ADDRESS_BITS[version];
  return forbidden.some((range) => prefixesOverlap(range, { version, base: value, length: bits }));
}

/** Seeded Fisher–Yates, so a permutation can be drawn from one fast-check integer. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Brute force over ALL prefixes (not just trie nodes): repeatedly pick a prefix of length >= floor
 * containing the lowest uncovered address. Every cover without redundant prefixes is reachable this way.
 * Branch and bound prunes only strictly worse partial covers, so ties on waste are all seen.
 */
function bruteForce(
  addresses: readonly bigint[], version: IpVersion, floor: number, budget: number, forbidden: readonly IpPrefix[],
): { minimumPrefixes: number; best: { waste: bigint; count: number } | null } {
  const bits = ADDRESS_BITS[version];
  const sorted = [...new Set(addresses)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  // Longest first finds low waste early, shortest first finds few prefixes early: tighter bounds sooner.
  const candidatesOf = (value: bigint, longestFirst: boolean): IpPrefix[] => {
    const out: IpPrefix[] = [];
    for (let length = floor; length <= bits; length++) {
      const candidate = { version, base: value & prefixMask(version, length), length };
      if (!forbidden.some((range) => prefixesOverlap(range, candidate))) out.push(candidate);
    }
    return longestFirst ? out.reverse() : out;
  };
  const contains = (p: IpPrefix, value: bigint): boolean => (value & prefixMask(version, p.length)) === p.base;
  const size = (p: IpPrefix): bigint => 1n << BigInt(bits - p.length);

  let best: { waste: bigint; count: number } | null = null;
  const search = (chosen: IpPrefix[], limit: number, longestFirst: boolean, onCover: (chosen: IpPrefix[]) => void,
    prune: (chosen: IpPrefix[]) => boolean): void => {
    if (prune(chosen)) return;
    const uncovered = sorted.find((value) => !chosen.some((p) => contains(p, value)));
    if (uncovered === undefined) { onCover(chosen); return; }
    if (chosen.length === limit) return;
    for (const candidate of candidatesOf(uncovered, longestFirst)) {
      search([...chosen, candidate], limit, longestFirst, onCover, prune);
    }
  };
  const partialWaste = (chosen: IpPrefix[]): bigint => chosen.reduce((sum, p) => sum + size(p), 0n)
    - BigInt(sorted.filter((value) => chosen.some((p) => contains(p, value))).length);

  search([], budget, true, (chosen) => {
    const waste = partialWaste(chosen);
    if (best === null || waste < best.waste || (waste === best.waste && chosen.length < best.count)) {
      best = { waste, count: chosen.length };
    }
  }, (chosen) => best !== null && partialWaste(chosen) > best.waste);

  let minimumPrefixes = sorted.length; // single addresses always work
  search([], sorted.length, false, (chosen) => { minimumPrefixes = Math.min(minimumPrefixes, chosen.length); },
    (chosen) => chosen.length >= minimumPrefixes);
  return { minimumPrefixes, best };
}

/** Checks every stated property of a solver result against its input. */
function checkCover(addresses: readonly bigint[], options: SolveCoverOptions): void {
  const { version, budget, minPrefixLength } = options;
  const forbidden = options.forbidden ?? defaultForbidden(version);
  const bits = ADDRESS_BITS[version];
  const result = solvePrefixCover(addresses, options);
  const distinct = [...new Set(addresses)];
  if (!result.feasible) {
    expect(result.minimumPrefixes).toBeGreaterThan(budget);
    return;
  }
  const { prefixes } = result;
  expect(prefixes.length).toBeLessThanOrEqual(budget);
  for (const p of prefixes) {
    expect(p.version).toBe(version);
    expect(p.length).toBeGreaterThanOrEqual(minPrefixLength);
    expect(p.base & ~prefixMask(version, p.length) & ((1n << BigInt(bits)) - 1n)).toBe(0n);
    expect(p.admitted).toBe(1n << BigInt(bits - p.length));
    expect(forbidden.filter((range) => range.version === version && prefixesOverlap(range, p))).toEqual([]);
    expect(p.observed).toBe(distinct.filter((v) => (v & prefixMask(version, p.length)) === p.base).length);
  }
  for (let i = 1; i < prefixes.length; i++) {
    expect(prefixes[i - 1]!.base).toBeLessThan(prefixes[i]!.base);
    expect(prefixesOverlap(prefixes[i - 1]!, prefixes[i]!)).toBe(false);
  }
  const uncovered = distinct.filter((v) => !prefixes.some((p) => (v & prefixMask(version, p.length)) === p.base));
  expect(uncovered.map((value) => formatAddress({ version, value }))).toEqual([]);
  const extra = prefixes.reduce((sum, p) => sum + p.admitted, 0n) - BigInt(distinct.length);
  expect(result.extraAddresses).toBe(extra);
  expect(result.exact).toBe(extra === 0n);

  const collapse = exactCollapse(addresses, version);
  const collapseFits = collapse.length <= budget && collapse.every((p) => p.length >= minPrefixLength
    && !forbidden.some((range) => range.version === version && prefixesOverlap(range, p)));
  if (collapseFits) expect(prefixes).toEqual(collapse);
}

const u32 = (a: number, b: number, c: number, d: number): bigint => BigInt(((a * 256 + b) * 256 + c) * 256 + d);

/** IPv4 addresses around the edges of forbidden ranges, and plain public ones, clustered. */
const ipv4Neighbourhoods = ['9.255.0.0', '11.0.0.0', '100.63.0.0', '100.128.0.0', '172.15.0.0', '172.32.0.0',
  '192.167.255.0', '192.169.0.0', '126.255.0.0', '128.0.0.0', '52.96.0.0', '203.0.113.0'].map(address);
const ipv4Addresses = fc.array(
  fc.tuple(fc.constantFrom(...ipv4Neighbourhoods), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 31 })),
  { minLength: 1, maxLength: 300 },
).map((draws) => draws
  // spread the draws around a handful of /24s per neighbourhood, with some dense runs
  .map(([base, spread, run]) => (base + BigInt((spread % 8) * 256 + ((spread >> 3) % 8) * 32 + run)) & 0xffffffffn)
  .filter((value) => !isForbidden(value, 4, defaultForbidden(4))));

const ipv6Neighbourhoods = ['2001:db8::', '2a01:111:f400::', 'fbff:ffff:ffff:ffff::', 'fe00::', 'fe7f:ffff::',
  'fec0::', '2600::'].map(address);
const ipv6Addresses = fc.array(
  fc.tuple(fc.constantFrom(...ipv6Neighbourhoods), fc.bigInt({ min: 0n, max: (1n << 80n) - 1n }),
    fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 3 })),
  { minLength: 1, maxLength: 200 },
).map((draws) => draws
  // the shift picks how far apart addresses are: same /112, same /64, same /48 or anywhere below /48
  .map(([base, spread, run, scale]) => base + ((spread >> BigInt([64, 48, 16, 0][scale]!)) << 16n) + BigInt(run))
  .filter((value) => value < 1n << 128n && !isForbidden(value, 6, defaultForbidden(6))));

describe('exactCollapse', () => {
  const viaCidrTools = (texts: string[]): string[] => (mergeCidr(texts) as string[])
    .map((text) => prefix(text)).sort(comparePrefixes).map(formatPrefix);

  it('matches cidr-tools mergeCidr on random IPv4 sets', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 127 }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 2 ** 24 - 1 }),
      (offsets, block) => {
        const values = offsets.map((offset) => BigInt(block * 128 + offset));
        const collapse = exactCollapse(values, 4);
        expect(show(collapse)).toEqual(viaCidrTools(values.map((value) => formatAddress({ version: 4, value }))));
        expect(collapse.reduce((sum, p) => sum + p.observed, 0)).toBe(new Set(values).size);
        expect(collapse.every((p) => p.admitted === BigInt(p.observed))).toBe(true);
      },
    ), { numRuns: runs(200) });
  });

  it('matches cidr-tools mergeCidr on random IPv6 sets', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 63 }), { minLength: 1, maxLength: 60 }), fc.bigInt({ min: 0n, max: (1n << 122n) - 1n }),
      (offsets, block) => {
        const values = offsets.map((offset) => (block << 6n) + BigInt(offset));
        expect(show(exactCollapse(values, 6)))
          .toEqual(viaCidrTools(values.map((value) => formatAddress({ version: 6, value }))));
      },
    ), { numRuns: runs(200) });
  });

  it('collapses a full block and its neighbours; empty input gives nothing', () => {
    const values = [...Array.from({ length: 256 }, (_, i) => u32(20, 0, 1, i)), u32(20, 0, 2, 0), u32(20, 0, 2, 1),
      u32(20, 0, 2, 3), u32(20, 0, 1, 7)];
    expect(show(exactCollapse(values, 4))).toEqual(['20.0.1.0/24', '20.0.2.0/31', '20.0.2.3/32']);
    expect(exactCollapse([], 6)).toEqual([]);
  });
});

describe('solvePrefixCover against brute force over all prefixes', () => {
  const instance = (version: IpVersion, regionBits: number, floors: [number, number], budgets: [number, number]) => fc.record({
    region: fc.bigInt({ min: 0n, max: (1n << 16n) - 1n }),
    offsets: fc.uniqueArray(fc.integer({ min: 0, max: 2 ** regionBits - 1 }), { minLength: 1, maxLength: 10 }),
    floor: fc.integer({ min: floors[0], max: floors[1] }),
    budget: fc.integer({ min: budgets[0], max: budgets[1] }),
    // a forbidden block inside the region, or none
    hole: fc.option(fc.record({ length: fc.integer({ min: 1, max: 5 }), index: fc.nat() })),
  }).map(({ region, offsets, floor, budget, hole }) => {
    const bits = ADDRESS_BITS[version];
    // IPv4 regions sit in 20.0.0.0/8, IPv6 ones in 2001:db8::/32: public under the default lists too.
    const regionBase = version === 4
      ? (20n << 24n) + ((region << BigInt(32 - regionBits)) & 0xffffffn)
      : (0x20010db8n << 96n) + (region << BigInt(bits - 48));
    const forbidden = hole === null ? [] : [{
      version, length: bits - regionBits + hole.length,
      base: regionBase + (BigInt(hole.index % 2 ** hole.length) << BigInt(regionBits - hole.length)),
    }];
    const addresses = offsets.map((offset) => regionBase + BigInt(offset))
      .filter((value) => !isForbidden(value, version, forbidden));
    return { addresses, options: { version, budget, minPrefixLength: floor, forbidden } };
  }).filter(({ addresses }) => addresses.length > 0);

  const agreesWithBruteForce = ({ addresses, options }: { addresses: bigint[]; options: SolveCoverOptions }): void => {
    const forbidden = options.forbidden!;
    const expected = bruteForce(addresses, options.version, options.minPrefixLength, options.budget, forbidden);
    const result = solvePrefixCover(addresses, options);
    if (expected.best === null) {
      expect(result).toEqual({ feasible: false, minimumPrefixes: expected.minimumPrefixes });
    } else {
      expect(result.feasible).toBe(true);
      if (!result.feasible) return;
      expect(result.extraAddresses).toBe(expected.best.waste);
      expect(result.prefixes.length).toBe(expected.best.count);
      checkCover(addresses, options);
    }
  };

  it('IPv4: up to 10 addresses in a /26 or /27, floor 24..30, budget 1..5', () => {
    fc.assert(fc.property(fc.oneof(instance(4, 6, [24, 30], [1, 5]), instance(4, 5, [24, 30], [1, 5])),
      agreesWithBruteForce), { numRuns: runs(300) });
  });

  it('IPv6 with exact bigint waste: up to 10 addresses in a /122, floor 60..74, budget 1..3', () => {
    fc.assert(fc.property(instance(6, 6, [60, 74], [1, 3]), agreesWithBruteForce), { numRuns: runs(60) });
  });

  it('IPv6 with double waste: up to 10 addresses in a /123, floor 118..126, budget 1..5', () => {
    fc.assert(fc.property(instance(6, 5, [118, 126], [1, 5]), agreesWithBruteForce), { numRuns: runs(150) });
  });
});

describe('solvePrefixCover properties on larger inputs', () => {
  const holdsFor = (version: IpVersion, addresses: bigint[], budget: number, floor: number, seed: number): void => {
    const options = { version, budget, minPrefixLength: floor };
    checkCover(addresses, options);
    const reordered = shuffled([...addresses, ...addresses.slice(0, seed % 17)], seed);
    expect(solvePrefixCover(reordered, options)).toEqual(solvePrefixCover(addresses, options));
  };

  it('IPv4: covers, respects floor, budget and forbidden ranges, deterministic, exact when it fits', () => {
    fc.assert(fc.property(ipv4Addresses, fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 32 }), fc.nat(),
      (addresses, budget, floor, seed) => holdsFor(4, addresses, budget, floor, seed)), { numRuns: runs(200) });
  });

  it('IPv6: covers, respects floor, budget and forbidden ranges, deterministic, exact when it fits', () => {
    fc.assert(fc.property(ipv6Addresses, fc.integer({ min: 1, max: 60 }), fc.integer({ min: 0, max: 128 }), fc.nat(),
      (addresses, budget, floor, seed) => holdsFor(6, addresses, budget, floor, seed)), { numRuns: runs(150) });
  });

  it('returns the exact collapse whenever it fits the budget', () => {
    fc.assert(fc.property(ipv4Addresses, (addresses) => {
      const collapse = exactCollapse(addresses, 4);
      const result = solvePrefixCover(addresses, { version: 4, budget: collapse.length, minPrefixLength: 0, forbidden: [] });
      expect(result).toEqual({ feasible: true, prefixes: collapse, extraAddresses: 0n, exact: true });
    }), { numRuns: runs(100) });
  });

  it('never costs more waste with a larger budget', () => {
    fc.assert(fc.property(ipv6Addresses, fc.integer({ min: 1, max: 30 }), (addresses, budget) => {
      const options = { version: 6 as const, minPrefixLength: 32 };
      const smaller = solvePrefixCover(addresses, { ...options, budget });
      const larger = solvePrefixCover(addresses, { ...options, budget: budget + 1 });
      if (smaller.feasible && larger.feasible) expect(larger.extraAddresses <= smaller.extraAddresses).toBe(true);
      if (smaller.feasible) expect(larger.feasible).toBe(true);
    }), { numRuns: runs(100) });
  });
});

describe('solvePrefixCover cases', () => {
  const solve = (texts: string[], options: Omit<SolveCoverOptions, 'version'> & { version?: IpVersion }) =>
    solvePrefixCover(texts.map(address), { version: 4, ...options });
  const chosen = (result: ReturnType<typeof solvePrefixCover>): string[] => {
    if (!result.feasible) throw new Error(`infeasible, needs ${result.minimumPrefixes}`);
    return show(result.prefixes);
  };

  it('merges the cheapest pair when one prefix too many', () => {
    const result = solve(['20.0.0.1', '20.0.0.2', '20.0.0.9', '20.0.1.200'], { budget: 2, minPrefixLength: 16 });
    expect(chosen(result)).toEqual(['20.0.0.0/28', '20.0.1.200/32']);
    expect(result).toMatchObject({ extraAddresses: 13n, exact: false });
  });

  it('reports the fewest prefixes the floor allows when the budget is too small', () => {
    const addresses = ['20.0.0.1', '20.0.0.2', '20.0.1.1', '20.0.2.1', '20.0.3.1', '20.1.0.1'];
    expect(solve(addresses, { budget: 3, minPrefixLength: 24 })).toEqual({ feasible: false, minimumPrefixes: 5 });
    expect(solve(addresses, { budget: 0, minPrefixLength: 24 })).toEqual({ feasible: false, minimumPrefixes: 5 });
    expect(chosen(solve(addresses, { budget: 5, minPrefixLength: 24 })))
      .toEqual(['20.0.0.0/30', '20.0.1.1/32', '20.0.2.1/32', '20.0.3.1/32', '20.1.0.1/32']);
    expect(chosen(solve(addresses, { budget: 2, minPrefixLength: 15 }))).toEqual(['20.0.0.0/22', '20.1.0.1/32']);
  });

  it('steers around a custom forbidden range the best cover would otherwise overlap', () => {
    const addresses = ['20.0.0.1', '20.0.0.2', '20.0.0.130', '20.0.0.131'];
    expect(chosen(solve(addresses, { budget: 1, minPrefixLength: 24 }))).toEqual(['20.0.0.0/24']);
    const forbidden = [prefix('20.0.0.64/27')];
    expect(solve(addresses, { budget: 1, minPrefixLength: 24, forbidden })).toEqual({ feasible: false, minimumPrefixes: 2 });
    const result = solve(addresses, { budget: 2, minPrefixLength: 24, forbidden });
    expect(chosen(result)).toEqual(['20.0.0.0/30', '20.0.0.130/31']);
    expect(result).toMatchObject({ extraAddresses: 2n });
  });

  it('keeps clear of private and reserved ranges by default', () => {
    // 11.0.0.0/8 and 9.255.0.0/16 surround 10.0.0.0/8; the cheapest single prefix would swallow it.
    const addresses = ['9.255.255.1', '11.0.0.1'];
    expect(solve(addresses, { budget: 1, minPrefixLength: 0 })).toEqual({ feasible: false, minimumPrefixes: 2 });
    expect(chosen(solve(addresses, { budget: 1, minPrefixLength: 0, forbidden: [] }))).toEqual(['8.0.0.0/6']);
    expect(chosen(solve(['12.0.0.1', '13.0.0.1'], { budget: 1, minPrefixLength: 0 }))).toEqual(['12.0.0.0/7']);
    // a custom list replaces the defaults
    expect(chosen(solve(['10.0.0.1', '10.0.0.2'], { budget: 1, minPrefixLength: 0, forbidden: [] })))
      .toEqual(['10.0.0.0/30']);
  });

  it('throws a RangeError naming an address inside a forbidden range, and on invalid arguments', () => {
    expect(() => solve(['20.0.0.1', '10.1.2.3'], { budget: 5, minPrefixLength: 24 }))
      .toThrow(new RangeError('address 10.1.2.3 lies inside forbidden range 10.0.0.0/8'));
    expect(() => solve(['20.0.0.1'], { budget: -1, minPrefixLength: 24 })).toThrow(RangeError);
    expect(() => solve(['20.0.0.1'], { budget: 1.5, minPrefixLength: 24 })).toThrow(RangeError);
    expect(() => solve(['20.0.0.1'], { budget: 1, minPrefixLength: 33 })).toThrow(RangeError);
    expect(() => solvePrefixCover([1n << 32n], { version: 4, budget: 1, minPrefixLength: 0 })).toThrow(RangeError);
    expect(() => exactCollapse([-1n], 6)).toThrow(RangeError);
  });

  it('handles empty input and a single address', () => {
    expect(solvePrefixCover([], { version: 6, budget: 0, minPrefixLength: 64 }))
      .toEqual({ feasible: true, prefixes: [], extraAddresses: 0n, exact: true });
    expect(solvePrefixCover([address('2001:db8::1')], { version: 6, budget: 1, minPrefixLength: 64 })).toEqual({
      feasible: true, exact: true, extraAddresses: 0n,
      prefixes: [{ version: 6, base: address('2001:db8::1'), length: 128, observed: 1, admitted: 1n }],
    });
  });

  it('compares IPv6 waste exactly where doubles would round two options to a tie', () => {
    // Two /64s. Covering P1 whole wastes 2^64 - 2, covering P2 whole wastes 2^64 - 3: both round to
    // 2^64 as doubles. With 3 prefixes exactly one of them can be whole; P2 must be.
    const addresses = ['2001:db8:0:1::1', '2001:db8:0:1:8000::1',
      '2001:db8:0:2::1', '2001:db8:0:2:8000::2', '2001:db8:0:2:8000::3'].map(address);
    const result = solvePrefixCover(addresses, { version: 6, budget: 3, minPrefixLength: 64 });
    expect(result).toMatchObject({ feasible: true, extraAddresses: (1n << 64n) - 3n });
    expect(chosen(result)).toEqual(['2001:db8:0:1::1/128', '2001:db8:0:1:8000::1/128', '2001:db8:0:2::/64']);
  });

  it('splits a full block at the floor instead of returning a shorter prefix', () => {
    const addresses = Array.from({ length: 512 }, (_, i) => u32(20, 0, 2 + (i >> 8), i & 255));
    const result = solvePrefixCover(addresses, { version: 4, budget: 5, minPrefixLength: 24 });
    expect(show(exactCollapse(addresses, 4))).toEqual(['20.0.2.0/23']);
    expect(chosen(result)).toEqual(['20.0.2.0/24', '20.0.3.0/24']);
    expect(result).toMatchObject({ exact: true, extraAddresses: 0n });
  });
});
