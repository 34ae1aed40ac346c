// Model: IP addresses and prefixes as the whole pipeline sees them. Ingest uses it to validate and
// canonicalize source IPs; recommend uses it to classify, merge and cover addresses.
// Hand-written strict parsers (stack.md §9): no octal, no short forms, no garbage accepted.

export type IpVersion = 4 | 6;

export interface IpAddress {
  version: IpVersion;
  /** Address as an unsigned integer (32 or 128 bits). */
  value: bigint;
}

export interface IpPrefix {
  version: IpVersion;
  /** Network address (host bits zero). */
  base: bigint;
  length: number;
}

export const ADDRESS_BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };

/** Parses dotted-quad IPv4 strictly. @returns the address as a number, or -1 if invalid */
export function parseIPv4(s: string): number {
  if (s.length < 7 || s.length > 15) return -1;
  // One parser for both forms: the text's code units go through the byte parser.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) return -1;
    quadBytes[i] = c;
  }
  return parseIPv4Bytes(quadBytes, 0, s.length);
}
const quadBytes = new Uint8Array(15);

/**
 * Parses dotted-quad IPv4 strictly from UTF-8 bytes `buf[s, e)` (the hot paths read addresses
 * without making strings). @returns the address as a number, or -1 if invalid
 */
export function parseIPv4Bytes(buf: Uint8Array, s: number, e: number): number {
  const n = e - s;
  if (n < 7 || n > 15) return -1;
  let acc = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i]!;
    if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // leading zero: "010" would be octal elsewhere
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      acc = acc * 256 + part;
      part = 0;
      digits = 0;
    } else {
      return -1;
    }
  }
  return dots === 3 && digits > 0 ? acc * 256 + part : -1;
}

/** Parses IPv6 (full, `::` and embedded-IPv4 forms) strictly. @returns the address, or null */
export function parseIPv6(s: string): bigint | null {
  if (s.length < 2 || s.length > 45) return null;
  const doubleColon = s.indexOf('::');
  if (doubleColon !== -1 && s.indexOf('::', doubleColon + 1) !== -1) return null;
  const parseGroups = (part: string, allowV4Tail: boolean): number[] | null => {
    if (part === '') return [];
    const pieces = part.split(':');
    const groups: number[] = [];
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (allowV4Tail && i === pieces.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (v4 < 0) return null;
        groups.push(Math.floor(v4 / 65536), v4 % 65536);
        continue;
      }
      if (p.length === 0 || p.length > 4) return null;
      let g = 0;
      for (let j = 0; j < p.length; j++) {
        const c = p.charCodeAt(j);
        let d: number;
        if (c >= 48 && c <= 57) d = c - 48;
        else if (c >= 97 && c <= 102) d = c - 87;
        else if (c >= 65 && c <= 70) d = c - 55;
        else return null;
        g = g * 16 + d;
      }
      groups.push(g);
    }
    return groups;
  };
  let groups: number[];
  if (doubleColon === -1) {
    const all = parseGroups(s, true);
    if (!all || all.length !== 8) return null;
    groups = all;
  } else {
    const head = parseGroups(s.slice(0, doubleColon), false);
    const tail = parseGroups(s.slice(doubleColon + 2), true);
    if (!head || !tail || head.length + tail.length > 7) return null;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return value;
}

/** Formats an IPv4 integer as dotted quad. */
export function formatIPv4(value: number | bigint): string {
  const v = Number(value);
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** Formats an IPv6 integer in the RFC 5952 canonical form (lower case, longest zero run as `::`). */
export function formatIPv6(value: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function formatAddress(address: IpAddress): string {
  return address.version === 4 ? formatIPv4(address.value) : formatIPv6(address.value);
}

export function formatPrefix(prefix: IpPrefix): string {
  return `${formatAddress({ version: prefix.version, value: prefix.base })}/${prefix.length}`;
}

/**
 * Reads a source IP as logs write it: plain, `[v6]`, `v6%zone`, `v4:port`, `[v6]:port`, or an
 * IPv4-mapped IPv6 address (taken as the IPv4 address). @returns null when it is not an address
 */
export function parseLoggedIp(raw: string): IpAddress | null {
  let s = raw.trim();
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close === -1) return null;
    const rest = s.slice(close + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return null;
    s = s.slice(1, close);
  } else if (!s.includes(':') || /^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/.test(s)) {
    // IPv4, possibly with a port: the port is split off only when the value is IPv4-shaped.
    const colon = s.indexOf(':');
    if (colon !== -1) s = s.slice(0, colon);
    const v4 = parseIPv4(s);
    return v4 < 0 ? null : { version: 4, value: BigInt(v4) };
  }
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  const v6 = parseIPv6(s);
  if (v6 === null) return null;
  if (v6 >> 32n === 0xffffn) return { version: 4, value: v6 & 0xffffffffn };
  return { version: 6, value: v6 };
}

/**
 * Parses `a.b.c.d/n` or `v6/n` (a bare address is a /32 or /128).
 * @returns the prefix, host bits cleared (198.51.100.7/24 reads as 198.51.100.0/24), or null when it is not a prefix
 */
export function parsePrefix(raw: string): IpPrefix | null {
  const s = raw.trim();
  const slash = s.indexOf('/');
  const addrText = slash === -1 ? s : s.slice(0, slash);
  let version: IpVersion;
  let value: bigint;
  const v4 = parseIPv4(addrText);
  if (v4 >= 0) { version = 4; value = BigInt(v4); }
  else {
    const v6 = parseIPv6(addrText);
    if (v6 === null) return null;
    version = 6; value = v6;
  }
  const bits = ADDRESS_BITS[version];
  let length = bits;
  if (slash !== -1) {
    const lenText = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText)) return null;
    length = Number(lenText);
    if (length > bits) return null;
  }
  const base = value & prefixMask(version, length);
  return { version, base, length };
}

/** Netmask of a prefix length as an integer. */
export function prefixMask(version: IpVersion, length: number): bigint {
  // Made once per length: recommend tests every address against every planned prefix.
  return MASKS[version][length] ?? computeMask(version, length);
}

function computeMask(version: IpVersion, length: number): bigint {
  const bits = BigInt(ADDRESS_BITS[version]);
  const all = (1n << bits) - 1n;
  return length === 0 ? 0n : (all >> (bits - BigInt(length))) << (bits - BigInt(length));
}
const MASKS: Record<IpVersion, bigint[]> = {
  4: Array.from({ length: 33 }, (_, length) => computeMask(4, length)),
  6: Array.from({ length: 129 }, (_, length) => computeMask(6, length)),
};

/** Number of addresses in a prefix. */
export function prefixSize(prefix: { version: IpVersion; length: number }): bigint {
  return 1n << BigInt(ADDRESS_BITS[prefix.version] - prefix.length);
}

export function prefixContains(prefix: IpPrefix, address: IpAddress): boolean {
  return prefix.version === address.version
    && (address.value & prefixMask(prefix.version, prefix.length)) === prefix.base;
}

/** True when `outer` contains all of `inner` (same version). */
export function prefixContainsPrefix(outer: IpPrefix, inner: IpPrefix): boolean {
  return outer.version === inner.version && outer.length <= inner.length
    && (inner.base & prefixMask(outer.version, outer.length)) === outer.base;
}

export function prefixesOverlap(a: IpPrefix, b: IpPrefix): boolean {
  return prefixContainsPrefix(a, b) || prefixContainsPrefix(b, a);
}

const p = (s: string): IpPrefix => parsePrefix(s)!;

/** Ranges no access rule should ever name: private traffic reaches a resource through private endpoints. */
export const PRIVATE_RANGES: readonly IpPrefix[] = [
  '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', 'fc00::/7',
].map(p);

/**
 * Special-purpose ranges (RFC 6890) that are not reachable public sources. The documentation ranges
 * (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are deliberately *not* here: the
 * bundled sample data and the docs use them as stand-ins for public addresses.
 */
export const RESERVED_RANGES: readonly IpPrefix[] = [
  '0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '192.0.0.0/24', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4',
  '::/127', '::ffff:0:0/96', '64:ff9b:1::/48', '100::/64', 'fe80::/10', 'ff00::/8',
].map(p);

export type AddressClass = 'public' | 'private' | 'reserved';

export function classifyAddress(address: IpAddress): AddressClass {
  if (PRIVATE_RANGES.some((r) => prefixContains(r, address))) return 'private';
  if (RESERVED_RANGES.some((r) => prefixContains(r, address))) return 'reserved';
  return 'public';
}

/** True when a prefix overlaps any private or reserved range (guard rail for rules). */
export function overlapsNonPublic(prefix: IpPrefix): boolean {
  return [...PRIVATE_RANGES, ...RESERVED_RANGES].some((r) => prefixesOverlap(r, prefix));
}

/** Orders prefixes: IPv4 before IPv6, then by base address, then shorter first. */
export function comparePrefixes(a: IpPrefix, b: IpPrefix): number {
  if (a.version !== b.version) return a.version - b.version;
  if (a.base !== b.base) return a.base < b.base ? -1 : 1;
  return a.length - b.length;
}
