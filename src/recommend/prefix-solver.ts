// Recommend stage: fit the observed addresses of one version into at most K prefixes — the exact
// collapse when it fits, otherwise the cover admitting the fewest never-observed addresses (an optimal
// tree knapsack over the path-compressed binary trie of the addresses, not a greedy merge).

import {
  ADDRESS_BITS, PRIVATE_RANGES, RESERVED_RANGES, formatAddress, formatPrefix, prefixMask, prefixesOverlap,
  type IpPrefix, type IpVersion,
} from '../model/ip.js';

/** One prefix of a cover, with how much of it the input actually used. */
export interface CoverPrefix {
  version: IpVersion;
  /** Network address (host bits zero). */
  base: bigint;
  length: number;
  /** Distinct input addresses inside the prefix. */
  observed: number;
  /** Addresses the prefix admits (its size). */
  admitted: bigint;
}

/**
 * Lossless: the exact collapse (netaddr `cidr_merge` semantics) of a set of addresses of one version —
 * the fewest prefixes covering exactly the set. Input may hold duplicates, in any order.
 * @returns the prefixes sorted by base
 * @throws RangeError when an address is not a valid integer of that version
 */
export function exactCollapse(addresses: readonly bigint[], version: IpVersion): CoverPrefix[] {
  const sorted = sortDistinct(addresses, version);
  const prefixes: CoverPrefix[] = [];
  if (sorted.count > 0) collectFullBlocks(sorted, 0, sorted.count - 1, prefixes);
  return prefixes;
}

export interface SolveCoverOptions {
  version: IpVersion;
  /** Most prefixes the cover may use (K, a non-negative integer). */
  budget: number;
  /** Floor: no chosen prefix may be shorter than this (e.g. 24 for IPv4, 64 for IPv6). */
  minPrefixLength: number;
  /**
   * Ranges no chosen prefix may overlap; ranges of the other version are ignored.
   * Default: PRIVATE_RANGES and RESERVED_RANGES.
   */
  forbidden?: readonly IpPrefix[];
}

export type SolveCoverResult =
  | {
    feasible: true;
    prefixes: CoverPrefix[];
    /** Sum of `admitted` minus the number of distinct input addresses. */
    extraAddresses: bigint;
    /** True when extraAddresses === 0n. */
    exact: boolean;
  }
  | {
    feasible: false;
    /** Fewest prefixes any cover needs under the floor and forbidden constraints. */
    minimumPrefixes: number;
  };

/**
 * Optimal lossy cover: at most `budget` prefixes covering every address, minimizing the
 * never-observed addresses admitted; ties go to fewer prefixes, then — deterministically, from the
 * distinct address set alone — to the cover giving the lower-address side of each trie split fewer
 * prefixes. When a zero-waste cover fits, the result is the exact collapse (split at the floor and
 * around forbidden ranges where those demand it).
 * @returns the prefixes sorted by base, or the fewest prefixes needed when the budget cannot suffice
 * @throws RangeError on an invalid budget, floor or address, or an address inside a forbidden range
 */
export function solvePrefixCover(addresses: readonly bigint[], options: SolveCoverOptions): SolveCoverResult {
  const { version, budget, minPrefixLength } = options;
  const bits = ADDRESS_BITS[version];
  if (!Number.isSafeInteger(budget) || budget < 0) {
    throw new RangeError(`budget must be a non-negative integer, got ${budget}`);
  }
  if (!Number.isInteger(minPrefixLength) || minPrefixLength < 0 || minPrefixLength > bits) {
    throw new RangeError(`minPrefixLength must be an integer in 0..${bits}, got ${minPrefixLength}`);
  }
  const forbidden = (options.forbidden ?? [...PRIVATE_RANGES, ...RESERVED_RANGES])
    .filter((range) => range.version === version);
  const sorted = sortDistinct(addresses, version);
  if (sorted.count === 0) return { feasible: true, prefixes: [], extraAddresses: 0n, exact: true };

  const maxPrefixes = Math.min(budget, sorted.count);
  // Every finite row entry (and every sum formed on the way) is the waste of at most maxPrefixes
  // disjoint prefixes of at most 2^(bits - floor) addresses each, so below both maxPrefixes·2^(bits -
  // floor) and 2^bits: when that fits in 53 bits doubles are exact, and much faster than bigints.
  const wasteBits = Math.min(bits, bits - minPrefixLength + Math.ceil(Math.log2(Math.max(maxPrefixes, 1))));
  const knapsack = wasteBits <= 53
    ? new CoverKnapsack(sorted, doubleWaste, maxPrefixes, minPrefixLength)
    : new CoverKnapsack(sorted, bigintWaste, maxPrefixes, minPrefixLength);
  const solution = knapsack.solve(forbidden);
  if (solution.minimumPrefixes > budget) return { feasible: false, minimumPrefixes: solution.minimumPrefixes };

  const prefixes = knapsack.recover(solution.prefixCount);
  const extraAddresses = prefixes.reduce((sum, prefix) => sum + prefix.admitted, 0n) - BigInt(sorted.count);
  return { feasible: true, prefixes, extraAddresses, exact: extraAddresses === 0n };
}

/**
 * Distinct addresses of one version in ascending order, with the bit queries the trie walks need. A
 * range lo..hi of it is a node of the path-compressed trie when it is a leaf (lo === hi) or holds
 * exactly the addresses under the common prefix of addresses lo and hi.
 */
interface SortedAddresses {
  readonly version: IpVersion;
  readonly count: number;
  address(index: number): bigint;
  /** Number of leading bits addresses `i` and `j` share (the address width when i === j). */
  commonPrefixLength(i: number, j: number): number;
  /**
   * First index in lo..hi whose bit `bit` (0 = most significant) is set, given that addresses lo..hi
   * share every bit before it, lo has it clear and hi has it set — so the set ones form a suffix.
   */
  firstWithBitSet(lo: number, hi: number, bit: number): number;
}

class SortedIpv4Addresses implements SortedAddresses {
  readonly version = 4;
  readonly count: number;
  // Doubles rather than bigints: IPv4 fits exactly, and sorting and bit tests on numbers are an order of
  // magnitude faster, which is what keeps 100k addresses well under a second.
  private readonly values: Float64Array;

  constructor(addresses: readonly bigint[]) {
    const values = new Float64Array(addresses.length);
    for (let i = 0; i < addresses.length; i++) values[i] = Number(addresses[i]!);
    values.sort();
    this.count = dedupeSorted(values);
    this.values = values.subarray(0, this.count);
  }

  address(index: number): bigint {
    return BigInt(this.values[index]!);
  }

  commonPrefixLength(i: number, j: number): number {
    return Math.clz32(this.values[i]! ^ this.values[j]!);
  }

  firstWithBitSet(lo: number, hi: number, bit: number): number {
    const shift = 31 - bit;
    let low = lo + 1;
    let high = hi;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.values[mid]! >>> shift) & 1) high = mid;
      else low = mid + 1;
    }
    return low;
  }
}

class SortedIpv6Addresses implements SortedAddresses {
  readonly version = 6;
  readonly count: number;
  private readonly values: bigint[];

  constructor(addresses: readonly bigint[]) {
    const values = [...addresses].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    this.count = dedupeSorted(values);
    values.length = this.count;
    this.values = values;
  }

  address(index: number): bigint {
    return this.values[index]!;
  }

  commonPrefixLength(i: number, j: number): number {
    const difference = this.values[i]! ^ this.values[j]!;
    return difference === 0n ? 128 : 128 - difference.toString(2).length;
  }

  firstWithBitSet(lo: number, hi: number, bit: number): number {
    const shift = BigInt(127 - bit);
    let low = lo + 1;
    let high = hi;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.values[mid]! >> shift) & 1n) high = mid;
      else low = mid + 1;
    }
    return low;
  }
}

/** Moves the distinct values of a sorted array to its front. @returns how many there are */
function dedupeSorted<T>(values: { [index: number]: T; length: number }): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (count === 0 || values[i] !== values[count - 1]) values[count++] = values[i]!;
  }
  return count;
}

function sortDistinct(addresses: readonly bigint[], version: IpVersion): SortedAddresses {
  const limit = 1n << BigInt(ADDRESS_BITS[version]);
  for (const address of addresses) {
    if (typeof address !== 'bigint' || address < 0n || address >= limit) {
      throw new RangeError(`not an IPv${version} address: ${String(address)}`);
    }
  }
  return version === 4 ? new SortedIpv4Addresses(addresses) : new SortedIpv6Addresses(addresses);
}

/** The trie node lo..hi as a cover prefix (`length` is its common prefix length). */
function coverPrefixOf(sorted: SortedAddresses, lo: number, hi: number, length: number): CoverPrefix {
  const { version } = sorted;
  return {
    version,
    base: sorted.address(lo) & prefixMask(version, length),
    length,
    observed: hi - lo + 1,
    admitted: 1n << BigInt(ADDRESS_BITS[version] - length),
  };
}

/** Appends the maximal full prefixes under trie node lo..hi, in address order. */
function collectFullBlocks(sorted: SortedAddresses, lo: number, hi: number, out: CoverPrefix[]): void {
  const length = sorted.commonPrefixLength(lo, hi);
  // A full aligned block of two or more addresses has both halves non-empty, so it is always a trie node.
  if (1n << BigInt(ADDRESS_BITS[sorted.version] - length) === BigInt(hi - lo + 1)) {
    out.push(coverPrefixOf(sorted, lo, hi, length));
    return;
  }
  const split = sorted.firstWithBitSet(lo, hi, length);
  collectFullBlocks(sorted, lo, split - 1, out);
  collectFullBlocks(sorted, split, hi, out);
}

/**
 * DP row of one trie node: `waste[i]` is the least waste covering the node's addresses with at most
 * `minCount + i` prefixes. Counts below minCount are impossible; the row stops at min(K, addresses
 * under the node), since more prefixes than addresses never help — which is also what bounds the
 * knapsack at O(N·K) work.
 */
interface WasteRow<W> {
  /** Fewest prefixes that can cover the node's addresses (meaningful even when `waste` is empty). */
  readonly minCount: number;
  readonly waste: ArrayLike<W>;
}

/** The row arithmetic, once over doubles (exact below 2^53) and once over bigints. */
interface WasteArithmetic<W> {
  /** Row of a node that cannot be covered within the cap: only its minCount matters. */
  infeasible(minCount: number): WasteRow<W>;
  /** Row of a single address (one prefix, no waste), or infeasible when the cap is zero. */
  leaf(maxPrefixes: number): WasteRow<W>;
  /**
   * Row of an internal node from its children's rows: the min-plus convolution of the two, and, when
   * the node's own prefix is allowed (`ownHostBits` >= 0), that prefix alone. Writes into
   * choices[offset + i] how row entry i is reached: 0 = the node's own prefix, j > 0 = j prefixes for
   * the left child and the rest for the right.
   */
  combine(
    left: WasteRow<W>, right: WasteRow<W>, minCount: number, cap: number,
    ownHostBits: number, observed: number, choices: Int32Array, offset: number,
  ): WasteRow<W>;
}

const EMPTY_DOUBLES = new Float64Array(0);
const LEAF_DOUBLES = Float64Array.of(0);

const doubleWaste: WasteArithmetic<number> = {
  infeasible: (minCount) => ({ minCount, waste: EMPTY_DOUBLES }),
  leaf: (maxPrefixes) => ({ minCount: 1, waste: maxPrefixes > 0 ? LEAF_DOUBLES : EMPTY_DOUBLES }),
  combine(left, right, minCount, cap, ownHostBits, observed, choices, offset) {
    const waste = new Float64Array(cap - minCount + 1).fill(Infinity);
    const leftWaste = left.waste;
    const rightWaste = right.waste;
    for (let a = 0; a < leftWaste.length; a++) {
      const leftCount = left.minCount + a;
      // Row index of (leftCount, right.minCount); it grows with a, so once past the cap we are done.
      const start = leftCount + right.minCount - minCount;
      if (start >= waste.length) break;
      const end = Math.min(rightWaste.length, waste.length - start);
      const wasteLeft = leftWaste[a]!;
      for (let b = 0; b < end; b++) {
        const total = wasteLeft + rightWaste[b]!;
        if (total < waste[start + b]!) {
          waste[start + b] = total;
          choices[offset + start + b] = leftCount;
        }
      }
    }
    if (ownHostBits >= 0) {
      const own = 2 ** ownHostBits - observed;
      for (let i = 0; i < waste.length; i++) {
        if (own <= waste[i]!) {
          waste[i] = own;
          choices[offset + i] = 0;
        }
      }
    }
    return { minCount, waste };
  },
};

const bigintWaste: WasteArithmetic<bigint> = {
  infeasible: (minCount) => ({ minCount, waste: [] }),
  leaf: (maxPrefixes) => ({ minCount: 1, waste: maxPrefixes > 0 ? [0n] : [] }),
  combine(left, right, minCount, cap, ownHostBits, observed, choices, offset) {
    // Holes mark entries not reached yet; every entry is reached before the row is returned.
    const waste = new Array<bigint>(cap - minCount + 1);
    const leftWaste = left.waste;
    const rightWaste = right.waste;
    for (let a = 0; a < leftWaste.length; a++) {
      const leftCount = left.minCount + a;
      const start = leftCount + right.minCount - minCount;
      if (start >= waste.length) break;
      const end = Math.min(rightWaste.length, waste.length - start);
      const wasteLeft = leftWaste[a]!;
      for (let b = 0; b < end; b++) {
        const total = wasteLeft + rightWaste[b]!;
        const current = waste[start + b];
        if (current === undefined || total < current) {
          waste[start + b] = total;
          choices[offset + start + b] = leftCount;
        }
      }
    }
    if (ownHostBits >= 0) {
      const own = (1n << BigInt(ownHostBits)) - BigInt(observed);
      for (let i = 0; i < waste.length; i++) {
        const current = waste[i];
        if (current === undefined || own <= current) {
          waste[i] = own;
          choices[offset + i] = 0;
        }
      }
    }
    return { minCount, waste };
  },
};

/**
 * Tree knapsack over the path-compressed trie of the addresses. The candidate prefixes are the trie
 * nodes (a node's common prefix; any shorter prefix holding the same addresses only admits more) at
 * least as long as the floor and overlapping no forbidden range. Rows are built bottom-up and dropped
 * once merged; only the per-entry choices are kept, to recover the chosen prefixes.
 */
class CoverKnapsack<W> {
  private readonly bits: number;
  /** Per-entry choices of every internal node row, concatenated (see WasteArithmetic.combine). */
  private choices = new Int32Array(1024);
  private choicesUsed = 0;
  // An internal node lo..hi is identified by its split (the first index of its right child), which is
  // unique per node; these give its row's place in `choices` and the count its row starts at.
  private readonly choiceOffsetBySplit: Int32Array;
  private readonly minCountBySplit: Int32Array;

  constructor(
    private readonly sorted: SortedAddresses,
    private readonly arithmetic: WasteArithmetic<W>,
    private readonly maxPrefixes: number,
    private readonly minPrefixLength: number,
  ) {
    this.bits = ADDRESS_BITS[sorted.version];
    this.choiceOffsetBySplit = new Int32Array(sorted.count);
    this.minCountBySplit = new Int32Array(sorted.count);
  }

  /**
   * Fills the rows. @returns the fewest prefixes any cover needs, and the fewest prefixes reaching the
   * least waste within the cap (meaningless when the former exceeds the cap)
   */
  solve(forbidden: readonly IpPrefix[]): { minimumPrefixes: number; prefixCount: number } {
    const root = this.solveNode(0, this.sorted.count - 1, forbidden);
    const { waste } = root;
    let index = 0;
    // Rows never increase, so the first entry equal to the last is the fewest prefixes at least waste.
    if (waste.length > 0) while (waste[index] !== waste[waste.length - 1]) index++;
    return { minimumPrefixes: root.minCount, prefixCount: root.minCount + index };
  }

  /** Walks the stored choices down from the root. @returns the chosen prefixes in address order */
  recover(prefixCount: number): CoverPrefix[] {
    const prefixes: CoverPrefix[] = [];
    this.collectChosen(0, this.sorted.count - 1, prefixCount, prefixes);
    return prefixes;
  }

  /** @param forbiddenAround the forbidden ranges overlapping the parent's prefix (all, at the root) */
  private solveNode(lo: number, hi: number, forbiddenAround: readonly IpPrefix[]): WasteRow<W> {
    const { sorted } = this;
    const length = sorted.commonPrefixLength(lo, hi);
    // A range not overlapping a node's prefix cannot overlap any prefix below it, so the list shrinks
    // to nothing within a few levels everywhere except along the paths that lead to a forbidden range.
    const forbiddenHere = forbiddenAround.length === 0 ? forbiddenAround : forbiddenAround.filter(
      (range) => prefixesOverlap(range, { version: sorted.version, base: sorted.address(lo) & prefixMask(sorted.version, length), length }),
    );
    if (lo === hi) {
      if (forbiddenHere.length > 0) {
        const address = formatAddress({ version: sorted.version, value: sorted.address(lo) });
        throw new RangeError(`address ${address} lies inside forbidden range ${formatPrefix(forbiddenHere[0]!)}`);
      }
      return this.arithmetic.leaf(this.maxPrefixes);
    }
    const split = sorted.firstWithBitSet(lo, hi, length);
    const left = this.solveNode(lo, split - 1, forbiddenHere);
    const right = this.solveNode(split, hi, forbiddenHere);
    const observed = hi - lo + 1;
    const isCandidate = length >= this.minPrefixLength && forbiddenHere.length === 0;
    const minCount = isCandidate ? 1 : left.minCount + right.minCount;
    const cap = Math.min(this.maxPrefixes, observed);
    this.minCountBySplit[split] = minCount;
    if (cap < minCount) return this.arithmetic.infeasible(minCount);
    const offset = this.reserveChoices(cap - minCount + 1);
    this.choiceOffsetBySplit[split] = offset;
    return this.arithmetic.combine(
      left, right, minCount, cap, isCandidate ? this.bits - length : -1, observed, this.choices, offset,
    );
  }

  private collectChosen(lo: number, hi: number, prefixCount: number, out: CoverPrefix[]): void {
    const length = this.sorted.commonPrefixLength(lo, hi);
    if (lo === hi) {
      out.push(coverPrefixOf(this.sorted, lo, hi, length));
      return;
    }
    const split = this.sorted.firstWithBitSet(lo, hi, length);
    const leftCount = this.choices[
      this.choiceOffsetBySplit[split]! + prefixCount - this.minCountBySplit[split]!
    ]!;
    if (leftCount === 0) {
      out.push(coverPrefixOf(this.sorted, lo, hi, length));
      return;
    }
    this.collectChosen(lo, split - 1, leftCount, out);
    this.collectChosen(split, hi, prefixCount - leftCount, out);
  }

  /** @returns the offset of `size` fresh entries in `choices`, growing it by doubling */
  private reserveChoices(size: number): number {
    const offset = this.choicesUsed;
    if (offset + size > this.choices.length) {
      let capacity = this.choices.length * 2;
      while (capacity < offset + size) capacity *= 2;
      const grown = new Int32Array(capacity);
      grown.set(this.choices.subarray(0, offset));
      this.choices = grown;
    }
    this.choicesUsed = offset + size;
    return offset;
  }
}
