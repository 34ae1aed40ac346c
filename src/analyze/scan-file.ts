// Analyze stage, hot path: reads a JSON lines file (or one byte range of it, for parallel work)
// in large blocks and folds each line into a FlowTable through JsonlFolder. Gzip files are
// inflated here too, so a worker thread does it instead of the main thread.

import { closeSync, openSync, readSync } from 'node:fs';
import { MAX_LINE_BYTES } from '../ingest/byte-source.js';
import { INPUT_BYTES } from '../ingest/jsonl-scanner.js';
import { JsonlFolder } from './scan-jsonl.js';
import { FoldStop, isTableFull } from './fold-engine.js';

// Blocks are read into the scanner's input region: small enough to stay in L2 until scanned.
const BLOCK = INPUT_BYTES;

/** Lines of a range: those whose first byte lies in [start, end). */
export interface ByteRange { start: number; end: number }

export interface FoldLinesResult {
  /** Lines seen (numbered from 1 within the range). */
  lines: number;
  /** Set when the content ended inside a gzip member or the read failed. */
  error?: Error;
}

/**
 * Feeds blocks into the folder line by line. Lines longer than maxLineBytes are reported and
 * dropped without being buffered whole.
 */
export class LineFeeder {
  // The start of a line that crosses blocks, kept as parts and joined once (no quadratic copying).
  #carry: Buffer[] = [];
  #carryBytes = 0;
  #skipping = 0;
  line = 0;
  readonly #folder: JsonlFolder;
  readonly #maxLineBytes: number;

  constructor(folder: JsonlFolder, maxLineBytes = MAX_LINE_BYTES) {
    this.#folder = folder;
    this.#maxLineBytes = maxLineBytes;
  }

  /**
   * Feeds a block. Lines that start at or after `limit` (an offset into this block; negative once
   * past it) belong to the next range: feeding stops before them, but a line already under way
   * is always finished. @returns true to go on
   */
  push(block: Buffer, limit = Infinity): boolean {
    // A block in the scanner's memory is detached when that memory grows: view it again.
    const scanner = this.#folder.scanner;
    const inScanner = block.buffer === scanner.buffer;
    const blockAt = block.byteOffset;
    const blockLength = block.length;
    let pos = 0;
    for (;;) {
      // Whole lines of a block in the scanner's memory are folded in WebAssembly; the lines it
      // hands back, and lines that span blocks, are folded one by one below.
      if (inScanner && this.#carryBytes === 0 && this.#skipping === 0) {
        const limitAt = blockAt + Math.min(Math.max(limit, 0), blockLength + 1);
        const stop = this.#folder.foldRun(blockAt + pos, blockAt + blockLength, limitAt, this.#maxLineBytes);
        this.line += this.#folder.runLines;
        pos = this.#folder.runStop - blockAt;
        if (stop === FoldStop.Limit) return false;
        if (stop === FoldStop.End) break;
      }
      const nl = block.indexOf(10, pos);
      if (nl === -1) break;
      const continuing = pos === 0 && (this.#carryBytes > 0 || this.#skipping > 0);
      if (!continuing && pos >= limit) return false;
      this.line++;
      if (this.#skipping) {
        this.#folder.addTooLong(this.line, this.#skipping + nl - pos);
        this.#skipping = 0;
      } else if (this.#carryBytes > 0) {
        const total = this.#carryBytes + (nl - pos);
        if (total > this.#maxLineBytes) this.#folder.addTooLong(this.line, total);
        else {
          const whole = Buffer.concat([...this.#carry, block.subarray(pos, nl)]);
          this.#folder.addLine(whole, 0, whole.length, this.line);
        }
        this.#carry = [];
        this.#carryBytes = 0;
      } else if (nl - pos > this.#maxLineBytes) {
        this.#folder.addTooLong(this.line, nl - pos);
      } else {
        this.#folder.addLine(block, pos, nl, this.line);
      }
      if (inScanner && block.buffer !== scanner.buffer) block = Buffer.from(scanner.buffer, blockAt, blockLength);
      pos = nl + 1;
    }
    const rest = block.length - pos;
    if (rest > 0) {
      const continuing = pos === 0 && (this.#carryBytes > 0 || this.#skipping > 0);
      if (!continuing && pos >= limit) return false;
      if (this.#skipping) this.#skipping += rest;
      else if (this.#carryBytes + rest > this.#maxLineBytes) {
        this.#skipping = this.#carryBytes + rest;
        this.#carry = [];
        this.#carryBytes = 0;
      } else {
        this.#carry.push(Buffer.from(block.subarray(pos)));
        this.#carryBytes += rest;
      }
    }
    return true;
  }

  /** The last line, when the content does not end with a newline. */
  end(): void {
    if (this.#skipping) { this.line++; this.#folder.addTooLong(this.line, this.#skipping); }
    else if (this.#carryBytes > 0) {
      this.line++;
      const whole = Buffer.concat(this.#carry);
      this.#folder.addLine(whole, 0, whole.length, this.line);
    }
    this.#skipping = 0;
    this.#carry = [];
    this.#carryBytes = 0;
  }
}

/**
 * Folds the lines of a plain file whose first byte lies in `range`. Reads are synchronous: this
 * runs on a worker thread (or for a small input), where waiting on the thread pool for every
 * block only adds idle time.
 */
export async function foldPlainRange(path: string, range: ByteRange, folder: JsonlFolder): Promise<FoldLinesResult> {
  const fd = openSync(path, 'r');
  const feeder = new LineFeeder(folder);
  try {
    let position = range.start;
    // Blocks are read straight into the scanner's input region and scanned there.
    let block = folder.scanner.input(BLOCK);
    if (range.start > 0) {
      // Skip the line that started in the previous range: it belongs to that range.
      position = range.start - 1;
      for (;;) {
        const bytesRead = readSync(fd, block, 0, BLOCK, position);
        if (bytesRead === 0) return { lines: 0 };
        const nl = block.subarray(0, bytesRead).indexOf(10);
        if (nl !== -1) { position += nl + 1; break; }
        position += bytesRead;
      }
    }
    if (position >= range.end) return { lines: 0 };
    for (;;) {
      folder.renewIfUsedUp(); // between blocks: none is in the engine's memory now
      block = folder.scanner.input(BLOCK);
      const bytesRead = readSync(fd, block, 0, BLOCK, position);
      if (bytesRead === 0) { feeder.end(); break; }
      // A copy only when a line spans blocks (LineFeeder copies its carry); lines are folded in place.
      const goOn = feeder.push(block.subarray(0, bytesRead), range.end - position);
      position += bytesRead;
      if (!goOn) break;
    }
    return { lines: feeder.line };
  } finally {
    closeSync(fd);
  }
}

/** Folds every line of a stream of blocks (an inflated gzip file, say). */
export async function foldChunks(chunks: AsyncIterable<Buffer>, folder: JsonlFolder): Promise<FoldLinesResult> {
  const feeder = new LineFeeder(folder);
  try {
    for await (const chunk of chunks) feeder.push(chunk);
    feeder.end();
    return { lines: feeder.line };
  } catch (error) {
    if (isTableFull(error)) throw error; // the run's end (a full table), not the content's
    // Rows before the cut are kept; the cut itself is the caller's issue to report.
    return { lines: feeder.line, error: error as Error };
  }
}
