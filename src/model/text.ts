// Model: the two small text rules every stage shares: the sort order of all output (UTF-16 code
// units, as Array.prototype.sort without a comparator: locale-free, so output is deterministic)
// and the short name of an ARM id.

/** Compares strings by UTF-16 code units. */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The last segment of an ARM id: a perimeter's or resource's name. */
export function shortName(id: string): string {
  return id.split('/').pop() ?? id;
}
