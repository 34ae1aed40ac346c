// Shared by every command that writes files: outputs appear whole or not at all (temp file in the
// same folder, fsync, rename), so an interrupted run never leaves a half-written file behind.

import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NspError } from './errors.js';

/** Temp files being written right now: an interrupted run removes them before it exits. */
const inFlight = new Set<string>();

/** Removes the temp files of writes under way (synchronously: for signal handlers). */
export function removeTempFiles(): void {
  for (const temp of inFlight) rmSync(temp, { force: true });
  inFlight.clear();
}

/** On Ctrl-C or SIGTERM: remove temp files, then exit 130 / 143 (128 + signal), like a shell. */
export function removeTempFilesOnInterrupt(): void {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      removeTempFiles();
      process.exit(code);
    });
  }
}

/** Writes `data` to `path` atomically. @throws NspError output-failed naming the path */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeFileAtomicWith(path, (fd) => writeFileSync(fd, data));
}

/**
 * Writes `path` atomically through `fill`, which writes the content to the open temp file's
 * descriptor (in parts, so large outputs never sit whole in memory).
 * @throws NspError output-failed naming the path
 */
export async function writeFileAtomicWith(path: string, fill: (fd: number) => void | Promise<void>): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  inFlight.add(temp);
  try {
    const handle = await open(temp, 'wx');
    try {
      await fill(handle.fd);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw new NspError('output-failed', `Cannot write "${path}": ${(error as Error).message}`, { cause: error });
  } finally {
    inFlight.delete(temp);
  }
}
