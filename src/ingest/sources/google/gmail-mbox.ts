// Gmail in Google Takeout: `Mail/All mail Including Spam and Trash.mbox` (localized: `Tous les
// messages, y compris ceux du dossier Spam et de la corbeille.mbox`, `Alle E-Mails einschließlich
// Spam und Papierkorb.mbox`...), one file of every message, often tens of GB.
// MIME library: postal-mime. Measured on bench/gen-mbox.ts output against mailparser's
// simpleParser, it parses faster with a lower peak RSS; it is ESM with its own types and no
// dependencies (mailparser pulls in nodemailer, iconv-lite, linkify-it, tlds), and decodes every
// charset TextDecoder knows (the WHATWG set: ISO-8859-*, windows-125x, Shift_JIS, EUC-JP,
// ISO-2022-JP, GBK, gb18030, Big5, EUC-KR, KOI8...) plus aliases such as cp932. It parses a
// message held in memory, which the splitter's cap bounds.
//
// The file is split by src/ingest/parse/mbox.ts; each message becomes one MessageRecord:
//   messageId   Message-ID without angle brackets; inReplyTo likewise (the first id)
//   threadId    X-GM-THRID; labels from X-Gmail-Labels (comma-separated, "quoted, with commas",
//               RFC 2047 words decoded)
//   from/to/cc  display strings, `Name <address>` or the bare address; groups are flattened
//   subject     RFC 2047 decoded
//   sentAt      the Date header (RFC 5322, obsolete forms too); when it is missing, unreadable,
//               or outside (1970, now + 1 day], the separator line's date (Gmail's own, in UTC),
//               with attributes.dateSource = 'separator' and the header kept in dateHeader
//   body        the text/plain parts, or the HTML converted to text (html-to-text; link targets
//               and images dropped, the words kept; HTML past MAX_HTML_CHARS is cut first,
//               recorded in attributes.truncated.html); CRLF made LF; at most TEXT_MAX_BYTES,
//               the cut recorded in attributes.truncated.body as the original UTF-8 byte length
//   attachments filename, contentType, size and SHA-256 of the decoded content; with a blob store
//               (ParseContext.blobs) the bytes are put into it and a `blob_ref` record (original
//               name: the attachment's filename, or `<message-id>/<N>` for the N-th attachment
//               without one) is yielded just before the message, so the message's attachments
//               (by SHA-256) lead to the blobs; the bytes also go to the `onAttachment` hook when
//               one is given. Attachments are decoded per message, in memory: a message is held
//               whole up to maxMessageBytes (64 MiB by default); a larger one is rejected
//               too_large, its bytes skipped as they stream, its attachments not stored
//   key         [messageId], or [SHA-256 of the raw message] when it has none
//   attributes  unknownCharsets (labels no decoder knows: their text is decoded as Latin-1),
//               mimeProblem (a multipart whose boundary is missing or never closed: the body is
//               what the parser recovered), bodyFromHtml, dateSource/dateHeader, truncated
//
// Rejections, each with the byte offset and line of the message's separator line:
//   malformed    a message that does not start with a header field, or that the parser refuses;
//                the last message when the file ends mid-line inside its header or inside an
//                open multipart (cut off: quarantined rather than stored, so that a complete copy
//                imported later is not taken for a duplicate of the partial one); bytes before
//                the first separator line
//   too_large    a message over maxMessageBytes (its bytes are skipped, never held)
//   invalid      no usable date in the Date header nor in the separator line
//   unsupported  a file with no separator line at all
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import PostalMime, { decodeWords, type Address, type Email } from 'postal-mime';
import { LakeError, ParseError } from '../../../errors.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  separatorDate,
  splitMbox,
  type MboxEvent,
  type MboxMessage,
  type MboxPreamble,
} from '../../parse/mbox.js';
import type { BlobRefRecord, MessageRecord, ParseEvent, Rejection } from '../../records.js';
import type { BlobStore } from '../../../store/blob-store.js';
import { defineSource, type ParseContext, type Source } from '../../source.js';
import { GMAIL_MBOX, HEADER_FIELD } from './entries.js';
import { FUTURE_SLACK_MS, TEXT_MAX_BYTES, truncateUtf8 } from '../../validate/validate.js';
import { htmlToText } from '../../transform/html-text.js';

export const GMAIL_MBOX_SOURCE_ID = GMAIL_MBOX.id;

/** HTML beyond this many characters is not converted: its text would pass the body cap anyway. */
export const MAX_HTML_CHARS = 8 * 1024 * 1024;
const EXCERPT_CHARS = 200;

export type AttachmentMeta = MessageRecord['attachments'][number];

export interface GmailMboxOptions {
  /** Messages larger than this are rejected as too_large (default 64 MiB). */
  maxMessageBytes?: number;
  /**
   * Receives each attachment's description and decoded bytes (for the blob store) before the
   * message's record is yielded; awaited. The bytes are not kept after it returns.
   */
  onAttachment?(meta: AttachmentMeta, content: Uint8Array): void | Promise<void>;
}

export function createGmailMboxSource(options: GmailMboxOptions = {}): Source {
  return defineSource(GMAIL_MBOX, { parse: (input, context) => parseGmailMbox(input, context, options) });
}

export const gmailMboxSource: Source = createGmailMboxSource();

/**
 * Messages parsed ahead of the one being yielded, at most (and their raw bytes at most
 * AHEAD_BYTES): their attachments' blob writes, each ending in an fsync, overlap instead of
 * following one another (sequential puts left the importer idle a third of the time).
 */
const AHEAD_MESSAGES = 16;
const AHEAD_BYTES = 32 * 1024 * 1024;

export async function* parseGmailMbox(input: Readable, context: ParseContext, options: GmailMboxOptions = {}): AsyncIterable<ParseEvent> {
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  // Messages in flight, in file order: each one's events (blob refs, then the message), yielded in
  // that order, after the onAttachment hook has seen its attachments.
  const ahead: { parsed: Promise<ParsedMessage>; bytes: number }[] = [];
  let aheadBytes = 0;
  const oldest = async (): Promise<ParseEvent[]> => {
    const { parsed, bytes } = ahead.shift()!;
    aheadBytes -= bytes;
    const { events, attachments } = await parsed;
    if (options.onAttachment) for (const { meta, content } of attachments) await options.onAttachment(meta, content);
    return events;
  };
  let failure: unknown = null;
  let messages = 0;
  let bytesRead = 0;
  // Reported once a message follows: a file with no message at all gets one rejection, below.
  let preamble: MboxPreamble | null = null;
  const events = splitMbox(countBytes(input, (n) => (bytesRead += n)), { maxMessageBytes });
  try {
    for (;;) {
      let next: IteratorResult<MboxEvent>;
      try {
        next = await events.next();
      } catch (error) {
        // Archive errors stay as they are (the runner handles them); any other read error ends the
        // file here, once the messages read before it are out.
        failure = error instanceof LakeError ? error : new ParseError(context.path, bytesRead, 'the file could not be read further', { cause: error });
        break;
      }
      if (next.done) break;
      const event = next.value;
      if (event.kind === 'preamble') {
        preamble = event;
        continue;
      }
      if (preamble !== null) {
        yield reject('malformed', `${preamble.size} bytes before the first "From " separator line belong to no message`, preamble);
        preamble = null;
      }
      messages++;
      const parsed: Promise<ParsedMessage> =
        event.kind === 'too_large'
          ? Promise.resolve({ events: [reject('too_large', `message of ${event.size} bytes, over the ${maxMessageBytes}-byte limit`, event)], attachments: [] })
          : parseMessage(event, options, context.blobs ?? null);
      parsed.catch(() => {}); // awaited, and rethrown, in file order below
      const bytes = event.kind === 'too_large' ? 0 : event.raw.length;
      ahead.push({ parsed, bytes });
      aheadBytes += bytes;
      while (ahead.length >= AHEAD_MESSAGES || aheadBytes >= AHEAD_BYTES) yield* await oldest();
    }
    while (ahead.length > 0) yield* await oldest();
    if (failure !== null) throw failure;
  } finally {
    // Stopped early (by the consumer or an error): release the input as a for-await loop would.
    await events.return(undefined);
  }
  if (messages === 0) {
    yield reject('unsupported', `no mbox "From " separator line in ${bytesRead} bytes`, { offset: 0, line: 1 });
  }
}

async function* countBytes(input: AsyncIterable<unknown>, count: (n: number) => void): AsyncGenerator<unknown> {
  for await (const chunk of input) {
    if (chunk instanceof Uint8Array) count(chunk.length);
    else if (typeof chunk === 'string') count(Buffer.byteLength(chunk));
    yield chunk;
  }
}

function reject(category: Rejection['category'], reason: string, where: { offset: number; line: number }, excerpt: string | null = null): ParseEvent {
  const shortExcerpt = excerpt === null ? null : excerpt.slice(0, EXCERPT_CHARS);
  return { kind: 'reject', rejection: { category, reason, byteOffset: where.offset, line: where.line, excerpt: shortExcerpt } };
}

interface ParsedMessage {
  /** The `blob_ref` records of its attachments (with a blob store), then its record or rejection. */
  events: ParseEvent[];
  /** For the onAttachment hook, when there is one. */
  attachments: { meta: AttachmentMeta; content: Uint8Array }[];
}

async function parseMessage(message: MboxMessage, options: GmailMboxOptions, blobs: BlobStore | null): Promise<ParsedMessage> {
  const blobRefs: ParseEvent[] = [];
  const attachments: ParsedMessage['attachments'] = [];
  const result = await messageEvent(message, blobs, blobRefs, options.onAttachment ? attachments : null);
  return { events: [...blobRefs, result], attachments };
}

/**
 * The message's record, or its rejection. With a blob store, each attachment of a kept message is
 * put into it and a `blob_ref` record for it pushed to `blobRefs` (yielded before the message).
 */
async function messageEvent(
  message: MboxMessage,
  blobs: BlobStore | null,
  blobRefs: ParseEvent[],
  decoded: ParsedMessage['attachments'] | null,
): Promise<ParseEvent> {
  const { raw } = message;
  const firstLineEnd = raw.indexOf(0x0a);
  const firstLine = raw.toString('latin1', 0, Math.min(firstLineEnd === -1 ? raw.length : firstLineEnd, EXCERPT_CHARS));
  if (raw.length === 0 || !HEADER_FIELD.test(firstLine)) {
    return reject('malformed', raw.length === 0 ? 'empty message' : 'message does not start with a header field', message, firstLine);
  }
  let email: Email;
  try {
    email = await PostalMime.parse(raw);
  } catch (error) {
    return reject('malformed', `MIME parser: ${error instanceof Error ? error.message : String(error)}`, message, firstLine);
  }
  const mime = inspectMime(raw, headerValue(email, 'content-type'), email.headers);
  if (message.endsMidLine && (!mime.headerEnded || mime.unclosedBoundary)) {
    const where = mime.headerEnded ? 'inside an unclosed multipart' : 'inside its header';
    return reject('malformed', `message cut off: the file ends mid-line ${where}`, message, firstLine);
  }

  const attributes: Record<string, unknown> = {};
  const dateHeader = headerValue(email, 'date');
  let sentAt = dateHeader === null ? null : parseMailDate(dateHeader);
  if (sentAt !== null && !plausible(sentAt)) sentAt = null;
  if (sentAt === null) {
    sentAt = separatorDate(message.separator);
    if (sentAt === null) {
      const header =
        dateHeader === null ? 'no Date header' : `Date header ${JSON.stringify(dateHeader.slice(0, EXCERPT_CHARS))} unreadable or out of range`;
      return reject('invalid', `${header}, and the separator line has no valid date`, message, message.separator);
    }
    attributes.dateSource = 'separator';
    if (dateHeader !== null) attributes.dateHeader = dateHeader;
  }

  const body = bodyText(email, attributes);

  const messageId = firstId(email.messageId);
  const contents = email.attachments.map((attachment) => contentBytes(attachment.content));
  // With a blob store the attachments are written side by side (each put ends in an fsync), and
  // their SHA-256 is the one the store computed while writing; without one it is computed here.
  const stored = blobs ? await Promise.all(contents.map((content) => blobs.put(content))) : null;
  const attachments: AttachmentMeta[] = email.attachments.map((attachment, index) => ({
    filename: attachment.filename,
    contentType: attachment.mimeType,
    size: contents[index]!.byteLength,
    sha256: stored?.[index]!.sha256 ?? createHash('sha256').update(contents[index]!).digest('hex'),
  }));
  for (const [index, meta] of attachments.entries()) decoded?.push({ meta, content: contents[index]! });
  if (stored) {
    for (const [index, attachment] of email.attachments.entries()) {
      const name = attachment.filename?.trim() || `${messageId ?? createHash('sha256').update(raw).digest('hex')}/${index + 1}`;
      const ref: BlobRefRecord = {
        type: 'blob_ref',
        source: GMAIL_MBOX_SOURCE_ID,
        key: [stored[index]!.sha256, name],
        sha256: stored[index]!.sha256,
        size: stored[index]!.size,
        mimeType: attachment.mimeType || null,
        originalName: name,
      };
      blobRefs.push({ kind: 'record', record: ref, offset: message.offset });
    }
  }

  const unknownCharsets = [...mime.charsets].filter((charset) => !isKnownCharset(charset));
  if (unknownCharsets.length > 0) attributes.unknownCharsets = unknownCharsets;
  if (mime.problems.length > 0) attributes.mimeProblem = mime.problems.join('; ');

  const record: MessageRecord = {
    type: 'message',
    source: GMAIL_MBOX_SOURCE_ID,
    key: [messageId ?? createHash('sha256').update(raw).digest('hex')],
    messageId,
    threadId: headerValue(email, 'x-gm-thrid')?.trim() || null,
    sentAt,
    from: email.from ? (displayAddresses([email.from])[0] ?? null) : null,
    to: displayAddresses(email.to ?? []),
    cc: displayAddresses(email.cc ?? []),
    subject: email.subject ?? null,
    body,
    labels: parseLabels(headerValue(email, 'x-gmail-labels') ?? ''),
    inReplyTo: firstId(email.inReplyTo),
    attachments,
  };
  if (Object.keys(attributes).length > 0) record.attributes = attributes;
  return { kind: 'record', record, offset: message.offset };
}

/** The plain-text body (see the module comment); records what it did in `attributes`. */
function bodyText(email: Email, attributes: Record<string, unknown>): string | null {
  const truncated: Record<string, number> = {};
  let body: string | null = email.text ?? null;
  if (body === null && email.html !== undefined) {
    let html = email.html;
    if (html.length > MAX_HTML_CHARS) {
      truncated.html = Buffer.byteLength(html);
      html = html.slice(0, MAX_HTML_CHARS);
    }
    body = htmlToText(html);
    attributes.bodyFromHtml = true;
  }
  if (body !== null) {
    if (body.includes('\r')) body = body.replace(/\r\n?/g, '\n');
    // A UTF-16 unit is at most 3 UTF-8 bytes, so most bodies skip the byte count.
    if (body.length * 3 > TEXT_MAX_BYTES) {
      const bytes = Buffer.byteLength(body);
      if (bytes > TEXT_MAX_BYTES) {
        body = truncateUtf8(body, TEXT_MAX_BYTES);
        truncated.body = bytes;
      }
    }
  }
  if (Object.keys(truncated).length > 0) attributes.truncated = truncated;
  return body;
}

function headerValue(email: Email, key: string): string | null {
  for (const header of email.headers) if (header.key === key) return header.value;
  return null;
}

function contentBytes(content: ArrayBuffer | Uint8Array | string): Uint8Array {
  if (typeof content === 'string') return Buffer.from(content, 'utf8');
  return content instanceof Uint8Array ? content : new Uint8Array(content);
}

function plausible(date: Date): boolean {
  const time = date.getTime();
  return time > 0 && time <= Date.now() + FUTURE_SLACK_MS;
}

/** The first `<id>` of a Message-ID / In-Reply-To value, without brackets; a bare value as is. */
export function firstId(value: string | undefined): string | null {
  if (value === undefined) return null;
  const bracketed = /<([^<>]*)>/.exec(value);
  const id = (bracketed ? bracketed[1] ?? '' : value).trim();
  return id === '' ? null : id;
}

/** `Name <address>`, or the bare address (or name) when the other is empty; groups flattened. */
export function displayAddresses(addresses: readonly Address[]): string[] {
  const out: string[] = [];
  for (const address of addresses) {
    const mailboxes = address.group ?? [address];
    for (const mailbox of mailboxes) {
      const name = mailbox.name.trim();
      const email = (mailbox.address ?? '').trim();
      if (name !== '' && email !== '') out.push(`${name} <${email}>`);
      else if (name !== '' || email !== '') out.push(name || email);
    }
  }
  return out;
}

/** X-Gmail-Labels: `Inbox,Important,"Work, 2021",=?UTF-8?Q?=C3=89t=C3=A9?=`. */
export function parseLabels(value: string): string[] {
  const labels: string[] = [];
  let current = '';
  let quoted = false;
  const push = (): void => {
    const label = current.trim();
    if (label !== '') labels.push(label.includes('=?') ? decodeWords(label) : label);
    current = '';
  };
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (quoted) {
      if (c === '\\' && i + 1 < value.length) current += value[++i];
      else if (c === '"') quoted = false;
      else current += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') push();
    else current += c;
  }
  push();
  return labels;
}

// RFC 5322 §3.3 with the obsolete forms of §4.3: optional day name, 2- or 3-digit years, zone
// names. Date.parse is not used: it reads "Message 1" as 2001-01-01.
const MAIL_DATE =
  /^\s*(?:[A-Za-z]{2,9}\s*,?\s*)?(\d{1,2})\s*[-\s]\s*([A-Za-z]{3,9})\.?\s*[-\s]\s*(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*(.*)$/;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** Zone names RFC 5322 §4.3 allows, in minutes east of UTC (military letters other than Z are not trusted). */
const ZONE_NAMES: Readonly<Record<string, number>> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
};
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/;

/**
 * A Date header to a UTC Date, or null. A zone that is missing or unknown (`CEST`) gives null
 * too: guessing it would be off by hours, and the separator line's date is exact.
 */
export function parseMailDate(value: string): Date | null {
  const text = value.replace(/\([^()]*\)/g, ' ').trim();
  if (ISO_8601.test(text)) {
    const time = Date.parse(text);
    return Number.isNaN(time) ? null : new Date(time);
  }
  const match = MAIL_DATE.exec(text);
  if (!match) return null;
  const [, dayText, monthText, yearText, hourText, minuteText, secondText, zoneText] = match;
  const month = MONTHS.indexOf((monthText as string).slice(0, 3).toLowerCase());
  if (month === -1) return null;
  let year = Number(yearText);
  if ((yearText as string).length === 2) year += year < 50 ? 2000 : 1900;
  else if ((yearText as string).length === 3) year += 1900;
  const day = Number(dayText);
  const hour = Number(hourText);
  const minute = Number(minuteText);
  const second = Math.min(Number(secondText ?? 0), 59); // a leap second reads as :59
  if (day < 1 || hour > 23 || minute > 59) return null;
  const zone = (zoneText as string).trim();
  let offsetMinutes: number;
  const numeric = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (numeric) offsetMinutes = (numeric[1] === '-' ? -1 : 1) * (Number(numeric[2]) * 60 + Number(numeric[3]));
  else if (zone.toUpperCase() in ZONE_NAMES) offsetMinutes = ZONE_NAMES[zone.toUpperCase()] as number;
  else return null;
  const local = Date.UTC(year, month, day, hour, minute, second);
  if (new Date(local).getUTCDate() !== day) return null; // Feb 30 is no date
  return new Date(local - offsetMinutes * 60_000);
}

// Charsets: postal-mime decodes a label it does not know as windows-1252 (which is what the
// WHATWG `latin1` label means) without saying so. A label is known when TextDecoder accepts it or
// when postal-mime's alias table maps it to something else: a probe of the bytes 0x80-0xFF then
// decodes differently from windows-1252.
const PROBE = Buffer.from(Array.from({ length: 128 }, (_, i) => 0x80 + i));
const PROBE_WORD_BASE64 = PROBE.toString('base64');
const PROBE_AS_WINDOWS_1252 = new TextDecoder('windows-1252').decode(PROBE);
const charsetKnown = new Map<string, boolean>();
const CHARSET_CACHE_LIMIT = 256;

export function isKnownCharset(label: string): boolean {
  const key = label.trim().toLowerCase();
  const cached = charsetKnown.get(key);
  if (cached !== undefined) return cached;
  let known: boolean;
  try {
    new TextDecoder(key);
    known = true;
  } catch {
    known = /^[\w.:+-]+$/.test(key) && decodeWords(`=?${key}?B?${PROBE_WORD_BASE64}?=`) !== PROBE_AS_WINDOWS_1252;
  }
  if (charsetKnown.size >= CHARSET_CACHE_LIMIT) charsetKnown.clear();
  charsetKnown.set(key, known);
  return known;
}

interface MimeInspection {
  /** Charset labels named by the message: encoded words in headers, `charset=` of parts. */
  charsets: Set<string>;
  problems: string[];
  /** The top-level header section ends with an empty line. */
  headerEnded: boolean;
  /** Some multipart boundary is never closed with `--boundary--`. */
  unclosedBoundary: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const MAX_PARTS = 10_000;
const MAX_DEPTH = 32;
const MAX_PART_HEADER_BYTES = 64 * 1024;
const ENCODED_WORD = /=\?([^?\s*]+)(?:\*[^?\s]*)?\?[bq]\?/gi;
const CHARSET_PARAM = /charset\s*=\s*"?([^";\s]+)/i;
const BOUNDARY_PARAM = /boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i;

/**
 * Walks the message's multipart structure on the bytes (delimiters found with indexOf, part
 * headers read up to MAX_PART_HEADER_BYTES, never the whole message as a string): which charsets
 * it names, and which boundaries are missing or never closed.
 */
function inspectMime(raw: Buffer, contentType: string | null, headers: Email['headers']): MimeInspection {
  const inspection: MimeInspection = { charsets: new Set(), problems: [], headerEnded: false, unclosedBoundary: false };
  for (const header of headers) collectCharsets(header.value, inspection.charsets);
  const bodyStart = endOfHeader(raw, 0, raw.length);
  inspection.headerEnded = bodyStart !== -1;
  const queue: Array<{ contentType: string | null; start: number; end: number; depth: number }> = [];
  if (bodyStart !== -1) queue.push({ contentType, start: bodyStart, end: raw.length, depth: 0 });
  let parts = 0;
  while (queue.length > 0 && parts < MAX_PARTS) {
    const part = queue.shift()!;
    const type = part.contentType?.trim().toLowerCase() ?? '';
    if (!type.startsWith('multipart/') || part.depth >= MAX_DEPTH) continue;
    const kind = type.split(/[;\s]/, 1)[0];
    const boundaryMatch = BOUNDARY_PARAM.exec(part.contentType ?? '');
    const boundary = boundaryMatch?.[1] ?? boundaryMatch?.[2];
    if (!boundary) {
      inspection.problems.push(`${kind} without a boundary parameter`);
      continue;
    }
    const delimiters = findDelimiters(raw, Buffer.from(`--${boundary}`, 'latin1'), part.start, part.end);
    if (delimiters.open.length === 0) {
      inspection.problems.push(`${kind} boundary "${boundary}" starts no part`);
      continue;
    }
    if (delimiters.close === -1) {
      inspection.problems.push(`${kind} boundary "${boundary}" is never closed`);
      inspection.unclosedBoundary = true;
    }
    const bounds = [...delimiters.open, delimiters.close === -1 ? part.end : delimiters.close];
    for (let i = 0; i + 1 < bounds.length && parts < MAX_PARTS; i++, parts++) {
      const lineEnd = raw.indexOf(LF, bounds[i]);
      if (lineEnd === -1 || lineEnd >= (bounds[i + 1] as number)) continue;
      const partEnd = bounds[i + 1] as number;
      const headerEnd = endOfHeader(raw, lineEnd + 1, partEnd);
      const headerTextEnd = Math.min(headerEnd === -1 ? partEnd : headerEnd, lineEnd + 1 + MAX_PART_HEADER_BYTES);
      const headerText = raw.toString('latin1', lineEnd + 1, headerTextEnd);
      const partType = partHeader(headerText, 'content-type');
      collectCharsets(partType ?? '', inspection.charsets);
      collectCharsets(partHeader(headerText, 'content-disposition') ?? '', inspection.charsets);
      if (headerEnd !== -1) queue.push({ contentType: partType, start: headerEnd, end: partEnd, depth: part.depth + 1 });
    }
  }
  return inspection;
}

function collectCharsets(value: string, into: Set<string>): void {
  if (value.includes('=?')) for (const match of value.matchAll(ENCODED_WORD)) into.add((match[1] as string).toLowerCase());
  const charset = CHARSET_PARAM.exec(value);
  if (charset) into.add((charset[1] as string).toLowerCase());
}

/** The offset just past the empty line that ends a header section starting at `start`, or -1. */
function endOfHeader(raw: Buffer, start: number, end: number): number {
  if (raw[start] === LF) return start + 1;
  if (raw[start] === CR && raw[start + 1] === LF) return start + 2;
  for (let at = raw.indexOf(LF, start); at !== -1 && at < end; at = raw.indexOf(LF, at + 1)) {
    if (raw[at + 1] === LF) return at + 2;
    if (raw[at + 1] === CR && raw[at + 2] === LF) return at + 3;
  }
  return -1;
}

/** A header's unfolded value from a part's header text, or null. */
function partHeader(text: string, name: string): string | null {
  const match = new RegExp(`^${name}[ \\t]*:((?:[^\\r\\n]|\\r?\\n[ \\t])*)`, 'im').exec(text);
  return match ? (match[1] as string).replace(/\r?\n[ \t]/g, ' ').trim() : null;
}

/** Line-start delimiters of a boundary within [start, end): the opening ones and the closing one. */
function findDelimiters(raw: Buffer, delimiter: Buffer, start: number, end: number): { open: number[]; close: number } {
  const open: number[] = [];
  for (let at = raw.indexOf(delimiter, start); at !== -1 && at < end; at = raw.indexOf(delimiter, at + 1)) {
    if (at !== start && raw[at - 1] !== LF) continue;
    const after = at + delimiter.length;
    if (raw[after] === 0x2d && raw[after + 1] === 0x2d) return { open, close: at };
    // A longer boundary that starts with this one is another boundary.
    const next = raw[after];
    if (next === undefined || next === LF || next === CR || next === 0x20 || next === 0x09) open.push(at);
  }
  return { open, close: -1 };
}
