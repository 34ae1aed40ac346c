// Ingest stage: Azure Event Hubs Capture files (Avro object containers, codec null or deflate). Each
// Avro record's Body is one event, UTF-8 JSON (`{"records":[…]}` from diagnostic settings), unwrapped
// like a JSON line; the "line" of a row or issue is the 1-based Avro record number in the file.

import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';
import type { Schema, Type, types } from 'avsc';
import { rowsOfValue } from './jsonl.js';
import type { FormatReader, RowEvent } from './source.js';

/** Largest Avro block accepted as stored (bytes); a larger one is skipped, never buffered whole. */
export const MAX_AVRO_BLOCK_BYTES = 64 * 1024 * 1024;
/** Largest Avro block accepted after inflating (bytes); a larger one is a decompression bomb. */
export const MAX_AVRO_INFLATED_BYTES = 256 * 1024 * 1024;

/** Caps on what one Avro block may hold in memory. */
export interface AvroCaptureLimits {
  /** Largest block as stored, and largest header (default MAX_AVRO_BLOCK_BYTES). */
  maxBlockBytes?: number;
  /** Largest block after inflating (default MAX_AVRO_INFLATED_BYTES). */
  maxInflatedBytes?: number;
}

const MAGIC = Buffer.from('Obj\u0001', 'latin1');
const SYNC_BYTES = 16;
/** Deepest nesting of Avro values skipped (a recursive schema must not cost a stack frame per byte). */
const MAX_DEPTH = 64;
const inflate = promisify(inflateRaw);

/** Framing or value bytes that contradict the Avro spec: the block (or the file) cannot be read. */
class Corrupt extends Error {}

/** A position in one block's (inflated) bytes. */
interface Cursor { buf: Buffer; pos: number }

/**
 * Zigzag varint long at `pos`; null when the bytes end first. Precision past 2^53 does not matter:
 * the values used are lengths and counts, range-checked by the callers.
 */
function varLong(buf: Buffer, pos: number): { value: number; next: number } | null {
  let n = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= buf.length) return null;
    const b = buf[pos + i]!;
    n += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) return { value: n % 2 === 0 ? n / 2 : -(n + 1) / 2, next: pos + i + 1 };
  }
  throw new Corrupt('a variable-length integer runs over 10 bytes');
}

function readLong(c: Cursor): number {
  const r = varLong(c.buf, c.pos);
  if (!r) throw new Corrupt('a value runs past the end of its block');
  c.pos = r.next;
  return r.value;
}

function advance(c: Cursor, n: number): void {
  if (n < 0 || c.pos + n > c.buf.length) throw new Corrupt(n < 0 ? 'a negative length' : 'a value runs past the end of its block');
  c.pos += n;
}

/** Whether a value of this type takes no bytes at all (null, a fixed of size 0, a record of such). */
function takesNoBytes(type: Type, seen = new Set<Type>()): boolean {
  if (seen.has(type)) return false;
  seen.add(type);
  if (type.typeName === 'null') return true;
  if (type instanceof avro.types.FixedType) return type.size === 0;
  if (type instanceof avro.types.RecordType) return type.fields.every((f) => takesNoBytes(f.type, seen));
  if (type instanceof avro.types.LogicalType) return takesNoBytes(type.underlyingType, seen);
  return false;
}

/**
 * Skips one value, checking every length and count against the block, so corrupt or hostile
 * bytes end in a Corrupt error instead of a huge loop (avsc's own skipping trusts the counts).
 */
function skipValue(type: Type, c: Cursor, depth: number): void {
  if (depth > MAX_DEPTH) throw new Corrupt('values nested too deep');
  switch (type.typeName) {
    case 'null': return;
    case 'boolean': advance(c, 1); return;
    case 'int': case 'long': case 'enum': readLong(c); return;
    case 'float': advance(c, 4); return;
    case 'double': advance(c, 8); return;
    case 'bytes': case 'string': advance(c, readLong(c)); return;
  }
  if (type instanceof avro.types.FixedType) { advance(c, type.size); return; }
  if (type instanceof avro.types.RecordType) { for (const f of type.fields) skipValue(f.type, c, depth + 1); return; }
  if (type instanceof avro.types.UnwrappedUnionType || type instanceof avro.types.WrappedUnionType) {
    const branch = type.types[readLong(c)];
    if (!branch) throw new Corrupt('a union branch index out of range');
    skipValue(branch, c, depth + 1);
    return;
  }
  if (type instanceof avro.types.ArrayType || type instanceof avro.types.MapType) {
    const map = type instanceof avro.types.MapType;
    const items: Type = map ? (type as types.MapType).valuesType as Type : (type as types.ArrayType).itemsType;
    const empty = !map && takesNoBytes(items);
    for (;;) {
      let n = readLong(c);
      if (n === 0) return;
      if (n < 0) { advance(c, readLong(c)); continue; } // a block with its byte size: skip it whole
      // Items of no bytes (an array of nulls) need no loop. Any other item takes a byte at least (a
      // map entry's key does), so more items than bytes left is corrupt, and is not looped over.
      if (empty) continue;
      if (n > c.buf.length - c.pos) throw new Corrupt('a count larger than its block');
      while (n-- > 0) {
        if (map) advance(c, readLong(c));
        skipValue(items, c, depth + 1);
      }
    }
  }
  if (type instanceof avro.types.LogicalType) { skipValue(type.underlyingType, c, depth); return; }
  throw new Corrupt(`an Avro type this reader does not know (${type.typeName})`);
}

/** The Body: bytes, text, null, or undefined for a branch of any other type (skipped). */
function readBody(type: Type, c: Cursor): Buffer | string | null | undefined {
  if (type.typeName === 'null') return null;
  if (type.typeName === 'bytes' || type.typeName === 'string') {
    const n = readLong(c);
    const start = c.pos;
    advance(c, n);
    return type.typeName === 'bytes' ? c.buf.subarray(start, c.pos) : c.buf.toString('utf8', start, c.pos);
  }
  if (type instanceof avro.types.UnwrappedUnionType || type instanceof avro.types.WrappedUnionType) {
    const branch = type.types[readLong(c)];
    if (!branch) throw new Corrupt('a union branch index out of range');
    return readBody(branch, c);
  }
  skipValue(type, c, 1);
  return undefined;
}

/** What the header says: how to read the records, and the marker after every block. */
interface Header { codec: 'null' | 'deflate'; record: types.RecordType; body: number; sync: Buffer }

/** Whether a Body of this type can hold an event (bytes or text, maybe in a union with null). */
function canHoldEvent(type: Type): boolean {
  if (type.typeName === 'bytes' || type.typeName === 'string') return true;
  if (type instanceof avro.types.UnwrappedUnionType || type instanceof avro.types.WrappedUnionType) return type.types.some(canHoldEvent);
  return false;
}

/**
 * Pulls bytes from the chunks on demand and holds only what the current step needs (a header, a
 * block, a varint), so memory follows the largest block, not the file.
 */
class ByteQueue {
  private readonly it: AsyncIterator<Buffer>;
  private chunks: Buffer[] = [];
  private size = 0;
  private ended = false;

  constructor(source: AsyncIterable<Buffer>) { this.it = source[Symbol.asyncIterator](); }

  /** Buffers at least n bytes unless the content ends first; true when they are there. */
  async fill(n: number): Promise<boolean> {
    while (this.size < n && !this.ended) {
      const next = await this.it.next();
      if (next.done) this.ended = true;
      else if (next.value.length) { this.chunks.push(next.value); this.size += next.value.length; }
    }
    return this.size >= n;
  }

  /** Takes n buffered bytes (the caller has filled them). */
  take(n: number): Buffer {
    const first = this.chunks[0];
    const out = first && first.length >= n ? first.subarray(0, n) : this.peek(n);
    this.drop(n);
    return out;
  }

  /** A copy of the first n buffered bytes (fewer if fewer are buffered), left in place. */
  private peek(n: number): Buffer {
    const out = Buffer.allocUnsafe(Math.min(n, this.size));
    let off = 0;
    for (const c of this.chunks) {
      if (off >= out.length) break;
      off += c.copy(out, off, 0, Math.min(c.length, out.length - off));
    }
    return out;
  }

  private drop(n: number): void {
    this.size -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      if (c.length <= n) { this.chunks.shift(); n -= c.length; } else { this.chunks[0] = c.subarray(n); n = 0; }
    }
  }

  /** Drops n bytes as they arrive, without holding them; false when the content ends first. */
  async skip(n: number): Promise<boolean> {
    while (n > 0) {
      if (this.size === 0 && !(await this.fill(1))) return false;
      const k = Math.min(n, this.size);
      this.drop(k);
      n -= k;
    }
    return true;
  }

  /** A varint long; null when the content ends in (or before) it. @throws Corrupt over 10 bytes */
  async long(): Promise<number | null> {
    await this.fill(10);
    const r = varLong(this.peek(10), 0);
    if (!r) return null;
    this.drop(r.next);
    return r.value;
  }

  /** A length-prefixed byte string of at most `max` bytes; null when the content ends first. */
  async bytes(max: number): Promise<Buffer | null> {
    const n = await this.long();
    if (n === null) return null;
    if (n < 0 || n > max) throw new Corrupt(n < 0 ? 'a negative length' : `a header value of ${n} bytes`);
    return (await this.fill(n)) ? this.take(n) : null;
  }
}

const truncated = (line: number, message: string): RowEvent => ({ kind: 'file-issue', code: 'truncated-input', line, message });
const corrupt = (line: number, message: string): RowEvent => ({ kind: 'file-issue', code: 'read-error', line, message });

/** Reads the header, or gives the file issue that stops reading at record 1. */
async function readHeader(q: ByteQueue, maxBytes: number): Promise<Header | RowEvent> {
  const cut = truncated(1, 'Cannot read the Avro header: the file ends early');
  if (!(await q.fill(MAGIC.length))) return cut;
  if (!q.take(MAGIC.length).equals(MAGIC)) return { kind: 'file-issue', code: 'unknown-format', line: 1, message: 'Cannot read Avro: the file does not start with "Obj\\x01"' };
  const meta = new Map<string, Buffer>();
  let metaBytes = 0;
  try {
    for (;;) {
      let n = await q.long();
      if (n === null) return cut;
      if (n === 0) break;
      if (n < 0) {
        n = -n;
        if ((await q.long()) === null) return cut;
      }
      for (let i = 0; i < n; i++) {
        const key = await q.bytes(maxBytes);
        const value = key && await q.bytes(maxBytes);
        if (!key || !value) return cut;
        // Many small entries are as heavy as one big one: the whole header is capped.
        metaBytes += key.length + value.length;
        if (metaBytes > maxBytes) throw new Corrupt(`a header over ${maxBytes} bytes`);
        meta.set(key.toString('utf8'), value);
      }
    }
  } catch (error) {
    if (!(error instanceof Corrupt)) throw error;
    return corrupt(1, `Cannot read the Avro header: ${error.message} (a corrupt file?)`);
  }
  if (!(await q.fill(SYNC_BYTES))) return cut;
  const sync = q.take(SYNC_BYTES);
  const codec = meta.get('avro.codec')?.toString('utf8') ?? 'null';
  if (codec !== 'null' && codec !== 'deflate') {
    return { kind: 'file-issue', code: 'unknown-format', line: 1, message: `Cannot read Avro blocks compressed with "${codec}": only the null and deflate codecs are read (avro-tools recodec converts a file)` };
  }
  let type: Type;
  try {
    const schema = meta.get('avro.schema');
    if (!schema) throw new Error('the header has no avro.schema');
    type = avro.Type.forSchema(JSON.parse(schema.toString('utf8')) as Schema);
  } catch (error) {
    return { kind: 'file-issue', code: 'unknown-format', line: 1, message: `Cannot use the Avro schema: ${(error as Error).message}` };
  }
  const fields = type instanceof avro.types.RecordType ? type.fields : [];
  let body = fields.findIndex((f) => f.name === 'Body');
  if (body === -1) body = fields.findIndex((f) => f.name.toLowerCase() === 'body');
  if (!(type instanceof avro.types.RecordType) || body === -1 || !canHoldEvent(fields[body]!.type)) {
    return { kind: 'file-issue', code: 'unknown-format', line: 1, message: 'Cannot read this Avro file: its records have no bytes "Body" field (not an Event Hubs Capture file)' };
  }
  return { codec: codec === 'deflate' ? 'deflate' : 'null', record: type, body, sync };
}

/** The Body of one record, and the cursor moved past the record. */
function readRecord(header: Header, c: Cursor): Buffer | string | null | undefined {
  const fields = header.record.fields;
  let body: Buffer | string | null | undefined;
  for (let i = 0; i < fields.length; i++) {
    if (i === header.body) body = readBody(fields[i]!.type, c);
    else skipValue(fields[i]!.type, c, 1);
  }
  return body;
}

/** The row events of one event Body: its JSON unwrapped like a JSON line. */
function* bodyRows(body: Buffer | string | null | undefined, line: number): Generator<RowEvent> {
  if (body === null) {
    yield { kind: 'bad-row', code: 'not-a-record', line, message: 'Cannot use an event without a Body' };
    return;
  }
  if (body === undefined) {
    yield { kind: 'bad-row', code: 'not-a-record', line, message: 'Cannot use an event Body that is neither bytes nor text' };
    return;
  }
  const text = (typeof body === 'string' ? body : body.toString('utf8')).replace(/^\uFEFF/, '');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    yield { kind: 'bad-row', code: 'invalid-json', line, message: `Cannot parse the event Body as JSON: ${(error as Error).message}` };
    return;
  }
  yield* rowsOfValue(value, line);
}

// avsc, loaded with the first capture read (most runs read none: it would slow every start).
type Avsc = typeof import('avsc');
let avro: Avsc;

async function* readCapture(chunks: AsyncIterable<Buffer>, maxBlock: number, maxInflated: number): AsyncGenerator<RowEvent> {
  avro ??= ((await import('avsc')) as unknown as { default: Avsc }).default; // a CommonJS module
  const q = new ByteQueue(chunks);
  const header = await readHeader(q, maxBlock);
  if ('kind' in header) { yield header; return; }
  let records = 0; // Avro records passed so far, read or not: the numbering goes on across bad blocks
  const ends = (): RowEvent => truncated(records + 1, `Cannot read the rest of the Avro file: it ends early after record ${records}`);
  for (;;) {
    // A block: object count, byte size, the (compressed) objects, the file's sync marker.
    if (!(await q.fill(1))) return;
    let count: number | null;
    let size: number | null;
    try {
      count = await q.long();
      size = count === null ? null : await q.long();
    } catch (error) {
      if (!(error instanceof Corrupt)) throw error;
      yield corrupt(records + 1, `Cannot read the rest of the Avro file: ${error.message} in a block header after record ${records}`);
      return;
    }
    if (count === null || size === null) { yield ends(); return; }
    if (count < 0 || size < 0 || !Number.isSafeInteger(records + count) || !Number.isSafeInteger(size)) {
      yield corrupt(records + 1, `Cannot read the rest of the Avro file: a block header after record ${records} is corrupt`);
      return;
    }
    const span = count === 0 ? 'no records' : `records ${records + 1}–${records + count}`;
    if (size > maxBlock) {
      // Too big to hold: skip it as it streams past, and go on at the next block.
      if (!(await q.skip(size)) || !(await q.fill(SYNC_BYTES))) { yield ends(); return; }
      if (!q.take(SYNC_BYTES).equals(header.sync)) {
        yield corrupt(records + 1, `Cannot read the rest of the Avro file: the block of ${span} does not end with the file's sync marker`);
        return;
      }
      yield { kind: 'file-issue', code: 'line-too-long', line: records + 1, message: `Cannot read an Avro block of ${size} bytes (${span}): over the block size cap` };
      records += count;
      continue;
    }
    if (!(await q.fill(size + SYNC_BYTES))) { yield ends(); return; }
    const stored = q.take(size);
    // A wrong marker means the sizes cannot be trusted: nothing after this point can be framed.
    if (!q.take(SYNC_BYTES).equals(header.sync)) {
      yield corrupt(records + 1, `Cannot read the rest of the Avro file: the block of ${span} does not end with the file's sync marker`);
      return;
    }
    let data = stored;
    if (header.codec === 'deflate') {
      try {
        data = await inflate(stored, { maxOutputLength: maxInflated });
      } catch (error) {
        const bomb = (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
        yield bomb
          ? { kind: 'file-issue', code: 'decompression-limit', line: records + 1, message: `Cannot inflate the Avro block of ${span}: over ${maxInflated} bytes (a decompression bomb?)` }
          : corrupt(records + 1, `Cannot inflate the Avro block of ${span}: ${(error as Error).message}`);
        records += count;
        continue;
      }
    }
    // Every record takes a byte at least (its Body does): a larger count is corrupt, and is not looped over.
    if (count > data.length) {
      yield corrupt(records + 1, `Cannot read the Avro block of ${span}: ${count} records cannot fit in ${data.length} bytes`);
      records += count;
      continue;
    }
    const c: Cursor = { buf: data, pos: 0 };
    for (let i = 1; i <= count; i++) {
      let body;
      try {
        body = readRecord(header, c);
      } catch (error) {
        if (!(error instanceof Corrupt)) throw error;
        yield corrupt(records + i, `Cannot read Avro record ${records + i}: ${error.message}; the rest of the block (to record ${records + count}) is skipped`);
        break;
      }
      yield* bodyRows(body, records + i);
    }
    records += count;
  }
}

/** Reads Event Hubs Capture Avro files; `limits` lower the caps (for tests). */
export function avroCaptureReader(limits: AvroCaptureLimits = {}): FormatReader {
  const maxBlock = limits.maxBlockBytes ?? MAX_AVRO_BLOCK_BYTES;
  const maxInflated = limits.maxInflatedBytes ?? MAX_AVRO_INFLATED_BYTES;
  return { name: 'avro', read: (chunks) => readCapture(chunks, maxBlock, maxInflated) };
}

/** Event Hubs Capture files (Avro): rows of each event Body, numbered by Avro record. */
export const avroCapture: FormatReader = avroCaptureReader();
