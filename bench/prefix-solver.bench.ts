// Benchmark: solvePrefixCover on large seeded address sets. Build with `npx tsc -p tsconfig.json`, run
// with `node dist/bench/prefix-solver.bench.js`. Prints wall time of the first (cold) run and the best
// of three more, the prefixes used and the never-observed addresses admitted.

import { seededRandom as mulberry32 } from '../fixtures/generate.js';
import { classifyAddress, overlapsNonPublic } from '../src/model/ip.js';
import { solvePrefixCover, type SolveCoverOptions } from '../src/recommend/prefix-solver.js';

const randomInt = (random: () => number, below: number): number => Math.floor(random() * below);

/** Draws /`length` blocks of public IPv4 space (none overlapping a private or reserved range). */
function publicIpv4Blocks(random: () => number, count: number, length: number): number[] {
  const blocks = new Set<number>();
  while (blocks.size < count) {
    const base = randomInt(random, 2 ** length) * 2 ** (32 - length);
    if (!overlapsNonPublic({ version: 4, base: BigInt(base), length })) blocks.add(base);
  }
  return [...blocks];
}

/**
 * Cloud-like IPv4 traffic: hosts in `clusters` /24s inside a few dozen public /12s, plus `singles`
 * addresses scattered over the same /12s; `total` distinct addresses in all.
 */
function clusteredIpv4(seed: number, total: number, clusters: number, singles: number, regions = 40): bigint[] {
  const random = mulberry32(seed);
  const twelves = publicIpv4Blocks(random, regions, 12);
  const slash24s = Array.from({ length: clusters },
    () => twelves[randomInt(random, twelves.length)]! + randomInt(random, 4096) * 256);
  const seen = new Set<number>();
  while (seen.size < total - singles) seen.add(slash24s[randomInt(random, clusters)]! + randomInt(random, 256));
  while (seen.size < total) seen.add(twelves[randomInt(random, twelves.length)]! + randomInt(random, 2 ** 20));
  return [...seen].map(BigInt);
}

/** `total` distinct public IPv4 addresses drawn uniformly from the whole space. */
function uniformPublicIpv4(seed: number, total: number): bigint[] {
  const random = mulberry32(seed);
  const seen = new Set<number>();
  while (seen.size < total) {
    const value = randomInt(random, 2 ** 32);
    if (classifyAddress({ version: 4, value: BigInt(value) }) === 'public') seen.add(value);
  }
  return [...seen].map(BigInt);
}

/** IPv6 traffic: `subnets` /64s under a few /48s of 2001:db8::/32, random interface ids inside. */
function clusteredIpv6(seed: number, total: number, subnets: number, sites = 20): bigint[] {
  const random = mulberry32(seed);
  const word = (): bigint => BigInt(randomInt(random, 2 ** 32));
  const siteBases = Array.from({ length: sites }, () => (0x20010db8n << 96n) | (BigInt(randomInt(random, 65536)) << 80n));
  const subnetBases = Array.from({ length: subnets },
    () => siteBases[randomInt(random, sites)]! | (BigInt(randomInt(random, 65536)) << 64n));
  const seen = new Set<bigint>();
  while (seen.size < total) {
    const interfaceId = random() < 0.5 ? (word() << 32n) | word() : BigInt(randomInt(random, 4096)); // SLAAC-like or low
    seen.add(subnetBases[randomInt(random, subnets)]! | interfaceId);
  }
  return [...seen];
}

function bench(label: string, addresses: readonly bigint[], options: SolveCoverOptions): void {
  const solveTimed = (): { result: ReturnType<typeof solvePrefixCover>; ms: number } => {
    const start = process.hrtime.bigint();
    const result = solvePrefixCover(addresses, options);
    return { result, ms: Number(process.hrtime.bigint() - start) / 1e6 };
  };
  const { result, ms: coldMs } = solveTimed();
  const warmMs = Math.min(...[1, 2, 3].map(() => solveTimed().ms));
  const outcome = result.feasible
    ? `${result.prefixes.length} prefixes, ${result.extraAddresses} extra addresses${result.exact ? ' (exact)' : ''}`
    : `infeasible: needs at least ${result.minimumPrefixes} prefixes`;
  console.log(`${label.padEnd(42)} IPv${options.version} n=${addresses.length} K=${options.budget} floor=${options.minPrefixLength}`);
  console.log(`  first ${coldMs.toFixed(1)} ms, best of 3 more ${warmMs.toFixed(1)} ms -> ${outcome}`);
}

const clustered = clusteredIpv4(1, 100_000, 3_000, 25_000);
// 100k addresses need at least 100000 / 256 > 390 /24s, so K = 200 at floor 24 cannot be met.
bench('100k in 3000 /24s + singles, floor 24', clustered, { version: 4, budget: 200, minPrefixLength: 24 });
bench('100k in 3000 /24s + singles, floor 12', clustered, { version: 4, budget: 200, minPrefixLength: 12 });
bench('100k in 3000 /24s + singles, floor 0', clustered, { version: 4, budget: 200, minPrefixLength: 0 });
bench('100k uniform public, floor 0', uniformPublicIpv4(2, 100_000), { version: 4, budget: 200, minPrefixLength: 0 });
bench('40k in 180 /24s, floor 24', clusteredIpv4(3, 40_000, 180, 0), { version: 4, budget: 200, minPrefixLength: 24 });
bench('10k in 150 /64s, floor 64', clusteredIpv6(4, 10_000, 150), { version: 6, budget: 200, minPrefixLength: 64 });
bench('10k in 2000 /64s, floor 32', clusteredIpv6(5, 10_000, 2_000), { version: 6, budget: 200, minPrefixLength: 32 });
