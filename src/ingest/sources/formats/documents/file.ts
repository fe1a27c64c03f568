// The catch-all: `document.file` takes any file that no other source reads, so nothing in an
// export is lost. The file goes to the blob store as it is and gets a documents row:
//   kind text   content that sniffs as text (plain text, HTML, XML, a calendar or mbox no other
//               source took...): its first MAX_TEXT_BYTES as text (HTML converted to text, tags
//               dropped), a BOM honoured, invalid UTF-8 replaced
//   kind other  anything else (images no media source read, archives inside the export, binary):
//               no text, extraction `none`
// Only the first MAX_TEXT_BYTES are held, whatever the file's size; the rest streams to the store.
import type { Readable } from 'node:stream';
import type { ParseEvent } from '../../../records.js';
import { defineSource, type Source, type ParseContext } from '../../../source.js';
import { ANY_FILE } from './entries.js';
import { BoundedText, documentEvents, Intake, MAX_TEXT_BYTES } from './intake.js';
import { htmlToText } from '../../../transform/html-text.js';

export const FILE_SOURCE_ID = ANY_FILE.id;

const TEXT_TYPES = new Set([
  'text/plain',
  'text/html',
  'text/csv',
  'text/calendar',
  'text/vcard',
  'application/xml',
  'application/gpx+xml',
  'application/vnd.google-earth.kml+xml',
  'application/json',
  'application/mbox',
]);

export const fileSource: Source = defineSource(ANY_FILE, {
  parse,
});

async function* parse(input: Readable, context: ParseContext): AsyncIterable<ParseEvent> {
  const intake = new Intake(input, context);
  const start: Buffer[] = [];
  let held = 0;
  for await (const chunk of intake.chunks()) {
    if (held < MAX_TEXT_BYTES) {
      const part = chunk.subarray(0, MAX_TEXT_BYTES - held);
      start.push(part);
      held += part.length;
    }
  }
  const stored = await intake.finish();
  const isText = stored.sniff.detected !== null && TEXT_TYPES.has(stored.sniff.detected);
  if (!isText) {
    yield* documentEvents(FILE_SOURCE_ID, context, stored, { kind: 'other', text: null, metadata: {}, extraction: 'none' });
    return;
  }
  let text = decodeText(Buffer.concat(start, held));
  if (stored.sniff.detected === 'text/html') text = htmlToText(text);
  const bounded = new BoundedText();
  bounded.add(text);
  const metadata: Record<string, unknown> = {};
  if (stored.size > held) metadata.textFrom = `the first ${held} of ${stored.size} bytes`;
  yield* documentEvents(FILE_SOURCE_ID, context, stored, {
    kind: 'text',
    text: bounded.toString(),
    metadata,
    extraction: text.trim() === '' ? 'none' : 'text',
  });
}

/** UTF-16 by its BOM, else UTF-8 (BOM dropped, invalid sequences replaced, counted later). */
function decodeText(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes.subarray(2));
  return new TextDecoder('utf-8').decode(bytes);
}
