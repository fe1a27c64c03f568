// PDF: `document.pdf`. Text and the info dictionary by pdf.js (pdfjs-dist, Mozilla's PDF reader,
// the legacy build made for Node; loaded on the first PDF only, it is several MB of code). The
// file is held in memory for it up to MAX_EXTRACT_BYTES (see intake.ts).
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
import type { ParseEvent } from '../../records.js';
import type { Confidence, ParseContext, Probe, Source } from '../../source.js';
import { BoundedText, documentEvents, MAX_EXTRACT_BYTES, rejectAt, storeWhole } from './intake.js';

export const PDF_SOURCE_ID = 'document.pdf';

/** Info dictionary entries kept (all strings in the PDF; dates as written, `D:20240102...`). */
const INFO_FIELDS = ['Title', 'Author', 'Subject', 'Keywords', 'Creator', 'Producer', 'CreationDate', 'ModDate', 'Trapped'];

export interface PdfSourceOptions {
  /** Largest file whose text is extracted (default MAX_EXTRACT_BYTES); tests lower it. */
  maxExtractBytes?: number;
}

export function createPdfSource(options: PdfSourceOptions = {}): Source {
  return {
    id: PDF_SOURCE_ID,
    description: 'a PDF document (text and info dictionary extracted)',
    detect,
    parse: (input, context) => parse(input, context, options.maxExtractBytes ?? MAX_EXTRACT_BYTES),
  };
}

export const pdfSource: Source = createPdfSource();

function detect(probe: Probe): Confidence | null {
  return probe.head.subarray(0, 1024).includes('%PDF-') ? 'fallback' : null;
}

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

type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');
let pdfjs: Promise<PdfJs> | null = null;

export async function extractPdf(bytes: Buffer): Promise<PdfExtract> {
  pdfjs ??= import('pdfjs-dist/legacy/build/pdf.mjs');
  const { getDocument } = await pdfjs;
  // pdf.js may take over (detach) the memory it is given: the file's own buffer when it has one to
  // itself (nothing reads it after this), a copy when it shares a pooled one.
  const own = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength;
  const data = own ? new Uint8Array(bytes.buffer, 0, bytes.byteLength) : new Uint8Array(bytes);
  const task = getDocument({ data, verbosity: 0, isEvalSupported: false, useSystemFonts: false, disableFontFace: true, stopAtErrors: false });
  let doc: Awaited<typeof task.promise>;
  try {
    doc = await task.promise;
  } catch (error) {
    await task.destroy().catch(() => {});
    const name = error instanceof Error ? error.name : '';
    const message = error instanceof Error ? error.message : String(error);
    if (name === 'PasswordException') return { extraction: 'encrypted', title: null, text: null, metadata: {}, reason: 'encrypted: text not extracted (the PDF needs a password)' };
    return { extraction: 'malformed', title: null, text: null, metadata: {}, reason: `malformed: text not extracted (pdf.js: ${message})` };
  }
  try {
    const metadata: Record<string, unknown> = { pages: doc.numPages };
    const { info } = (await doc.getMetadata().catch(() => ({ info: {} }))) as { info: Record<string, unknown> };
    const kept: Record<string, string> = {};
    for (const field of INFO_FIELDS) {
      const value = info[field];
      if (typeof value === 'string' && value.trim() !== '') kept[field] = value.trim().slice(0, 1024);
    }
    if (Object.keys(kept).length > 0) metadata.info = kept;
    if (typeof info.PDFFormatVersion === 'string') metadata.version = info.PDFFormatVersion;
    if (typeof info.Language === 'string') metadata.language = info.Language;
    if (typeof info.EncryptFilterName === 'string') metadata.encrypted = true;

    const text = new BoundedText();
    let pagesRead = 0;
    const pageProblems: string[] = [];
    for (let number = 1; number <= doc.numPages && !text.full; number++) {
      try {
        const page = await doc.getPage(number);
        const content = await page.getTextContent();
        if (number > 1) text.add('\n\n');
        for (const item of content.items) {
          if (!('str' in item)) continue;
          text.add(item.str);
          if (item.hasEOL) text.add('\n');
        }
        page.cleanup();
      } catch (error) {
        if (pageProblems.length < 10) pageProblems.push(`page ${number}: ${error instanceof Error ? error.message : String(error)}`);
      }
      pagesRead = number;
    }
    metadata.pagesRead = pagesRead;
    if (text.truncated) metadata.textTruncated = true;
    if (pageProblems.length > 0) metadata.pageProblems = pageProblems;
    const extracted = text.toString().replace(/[ \t]+\n/g, '\n');
    return { extraction: extracted.trim() === '' ? 'none' : 'text', title: kept.Title ?? null, text: extracted, metadata };
  } finally {
    await doc.destroy().catch(() => {});
  }
}
