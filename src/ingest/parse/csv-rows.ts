// Streaming CSV rows for the CSV sources: csv-parse fed chunk by chunk, its rows and refusals
// collected in file order and handed over once per chunk. Positions are the sources' business
// (csv-parse reports where rows end, not where they start): `onChunk` sees every chunk first.
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parse as createCsvParser, type CsvError } from 'csv-parse';
import { ParseError } from '../../errors.js';
import { byteChunks } from './byte-chunks.js';

/** A parsed row and the byte where it ends, or a row csv-parse refused and the byte where it stopped. */
export type CsvRow = { fields: string[]; endByte: number } | { error: CsvError; atByte: number };

export interface CsvRowOptions {
  /** Rows longer than this are refused (as CsvRow errors), not held in memory. */
  maxRowBytes: number;
  /** Field delimiter (default `,`). */
  delimiter?: string;
  onChunk?: (chunk: Buffer) => void;
}

/** Yields the rows read from each chunk (an empty batch when a chunk completed none). */
export async function* csvRowBatches(input: Readable, path: string, options: CsvRowOptions): AsyncGenerator<CsvRow[]> {
  const rows: CsvRow[] = [];
  let parserError: unknown = null;
  const parser = createCsvParser({
    bom: true,
    delimiter: options.delimiter ?? ',',
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    // A stray quote inside a field ("bad"x, ba"d) is kept as text: strict quoting would drop the
    // row and, resynchronizing on the next quote, the good rows after it too.
    relax_quotes: true,
    max_record_size: options.maxRowBytes,
    // Rows are collected here, in file order, interleaved with the parser's refusals; nothing is
    // pushed to the stream side, so writing never waits on a reader.
    on_record: (fields: string[], info) => {
      rows.push({ fields, endByte: info.bytes });
      return null;
    },
    on_skip: (error: CsvError | undefined) => {
      if (error) rows.push({ error, atByte: typeof error.bytes === 'number' ? error.bytes : 0 });
      return undefined;
    },
  });
  parser.on('error', (error: unknown) => {
    parserError = error;
  });
  parser.resume();
  let bytesRead = 0;
  const stopped = () => new ParseError(path, bytesRead, 'the CSV parser stopped', { cause: parserError });
  try {
    for await (const chunk of byteChunks(input, path)) {
      options.onChunk?.(chunk);
      await new Promise<void>((resolve) => parser.write(chunk, () => resolve()));
      bytesRead += chunk.length;
      if (parserError !== null) throw stopped();
      yield rows.splice(0);
    }
    parser.end();
    await finished(parser).catch((error: unknown) => {
      parserError ??= error;
    });
    if (parserError !== null) throw stopped();
    yield rows.splice(0);
  } finally {
    // Stopped early (the consumer, an error): byteChunks releases the input.
    parser.destroy();
  }
}
