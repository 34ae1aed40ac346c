// CLI: the streams and facts a command may touch, injected so tests run commands in-process with
// captured output (gh's IOStreams). Commands never use process.stdout/stderr directly.

import { removeTempFilesOnInterrupt } from '../write-atomic.js';

export interface IO {
  stdout: { write(text: string): void };
  stderr: { write(text: string): void };
  /** stderr is a terminal: show progress. */
  stderrIsTTY: boolean;
}

/** The real process streams; a broken pipe on stdout ends quietly (exit 0, like `head`). */
export function createProcessIO(): IO {
  removeTempFilesOnInterrupt();
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  return {
    stdout: { write: (t) => void process.stdout.write(t) },
    stderr: { write: (t) => void process.stderr.write(t) },
    stderrIsTTY: Boolean(process.stderr.isTTY),
  };
}

export interface TestIO extends IO {
  out(): string;
  err(): string;
}

/** Captures output in memory. */
export function createTestIO(options: { tty?: boolean } = {}): TestIO {
  let out = '';
  let err = '';
  return {
    stdout: { write: (t) => { out += t; } },
    stderr: { write: (t) => { err += t; } },
    stderrIsTTY: options.tty ?? false,
    out: () => out,
    err: () => err,
  };
}
