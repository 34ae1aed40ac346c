// Test helper: runs the CLI in-process with captured IO.

import { main } from '../../src/cli/main.js';
import { createTestIO } from '../../src/cli/io.js';

export async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const io = createTestIO();
  const code = await main(args, io);
  return { code, out: io.out(), err: io.err() };
}
