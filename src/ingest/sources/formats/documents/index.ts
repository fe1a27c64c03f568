// Documents and everything else: the sources that take what no dedicated source reads, each with
// `fallback` confidence, so they rank below every other source whatever they find (see
// detectSource), and among themselves in this order: the first that recognises the content wins,
// the catch-all last. Every file they take goes to the blob store as it is and gets one row in
// `user_data.documents` (kind, MIME type from content and from name, size, SHA-256, title, text
// up to 1 MiB, metadata, PII found in the text, language) plus the user's blob reference.
import type { Source } from '../../../source.js';
import { csvSource } from './csv.js';
import { docxSource } from './docx.js';
import { fileSource } from './file.js';
import { jsonSource } from './json.js';
import { pdfSource } from './pdf.js';

export const documentSources: readonly Source[] = [pdfSource, docxSource, csvSource, jsonSource, fileSource];
