// Ingest stage: opens one input file as a stream of bytes, inflating gzip (detected from the magic
// bytes, not the file name), and splits byte streams into lines with a size cap.

import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

/** Longest line accepted (bytes); longer lines are reported and skipped, never buffered whole. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;

/**
 * Inflated bytes allowed per compressed byte (plus a first 64 MiB). NSP logs compress 10–50×;
 * far beyond that is a decompression bomb, and reading stops with an issue.
 */
export const MAX_INFLATE_RATIO = 250;
const INFLATE_ALLOWANCE = 64 * 1024 * 1024;

/** The error a gzip stream ends with when it inflates beyond MAX_INFLATE_RATIO. */
export class DecompressionLimitError extends Error {
  override readonly name = 'DecompressionLimitError';
}

const GZIP_MAGIC = [0x1f, 0x8b];

export interface OpenedFile {
  gzip: boolean;
  /** First bytes of the (inflated) content, for format detection. */
  head: Buffer;
  /** The whole (inflated) content, head included. */
  chunks: AsyncIterable<Buffer>;
  /** Releases the file when the content is not read to the end. */
  close(): void;
}

/** Reads the first chunk of an iterator and gives back the rest with the chunk put back in front. */
async function peek(source: AsyncIterable<Buffer>): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  const first = await it.next();
  const head = first.done ? Buffer.alloc(0) : first.value;
  async function* rest(): AsyncGenerator<Buffer> {
    if (!first.done) yield head;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head, rest: rest() };
}

/** Opens a file; gzip content is inflated on the fly (concatenated members included). */
export async function openFile(path: string): Promise<OpenedFile> {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  const raw = await peek(stream);
  const gzip = raw.head.length >= 2 && raw.head[0] === GZIP_MAGIC[0] && raw.head[1] === GZIP_MAGIC[1];
  if (!gzip) return { gzip, head: raw.head, chunks: raw.rest, close: () => stream.destroy() };
  const inflated = inflateBounded(raw.rest, `"${path}"`);
  const close = (): void => { stream.destroy(); inflated.close(); };
  try {
    const peeked = await peek(inflated.chunks);
    return { gzip, head: peeked.head, chunks: peeked.rest, close };
  } catch (error) {
    // Broken from the first bytes (a cut header, say): the reader meets the error at line 1 and
    // reports it like any other cut, instead of the whole run stopping here.
    close();
    async function* failing(): AsyncGenerator<Buffer> { throw error; }
    return { gzip, head: Buffer.alloc(0), chunks: failing(), close };
  }
}

/**
 * Inflates gzip content (concatenated members too) as it is read. Past MAX_INFLATE_RATIO times the
 * compressed bytes read so far (plus a first 64 MiB) it stops with DecompressionLimitError.
 * Files and blobs both inflate through here. @param what the content's name, for the error
 */
export function inflateBounded(raw: AsyncIterable<Buffer>, what: string): { chunks: AsyncIterable<Buffer>; close(): void } {
  const gunzip = createGunzip();
  let compressed = 0;
  void (async () => {
    try {
      for await (const chunk of raw) {
        if (gunzip.destroyed) return;
        compressed += chunk.length;
        if (!gunzip.write(chunk)) await new Promise((r) => gunzip.once('drain', r));
      }
      gunzip.end();
    } catch (error) {
      gunzip.destroy(error as Error);
    }
  })();
  async function* bounded(): AsyncGenerator<Buffer> {
    let out = 0;
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      out += chunk.length;
      if (out > INFLATE_ALLOWANCE + compressed * MAX_INFLATE_RATIO) {
        gunzip.destroy();
        throw new DecompressionLimitError(`Cannot inflate ${what} further: over ${MAX_INFLATE_RATIO}× its compressed size (a decompression bomb?)`);
      }
      yield chunk;
    }
  }
  return { chunks: bounded(), close: () => gunzip.destroy() };
}

export type LineEvent = { line: number; text: string } | { line: number; tooLong: number };

/**
 * Splits bytes into UTF-8 lines (LF or CRLF), numbering them from 1. A line over `maxBytes` is
 * reported as `tooLong` (with its size) and dropped without being kept in memory.
 */
export async function* splitLines(chunks: AsyncIterable<Buffer>, maxBytes = MAX_LINE_BYTES): AsyncGenerator<LineEvent> {
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let skipping = 0; // bytes dropped of an over-long line
  let line = 1;
  const finish = (tail: Buffer): LineEvent => {
    const parts = carry.length ? [...carry, tail] : [tail];
    carry = [];
    carryBytes = 0;
    let buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    if (buf.length && buf[buf.length - 1] === 13) buf = buf.subarray(0, buf.length - 1);
    return { line, text: buf.toString('utf8') };
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      if (skipping) { yield { line, tooLong: skipping + piece.length }; skipping = 0; }
      else if (carryBytes + piece.length > maxBytes) { yield { line, tooLong: carryBytes + piece.length }; carry = []; carryBytes = 0; }
      else yield finish(piece);
      line++;
      start = nl + 1;
    }
    const tail = chunk.subarray(start);
    if (skipping) skipping += tail.length;
    else if (carryBytes + tail.length > maxBytes) { skipping = carryBytes + tail.length; carry = []; carryBytes = 0; }
    else if (tail.length) { carry.push(Buffer.from(tail)); carryBytes += tail.length; }
  }
  if (skipping) yield { line, tooLong: skipping };
  else if (carryBytes) yield finish(Buffer.alloc(0));
}
