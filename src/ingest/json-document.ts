// Ingest stage: one JSON document spread over many lines: a `{"records":[…]}` wrapper (Event Hubs),
// the Log Analytics query API's `{"tables":[…]}`, or a plain array of row objects (portal export).
// Streamed element by element through JsonElementSplitter.

import { StringDecoder } from 'node:string_decoder';
import { JsonElementSplitter, type JsonElement } from './json-elements.js';
import { rowsOfValue } from './jsonl.js';
import { columnNames, rowFromCells, type FormatReader, type RowEvent } from './source.js';

export const jsonDocument: FormatReader = {
  name: 'json',
  async *read(chunks) {
    const pending: JsonElement[] = [];
    const splitter = new JsonElementSplitter((element) => pending.push(element));
    const decoder = new StringDecoder('utf8');
    let columns: string[] | null = null;
    const drain = function* (): Generator<RowEvent> {
      for (const element of pending) {
        if (element.kind === 'oversized') {
          yield { kind: 'bad-row', code: 'line-too-long', line: element.line, message: `Cannot read an element of ${element.bytes} characters: over the size cap` };
          continue;
        }
        let value: unknown;
        try {
          value = JSON.parse(element.text);
        } catch (error) {
          yield { kind: 'bad-row', code: 'invalid-json', line: element.line, message: `Cannot parse JSON element: ${(error as Error).message}` };
          continue;
        }
        if (element.kind === 'columns') {
          columns = columnNames(value);
          if (!columns) yield { kind: 'file-issue', code: 'not-a-record', line: element.line, message: 'Cannot read the table\'s "columns"' };
        } else if (element.kind === 'cells') {
          if (!columns) yield { kind: 'bad-row', code: 'not-a-record', line: element.line, message: 'Cannot use table rows that come before their "columns"' };
          else if (!Array.isArray(value) || value.length !== columns.length) {
            yield { kind: 'bad-row', code: 'wrong-column-count', line: element.line, message: `Cannot use a table row that does not have ${columns.length} cells` };
          } else yield { kind: 'row', row: rowFromCells(columns, value), line: element.line };
        } else {
          yield* rowsOfValue(value, element.line);
        }
      }
      pending.length = 0;
    };
    let first = true;
    try {
      for await (const chunk of chunks) {
        let text = decoder.write(chunk);
        if (first) { text = text.replace(/^\uFEFF/, ''); first = false; }
        splitter.push(text);
        yield* drain();
      }
      splitter.push(decoder.end());
      yield* drain();
    } catch (error) {
      yield* drain();
      if (error instanceof SyntaxError) {
        yield { kind: 'file-issue', code: 'invalid-json', line: splitter.line, message: error.message };
        return;
      }
      throw error;
    }
    const complete = splitter.end();
    yield* drain();
    if (!complete) {
      yield { kind: 'file-issue', code: 'truncated-input', line: splitter.line, message: 'Cannot read the rest of the JSON document: it ends early' };
    }
  },
};
