// Ingest stage: JSON Lines, as diagnostic settings write PT1H.json blobs (one record per line).
// A line may also hold an Event Hubs body (`{"records":[…]}`) or a Log Analytics result
// (`{"tables":[…]}`): both are unwrapped into their rows.

import { splitLines } from './byte-source.js';
import { columnNames, getKey, isPlainObject, rowFromCells, type FormatReader, type RowEvent } from './source.js';

/** Unwraps one parsed JSON value into row events (records wrapper, LA tables, arrays, or a row). */
export function* rowsOfValue(value: unknown, line: number): Generator<RowEvent> {
  if (Array.isArray(value)) {
    // One level only: an array of rows. Deeper arrays are not rows (and must not cost a stack frame
    // per level: a hostile line may nest 100,000 deep).
    for (const item of value) {
      if (isPlainObject(item)) yield* rowsOfValue(item, line);
      else yield { kind: 'bad-row', code: 'not-a-record', line, message: 'Cannot use an array element that is not an object' };
    }
    return;
  }
  if (!isPlainObject(value)) {
    yield { kind: 'bad-row', code: 'not-a-record', line, message: 'Cannot use a JSON value that is not an object' };
    return;
  }
  const records = getKey(value, 'records');
  if (Array.isArray(records)) {
    for (const item of records) {
      if (isPlainObject(item)) yield { kind: 'row', row: item, line };
      else yield { kind: 'bad-row', code: 'not-a-record', line, message: 'Cannot use a "records" element that is not an object' };
    }
    return;
  }
  const tables = getKey(value, 'tables');
  if (Array.isArray(tables)) {
    for (const table of tables) {
      if (!isPlainObject(table)) continue;
      const names = columnNames(getKey(table, 'columns'));
      const rows = getKey(table, 'rows');
      if (!names || !Array.isArray(rows)) {
        yield { kind: 'bad-row', code: 'not-a-record', line, message: 'Cannot use a table without "columns" and "rows"' };
        continue;
      }
      for (const cells of rows) {
        if (Array.isArray(cells) && cells.length === names.length) yield { kind: 'row', row: rowFromCells(names, cells), line };
        else yield { kind: 'bad-row', code: 'wrong-column-count', line, message: `Cannot use a table row that does not have ${names.length} cells` };
      }
    }
    return;
  }
  yield { kind: 'row', row: value, line };
}

export const jsonl: FormatReader = {
  name: 'jsonl',
  async *read(chunks) {
    for await (const event of splitLines(chunks)) {
      if ('tooLong' in event) {
        yield { kind: 'bad-row', code: 'line-too-long', line: event.line, message: `Cannot read a line of ${event.tooLong} bytes: over the line size cap` };
        continue;
      }
      const text = event.line === 1 ? event.text.replace(/^\uFEFF/, '') : event.text;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        yield { kind: 'bad-row', code: 'invalid-json', line: event.line, message: `Cannot parse JSON: ${(error as Error).message}` };
        continue;
      }
      yield* rowsOfValue(value, event.line);
    }
  },
};
