// Model: the small text rules every stage shares: the sort order of all output (UTF-16 code
// units, as Array.prototype.sort without a comparator: locale-free, so output is deterministic),
// the short name of an ARM id, and counts with thousands separators.

/** Compares strings by UTF-16 code units. */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The last segment of an ARM id: a perimeter's or resource's name. */
export function shortName(id: string): string {
  return id.split('/').pop() ?? id;
}

/**
 * A count with thousands separators, as toLocaleString('en-US') writes it, without loading the
 * locale data (its first call takes ~12 ms, at the end of every run); other numbers go to it.
 */
export function formatCount(n: number | bigint): string {
  if (typeof n === 'number' && (!Number.isSafeInteger(n) || Object.is(n, -0))) return n.toLocaleString('en-US');
  const digits = String(n < 0 ? -n : n);
  let out = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let i = out.length; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return n < 0 ? `-${out}` : out;
}
