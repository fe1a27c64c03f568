// Documents and everything else, as the registry (../../registry.ts) knows them: the sources that
// take what no dedicated source reads, each with `fallback` confidence, so they rank below every
// other source whatever they find (see detectSource), and among themselves in the registry's
// order: the first that recognises the content wins, the catch-all last. Every file they take
// goes to the blob store as it is and gets one row in `user_data.documents` (kind, MIME type from
// content and from name, size, SHA-256, title, text up to 1 MiB, metadata, PII found in the text,
// language) plus the user's blob reference. Detection only: nothing here imports a parser.
import { detectMimeType, expectedMimeType } from '../../../extract/sniff.js';
import { parserAt, type Confidence, type Probe, type SourceEntry } from '../../../source.js';

export const PDF: SourceEntry = {
  id: 'document.pdf',
  description: 'a PDF document (text and info dictionary extracted)',
  detect(probe: Probe): Confidence | null {
    return probe.head.subarray(0, 1024).includes('%PDF-') ? 'fallback' : null;
  },
  // Every document source puts the file into the blob store.
  standalone: false,
  parser: parserAt(import.meta.url, './pdf.js', 'pdfSource'),
};

const DOCX_MIME = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
/** The start of an OLE compound file: what a password-protected .docx is. */
export const COMPOUND_FILE = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);

export const DOCX: SourceEntry = {
  id: 'document.docx',
  description: 'a Word document (.docx: text and core properties extracted)',
  detect(probe: Probe): Confidence | null {
    const detected = detectMimeType(probe.head);
    if (detected === DOCX_MIME) return 'fallback';
    const named = expectedMimeType(probe.path) === DOCX_MIME;
    if (named && (detected === 'application/zip' || probe.head.subarray(0, 8).equals(COMPOUND_FILE))) return 'fallback';
    return null;
  },
  standalone: false,
  parser: parserAt(import.meta.url, './docx.js', 'docxSource'),
};

export const CSV: SourceEntry = {
  id: 'document.csv',
  description: 'a CSV file (headers standardized, rows counted, kept as a document)',
  detect(probe: Probe): Confidence | null {
    const detected = detectMimeType(probe.head);
    if (detected === 'text/csv') return 'fallback';
    if (detected === 'text/plain' && expectedMimeType(probe.path) === 'text/csv') return 'fallback';
    return null;
  },
  standalone: false,
  parser: parserAt(import.meta.url, './csv.js', 'csvSource'),
};

export const JSON_DOCUMENT: SourceEntry = {
  id: 'document.json',
  description: 'a JSON file of any shape (its shape and string values kept as a document)',
  detect(probe: Probe): Confidence | null {
    return detectMimeType(probe.head) === 'application/json' ? 'fallback' : null;
  },
  standalone: false,
  parser: parserAt(import.meta.url, './json.js', 'jsonSource'),
};

export const ANY_FILE: SourceEntry = {
  id: 'document.file',
  description: 'any other file, kept as it is (a document row with its text when it is text)',
  detect(_probe: Probe): Confidence | null {
    return 'fallback';
  },
  standalone: false,
  parser: parserAt(import.meta.url, './file.js', 'fileSource'),
};
