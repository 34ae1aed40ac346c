// Shared by every command that writes files: outputs appear whole or not at all (temp file in the
// same folder, fsync, rename), so an interrupted run never leaves a half-written file behind.

import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NspError } from './errors.js';

/** Writes `data` to `path` atomically. @throws NspError output-failed naming the path */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new NspError('output-failed', `Cannot write "${path}": ${(error as Error).message}`, { cause: error });
  }
}
