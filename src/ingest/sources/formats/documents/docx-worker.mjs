// The DOCX text reader, in a worker thread of its own (started by docx.ts): mammoth builds the
// whole document tree of word/document.xml in memory (measured: over 100 MB of heap per MB of
// XML made of short paragraphs), and JSZip under it throws from a timer when an entry inflates to
// another size than its zip entry declares. Here it runs with its own heap limit, and an
// out-of-memory, a throw or a hang ends this thread, not the import. Plain JavaScript: the worker
// starts without the tsx loader.
import { parentPort } from 'node:worker_threads';

const { default: mammoth } = await import('mammoth');

parentPort.on('message', async ({ data, maxTextChars }) => {
  let result;
  try {
    const { value } = await mammoth.extractRawText({ buffer: Buffer.from(data.buffer, data.byteOffset, data.byteLength) });
    const text = value.replace(/\n{3,}/g, '\n\n');
    const truncated = text.length > maxTextChars;
    result = { ok: true, text: truncated ? text.slice(0, maxTextChars) : text, truncated };
  } catch (error) {
    result = { ok: false, reason: `mammoth: ${error?.message ?? error}` };
  }
  parentPort.postMessage(result);
});
