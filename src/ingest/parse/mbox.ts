// A streaming mbox splitter: bytes in, one event per message out, never the whole file in memory
// (Takeout's `All mail Including Spam and Trash.mbox` runs to tens of GB).
//
// The format (RFC 4155, and the mboxrd convention Takeout follows):
//   - each message starts with a separator line `From <sender> <date>`, e.g. the classic
//     `From alice@example.org Thu Jan  1 00:00:00 2015` or Takeout's
//     `From 1545668983435175434@xxx Fri Sep 16 12:34:56 +0000 2022`;
//   - a separator comes at the start of the file or after an empty line, and writers end every
//     message with that empty line, which is therefore not part of the message;
//   - body lines that would read as separators are quoted with `>`; mboxrd quotes every
//     `>*From ` line with one more `>`, so one `>` is removed from each on reading.
// A `From ` line after an empty line must look like a separator (a sender, then a date with a
// month name, a time and a year), so an unquoted paragraph starting with "From " is not taken for
// the start of a message. Takeout does not always write the empty line: a chat (X-Gmail-Labels:
// Chat) or a body without a final newline is followed directly by the next separator. So a `From `
// line that does not follow an empty line also starts a message when it has exactly a separator's
// fixed shape, `From <sender> <weekday> <month> <day> <hh:mm:ss> [<+zzzz>] <year>` and nothing
// else, with a real date; any other `From ` line there is body text (writers that do not quote,
// e.g. "From here on..." in the middle of a paragraph).
// LF and CRLF line endings both work (a CRLF empty line is `\r\n`); the file may end without one.
//
// Speed: separators are found with Buffer.indexOf('\nFrom '), so ordinary lines cost a native
// scan and a newline count, not a JavaScript step per byte. Bytes are handed on as subarrays of
// the input chunks and copied once per message (one Buffer.concat). A message larger than
// `maxMessageBytes` is reported by offset and size, its bytes dropped as they arrive.
//
// What a chunk boundary may split is kept back until the next chunk: only a partial line that
// could still become a separator (it starts like `From `) or a lone `\r`
// (which may be the first half of an empty CRLF line), never more than MAX_SEPARATOR_LINE_BYTES.
// Feeding the same bytes in any chunk sizes gives the same events.
import { toBuffer } from './byte-chunks.js';

/** Default cap on one message; Gmail's own limit is 25 MB of attachments, about 34 MB encoded. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** A `From ` line longer than this is body text: real separator lines are under 100 bytes. */
export const MAX_SEPARATOR_LINE_BYTES = 1024;

export interface MboxMessage {
  kind: 'message';
  /** Byte offset in the file of the separator line that starts the message. */
  offset: number;
  /** 1-based line number of the separator line. */
  line: number;
  /** The separator line without its line ending (read as Latin-1; ASCII in practice). */
  separator: string;
  /**
   * The message's bytes: everything after the separator line up to the empty line that ends it,
   * with one `>` removed from each `>*From ` line. Line endings are as in the file.
   */
  raw: Buffer;
  /** The file ended inside this message's last line (no final line ending): it may be cut off. */
  endsMidLine: boolean;
}

export interface MboxTooLarge {
  kind: 'too_large';
  offset: number;
  line: number;
  separator: string;
  /** The message's size in bytes (after the separator line), counted to its end. */
  size: number;
}

/** Bytes before the first separator that are not blank: a file that is not (only) an mbox. */
export interface MboxPreamble {
  kind: 'preamble';
  offset: 0;
  line: 1;
  size: number;
}

export type MboxEvent = MboxMessage | MboxTooLarge | MboxPreamble;

export interface MboxSplitOptions {
  maxMessageBytes?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const GREATER_THAN = 0x3e;
const NEWLINE_FROM = Buffer.from('\nFrom ', 'latin1');
const FROM_SPACE = Buffer.from('From ', 'latin1');
const QUOTED_FROM = Buffer.from('>From ', 'latin1');

// A separator names a sender, then a date in asctime style (`Fri Sep 16 12:34:56 +0000 2022`,
// `Thu Jan  1 00:00:00 2015`). Checked loosely, in three parts: a month name, a time, a year.
const SEPARATOR_START = /^From \S+ /;
const MONTH = /\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* +(\d{1,2})\b/;
const TIME = /\b(\d{1,2}):(\d{2})(?::(\d{2}))?\b/;
const YEAR = /(?:^|\s)(\d{4})(?=\s|$)/;
const ZONE = /(?:^|\s)([+-])(\d{2})(\d{2})(?=\s|$)/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// The exact shape of a separator line, checked where no empty line comes before it: Takeout's
// `From 1545668983435175434@xxx Fri Sep 16 10:14:32 +0000 2022`, the classic
// `From sender@example.com Fri Sep 16 10:14:32 2022` (day space-padded: `Thu Jan  1`).
const EXACT_SEPARATOR =
  /^From \S+ (?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +\d{1,2} \d{2}:\d{2}:\d{2}(?: [+-]\d{4})? \d{4}$/;

/** Whether a line (without its line ending) is an mbox separator line. */
export function isSeparatorLine(line: string): boolean {
  if (!SEPARATOR_START.test(line)) return false;
  const rest = line.slice(line.indexOf(' ', 5) + 1);
  return MONTH.test(rest) && TIME.test(rest) && YEAR.test(rest);
}

/**
 * Whether a line that does not follow an empty line is a separator: only the exact fixed shape with
 * a real date, so that body text starting with `From ` stays body.
 */
export function isExactSeparatorLine(line: string): boolean {
  return EXACT_SEPARATOR.test(line) && separatorDate(line) !== null;
}

/**
 * The date of a separator line, in UTC: Takeout writes `+0000`; the classic form has no zone (the
 * writer's local time, unknown here), read as UTC. Null when the line holds no valid date.
 */
export function separatorDate(line: string): Date | null {
  if (!SEPARATOR_START.test(line)) return null;
  const rest = line.slice(line.indexOf(' ', 5) + 1);
  const month = MONTH.exec(rest);
  const time = TIME.exec(rest);
  const year = YEAR.exec(rest);
  if (!month || !time || !year) return null;
  const monthIndex = MONTHS.indexOf(month[1] as string);
  const day = Number(month[2]);
  const [hours, minutes, seconds] = [Number(time[1]), Number(time[2]), Number(time[3] ?? 0)];
  if (day < 1 || day > 31 || hours > 23 || minutes > 59 || seconds > 60) return null;
  const zone = ZONE.exec(rest);
  const offsetMinutes = zone ? (zone[1] === '-' ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3])) : 0;
  const ms = Date.UTC(Number(year[1]), monthIndex, day, hours, minutes, seconds) - offsetMinutes * 60_000;
  const date = new Date(ms);
  // Date.UTC rolls Feb 30 over into March; a day that does not exist is no date.
  return new Date(ms + offsetMinutes * 60_000).getUTCDate() === day ? date : null;
}

interface MessageDraft {
  offset: number;
  line: number;
  separator: string;
  parts: Buffer[];
  size: number;
  tooLarge: boolean;
}

/**
 * The splitter as a push parser: `write` each chunk in order, then `end`; each returns the events
 * completed by then. `splitMbox` wraps it for streams.
 */
export class MboxSplitter {
  private readonly maxMessageBytes: number;
  /** Absolute offset just past the last byte written. */
  private position = 0;
  private lastByte = -1;
  /** A partial line held back from the last chunk (see the module comment), and where it starts. */
  private leftover: Buffer | null = null;
  private leftoverOffset = 0;
  /** The next byte continues a line that already has content (so it is neither empty nor `From `). */
  private midLine = false;
  /** Whether the last complete line was empty; the file start counts as one. */
  private prevLineEmpty = true;
  private newlinesSeen = 0;
  /** Newlines are counted in the file up to this offset. */
  private countedTo = 0;
  private current: MessageDraft | null = null;
  private preambleSize = 0;
  private preambleHasText = false;
  /** Messages found so far, too-large ones included. */
  messages = 0;

  constructor(options: MboxSplitOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  write(chunk: Buffer): MboxEvent[] {
    const events: MboxEvent[] = [];
    if (chunk.length === 0) return events;
    let buf = chunk;
    let base = this.position;
    if (this.leftover) {
      buf = Buffer.concat([this.leftover, chunk]);
      base = this.leftoverOffset;
      this.leftover = null;
    }
    this.position += chunk.length;
    this.lastByte = chunk[chunk.length - 1] as number;
    this.scan(buf, base, events);
    return events;
  }

  end(): MboxEvent[] {
    const events: MboxEvent[] = [];
    const rest = this.leftover;
    if (rest) {
      this.leftover = null;
      // The file ends inside a line that was held back as a possible separator.
      const text = rest.toString('latin1').replace(/\r$/, '');
      if (rest[0] !== CR && this.isSeparatorAfter(this.prevLineEmpty, text)) this.startMessage(this.leftoverOffset, text, events);
      else this.append(rest);
    }
    this.finishMessage(events, true);
    return events;
  }

  private scan(buf: Buffer, base: number, events: MboxEvent[]): void {
    const lastNewline = buf.lastIndexOf(LF);
    const completeEnd = lastNewline + 1;
    // Start (in buf) of the bytes not yet given to the current message.
    let pending = 0;
    if (!this.midLine && completeEnd > 0 && startsWith(buf, 0, FROM_SPACE)) {
      pending = this.trySeparator(buf, base, 0, this.prevLineEmpty, pending, events);
    }
    for (let hit = buf.indexOf(NEWLINE_FROM); hit !== -1 && hit + 1 < completeEnd; hit = buf.indexOf(NEWLINE_FROM, hit + 1)) {
      pending = this.trySeparator(buf, base, hit + 1, this.lineEndingAtIsEmpty(buf, hit), pending, events);
    }

    // The partial line after the last newline: held back if it may still become a separator.
    const partialLength = buf.length - completeEnd;
    const partialAtLineStart = completeEnd > 0 || !this.midLine;
    const lineBeforePartialEmpty = completeEnd > 0 ? this.lineEndingAtIsEmpty(buf, lastNewline) : this.prevLineEmpty;
    let holdBack = false;
    if (partialLength > 0 && partialAtLineStart) {
      holdBack =
        (partialLength === 1 && buf[completeEnd] === CR) ||
        (partialLength <= MAX_SEPARATOR_LINE_BYTES && couldBeFromLine(buf, completeEnd));
    }
    if (holdBack) {
      this.append(buf.subarray(pending, completeEnd));
      this.countNewlines(buf, base, base + completeEnd);
      this.leftover = buf.subarray(completeEnd);
      this.leftoverOffset = base + completeEnd;
      this.midLine = false;
      this.prevLineEmpty = lineBeforePartialEmpty;
    } else {
      this.append(pending === 0 ? buf : buf.subarray(pending));
      this.countNewlines(buf, base, base + buf.length);
      if (partialLength > 0) this.midLine = true;
      else {
        this.midLine = false;
        this.prevLineEmpty = lineBeforePartialEmpty;
      }
    }
  }

  /** Whether the line that ends with the newline at `newline` is empty (`\n` or `\r\n`). */
  private lineEndingAtIsEmpty(buf: Buffer, newline: number): boolean {
    if (newline === 0) return !this.midLine;
    const before = buf[newline - 1];
    if (before === LF) return true;
    if (before !== CR) return false;
    return newline === 1 ? !this.midLine : buf[newline - 2] === LF;
  }

  /** A separator after an empty line has the loose shape; after any other line, the exact one. */
  private isSeparatorAfter(afterEmptyLine: boolean, line: string): boolean {
    return afterEmptyLine ? isSeparatorLine(line) : isExactSeparatorLine(line);
  }

  /** Starts a message at `lineStart` if the complete line there is a separator; returns the new `pending`. */
  private trySeparator(buf: Buffer, base: number, lineStart: number, afterEmptyLine: boolean, pending: number, events: MboxEvent[]): number {
    const lineEnd = buf.indexOf(LF, lineStart);
    const textEnd = lineEnd > lineStart && buf[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    if (textEnd - lineStart > MAX_SEPARATOR_LINE_BYTES) return pending;
    const line = buf.toString('latin1', lineStart, textEnd);
    if (!this.isSeparatorAfter(afterEmptyLine, line)) return pending;
    this.append(buf.subarray(pending, lineStart));
    this.countNewlines(buf, base, base + lineStart);
    this.startMessage(base + lineStart, line, events);
    return lineEnd + 1;
  }

  private startMessage(offset: number, separator: string, events: MboxEvent[]): void {
    this.finishMessage(events, false);
    this.current = { offset, line: this.newlinesSeen + 1, separator, parts: [], size: 0, tooLarge: false };
    this.messages++;
  }

  private countNewlines(buf: Buffer, base: number, upTo: number): void {
    const end = upTo - base;
    for (let at = buf.indexOf(LF, this.countedTo - base); at !== -1 && at < end; at = buf.indexOf(LF, at + 1)) this.newlinesSeen++;
    this.countedTo = upTo;
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const message = this.current;
    if (!message) {
      this.preambleSize += bytes.length;
      if (!this.preambleHasText) this.preambleHasText = !isBlank(bytes);
      return;
    }
    message.size += bytes.length;
    if (message.tooLarge) return;
    if (message.size > this.maxMessageBytes) {
      message.tooLarge = true;
      message.parts = [];
      return;
    }
    message.parts.push(bytes);
  }

  private finishMessage(events: MboxEvent[], atEnd: boolean): void {
    const message = this.current;
    if (!message) {
      if (this.preambleHasText) events.push({ kind: 'preamble', offset: 0, line: 1, size: this.preambleSize });
      this.preambleHasText = false;
      this.preambleSize = 0;
      return;
    }
    this.current = null;
    const { offset, line, separator } = message;
    if (message.tooLarge) {
      events.push({ kind: 'too_large', offset, line, separator, size: message.size });
      return;
    }
    const joined = message.parts.length === 1 ? (message.parts[0] as Buffer) : Buffer.concat(message.parts, message.size);
    const raw = unquoteFromLines(withoutTrailingEmptyLine(joined));
    events.push({ kind: 'message', offset, line, separator, raw, endsMidLine: atEnd && this.lastByte !== LF });
  }
}

/** Splits a stream of bytes (Buffers, Uint8Arrays or strings, as UTF-8) into mbox events. */
export async function* splitMbox(input: AsyncIterable<unknown>, options: MboxSplitOptions = {}): AsyncGenerator<MboxEvent> {
  const splitter = new MboxSplitter(options);
  for await (const chunk of input) {
    const events = splitter.write(toBuffer(chunk));
    for (const event of events) yield event;
  }
  for (const event of splitter.end()) yield event;
}

function startsWith(buf: Buffer, at: number, prefix: Buffer): boolean {
  if (buf.length - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[at + i] !== prefix[i]) return false;
  return true;
}

/** The bytes from `at` to the end are `From ` or a prefix of it, or start with it. */
function couldBeFromLine(buf: Buffer, at: number): boolean {
  const length = Math.min(buf.length - at, FROM_SPACE.length);
  for (let i = 0; i < length; i++) if (buf[at + i] !== FROM_SPACE[i]) return false;
  return true;
}

function isBlank(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte !== 0x20 && byte !== 0x09 && byte !== LF && byte !== CR) return false;
  return true;
}

/** Drops the empty line (`\n` or `\r\n`) that ends a message in an mbox, when it is there. */
function withoutTrailingEmptyLine(raw: Buffer): Buffer {
  const n = raw.length;
  if (n === 0 || raw[n - 1] !== LF) return raw;
  if (n === 1 || raw[n - 2] === LF) return raw.subarray(0, n - 1);
  if (raw[n - 2] === CR && (n === 2 || raw[n - 3] === LF)) return raw.subarray(0, n - 2);
  return raw;
}

/** mboxrd: removes one `>` from every line that is `>`s followed by `From `. */
export function unquoteFromLines(raw: Buffer): Buffer {
  let hit = raw.indexOf(QUOTED_FROM);
  if (hit === -1) return raw;
  const pieces: Buffer[] = [];
  let copiedTo = 0;
  for (; hit !== -1; hit = raw.indexOf(QUOTED_FROM, hit + QUOTED_FROM.length)) {
    let lineStart = hit;
    while (lineStart > 0 && raw[lineStart - 1] === GREATER_THAN) lineStart--;
    if (lineStart !== 0 && raw[lineStart - 1] !== LF) continue;
    pieces.push(raw.subarray(copiedTo, lineStart));
    copiedTo = lineStart + 1;
  }
  if (pieces.length === 0) return raw;
  pieces.push(raw.subarray(copiedTo));
  return Buffer.concat(pieces);
}
