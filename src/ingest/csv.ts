// Ingest stage: CSV as the Azure portal exports a Log Analytics result: NSPAccessLogs column names,
// datetime columns possibly suffixed " [UTC]", quoted fields with embedded commas and newlines.

import type { FormatReader, RowEvent } from './source.js';

/** Header cell → column name: "TimeGenerated [UTC]" → "TimeGenerated". */
export function csvColumnName(header: string): string {
  return header.replace(/^\uFEFF/, '').trim().replace(/\s*\[UTC\]$/i, '');
}

interface CsvRecord { record: string[]; info: { lines: number } }

export const csv: FormatReader = {
  name: 'csv',
  async *read(chunks) {
    // csv-parse loads with the first CSV read (most runs read none: it would slow every start).
    const { parse } = await import('csv-parse');
    const parser = parse({ bom: true, relax_column_count: true, relax_quotes: false, skip_empty_lines: true, info: true, skip_records_with_error: true });
    const issues: RowEvent[] = [];
    parser.on('skip', (error: Error & { lines?: number }) => {
      issues.push({ kind: 'bad-row', code: 'wrong-column-count', line: error.lines ?? 0, message: `Cannot parse CSV row: ${error.message}` });
    });
    const pump = (async () => {
      try {
        for await (const chunk of chunks) {
          if (!parser.write(chunk)) await new Promise((r) => parser.once('drain', r));
        }
        parser.end();
      } catch (error) {
        parser.destroy(error as Error);
      }
    })();
    let header: string[] | null = null;
    try {
      for await (const item of parser as AsyncIterable<CsvRecord>) {
        yield* issues.splice(0);
        const { record, info } = item;
        if (!header) {
          header = record.map(csvColumnName);
          continue;
        }
        if (record.length !== header.length) {
          yield { kind: 'bad-row', code: 'wrong-column-count', line: info.lines, message: `Cannot use a CSV row of ${record.length} columns: the header has ${header.length}` };
          continue;
        }
        const row: Record<string, unknown> = {};
        for (let i = 0; i < header.length; i++) row[header[i]!] = record[i];
        yield { kind: 'row', row, line: info.lines };
      }
    } finally {
      await pump;
    }
    yield* issues.splice(0);
  },
};
