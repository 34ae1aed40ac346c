// Ingest stage: --checkpoint DIR for long pulls from Azure. Each query window that completes is
// saved (atomically) with the result rows it returned; a later run with the same source and query
// replays the saved windows instead of querying them again. A chunk is replayed only when saved
// windows tile it exactly, so nothing is counted twice, and a crash mid-chunk just re-queries it.

import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NspError } from '../errors.js';
import { writeFileAtomic } from '../write-atomic.js';
import type { QueryWindow } from './kql.js';

/** A window's result rows, as saved. */
export interface SavedWindow {
  window: QueryWindow;
  rows: Record<string, unknown>[];
}

const FILE = /^(\d+)-(\d+)\.json$/;

export class ChunkCheckpoint {
  readonly #dir: string;
  #index: Map<number, number[]> | null = null; // start → ends saved

  /**
   * @param root the --checkpoint folder
   * @param identity what makes results reusable: the source and the query minus its window
   */
  constructor(root: string, identity: string) {
    this.#dir = join(root, createHash('sha256').update(identity).digest('hex').slice(0, 16));
  }

  async #load(): Promise<Map<number, number[]>> {
    if (this.#index) return this.#index;
    const index = new Map<number, number[]>();
    let names: string[] = [];
    try {
      names = await readdir(this.#dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new NspError('input-missing', `Cannot read checkpoint folder "${this.#dir}": ${(error as Error).message}`, { cause: error });
    }
    for (const name of names) {
      const m = FILE.exec(name);
      if (!m) continue;
      const start = Number(m[1]);
      index.set(start, [...(index.get(start) ?? []), Number(m[2])]);
    }
    this.#index = index;
    return index;
  }

  /**
   * Saved windows that exactly tile `window` (the widest first at each step), or null when
   * there is a gap: then the whole window is queried again.
   */
  async tiling(window: QueryWindow): Promise<SavedWindow[] | null> {
    const index = await this.#load();
    const parts: QueryWindow[] = [];
    for (let at = window.start; at < window.end;) {
      const ends = (index.get(at) ?? []).filter((e) => e <= window.end);
      if (ends.length === 0) return null;
      const end = Math.max(...ends);
      parts.push({ start: at, end });
      at = end;
    }
    const saved: SavedWindow[] = [];
    for (const part of parts) {
      const path = join(this.#dir, `${part.start}-${part.end}.json`);
      try {
        const json = JSON.parse(await readFile(path, 'utf8')) as SavedWindow;
        if (!Array.isArray(json.rows)) return null;
        saved.push({ window: part, rows: json.rows });
      } catch {
        return null; // unreadable: query the chunk again
      }
    }
    return saved;
  }

  /** Saves a completed window's rows. */
  async save(saved: SavedWindow): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await writeFileAtomic(join(this.#dir, `${saved.window.start}-${saved.window.end}.json`), JSON.stringify({ version: 1, window: saved.window, rows: saved.rows }));
    const index = await this.#load();
    index.set(saved.window.start, [...(index.get(saved.window.start) ?? []), saved.window.end]);
  }
}
