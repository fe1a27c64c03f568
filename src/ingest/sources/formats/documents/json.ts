// Any JSON no dedicated source reads: `document.json`. Streamed through a JSON tokenizer
// (@streamparser/json's Tokenizer, already used by the lake; it never builds the document), so a
// multi-GB file costs time, not memory: what is kept is bounded.
//   metadata.shape  the root's type; for an object its first MAX_KEYS keys and the key count; for
//                   an array its length, the types of its elements (counted) and the first
//                   MAX_KEYS keys of its first object element; several values one after the other
//                   (JSON Lines, concatenated JSON) are a `sequence` with their count and types
//   text            the string values in document order, one per line, at most MAX_TEXT_BYTES
// A file that is not JSON all through (cut off, a syntax error) is kept with what was read: the
// shape so far, the text so far, a quarantine entry `malformed` at the byte where it broke and
// extraction `malformed`. One string value is held whole by the tokenizer while it is read (a
// single string of many MB costs that much memory, once), so a string value longer than
// MAX_JSON_STRING_BYTES is not given to it (StringLengthGuard: one 200 MB string, 200 KB zipped,
// took a 192 MB heap down): the file is kept with what was read before it, a quarantine entry
// `too_large` at the byte where that string passed the limit, and extraction `too_large`.
import type { Readable } from 'node:stream';
import { Tokenizer, TokenType } from '@streamparser/json';
import type { ParseEvent } from '../../../records.js';
import { defineSource, type ParseContext, type Source } from '../../../source.js';
import { JSON_DOCUMENT } from './entries.js';
import { MAX_NESTING_DEPTH } from '../../../parse/nesting.js';
import { BoundedText, documentEvents, Intake } from './intake.js';

export const JSON_SOURCE_ID = JSON_DOCUMENT.id;
/** Keys listed per object in the shape. */
export const MAX_KEYS = 200;
/** The longest string value (key or value, as written in the file, escapes included) the tokenizer is given. */
export const MAX_JSON_STRING_BYTES = 16 * 1024 * 1024;

export const jsonSource: Source = defineSource(JSON_DOCUMENT, {
  parse,
});

type ValueType = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null';

interface Frame {
  type: 'object' | 'array';
  expectKey: boolean;
}

/** Follows the token stream: the shape of the root value(s) and the text of the string values. */
export class JsonShape {
  private readonly stack: Frame[] = [];
  private roots = 0;
  private readonly rootTypes: Partial<Record<ValueType, number>> = {};
  private firstRoot: ValueType | null = null;
  private keyCount = 0;
  private readonly keys: string[] = [];
  private length = 0;
  private readonly elementTypes: Partial<Record<ValueType, number>> = {};
  private readonly elementKeys: string[] = [];
  private firstObjectElement: 'none' | 'reading' | 'done' = 'none';
  strings = 0;
  readonly text = new BoundedText();
  /** A container opened deeper than MAX_NESTING_DEPTH: the tokens after it are not followed. */
  tooDeep = false;

  token(token: TokenType, value: unknown): void {
    if (this.tooDeep) return;
    const top = this.stack[this.stack.length - 1];
    switch (token) {
      case TokenType.LEFT_BRACE:
      case TokenType.LEFT_BRACKET: {
        const type = token === TokenType.LEFT_BRACE ? 'object' : 'array';
        if (this.stack.length >= MAX_NESTING_DEPTH) {
          this.tooDeep = true;
          return;
        }
        this.value(type);
        if (this.stack.length === 1 && top?.type === 'array' && type === 'object' && this.firstObjectElement === 'none') this.firstObjectElement = 'reading';
        this.stack.push({ type, expectKey: type === 'object' });
        return;
      }
      case TokenType.RIGHT_BRACE:
      case TokenType.RIGHT_BRACKET:
        this.stack.pop();
        if (this.stack.length === 1 && this.firstObjectElement === 'reading') this.firstObjectElement = 'done';
        return;
      case TokenType.COLON:
        if (top) top.expectKey = false;
        return;
      case TokenType.COMMA:
        if (top?.type === 'object') top.expectKey = true;
        return;
      case TokenType.STRING:
        if (top?.type === 'object' && top.expectKey) {
          this.key(String(value));
          return;
        }
        this.value('string');
        this.strings++;
        if (!this.text.full) this.text.add(`${String(value)}\n`);
        else this.text.truncated = true;
        return;
      case TokenType.NUMBER:
        this.value('number');
        return;
      case TokenType.TRUE:
      case TokenType.FALSE:
        this.value('boolean');
        return;
      case TokenType.NULL:
        this.value('null');
        return;
      default:
        return;
    }
  }

  private key(name: string): void {
    if (this.stack.length === 1 && this.roots === 1) {
      this.keyCount++;
      if (this.keys.length < MAX_KEYS) this.keys.push(name);
    } else if (this.stack.length === 2 && this.firstObjectElement === 'reading' && this.elementKeys.length < MAX_KEYS) {
      this.elementKeys.push(name);
    }
  }

  private value(type: ValueType): void {
    if (this.stack.length === 0) {
      this.roots++;
      this.rootTypes[type] = (this.rootTypes[type] ?? 0) + 1;
      this.firstRoot ??= type;
    } else if (this.stack.length === 1 && this.roots === 1 && this.stack[0]!.type === 'array') {
      this.length++;
      this.elementTypes[type] = (this.elementTypes[type] ?? 0) + 1;
    }
  }

  /** Containers open at this point (0 once every value is complete). */
  get depth(): number {
    return this.stack.length;
  }

  shape(): Record<string, unknown> {
    if (this.roots > 1) return { type: 'sequence', values: this.roots, valueTypes: this.rootTypes };
    if (this.firstRoot === 'object') return { type: 'object', keyCount: this.keyCount, keys: this.keys };
    if (this.firstRoot === 'array') {
      const shape: Record<string, unknown> = { type: 'array', length: this.length, elementTypes: this.elementTypes };
      if (this.elementKeys.length > 0) shape.firstObjectKeys = this.elementKeys;
      return shape;
    }
    return { type: this.firstRoot ?? 'empty' };
  }
}

async function* parse(input: Readable, context: ParseContext): AsyncIterable<ParseEvent> {
  const intake = new Intake(input, context);
  const shape = new JsonShape();
  let failure: { message: string; offset: number } | null = null;
  const guard = new StringLengthGuard(MAX_JSON_STRING_BYTES);
  let tooLong: number | null = null;
  let bytes = 0;
  let lastOffset = 0;
  /** Tokenizer positions are after the BOM; file offsets include it. */
  let bom = 0;
  const tokenizer = new Tokenizer({ stringBufferSize: 64 * 1024, separator: '' });
  tokenizer.onToken = ({ token, value, offset }) => {
    lastOffset = offset + bom;
    shape.token(token, value);
    if (shape.tooDeep) failure ??= { message: `nested deeper than ${MAX_NESTING_DEPTH} levels`, offset: lastOffset };
  };
  tokenizer.onError = (error) => {
    const position = positionIn(error.message);
    const atEnd = /ended in the middle of a token/.test(error.message);
    failure ??= { message: error.message, offset: position !== null ? position + bom : atEnd ? bytes : lastOffset };
  };
  tokenizer.onEnd = () => {};
  for await (const chunk of intake.chunks()) {
    // The BOM is not JSON; a tokenizer that failed reads no further (the blob still gets it all).
    const body = bytes === 0 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf ? chunk.subarray(3) : chunk;
    if (body !== chunk) bom = 3;
    bytes += chunk.length;
    if (failure === null && tooLong === null) {
      const over = guard.scan(body);
      if (over < 0) tokenizer.write(body);
      else {
        tooLong = bytes - body.length + over;
        if (over > 0) tokenizer.write(body.subarray(0, over));
      }
    }
  }
  if (failure === null && tooLong === null) tokenizer.end();
  if (failure === null && tooLong === null && shape.depth > 0) failure = { message: `the file ends inside ${shape.depth} unclosed object(s) or array(s)`, offset: bytes };
  const stored = await intake.finish();
  const broken = failure as { message: string; offset: number } | null;
  if (broken === null && tooLong !== null) {
    const reason = `too_large: a JSON string value longer than ${MAX_JSON_STRING_BYTES} bytes at byte ${tooLong}: not read further (what was read before it is kept)`;
    yield { kind: 'reject', rejection: { category: 'too_large', reason, byteOffset: tooLong, line: null, excerpt: null } };
  } else if (broken !== null) {
    const message = broken.message.replace(/ at chunk position "\d+"| \(absolute position "\d+"\)/g, '');
    const reason = `malformed JSON at byte ${broken.offset}: ${message} (what was read before it is kept)`;
    yield { kind: 'reject', rejection: { category: 'malformed', reason, byteOffset: broken.offset, line: null, excerpt: null } };
  }
  const metadata: Record<string, unknown> = { shape: shape.shape(), strings: shape.strings };
  if (shape.text.truncated) metadata.textTruncated = true;
  yield* documentEvents(JSON_SOURCE_ID, context, stored, {
    kind: 'json',
    text: shape.text.toString(),
    metadata,
    extraction: broken !== null ? 'malformed' : tooLong !== null ? 'too_large' : shape.strings > 0 ? 'text' : 'none',
  });
}

/**
 * Follows where the string values of a JSON text begin and end, chunk by chunk (outside a string,
 * a quote always opens one; inside, a backslash escapes the next byte), to find the first string
 * longer than `limit` bytes before the tokenizer holds it.
 */
export class StringLengthGuard {
  private inString = false;
  private escaped = false;
  private length = 0;

  constructor(private readonly limit: number) {}

  /** The index in `chunk` at which a string value passes the limit, or -1. */
  scan(chunk: Uint8Array): number {
    let at = 0;
    while (at < chunk.length) {
      if (!this.inString) {
        const quote = chunk.indexOf(0x22, at);
        if (quote < 0) return -1;
        this.inString = true;
        this.escaped = false;
        this.length = 0;
        at = quote + 1;
        continue;
      }
      if (this.escaped) {
        this.escaped = false;
        this.length++;
        at++;
      } else {
        const byte = chunk[at]!;
        if (byte === 0x22) this.inString = false;
        else {
          if (byte === 0x5c) this.escaped = true;
          this.length++;
        }
        at++;
      }
      if (this.inString && this.length > this.limit) return at - 1;
    }
    return -1;
  }
}

/** The file offset in a tokenizer message: `(absolute position "123")`. */
function positionIn(message: string): number | null {
  const match = /absolute position "(\d+)"/.exec(message);
  return match ? Number(match[1]) : null;
}
