// The PDF reader, in a worker thread of its own (started by pdf.ts): pdf.js is several MB of code
// (loaded through tsx's loader it takes several times the heap it takes here, loaded plain) and
// a hostile PDF can make it use a lot of memory, so it runs with its own heap limit, and an
// out-of-memory or a hang ends this thread, not the import. Plain JavaScript: the worker starts
// without the tsx loader.
import { parentPort } from 'node:worker_threads';

const { getDocument } = await import('pdfjs-dist/legacy/build/pdf.mjs');

/** Info dictionary entries kept (all strings in the PDF; dates as written, `D:20240102...`). */
const INFO_FIELDS = ['Title', 'Author', 'Subject', 'Keywords', 'Creator', 'Producer', 'CreationDate', 'ModDate', 'Trapped'];

parentPort.on('message', async ({ data, maxTextChars }) => {
  let result;
  try {
    result = await extract(data, maxTextChars);
  } catch (error) {
    result = { extraction: 'malformed', title: null, text: null, metadata: {}, reason: `malformed: text not extracted (pdf.js: ${error?.message ?? error})` };
  }
  parentPort.postMessage(result);
});

async function extract(data, maxTextChars) {
  const task = getDocument({ data, verbosity: 0, isEvalSupported: false, useSystemFonts: false, disableFontFace: true, stopAtErrors: false });
  let doc;
  try {
    doc = await task.promise;
  } catch (error) {
    await task.destroy().catch(() => {});
    if (error?.name === 'PasswordException') {
      return { extraction: 'encrypted', title: null, text: null, metadata: {}, reason: 'encrypted: text not extracted (the PDF needs a password)' };
    }
    return { extraction: 'malformed', title: null, text: null, metadata: {}, reason: `malformed: text not extracted (pdf.js: ${error?.message ?? error})` };
  }
  try {
    const metadata = { pages: doc.numPages };
    const { info } = await doc.getMetadata().catch(() => ({ info: {} }));
    const kept = {};
    for (const field of INFO_FIELDS) {
      const value = info?.[field];
      if (typeof value === 'string' && value.trim() !== '') kept[field] = value.trim().slice(0, 1024);
    }
    if (Object.keys(kept).length > 0) metadata.info = kept;
    if (typeof info?.PDFFormatVersion === 'string') metadata.version = info.PDFFormatVersion;
    if (typeof info?.Language === 'string') metadata.language = info.Language;
    if (typeof info?.EncryptFilterName === 'string') metadata.encrypted = true;

    // Text: each page's items in order, a line break where pdf.js sees one, a blank line between
    // pages; pages after maxTextChars are not read.
    const parts = [];
    let held = 0;
    let truncated = false;
    const add = (text) => {
      if (text.length === 0) return;
      if (held >= maxTextChars) {
        truncated = true;
        return;
      }
      const part = text.length > maxTextChars - held ? text.slice(0, maxTextChars - held) : text;
      if (part.length < text.length) truncated = true;
      parts.push(part);
      held += part.length;
    };
    let pagesRead = 0;
    const pageProblems = [];
    for (let number = 1; number <= doc.numPages && held < maxTextChars; number++) {
      try {
        const page = await doc.getPage(number);
        const content = await page.getTextContent();
        if (number > 1) add('\n\n');
        for (const item of content.items) {
          if (typeof item.str !== 'string') continue;
          add(item.str);
          if (item.hasEOL) add('\n');
        }
        page.cleanup();
      } catch (error) {
        if (pageProblems.length < 10) pageProblems.push(`page ${number}: ${error?.message ?? error}`);
      }
      pagesRead = number;
    }
    metadata.pagesRead = pagesRead;
    if (truncated || pagesRead < doc.numPages) metadata.textTruncated = true;
    if (pageProblems.length > 0) metadata.pageProblems = pageProblems;
    const text = parts.join('').replace(/[ \t]+\n/g, '\n');
    return { extraction: text.trim() === '' ? 'none' : 'text', title: kept.Title ?? null, text, metadata };
  } finally {
    await doc.destroy().catch(() => {});
  }
}
