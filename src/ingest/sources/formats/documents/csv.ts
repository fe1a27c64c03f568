// CSV files no dedicated source reads: `document.csv`. Streamed row by row with the lake's CSV
// reader (src/ingest/parse/csv-rows.ts), never held whole; kept as a document:
//   metadata   headers standardized (standardizeHeaders below) and as written (the first
//              MAX_CSV_HEADERS), the delimiter
//              (sniffed on the first line: `,`, `;` or tab, whichever occurs most outside quotes;
//              comma on a tie), rows (data rows, the header not counted), columns, and rows whose
//              field count differs from the header's
//   text       a rendition for search: the standardized header line, then each row, fields joined
//              by tabs, at most MAX_TEXT_BYTES (the rows after it still counted)
// The BOM is dropped (csv-parse). A row the parser refuses is quarantined `malformed` with the
// byte where it stopped, and the rest carries on.
//
// The rows themselves are not loaded into a table: a CSV of unknown meaning has no schema to give
// them (a jsonb row per line would only copy the file, unbounded), the file is in the blob store
// byte for byte, and its text is searchable. The CSVs whose meaning is known (YouTube, Fit...)
// have dedicated sources that load typed rows.
import { Readable } from 'node:stream';
import { ParseError } from '../../../../errors.js';
import type { ParseEvent } from '../../../records.js';
import { defineSource, type ParseContext, type Source } from '../../../source.js';
import { CSV } from './entries.js';
import { csvRowBatches } from '../../../parse/csv-rows.js';
import { BoundedText, documentEvents, Intake } from './intake.js';

export const CSV_SOURCE_ID = CSV.id;
/** A row longer than this is refused (quarantined), not held. */
export const MAX_CSV_ROW_BYTES = 4 * 1024 * 1024;
/**
 * Header names kept in the metadata (a spreadsheet's most columns): a header line of MAX_CSV_ROW_BYTES
 * can have 4 million empty fields, and their names took more than a 192 MB heap. The columns past
 * it are counted (metadata.columns), not named (metadata.headersTruncated).
 */
export const MAX_CSV_HEADERS = 16_384;
/** How much of the start is read to sniff the delimiter (the header line, normally far shorter). */
const SNIFF_BYTES = 64 * 1024;

export const csvSource: Source = defineSource(CSV, {
  parse,
});

/**
 * Column names as one writes them in SQL: trimmed, NFC, lower case, every run of characters other
 * than letters and digits one `_` (none at either end); an empty one becomes `column_N` (N its
 * 1-based position); a repeated one gets `_2`, `_3`... (never colliding with another column).
 */
export function standardizeHeaders(headers: readonly string[]): string[] {
  const base = headers.map((header, index) => {
    const name = header
      .replace(/^\uFEFF/, '')
      .trim()
      .normalize('NFC')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, '_')
      .replace(/^_+|_+$/g, '');
    return name === '' ? `column_${index + 1}` : name;
  });
  const taken = new Set<string>();
  const counts = new Map<string, number>();
  const out: string[] = [];
  for (const name of base) {
    let candidate = name;
    let n = counts.get(name) ?? 1;
    while (taken.has(candidate)) candidate = `${name}_${++n}`;
    counts.set(name, n);
    taken.add(candidate);
    out.push(candidate);
  }
  return out;
}

/** The delimiter of the first line: `,`, `;` or tab, the most frequent outside quotes (comma on a tie). */
export function sniffDelimiter(start: string): ',' | ';' | '\t' {
  const firstLine = start.replace(/^\uFEFF/, '').split(/\r?\n/, 1)[0] ?? '';
  const counts = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const char of firstLine) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && (char === ',' || char === ';' || char === '\t')) counts[char]++;
  }
  if (counts[';'] > counts[','] && counts[';'] >= counts['\t']) return ';';
  if (counts['\t'] > counts[','] && counts['\t'] > counts[';']) return '\t';
  return ',';
}

async function* parse(input: Readable, context: ParseContext): AsyncIterable<ParseEvent> {
  const intake = new Intake(input, context);
  const chunks = intake.chunks();
  try {
    yield* parseCsv(intake, chunks, context);
  } finally {
    // Stopped early (the consumer, an error): release the input and abandon the blob.
    await chunks.return(undefined);
  }
}

async function* parseCsv(intake: Intake, chunks: AsyncGenerator<Buffer>, context: ParseContext): AsyncGenerator<ParseEvent> {
  // Read up to a line ending (or SNIFF_BYTES) before the parser exists: it needs the delimiter.
  const early: Buffer[] = [];
  let earlyBytes = 0;
  let ended = false;
  while (earlyBytes < SNIFF_BYTES) {
    const next = await chunks.next();
    if (next.done) {
      ended = true;
      break;
    }
    early.push(next.value);
    earlyBytes += next.value.length;
    if (next.value.includes(0x0a)) break;
  }
  const delimiter = sniffDelimiter(Buffer.concat(early).toString('utf8'));
  // Chunks are pulled by hand, not with yield*: if the CSV reader stops, `chunks` is not closed and
  // the rest of the file still goes to the blob store (below).
  const replay = Readable.from(
    (async function* () {
      yield* early;
      while (!ended) {
        const next = await chunks.next();
        if (next.done) ended = true;
        else yield next.value;
      }
    })(),
    { objectMode: false },
  );

  const state = { originalHeaders: null as string[] | null, headers: [] as string[], columns: 0, rows: 0, ragged: 0, refused: 0, text: new BoundedText() };
  try {
    yield* readRows(replay, context, delimiter, state);
  } catch (error) {
    // The file could not be read: nothing more to keep. The CSV reader gave up: the rest of the
    // file still goes to the blob store and the document is kept with the rows read.
    if (!(error instanceof ParseError) || intake.readFailed) throw error;
    yield { kind: 'reject', rejection: { category: 'malformed', reason: error.message, byteOffset: error.byteOffset, line: null, excerpt: null } };
    while (!ended) if ((await chunks.next()).done) ended = true;
  }
  const { originalHeaders, headers, columns, rows, ragged, refused, text } = state;
  const stored = await intake.finish();
  const metadata: Record<string, unknown> = {
    delimiter: delimiter === '\t' ? 'tab' : delimiter,
    headers,
    originalHeaders: originalHeaders ?? [],
    columns,
    rows,
  };
  if (columns > headers.length) metadata.headersTruncated = true;
  if (ragged > 0) metadata.raggedRows = ragged;
  if (refused > 0) metadata.refusedRows = refused;
  if (text.truncated) metadata.textTruncated = true;
  yield* documentEvents(CSV_SOURCE_ID, context, stored, {
    kind: 'csv',
    text: text.toString(),
    metadata,
    extraction: originalHeaders === null ? 'none' : 'text',
  });
}

interface CsvState {
  originalHeaders: string[] | null;
  headers: string[];
  /** Fields of the header line (headers holds the first MAX_CSV_HEADERS). */
  columns: number;
  rows: number;
  ragged: number;
  refused: number;
  text: BoundedText;
}

async function* readRows(input: Readable, context: ParseContext, delimiter: string, state: CsvState): AsyncGenerator<ParseEvent> {
  for await (const batch of csvRowBatches(input, context.path, { maxRowBytes: MAX_CSV_ROW_BYTES, delimiter })) {
    for (const row of batch) {
      if ('error' in row) {
        state.refused++;
        yield { kind: 'reject', rejection: { category: 'malformed', reason: `CSV row refused: ${row.error.message}`, byteOffset: row.atByte, line: null, excerpt: null } };
        continue;
      }
      if (state.originalHeaders === null) {
        state.originalHeaders = row.fields.length > MAX_CSV_HEADERS ? row.fields.slice(0, MAX_CSV_HEADERS) : row.fields;
        state.columns = row.fields.length;
        state.headers = standardizeHeaders(state.originalHeaders);
        state.text.add(state.headers.join('\t'));
        continue;
      }
      state.rows++;
      if (row.fields.length !== state.columns) state.ragged++;
      if (!state.text.full) state.text.add(`\n${row.fields.join('\t')}`);
      else state.text.truncated = true;
    }
  }
}
