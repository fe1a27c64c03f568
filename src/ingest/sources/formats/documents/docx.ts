// Word documents: `document.docx`. Text by mammoth (its raw-text extraction: paragraphs separated
// by blank lines), core properties (docProps/core.xml: title, creator, dates...) read with yauzl
// and htmlparser2 in XML mode, both already used by the lake. The file is held in memory up to
// MAX_EXTRACT_BYTES (a zip is read from its central directory at the end).
//   encrypted   Office writes a password-protected .docx as an OLE compound file (magic
//               D0 CF 11 E0), not a zip: such a file named .docx is kept without text, with a
//               quarantine entry `encrypted`.
//   malformed   a zip without word/document.xml, a broken zip: kept without text, quarantined.
import type { Readable } from 'node:stream';
import { Parser } from 'htmlparser2';
import mammoth from 'mammoth';
import yauzl from 'yauzl';
import type { ParseEvent } from '../../../records.js';
import { defineSource, type ParseContext, type Source } from '../../../source.js';
import { COMPOUND_FILE, DOCX } from './entries.js';
import { documentEvents, MAX_EXTRACT_BYTES, rejectAt, storeWhole } from './intake.js';

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

export const docxSource: Source = defineSource(DOCX, {
  parse,
});

async function* parse(input: Readable, context: ParseContext): AsyncIterable<ParseEvent> {
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
  let text: string;
  try {
    const result = await mammoth.extractRawText({ buffer: stored.whole });
    text = result.value.replace(/\n{3,}/g, '\n\n');
  } catch (error) {
    const reason = `malformed: text not extracted (mammoth: ${error instanceof Error ? error.message : String(error)})`;
    yield rejectAt('malformed', reason, null);
    yield* documentEvents(DOCX_SOURCE_ID, context, stored, { kind: 'docx', text: null, metadata, extraction: 'malformed', attributes: { note: reason } });
    return;
  }
  const core = metadata.core as Record<string, string> | undefined;
  yield* documentEvents(DOCX_SOURCE_ID, context, stored, {
    kind: 'docx',
    title: core?.title ?? null,
    text,
    metadata,
    extraction: text.trim() === '' ? 'none' : 'text',
  });
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
