// What the streaming XML readers (google/location/kml.ts, google/fit/activities-tcx.ts) share: the
// file goes to htmlparser2 (xmlMode) a chunk at a time as Latin-1, so the parser's indices are
// byte offsets, and text is decoded afterwards, from UTF-8 or, when the XML declaration says so,
// Latin-1, then its entities. A declaration naming any other encoding stops the file as
// `unsupported`. The text of one element at a time is collected, up to a bound, for the reader
// of one format, which extends XmlStreamReader with its element handlers.
import type { Readable } from 'node:stream';
import { decodeXML } from 'entities';
import { Parser, type Handler } from 'htmlparser2';
import { byteChunks } from '../../parse/byte-chunks.js';
import type { ParseEvent, QuarantineCategory, RepairCounts } from '../../records.js';

const NON_ASCII = /[\x80-\xff]/;
const UTF8_REPLACEMENT_AS_LATIN1 = '\xef\xbf\xbd';
const EXCERPT_CHARS = 200;

/** The element whose text is being collected: at `depth` among the open elements. */
export interface TextCapture {
  depth: number;
  raw: string;
  /** Held more than the bound: `raw` is dropped, and nothing more is kept. */
  tooLarge: boolean;
}

export abstract class XmlStreamReader<C extends TextCapture> implements Partial<Handler> {
  parser: Parser | null = null;
  private events: ParseEvent[] = [];
  /** The file was refused (not this format, an encoding not read): the rest is not read. */
  stopped = false;
  /** A rejection already says where the file was cut. */
  cutReported = false;

  /** The open elements, as the format names them. */
  protected readonly tags: string[] = [];
  protected capture: C | null = null;
  protected rootSeen = false;
  /** The parser is ending: the elements it closes now were never closed in the file. */
  protected atEnd = false;
  /** The file's length in bytes, once at its end. */
  protected endOffset = 0;
  private latin1Text = false;

  /** `format`: the name messages give the file (`KML`, `TCX`); `maxTextBytes`: the bound of a capture's text. */
  constructor(
    private readonly format: string,
    protected readonly repairs: RepairCounts,
    private readonly maxTextBytes: number,
  ) {}

  /** Refuses the rest of the file with a rejection at `offset` (on `line`). */
  protected abstract stop(category: QuarantineCategory, reason: string, offset: number, line: number): void;

  /** The capture's element closed before the file's end. */
  protected abstract finishCapture(capture: C): void;

  /** After the element `tag` at `depth` closed (and its capture, if any, was finished). */
  protected abstract closed(tag: string, depth: number): void;

  /** Each chunk's text (Latin-1, a character a byte), before the parser sees it. */
  protected received(_text: string): void {}

  /** Text as it is added to a capture. */
  protected captured(text: string): string {
    return text;
  }

  /** Parses the file, yielding the events as they come; returns the number of bytes read. */
  async *read(input: Readable, path: string): AsyncGenerator<ParseEvent, number, undefined> {
    const parser = new Parser(this, { xmlMode: true, decodeEntities: false });
    this.parser = parser;
    let bytesRead = 0;
    for await (const chunk of byteChunks(input, path)) {
      const text = chunk.toString('latin1');
      this.received(text);
      parser.write(text);
      bytesRead += chunk.length;
      if (this.events.length > 0) yield* this.takeEvents();
      if (this.stopped) return bytesRead;
    }
    this.atEnd = true;
    this.endOffset = bytesRead;
    parser.end();
    yield* this.takeEvents();
    return bytesRead;
  }

  onprocessinginstruction(name: string, data: string): void {
    if (name !== '?xml' || this.rootSeen) return;
    const encoding = /encoding\s*=\s*["']([^"']+)["']/i.exec(data)?.[1]?.toLowerCase();
    if (encoding === undefined || encoding === 'utf-8' || encoding === 'utf8' || encoding === 'us-ascii' || encoding === 'ascii') return;
    if (encoding === 'iso-8859-1' || encoding === 'latin1' || encoding === 'latin-1') {
      this.latin1Text = true;
      return;
    }
    this.stop('unsupported', `${this.format} declared in the ${encoding} encoding, which is not read (UTF-8 and ISO-8859-1 are)`, 0, 1);
  }

  ontext(text: string): void {
    const capture = this.capture;
    if (!capture || capture.tooLarge) return;
    if (capture.raw.length + text.length > this.maxTextBytes) {
      capture.tooLarge = true;
      capture.raw = '';
      return;
    }
    capture.raw += this.captured(text);
  }

  onclosetag(): void {
    if (this.stopped || this.tags.length === 0) return;
    const depth = this.tags.length;
    const tag = this.tags.pop()!;
    const capture = this.capture;
    if (capture && capture.depth === depth) {
      this.capture = null;
      // An element the file ends inside holds part of its text only: the cut is reported then.
      if (!this.atEnd) this.finishCapture(capture);
    }
    this.closed(tag, depth);
  }

  protected push(event: ParseEvent): void {
    this.events.push(event);
  }

  /** Raw Latin-1 text (the file's bytes, one per character) to clean text; counts invalid UTF-8. */
  protected decode(raw: string): string {
    let text = raw;
    if (!this.latin1Text && NON_ASCII.test(raw)) {
      text = Buffer.from(raw, 'latin1').toString('utf8');
      if (text.includes('\ufffd')) this.repairs.invalidUtf8 += countOf(text, '\ufffd') - countOf(raw, UTF8_REPLACEMENT_AS_LATIN1);
    }
    return text.includes('&') ? decodeXML(text) : text;
  }

  private takeEvents(): ParseEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }
}

/** `text`, cut to its first 200 characters. */
export function excerpt(text: string): string {
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}

function countOf(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) count++;
  return count;
}
