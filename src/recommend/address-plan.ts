// Recommend stage: decides the inbound address prefixes of one profile. The exact (lossless)
// collapse when it fits the element budget; otherwise the optimal lossy cover of prefix-solver.ts
// per IP version, within the prefix-length floor and never over a private or reserved range.

import { NspError } from '../errors.js';
import type { IpAddress, IpPrefix, IpVersion } from '../model/ip.js';
import { solvePrefixCover, type CoverPrefix } from './prefix-solver.js';

export interface AddressPlanOptions {
  /** Prefixes allowed for addresses (the limit minus every other inbound element). */
  budget: number;
  minPrefixV4: number;
  minPrefixV6: number;
  /** Profile description for errors. */
  where: string;
  /** Other inbound elements (existing + subscriptions), for the error message. */
  otherElements: number;
  maxElements: number;
}

export interface AddressPlan {
  prefixes: IpPrefix[];
  /** True when every prefix holds only observed addresses. */
  exact: boolean;
  /** Distinct observed addresses. */
  observed: number;
  /** Prefixes the exact collapse would need. */
  exactCount: number;
  /** Addresses admitted that were never observed. */
  extraAddresses: bigint;
}

function toPrefixes(cover: readonly CoverPrefix[]): IpPrefix[] {
  return cover.map((c) => ({ version: c.version, base: c.base, length: c.length }));
}

/** Fewest prefixes a cover of these addresses can use within the floor (0 for no addresses). */
function minimumPrefixes(values: readonly bigint[], version: IpVersion, floor: number): number {
  if (values.length === 0) return 0;
  const r = solvePrefixCover(values, { version, budget: 0, minPrefixLength: floor });
  return r.feasible ? 0 : r.minimumPrefixes;
}

/**
 * Plans the prefixes. IPv6 is given its exact collapse when that still leaves IPv4 a valid cover
 * (the other way round otherwise): a /64 of IPv6 waste and an IPv4 address are not comparable
 * units, so the two versions are never traded against each other address for address.
 * @throws NspError over-limit with the count needed and the ways out
 */
export function planAddressPrefixes(addresses: readonly IpAddress[], options: AddressPlanOptions): AddressPlan {
  const v4 = addresses.filter((a) => a.version === 4).map((a) => a.value);
  const v6 = addresses.filter((a) => a.version === 6).map((a) => a.value);
  // The lossless cover: no never-observed address, fewest prefixes, none wider than the floor (a
  // full /23 stays two /24s at the default floor). Single addresses are always allowed, so a
  // budget of one prefix per address always finds it.
  const lossless = (values: bigint[], version: IpVersion, floor: number): CoverPrefix[] => {
    if (values.length === 0) return [];
    const r = solvePrefixCover(values, { version, budget: values.length, minPrefixLength: floor });
    if (!r.feasible || !r.exact) throw new Error(`lossless cover of ${values.length} IPv${version} addresses not found`);
    return r.prefixes;
  };
  const exact4 = lossless(v4, 4, options.minPrefixV4);
  const exact6 = lossless(v6, 6, options.minPrefixV6);
  const exactCount = exact4.length + exact6.length;
  const base = { observed: addresses.length, exactCount };
  if (exactCount <= options.budget) {
    return { ...base, prefixes: [...toPrefixes(exact4), ...toPrefixes(exact6)], exact: true, extraAddresses: 0n };
  }
  const min4 = minimumPrefixes(v4, 4, options.minPrefixV4);
  const min6 = minimumPrefixes(v6, 6, options.minPrefixV6);
  if (min4 + min6 > options.budget) {
    const needed = options.otherElements + min4 + min6;
    throw new NspError('over-limit', `Cannot fit inbound rules for ${options.where}: even the widest allowed prefixes need ${needed} elements (${min4} IPv4 /${options.minPrefixV4} or longer, ${min6} IPv6 /${options.minPrefixV6} or longer, ${options.otherElements} subscriptions and existing elements); the limit is ${options.maxElements}`, {
      hint: 'Raise the floor (--min-prefix-v4 / --min-prefix-v6 with a shorter length), split the profile so fewer callers share it, or lower exposure elsewhere (remove unused existing rules, hold rare sources back with --min-hits/--min-days)',
    });
  }
  let budget4: number;
  let budget6: number;
  if (exact6.length + min4 <= options.budget) { budget6 = exact6.length; budget4 = options.budget - budget6; }
  else if (exact4.length + min6 <= options.budget) { budget4 = exact4.length; budget6 = options.budget - budget4; }
  else { budget6 = min6; budget4 = options.budget - min6; }
  const solve = (values: bigint[], version: IpVersion, budget: number, floor: number): { prefixes: IpPrefix[]; extra: bigint } => {
    if (values.length === 0) return { prefixes: [], extra: 0n };
    const r = solvePrefixCover(values, { version, budget, minPrefixLength: floor });
    if (!r.feasible) throw new Error(`prefix budget ${budget} infeasible after planning (IPv${version})`);
    return { prefixes: toPrefixes(r.prefixes), extra: r.extraAddresses };
  };
  const s4 = solve(v4, 4, budget4, options.minPrefixV4);
  const s6 = solve(v6, 6, budget6, options.minPrefixV6);
  return { ...base, prefixes: [...s4.prefixes, ...s6.prefixes], exact: s4.extra + s6.extra === 0n, extraAddresses: s4.extra + s6.extra };
}
