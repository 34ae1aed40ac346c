// Model: a bad row or a bad file found while ingesting. Issues never abort a run (unless --strict);
// they are counted per reason and reported with their place.

/** Closed set of reasons a row or file is skipped. */
export type IssueCode =
  | 'invalid-json'        // a line or element that is not JSON
  | 'not-a-record'        // JSON that is not an object / row of the expected shape
  | 'unknown-category'    // a category the tool does not know (never guessed)
  | 'missing-field'       // a field the tool needs (category, time, perimeter, profile) is absent
  | 'invalid-perimeter'   // resourceId / _ResourceId is not a network security perimeter id
  | 'invalid-time'        // a timestamp that cannot be parsed
  | 'invalid-count'       // a Count that is not a non-negative integer
  | 'invalid-ip'          // a source IP that is not an IP address
  | 'invalid-fqdn'        // a destination FQDN that is not a domain name
  | 'wrong-column-count'  // a CSV row whose column count differs from the header's
  | 'truncated-input'     // a gzip stream or JSON document that ends early
  | 'decompression-limit' // a gzip stream that inflates far beyond any log's ratio (a bomb)
  | 'line-too-long'       // a line over the size cap
  | 'unknown-format'      // a file that is none of the formats the tool reads
  | 'read-error';         // an I/O error in the middle of a file

export interface Issue {
  code: IssueCode;
  /** Where: `file:line`, `file` or a query window. */
  location: string;
  message: string;
}

/** Rows read, used and skipped (by reason), and hits in and out, for one source. */
export interface SourceAccount {
  source: string;
  rowsRead: number;
  rowsUsed: number;
  skipped: Partial<Record<IssueCode, number>>;
  /** Issues that are not rows (a truncated gzip, a read error): counted, never rows. */
  fileIssues: number;
  hitsRead: number;
  hitsUsed: number;
}

export function emptyAccount(source: string): SourceAccount {
  return { source, rowsRead: 0, rowsUsed: 0, skipped: {}, fileIssues: 0, hitsRead: 0, hitsUsed: 0 };
}

/** Total of rows skipped over all reasons. */
export function skippedRows(account: SourceAccount): number {
  let total = 0;
  for (const n of Object.values(account.skipped)) total += n ?? 0;
  return total;
}
