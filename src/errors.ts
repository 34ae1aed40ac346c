// Shared by every stage (ingest → analyze → recommend → cli): the one error type the tool throws
// on purpose, with a closed set of codes, a hint for the user and the exit code it maps to.

/** Closed set of error codes; TROUBLESHOOTING.md has one section per code. */
export type ErrorCode =
  | 'usage'            // bad flags or arguments
  | 'input-missing'    // a path that does not exist or cannot be read
  | 'input-invalid'    // an input that cannot be used at all (not a log file, a bad rules file)
  | 'strict-issues'    // --strict and at least one bad row
  | 'over-limit'       // a profile needs more elements than Azure allows
  | 'output-failed';   // an output file could not be written

/** The tool's error: a code, an optional hint saying how to fix it, and the cause. */
export class NspError extends Error {
  override readonly name = 'NspError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }
}

/** True for an NspError, checked by name so that copies of the module across workers still match. */
export function isNspError(error: unknown): error is NspError {
  return error instanceof Error && error.name === 'NspError' && typeof (error as NspError).code === 'string';
}
