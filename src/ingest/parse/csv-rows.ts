// Streaming CSV rows for the CSV sources: csv-parse fed chunk by chunk, its rows and refusals
// collected in file order and handed over once per chunk. csv-parse reports where rows end, not
// where they start: CsvPositions, fed every chunk through `onChunk`, finds row starts and lines.
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

/** Where a row starts: its byte offset and 1-based line. */
export interface RowPosition {
  line: number;
  offset: number;
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];

/**
 * Row positions for the CSV sources (feed it every chunk through `onChunk`): the bytes between
 * the last position asked about and the end of what was read, for line numbers and row offsets.
 * The CSV parser reports where rows end, not where they start (and miscounts lines when a quoted
 * field holds a CRLF). Positions asked for never go backwards, so bytes before the cursor are
 * dropped; what is kept is at most the rows of one chunk.
 */
export class CsvPositions {
  private chunks: Buffer[] = [];
  /** File offset of chunks[0][0], and of the end of the last chunk. */
  private base = 0;
  private end = 0;
  private cursor = 0;
  private newlinesBeforeCursor = 0;

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.end += chunk.length;
  }

  /** 1-based line of the byte at `offset` (offset >= every offset asked before). */
  lineAt(offset: number): number {
    this.advanceTo(offset);
    return this.newlinesBeforeCursor + 1;
  }

  /**
   * The first byte at or after `offset` that is not a line break: where the row after a row that
   * ended at `offset` starts. `skipBom`: a UTF-8 byte order mark at the start of the file is
   * passed over too.
   */
  nextContent(offset: number, options: { skipBom?: boolean } = {}): RowPosition {
    let position = Math.max(offset, this.cursor);
    let skippingBom = options.skipBom === true && position === 0;
    let chunkStart = this.base;
    for (const chunk of this.chunks) {
      const chunkEnd = chunkStart + chunk.length;
      while (position < chunkEnd) {
        const byte = chunk[position - chunkStart] as number;
        const isBom = skippingBom && position < 3 && byte === UTF8_BOM[position];
        if (!isBom) skippingBom = false;
        if (!isBom && byte !== 0x0a && byte !== 0x0d) return { offset: position, line: this.lineAt(position) };
        position++;
      }
      chunkStart = chunkEnd;
    }
    return { offset: position, line: this.lineAt(position) };
  }

  /**
   * Where the row that ends at `endByte` (its line break included) starts: the row holds
   * `innerNewlines` line breaks inside quoted fields, so it starts after the line break that
   * many breaks before its own. Never before the cursor.
   */
  rowStart(endByte: number, innerNewlines: number): RowPosition {
    let breaksToFind = innerNewlines + 1;
    let inRowBreak = true;
    let offset = this.cursor;
    let chunkStart = this.end;
    scan: for (let c = this.chunks.length - 1; c >= 0; c--) {
      const chunk = this.chunks[c] as Buffer;
      chunkStart -= chunk.length;
      for (let i = Math.min(chunk.length, endByte - chunkStart) - 1; i >= 0; i--) {
        if (chunkStart + i < this.cursor) break scan;
        const byte = chunk[i] as number;
        if (inRowBreak) {
          if (byte === 0x0a || byte === 0x0d) continue;
          inRowBreak = false;
        }
        if (byte === 0x0a && --breaksToFind === 0) {
          offset = chunkStart + i + 1;
          break scan;
        }
      }
    }
    return { offset, line: this.lineAt(offset) };
  }

  private advanceTo(offset: number): void {
    while (this.cursor < offset && this.chunks.length > 0) {
      const chunk = this.chunks[0] as Buffer;
      const chunkEnd = this.base + chunk.length;
      const stop = Math.min(offset, chunkEnd);
      const until = stop - this.base;
      for (let at = chunk.indexOf(0x0a, this.cursor - this.base); at !== -1 && at < until; at = chunk.indexOf(0x0a, at + 1)) {
        this.newlinesBeforeCursor++;
      }
      this.cursor = stop;
      if (stop === chunkEnd) {
        this.chunks.shift();
        this.base = chunkEnd;
      }
    }
  }
}
