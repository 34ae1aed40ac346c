// Analyze stage, hot path (AssemblyScript): the memory layouts the fold (fold-lines.ts), the sorted
// run (sorted-run.ts) and the merge (merge-runs.ts) share with flow-table.ts, which reads and writes
// the same memory.

// Flow records (flow-table.ts): 8 i32 then 4 f64, 64 bytes.
export const RECORD: i32 = 64;
export const I_GROUP: i32 = 0;
export const I_HI: i32 = 4;
export const I_LO: i32 = 8;
export const I_DAY0: i32 = 12;
export const I_RES0: i32 = 16;
export const I_RULE0: i32 = 20;
export const I_OP0: i32 = 24;
export const I_EXTRA: i32 = 28;
export const F_HITS: i32 = 32;
export const F_FIRST: i32 = 40;
export const F_LAST: i32 = 48;
export const F_RULE0_HITS: i32 = 56;
// In I_EXTRA: the flow's hits per rule are in its extras (a Map on the JavaScript side).
export const RULES_BIT: i32 = 1 << 28;

// The parts table: the values of flows beyond what their records hold, summed per (flow, kind,
// value). Entries are appended to a pool in a region of their own (it grows in place: only what is
// used is ever touched) and chained from buckets: (flow + 1, kind << 29 | value, next + 1, pad,
// hits f64), 24 bytes.
export const PART_DAY: i32 = 0;
export const PART_RESOURCE: i32 = 1;
export const PART_RULE: i32 = 2;
export const PART_OPERATION: i32 = 3;
export const PART_VALUES: i32 = 1 << 29;
export const PART_ENTRY: i32 = 24;

// A column table: one address per column of a run or batch of flows, in this order (flow-table.ts's
// RUN_COLUMNS): sorted-run.ts writes them, merge-runs.ts reads runs and writes batches so.
export const COL_PERIMETER: i32 = 0;
export const COL_PROFILE: i32 = 1;
export const COL_CATEGORY: i32 = 2;
export const COL_PEER: i32 = 3;
export const COL_HITS: i32 = 4;
export const COL_FIRST: i32 = 5;
export const COL_LAST: i32 = 6;
export const COL_DAY_OFFSETS: i32 = 7;
export const COL_DAYS: i32 = 8;
export const COL_DAY_HITS: i32 = 9;
export const COL_RES_OFFSETS: i32 = 10;
export const COL_RES: i32 = 11;
export const COL_RULE_OFFSETS: i32 = 12;
export const COL_RULES: i32 = 13;
export const COL_RULE_HITS: i32 = 14;
export const COL_IP_OFFSETS: i32 = 15;
export const COL_IPS: i32 = 16;
export const COL_OP_OFFSETS: i32 = 17;
export const COL_OPS: i32 = 18;
export const COLUMNS: i32 = 19;

/** The address of column `c` of a column table. */
@inline export function col(table: usize, c: i32): usize { return load<usize>(table + <usize>(c * 4)); }

// Peer kinds: the high word of a peer code (I_HI of a record; flow-table.ts's PEER_CODE).
export const PEER_IPV4: i32 = 0;
export const PEER_TEXT_IP: i32 = 1;
export const PEER_RESOURCE: i32 = 2;
export const PEER_FQDN: i32 = 4;
export const PEER_NONE: i32 = 8;
