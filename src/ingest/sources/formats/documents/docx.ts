// Word documents: `document.docx`. Text by mammoth (its raw-text extraction: paragraphs separated
// by blank lines), core properties (docProps/core.xml: title, creator, dates...) read with yauzl
// and htmlparser2 in XML mode, both already used by the lake. The file is held in memory up to
// MAX_EXTRACT_BYTES (a zip is read from its central directory at the end).
//   encrypted   Office writes a password-protected .docx as an OLE compound file (magic
//               D0 CF 11 E0), not a zip: such a file named .docx is kept without text, with a
//               quarantine entry `encrypted`.
//   malformed   a zip without word/document.xml, a broken zip: kept without text, quarantined.
//   too_large   a zip that inflates too far, or whose text takes too much memory or time: kept
//               without text, quarantined `too_large`, the note naming the part and the limit.
// A .docx of a few hundred KB can hold a word/document.xml of gigabytes, and mammoth builds the
// whole document tree in memory (measured: over 100 MB of heap per MB of XML of short
// paragraphs). So, before any text is read:
//   1. every entry of the zip is inflated once, counting and discarding the bytes (yauzl, which
//      reads its sizes from the central directory): when the entries grow by more than
//      DOCX_MAX_INFLATE_BYTES over what they take in the file (by their declared sizes first,
//      then by the bytes really inflated, so a size that lies is caught too), no text is read;
//      stored and incompressible entries (photos) grow by nothing and are not counted against it.
//   2. mammoth runs in a worker thread (docx-worker.mjs, started on the first DOCX and reused)
//      with its own heap of DOCX_WORKER_HEAP_MB and DOCX_TIMEOUT_MS per file, as pdf.js does
//      (pdf.ts): an out-of-memory, a hang or a throw there ends that thread, not the import.
import type { Readable } from 'node:stream';
import { Parser } from 'htmlparser2';
import yauzl from 'yauzl';
import type { ParseEvent } from '../../../records.js';
import { defineSource, type ParseContext, type Source } from '../../../source.js';
import { BoundedWorker } from './bounded-worker.js';
import { COMPOUND_FILE, DOCX } from './entries.js';
import { documentEvents, MAX_EXTRACT_BYTES, MAX_TEXT_BYTES, rejectAt, storeWhole } from './intake.js';

export const DOCX_SOURCE_ID = DOCX.id;
/** core.xml is a few hundred bytes; anything past this is not read. */
const MAX_CORE_XML_BYTES = 256 * 1024;
const CORE_FIELDS: Readonly<Record<string, string>> = {
  'dc:title': 'title',
  'dc:subject': 'subject',
  'dc:creator': 'creator',
  'cp:keywords': 'keywords',
  'dc:description': 'description',
  'cp:lastModifiedBy': 'lastModifiedBy',
  'cp:revision': 'revision',
  'dcterms:created': 'created',
  'dcterms:modified': 'modified',
  'dc:language': 'language',
  'cp:category': 'category',
};

/** How far a .docx's entries may grow when inflated, over what they take in the file (see above). */
export const DOCX_MAX_INFLATE_BYTES = 32 * 1024 * 1024;
/** The DOCX reader's own heap (docx-worker.mjs): past it, that document is kept without text. */
export const DOCX_WORKER_HEAP_MB = 256;
/** A DOCX whose text takes longer than this is kept without text. */
export const DOCX_TIMEOUT_MS = 60_000;

export interface DocxSourceOptions {
  /** Default DOCX_MAX_INFLATE_BYTES; tests lower it. */
  maxInflateBytes?: number;
  /** Default DOCX_WORKER_HEAP_MB; a reader of another heap gets a worker of its own. */
  workerHeapMb?: number;
  /** Default DOCX_TIMEOUT_MS. */
  timeoutMs?: number;
}

export function createDocxSource(options: DocxSourceOptions = {}): Source {
  const limits: Limits = {
    maxInflateBytes: options.maxInflateBytes ?? DOCX_MAX_INFLATE_BYTES,
    workerHeapMb: options.workerHeapMb ?? DOCX_WORKER_HEAP_MB,
    timeoutMs: options.timeoutMs ?? DOCX_TIMEOUT_MS,
  };
  return defineSource(DOCX, { parse: (input, context) => parse(input, context, limits) });
}

export const docxSource: Source = createDocxSource();

interface Limits {
  maxInflateBytes: number;
  workerHeapMb: number;
  timeoutMs: number;
}

async function* parse(input: Readable, context: ParseContext, limits: Limits): AsyncIterable<ParseEvent> {
  const stored = await storeWhole(input, context, MAX_EXTRACT_BYTES);
  if (stored.whole === null) {
    yield* documentEvents(DOCX_SOURCE_ID, context, stored, {
      kind: 'docx',
      text: null,
      metadata: {},
      extraction: 'too_large',
      attributes: { note: `text not extracted: larger than ${MAX_EXTRACT_BYTES} bytes` },
    });
    return;
  }
  if (stored.whole.subarray(0, 8).equals(COMPOUND_FILE)) {
    const reason = 'encrypted: text not extracted (a password-protected Office file: an OLE compound file, not a zip)';
    yield rejectAt('encrypted', reason, 0);
    yield* documentEvents(DOCX_SOURCE_ID, context, stored, { kind: 'docx', text: null, metadata: {}, extraction: 'encrypted', attributes: { note: reason } });
    return;
  }
  const metadata: Record<string, unknown> = {};
  try {
    const core = await readCoreProperties(stored.whole);
    if (Object.keys(core).length > 0) metadata.core = core;
  } catch (error) {
    metadata.coreProblem = error instanceof Error ? error.message : String(error);
  }
  const withoutText = function* (extraction: 'malformed' | 'too_large', reason: string): Generator<ParseEvent> {
    yield rejectAt(extraction, reason, null);
    yield* documentEvents(DOCX_SOURCE_ID, context, stored, { kind: 'docx', text: null, metadata, extraction, attributes: { note: reason } });
  };
  const growth = await measureInflation(stored.whole, limits.maxInflateBytes);
  if (growth.problem !== null) {
    // A zip yauzl cannot read: mammoth (JSZip) is not trusted with it either.
    yield* withoutText('malformed', `malformed: text not extracted (zip: ${growth.problem})`);
    return;
  }
  if (growth.over !== null) {
    const { entry, inflated, compressed, declared } = growth.over;
    yield* withoutText(
      'too_large',
      `too_large: text not extracted (${context.path}: ${entry} ${declared ? 'would inflate to' : 'inflates to more than'} ${inflated} bytes ` +
        `from ${compressed} in the zip; a .docx's entries may grow by at most ${limits.maxInflateBytes} bytes when inflated)`,
    );
    return;
  }
  const result = await extractDocxText(stored.whole, limits);
  if (!result.ok) {
    const extraction = result.limit ? 'too_large' : 'malformed';
    yield* withoutText(extraction, `${extraction}: text not extracted (${result.limit ? `${context.path}: ` : ''}${result.reason})`);
    return;
  }
  if (result.truncated) metadata.textTruncated = true;
  const core = metadata.core as Record<string, string> | undefined;
  yield* documentEvents(DOCX_SOURCE_ID, context, stored, {
    kind: 'docx',
    title: core?.title ?? null,
    text: result.text,
    metadata,
    extraction: result.text.trim() === '' ? 'none' : 'text',
  });
}

/** What measureInflation found: the entry that took the growth over the limit, or a zip yauzl cannot read. */
interface Inflation {
  over: { entry: string; inflated: number; compressed: number; declared: boolean } | null;
  problem: string | null;
}

/**
 * Inflates every deflated entry of the zip once, discarding the bytes, and stops at the entry
 * that takes the growth (inflated size over compressed size, summed over the entries) past
 * `limit`: by the sizes the central directory declares, else by the bytes really inflated.
 */
function measureInflation(zip: Buffer, limit: number): Promise<Inflation> {
  return new Promise((resolve) => {
    // Sizes are counted here, not validated by yauzl: a lying size is found by what it inflates to.
    yauzl.fromBuffer(zip, { lazyEntries: true, validateEntrySizes: false }, (error, archive) => {
      if (error || !archive) return resolve({ over: null, problem: error?.message ?? 'not a zip' });
      let done = false;
      let grown = 0;
      const finish = (result: Inflation): void => {
        if (done) return;
        done = true;
        archive.close();
        resolve(result);
      };
      archive.on('error', (e: Error) => finish({ over: null, problem: e.message }));
      archive.on('end', () => finish({ over: null, problem: null }));
      archive.on('entry', (entry: yauzl.Entry) => {
        const compressed = entry.compressedSize;
        if (grown + Math.max(0, entry.uncompressedSize - compressed) > limit) {
          return finish({ over: { entry: entry.fileName, inflated: entry.uncompressedSize, compressed, declared: true }, problem: null });
        }
        // A stored entry is its own size in the file; a directory has no content.
        if (entry.compressionMethod === 0 || entry.fileName.endsWith('/')) return archive.readEntry();
        archive.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return finish({ over: null, problem: streamError?.message ?? `cannot read ${entry.fileName}` });
          let inflated = 0;
          stream.on('data', (part: Buffer) => {
            inflated += part.length;
            if (grown + Math.max(0, inflated - compressed) > limit) {
              stream.destroy();
              finish({ over: { entry: entry.fileName, inflated, compressed, declared: false }, problem: null });
            }
          });
          stream.on('error', (e: Error) => finish({ over: null, problem: `${entry.fileName}: ${e.message}` }));
          stream.on('end', () => {
            grown += Math.max(0, inflated - compressed);
            archive.readEntry();
          });
        });
      });
      archive.readEntry();
    });
  });
}

type DocxText = { ok: true; text: string; truncated: boolean } | { ok: false; reason: string; limit: boolean };

const WORKER_URL = new URL('./docx-worker.mjs', import.meta.url);

/** One worker per heap size (one in the lake; tests lower it), one DOCX at a time each. */
const readers = new Map<number, BoundedWorker<{ ok: true; text: string; truncated: boolean } | { ok: false; reason: string }>>();

/** The text of a DOCX held in memory, by mammoth in a worker thread within `limits`. */
async function extractDocxText(bytes: Buffer, limits: Limits): Promise<DocxText> {
  let reader = readers.get(limits.workerHeapMb);
  if (!reader) readers.set(limits.workerHeapMb, (reader = new BoundedWorker(WORKER_URL, limits.workerHeapMb)));
  const outcome = await reader.read(bytes, { maxTextChars: MAX_TEXT_BYTES }, limits.timeoutMs);
  if (outcome.ok) return outcome.answer.ok ? outcome.answer : { ok: false, reason: outcome.answer.reason, limit: false };
  switch (outcome.failure) {
    case 'heap':
      return { ok: false, reason: `reading its text needed more than the ${limits.workerHeapMb} MB the DOCX reader may use`, limit: true };
    case 'time':
      return { ok: false, reason: `reading its text took longer than the ${limits.timeoutMs / 1000} s the DOCX reader may take`, limit: true };
    case 'error':
      return { ok: false, reason: `mammoth: ${outcome.detail}`, limit: false };
    case 'exit':
      return { ok: false, reason: `the DOCX reader stopped with code ${outcome.detail}`, limit: false };
  }
}

/** docProps/core.xml's Dublin Core fields, by their short names; {} when the file has none. */
export async function readCoreProperties(zip: Buffer): Promise<Record<string, string>> {
  const xml = await readZipEntry(zip, 'docProps/core.xml', MAX_CORE_XML_BYTES);
  if (xml === null) return {};
  const found: Record<string, string> = {};
  let field: string | null = null;
  let value = '';
  const parser = new Parser(
    {
      onopentag(name) {
        if (CORE_FIELDS[name]) {
          field = CORE_FIELDS[name]!;
          value = '';
        }
      },
      ontext(text) {
        if (field !== null) value += text;
      },
      onclosetag(name) {
        if (field !== null && CORE_FIELDS[name] === field) {
          if (value.trim() !== '') found[field] = value.trim().slice(0, 8192);
          field = null;
        }
      },
    },
    { xmlMode: true, decodeEntities: true },
  );
  parser.end(xml);
  return found;
}

function readZipEntry(zip: Buffer, name: string, maxBytes: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(zip, { lazyEntries: true }, (error, archive) => {
      if (error || !archive) return reject(error ?? new Error('not a zip'));
      let done = false;
      const finish = (result: string | null, failure?: Error): void => {
        if (done) return;
        done = true;
        archive.close();
        if (failure) reject(failure);
        else resolve(result);
      };
      archive.on('error', (e: Error) => finish(null, e));
      archive.on('end', () => finish(null));
      archive.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName !== name) return archive.readEntry();
        if (entry.uncompressedSize > maxBytes) return finish(null, new Error(`${name} is ${entry.uncompressedSize} bytes, over ${maxBytes}`));
        archive.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return finish(null, streamError ?? new Error(`cannot read ${name}`));
          const parts: Buffer[] = [];
          stream.on('data', (part: Buffer) => parts.push(part));
          stream.on('error', (e: Error) => finish(null, e));
          stream.on('end', () => finish(Buffer.concat(parts).toString('utf8')));
        });
      });
      archive.readEntry();
    });
  });
}
