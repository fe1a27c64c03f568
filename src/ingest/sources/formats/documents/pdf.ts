// PDF: `document.pdf`. Text and the info dictionary by pdf.js (pdfjs-dist, Mozilla's PDF reader,
// the legacy build made for Node), run in a worker thread (pdf-worker.mjs, started on the first
// PDF and reused) with its own heap of PDF_WORKER_HEAP_MB and a PDF_TIMEOUT_MS limit per file: a
// PDF that exhausts either is kept without text (`malformed`, the reason says which) and the
// import carries on. The file is held in memory for it up to MAX_EXTRACT_BYTES (see intake.ts).
//   encrypted   a PDF that needs a password to open: the row and the blob are kept, text is not
//               extracted, and a quarantine entry `encrypted` names the file. (A PDF encrypted
//               with an empty user password, only restricting printing or copying, opens: its
//               text is read and metadata.encrypted is true.)
//   malformed   pdf.js cannot read it (not a PDF, cut off, broken cross-references it cannot
//               rebuild): the row and the blob are kept, and a quarantine entry `malformed`.
// Text: each page's text items in reading order (a line break where pdf.js sees one, a blank line
// between pages), at most MAX_TEXT_BYTES; the pages after that are not read (metadata.pages is
// still the whole count, metadata.pagesRead how many were read).
import type { Readable } from 'node:stream';
import type { ParseEvent } from '../../../records.js';
import { defineSource, type ParseContext, type Source } from '../../../source.js';
import { BoundedWorker } from './bounded-worker.js';
import { PDF } from './entries.js';
import { documentEvents, MAX_EXTRACT_BYTES, MAX_TEXT_BYTES, rejectAt, storeWhole } from './intake.js';

export const PDF_SOURCE_ID = PDF.id;

export interface PdfSourceOptions {
  /** Largest file whose text is extracted (default MAX_EXTRACT_BYTES); tests lower it. */
  maxExtractBytes?: number;
}

export function createPdfSource(options: PdfSourceOptions = {}): Source {
  return defineSource(PDF, { parse: (input, context) => parse(input, context, options.maxExtractBytes ?? MAX_EXTRACT_BYTES) });
}

export const pdfSource: Source = createPdfSource();

async function* parse(input: Readable, context: ParseContext, maxExtractBytes: number): AsyncIterable<ParseEvent> {
  const stored = await storeWhole(input, context, maxExtractBytes);
  if (stored.whole === null) {
    yield* documentEvents(PDF_SOURCE_ID, context, stored, {
      kind: 'pdf',
      text: null,
      metadata: {},
      extraction: 'too_large',
      attributes: { note: `text not extracted: larger than ${maxExtractBytes} bytes` },
    });
    return;
  }
  const result = await extractPdf(stored.whole);
  if (result.extraction === 'encrypted' || result.extraction === 'malformed') yield rejectAt(result.extraction, result.reason!, null);
  yield* documentEvents(PDF_SOURCE_ID, context, stored, {
    kind: 'pdf',
    title: result.title,
    text: result.text,
    metadata: result.metadata,
    extraction: result.extraction,
    ...(result.reason ? { attributes: { note: result.reason } } : {}),
  });
}

export interface PdfExtract {
  extraction: 'text' | 'none' | 'encrypted' | 'malformed';
  title: string | null;
  text: string | null;
  metadata: Record<string, unknown>;
  reason?: string;
}

/** The PDF reader's own heap (pdf-worker.mjs): past it, that PDF is kept without text. */
export const PDF_WORKER_HEAP_MB = 256;
/** A PDF whose text takes longer than this is kept without text. */
export const PDF_TIMEOUT_MS = 120_000;
const WORKER_URL = new URL('./pdf-worker.mjs', import.meta.url);

const reader = new BoundedWorker<PdfExtract>(WORKER_URL, PDF_WORKER_HEAP_MB);

/** Text and metadata of a PDF held in memory, read by pdf.js in the worker thread (one PDF at a time). */
export async function extractPdf(bytes: Buffer): Promise<PdfExtract> {
  const outcome = await reader.read(bytes, { maxTextChars: MAX_TEXT_BYTES }, PDF_TIMEOUT_MS);
  if (outcome.ok) return outcome.answer;
  const reason = {
    heap: `pdf.js needed more than ${PDF_WORKER_HEAP_MB} MB`,
    time: `pdf.js took longer than ${PDF_TIMEOUT_MS / 1000} s`,
    error: `pdf.js: ${outcome.detail}`,
    exit: `the PDF reader stopped with code ${outcome.detail}`,
  }[outcome.failure];
  return { extraction: 'malformed', title: null, text: null, metadata: {}, reason: `malformed: text not extracted (${reason})` };
}
