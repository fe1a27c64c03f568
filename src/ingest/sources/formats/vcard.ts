// Google Contacts exports (`Takeout/Contacts/<label>/<label>.vcf`, or "Export" in Contacts): vCard
// 2.1, 3.0 and 4.0 (RFC 2426, RFC 6350), one contact per BEGIN:VCARD … END:VCARD.
//
// Hand-written: the maintained vCard libraries (vcard4, ical.js's vCard support, vcf) parse a
// whole string in memory; none streams, and the grammar is a line format that takes a page here.
// Handing each card's text to ical.js 2.2.1 instead was measured (bench/parse-calendar.ts): no
// faster, and it refuses vCard 2.1 cards outright (bare parameters `TEL;WORK;VOICE`, quoted-
// printable soft line breaks) and decodes neither QUOTED-PRINTABLE nor CHARSET.
//
// Reading: lines end in CRLF or LF; a line starting with a space or tab continues the previous
// one (unfolding, the whitespace removed); a QUOTED-PRINTABLE value (vCard 2.1) ending in `=`
// continues on the next line (soft line break). Values are decoded per their ENCODING (QUOTED-
// PRINTABLE, or b/BASE64 for embedded photos, which are not kept: attributes.photo says so) and
// CHARSET (UTF-8 when absent or unknown). Text values are unescaped (`\,` `\;` `\n` `\\`);
// structured values (N, ADR, ORG) are split on unescaped `;`, CATEGORIES on unescaped `,`.
// Grouped properties (`item1.EMAIL`, with Google's `item1.X-ABLabel:Work`) are read like
// ungrouped ones; the group's label goes into attributes.labels. TYPE parameters (`TYPE=work,pref`,
// 2.1's bare `;WORK`) go into attributes.emailTypes / phoneTypes and each address's types.
//
// Mapped: UID, FN, N, EMAIL, TEL (a `tel:` URI prefix removed), ORG, TITLE, BDAY (a day; a
// birthday without a year, `--0412`, goes to attributes.birthdayWithoutYear), ADR, NOTE, PHOTO
// (a URI), CATEGORIES. Everything else (NICKNAME, URL, X-…) is kept in attributes.properties by
// property name. A card without FN gets its name from N.
//
// Errors: a line inside a card that is not `name:value` (or whose value cannot be decoded) is
// skipped and noted in attributes.problems with its line number; the card is kept. A card never
// closed (EOF, or a BEGIN:VCARD before its END) and text outside any card are rejected as
// `malformed` with their line; reading carries on with the next card.
//
// Key: the UID when the card has one, else a hash of the card's lines (Google's exports have no
// UID), so importing the same file again adds nothing.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { ParseError } from '../../../errors.js';
import type { ContactAddress, ContactRecord, ParseEvent } from '../../records.js';
import { defineSource, type ParseContext, type Source } from '../../source.js';
import { VCARD } from './entries.js';
import { byteChunks } from '../../parse/byte-chunks.js';

export const VCARD_SOURCE_ID = VCARD.id;

/** A physical line longer than this stops the file (no real card has one). */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;
/** A card of more logical lines than this is rejected (`too_large`). */
export const MAX_CARD_LINES = 10_000;
const EXCERPT_CHARS = 200;

export const vcardSource: Source = defineSource(VCARD, {
  parse: parseVcard,
});

/** A physical line: its bytes without the line ending, its 1-based number and byte offset. */
export interface PhysicalLine {
  bytes: Buffer;
  line: number;
  offset: number;
}

/** Splits a byte stream into lines (LF or CRLF), keeping line numbers and byte offsets. */
export async function* physicalLines(input: AsyncIterable<unknown>, path: string): AsyncGenerator<PhysicalLine> {
  let carry: Buffer = Buffer.alloc(0);
  let carryOffset = 0;
  let line = 0;
  for await (const chunk of byteChunks(input, path)) {
    const data = carry.length === 0 ? chunk : Buffer.concat([carry, chunk]);
    let start = 0;
    for (;;) {
      const end = data.indexOf(0x0a, start);
      if (end === -1) break;
      line++;
      const stop = end > start && data[end - 1] === 0x0d ? end - 1 : end;
      yield { bytes: data.subarray(start, stop), line, offset: carryOffset + start };
      start = end + 1;
    }
    carry = data.subarray(start);
    carryOffset += start;
    if (carry.length > MAX_LINE_BYTES) throw new ParseError(path, carryOffset, `a line longer than ${MAX_LINE_BYTES} bytes`);
  }
  if (carry.length > 0) {
    line++;
    const stop = carry[carry.length - 1] === 0x0d ? carry.length - 1 : carry.length;
    yield { bytes: carry.subarray(0, stop), line, offset: carryOffset };
  }
}

/** A property line after unfolding: `[group.]NAME[;params]:value`, value still encoded. */
export interface ContentLine {
  group: string | null;
  name: string;
  params: Map<string, string[]>;
  value: Buffer;
}

const QP_PARAM = /(?:^|;)(?:ENCODING=)?QUOTED-PRINTABLE(?:;|:|$)/i;

/** Joins folded lines (and 2.1 quoted-printable soft breaks) into logical lines. */
export async function* logicalLines(lines: AsyncIterable<PhysicalLine>): AsyncGenerator<PhysicalLine> {
  let pending: PhysicalLine | null = null;
  let pendingParts: Buffer[] = [];
  let softBreak = false;
  const flush = (): PhysicalLine | null => {
    if (!pending) return null;
    const out = { ...pending, bytes: pendingParts.length === 1 ? pendingParts[0]! : Buffer.concat(pendingParts) };
    pending = null;
    pendingParts = [];
    return out;
  };
  for await (const physical of lines) {
    const first = physical.bytes[0];
    if (pending && (first === 0x20 || first === 0x09)) {
      pendingParts.push(physical.bytes.subarray(1));
    } else if (pending && softBreak) {
      const last = pendingParts[pendingParts.length - 1]!;
      pendingParts[pendingParts.length - 1] = last.subarray(0, last.length - 1); // the `=`
      pendingParts.push(physical.bytes);
    } else {
      const done = flush();
      if (done) yield done;
      pending = physical;
      pendingParts = [physical.bytes];
    }
    softBreak = isQuotedPrintableSoftBreak(pendingParts);
  }
  const done = flush();
  if (done) yield done;
}

function isQuotedPrintableSoftBreak(parts: Buffer[]): boolean {
  const last = parts[parts.length - 1]!;
  if (last.length === 0 || last[last.length - 1] !== 0x3d) return false;
  const head = parts[0]!.subarray(0, 512).toString('latin1');
  const colon = head.indexOf(':');
  return QP_PARAM.test(colon === -1 ? head : head.slice(0, colon + 1));
}

/** Parses a logical line; null when it is not `name:value`. */
export function parseContentLine(bytes: Buffer): ContentLine | null {
  const text = bytes.toString('latin1'); // one char per byte, so indexes are byte offsets
  let colon = -1;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (c === ':' && !quoted) {
      colon = i;
      break;
    }
  }
  if (colon <= 0) return null;
  const parts = splitOutsideQuotes(text.slice(0, colon), ';');
  const fullName = parts[0]!.trim();
  const dot = fullName.lastIndexOf('.');
  const group = dot > 0 ? fullName.slice(0, dot) : null;
  const name = (dot > 0 ? fullName.slice(dot + 1) : fullName).toUpperCase();
  if (!/^[A-Z0-9-]+$/.test(name)) return null;
  const params = new Map<string, string[]>();
  for (const part of parts.slice(1)) {
    const eq = part.indexOf('=');
    // vCard 2.1 writes bare values: `;WORK;QUOTED-PRINTABLE`.
    const key = (eq === -1 ? (/^(?:QUOTED-PRINTABLE|BASE64|8BIT|7BIT|B)$/i.test(part) ? 'ENCODING' : 'TYPE') : part.slice(0, eq)).trim().toUpperCase();
    const raw = eq === -1 ? part : part.slice(eq + 1);
    const values = splitOutsideQuotes(raw, ',').map((v) => v.trim().replace(/^"|"$/g, '')).filter((v) => v !== '');
    params.set(key, [...(params.get(key) ?? []), ...values]);
  }
  return { group, name, params, value: bytes.subarray(colon + 1) };
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') quoted = !quoted;
    else if (text[i] === separator && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** Decodes quoted-printable text to bytes (`=XX`; a malformed escape is kept as written). */
export function decodeQuotedPrintable(value: Buffer): Buffer {
  const out = Buffer.alloc(value.length);
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === 0x3d && i + 2 < value.length && isHex(value[i + 1]) && isHex(value[i + 2])) {
      out[n++] = parseInt(String.fromCharCode(value[i + 1]!, value[i + 2]!), 16);
      i += 2;
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}

function isHex(byte: number | undefined): boolean {
  return byte !== undefined && ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66));
}

/** The value as text: quoted-printable decoded, then read in its CHARSET. Throws on an unknown charset. */
export function valueText(line: ContentLine): string {
  const encoding = (line.params.get('ENCODING')?.[0] ?? '').toUpperCase();
  const bytes = encoding === 'QUOTED-PRINTABLE' ? decodeQuotedPrintable(line.value) : line.value;
  const charset = line.params.get('CHARSET')?.[0] ?? 'utf-8';
  return new TextDecoder(charset).decode(bytes);
}

/** Splits on an unescaped separator, then unescapes each part. */
export function splitEscaped(value: string, separator: ';' | ','): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && i + 1 < value.length) {
      current += c + value[i + 1];
      i++;
    } else if (c === separator) {
      out.push(unescapeText(current));
      current = '';
    } else {
      current += c;
    }
  }
  out.push(unescapeText(current));
  return out;
}

/** `\n` `\N` → newline; `\,` `\;` `\:` `\\` → the character. */
export function unescapeText(value: string): string {
  return value.indexOf('\\') === -1 ? value : value.replace(/\\([nN,;:\\])/g, (_, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}

interface CardState {
  line: number;
  offset: number;
  lines: { content: ContentLine; at: number }[];
  raw: string[];
  problems: { line: number; problem: string }[];
}

export async function* parseVcard(input: Readable, context: ParseContext): AsyncIterable<ParseEvent> {
  let card: CardState | null = null;
  let stray: { line: number; offset: number; excerpt: string } | null = null;
  const flushStray = (): ParseEvent | null => {
    if (!stray) return null;
    const event: ParseEvent = {
      kind: 'reject',
      rejection: { category: 'malformed', reason: 'text outside any BEGIN:VCARD … END:VCARD', line: stray.line, byteOffset: stray.offset, excerpt: stray.excerpt },
    };
    stray = null;
    return event;
  };
  const unclosed = (state: CardState, why: string): ParseEvent => ({
    kind: 'reject',
    rejection: { category: 'malformed', reason: `vCard begun on line ${state.line} ${why}`, line: state.line, byteOffset: state.offset, excerpt: excerpt(state.raw.join('\n')) },
  });

  for await (const logical of logicalLines(physicalLines(input, context.path))) {
    const asText = logical.bytes.toString('latin1');
    if (asText.trim() === '') continue;
    const marker = /^\s*(BEGIN|END)\s*:\s*VCARD\s*$/i.exec(asText);
    if (marker?.[1]!.toUpperCase() === 'BEGIN') {
      const strayEvent = flushStray();
      if (strayEvent) yield strayEvent;
      if (card) yield unclosed(card, `has no END:VCARD before the next BEGIN:VCARD on line ${logical.line}`);
      card = { line: logical.line, offset: logical.offset, lines: [], raw: [], problems: [] };
      continue;
    }
    if (marker) {
      if (!card) {
        stray ??= { line: logical.line, offset: logical.offset, excerpt: excerpt(logical.bytes.toString('utf8')) };
        continue;
      }
      yield cardEvent(card);
      card = null;
      continue;
    }
    if (!card) {
      stray ??= { line: logical.line, offset: logical.offset, excerpt: excerpt(logical.bytes.toString('utf8')) };
      continue;
    }
    if (card.lines.length >= MAX_CARD_LINES) {
      if (card.lines.length === MAX_CARD_LINES) card.problems.push({ line: logical.line, problem: `over ${MAX_CARD_LINES} lines; the rest skipped` });
      continue;
    }
    const parsed = parseContentLine(logical.bytes);
    if (!parsed) {
      card.problems.push({ line: logical.line, problem: `not a property line: ${excerpt(logical.bytes.toString('utf8'))}` });
      continue;
    }
    card.lines.push({ content: parsed, at: logical.line });
    card.raw.push(logical.bytes.toString('utf8'));
  }
  const strayEvent = flushStray();
  if (strayEvent) yield strayEvent;
  if (card) yield unclosed(card, 'has no END:VCARD before the end of the file');
}

function excerpt(text: string): string {
  return text.length > EXCERPT_CHARS ? text.slice(0, EXCERPT_CHARS) : text;
}

function typesOf(line: ContentLine): string[] {
  return (line.params.get('TYPE') ?? []).flatMap((t) => t.split(',')).map((t) => t.toLowerCase()).filter((t) => t !== 'internet');
}

function cardEvent(card: CardState): ParseEvent {
  const record: ContactRecord = {
    type: 'contact',
    source: VCARD_SOURCE_ID,
    key: [],
    uid: null,
    fullName: null,
    structuredName: null,
    emails: [],
    phones: [],
    organization: null,
    title: null,
    birthday: null,
    addresses: [],
    notes: null,
    photoUri: null,
    categories: [],
  };
  const attributes: Record<string, unknown> = {};
  const emailTypes: string[][] = [];
  const phoneTypes: string[][] = [];
  const labels: Record<string, string> = {};
  const properties: Record<string, string[]> = {};
  const notes: string[] = [];
  const groups = new Map<string, string[]>(); // group → property names in it

  for (const { content: line, at } of card.lines) {
    let value: string;
    const encoding = (line.params.get('ENCODING')?.[0] ?? '').toUpperCase();
    if (line.name === 'PHOTO' && (encoding === 'B' || encoding === 'BASE64')) {
      attributes.photo = { embedded: true, encodedBytes: line.value.length };
      continue;
    }
    try {
      value = valueText(line);
    } catch {
      card.problems.push({ line: at, problem: `unreadable value of ${line.name} (charset ${line.params.get('CHARSET')?.[0] ?? '?'})` });
      continue;
    }
    if (line.group) groups.set(line.group, [...(groups.get(line.group) ?? []), line.name]);
    switch (line.name) {
      case 'VERSION':
        attributes.version = value.trim();
        break;
      case 'UID':
        record.uid = unescapeText(value.trim()) || null;
        break;
      case 'FN':
        record.fullName = unescapeText(value).trim() || null;
        break;
      case 'N': {
        const [family, given, additional, prefix, suffix] = splitEscaped(value, ';').map((p) => p.trim());
        const name: NonNullable<ContactRecord['structuredName']> = {};
        if (family) name.family = family;
        if (given) name.given = given;
        if (additional) name.additional = additional;
        if (prefix) name.prefix = prefix;
        if (suffix) name.suffix = suffix;
        if (Object.keys(name).length > 0) record.structuredName = name;
        break;
      }
      case 'EMAIL': {
        const email = unescapeText(value).trim().replace(/^mailto:/i, '');
        if (email) {
          record.emails.push(email);
          emailTypes.push(typesOf(line));
        }
        break;
      }
      case 'TEL': {
        const phone = unescapeText(value).trim().replace(/^tel:/i, '');
        if (phone) {
          record.phones.push(phone);
          phoneTypes.push(typesOf(line));
        }
        break;
      }
      case 'ORG': {
        const parts = splitEscaped(value, ';').map((p) => p.trim()).filter((p) => p !== '');
        if (parts.length > 0) record.organization = parts.join(', ');
        break;
      }
      case 'TITLE':
        record.title = unescapeText(value).trim() || null;
        break;
      case 'BDAY': {
        const day = parseBirthday(value.trim());
        if (day.day) record.birthday = day.day;
        else if (day.withoutYear) attributes.birthdayWithoutYear = day.withoutYear;
        else card.problems.push({ line: at, problem: `BDAY ${JSON.stringify(value.trim())} is not a date` });
        break;
      }
      case 'ADR': {
        const [poBox, extended, street, locality, region, postalCode, country] = splitEscaped(value, ';').map((p) => p.trim() || null);
        const address: ContactAddress = {
          types: typesOf(line),
          poBox: poBox ?? null,
          extended: extended ?? null,
          street: street ?? null,
          locality: locality ?? null,
          region: region ?? null,
          postalCode: postalCode ?? null,
          country: country ?? null,
        };
        if (address.poBox || address.extended || address.street || address.locality || address.region || address.postalCode || address.country) {
          record.addresses.push(address);
        }
        break;
      }
      case 'NOTE': {
        const note = unescapeText(value);
        if (note.trim()) notes.push(note);
        break;
      }
      case 'PHOTO':
        if (value.trim()) record.photoUri = value.trim();
        break;
      case 'CATEGORIES':
        for (const category of splitEscaped(value, ',').map((c) => c.trim())) if (category) record.categories.push(category);
        break;
      case 'X-ABLABEL':
        if (line.group) labels[line.group] = unescapeText(value).trim();
        break;
      default:
        (properties[line.name] ??= []).push(unescapeText(value));
    }
  }
  if (notes.length > 0) record.notes = notes.join('\n');
  if (!record.fullName && record.structuredName) {
    const n = record.structuredName;
    record.fullName = [n.prefix, n.given, n.additional, n.family, n.suffix].filter(Boolean).join(' ') || null;
  }
  if (emailTypes.some((t) => t.length > 0)) attributes.emailTypes = emailTypes;
  if (phoneTypes.some((t) => t.length > 0)) attributes.phoneTypes = phoneTypes;
  const labelled: Record<string, string> = {};
  for (const [group, label] of Object.entries(labels)) {
    for (const name of groups.get(group) ?? []) if (name !== 'X-ABLABEL') labelled[`${group}.${name}`] = label;
  }
  if (Object.keys(labelled).length > 0) attributes.labels = labelled;
  if (Object.keys(properties).length > 0) attributes.properties = properties;
  if (card.problems.length > 0) attributes.problems = card.problems;
  if (Object.keys(attributes).length > 0) record.attributes = attributes;
  record.key = record.uid ? ['uid', record.uid] : ['card', createHash('sha256').update(card.raw.join('\n')).digest('hex')];
  return { kind: 'record', record, offset: card.offset };
}

/** `1985-04-12`, `19850412`, `1985-04-12T00:00:00Z` → a day; `--0412`, `--04-12` → month-day. */
export function parseBirthday(value: string): { day?: string; withoutYear?: string } {
  let match = /^(\d{4})-?(\d{2})-?(\d{2})(?:T.*)?$/.exec(value);
  if (match) {
    const [, y, m, d] = match;
    const date = new Date(Date.UTC(Number(y), Number(m) - 1, Number(d)));
    if (date.getUTCMonth() === Number(m) - 1 && date.getUTCDate() === Number(d) && Number(y) > 0) return { day: `${y}-${m}-${d}` };
    return {};
  }
  match = /^--(\d{2})-?(\d{2})$/.exec(value);
  if (match) return { withoutYear: `--${match[1]}-${match[2]}` };
  return {};
}
