// Streaming extraction of the elements of JSON arrays found at key paths (`locations`,
// `timelineObjects`, a top-level array...), without ever holding the whole document.
//
// The scanner works on bytes: it tracks string/escape state and nesting depth, cuts each element's
// bytes out of the chunks and hands only that slice to `JSON.parse`. Elements that fit in one chunk
// are decoded straight from it; only an element spanning chunks is copied and concatenated, so
// memory is bounded by the largest element (and capped by `maxElementBytes`). Measured on the
// project machines this is several times faster than generic streaming JSON parsers, which
// tokenize every value into JS objects one callback at a time.
//
// Outside the target arrays the scanner follows only the objects on the way to a target (to read
// their keys); any other value is skipped by depth counting, not parsed.
//
// Consecutive elements that lie wholly inside one chunk are parsed with a single JSON.parse of
// `[` + their bytes + `]` (see flushRun), which removes most of the per-element call overhead;
// the generic paths (an element spanning chunks, a malformed element) parse one element at a time.
// The byte offsets reported are file offsets, a UTF-8 BOM included.
import { isUtf8 } from 'node:buffer';
import { ParseError } from '../../errors.js';
import { MAX_NESTING_DEPTH } from './nesting.js';

export interface JsonScanTarget {
  /** Object keys from the root to the wanted value; `[]` is the root value itself. */
  path: readonly string[];
  /**
   * `elements` (default): yield each element of the array found at `path`.
   * `value`: yield the value found at `path` whole, as one element with index 0.
   */
  mode?: 'elements' | 'value';
}

export interface JsonScanOptions {
  /** The file's path, for error messages. */
  file: string;
  targets: readonly JsonScanTarget[];
  /** An element larger than this is reported as `too_large` and skipped without being buffered. */
  maxElementBytes?: number;
  /**
   * Members whose integers past ±2^53 must keep every digit (Records.json's 64-bit `deviceTag`):
   * such a literal is given as a string, its digits and an `n` (`"-8024144696862913506n"`, as a
   * BigInt literal), instead of the nearest double JSON.parse would make of it. See exactIntegers.
   */
  exactIntegerMembers?: readonly string[];
}

export type JsonValueType = 'object' | 'array' | 'string' | 'number' | 'literal';

/** Everything the scanner reports; `target` is an index into `options.targets`. */
export type JsonScanEvent =
  | {
      kind: 'element';
      target: number;
      index: number;
      /** Byte offset in the file where the element starts. */
      offset: number;
      value: unknown;
      /** Invalid UTF-8 sequences replaced by U+FFFD while decoding this element. */
      invalidUtf8: number;
      /**
       * The element's bytes were all ASCII with no escape sequence: every string in `value` is
       * plain ASCII (no NUL, nothing for NFC to change). Known per element, or for a whole run
       * of elements parsed together; false when unknown.
       */
      plainAscii: boolean;
    }
  | { kind: 'malformed'; target: number; index: number; offset: number; reason: string; excerpt: string }
  | { kind: 'too_large'; target: number; index: number; offset: number; bytes: number }
  /** An element nested deeper than MAX_NESTING_DEPTH: skipped by depth counting, never decoded. */
  | { kind: 'too_deep'; target: number; index: number; offset: number; depth: number }
  | { kind: 'not_array'; target: number; offset: number; found: JsonValueType }
  | {
      kind: 'end';
      /** Per target: whether its path was found in the document. */
      matched: boolean[];
      root: JsonValueType;
      /** The root object's first keys (at most `ROOT_KEYS_KEPT`), to say what a file held instead. */
      rootKeys: string[];
    };

/**
 * Larger elements are refused rather than decoded: the biggest real Takeout elements (a Semantic
 * Location History segment with a long raw path) are a few MB, and decoding an element holds its
 * bytes, its string and its parsed value at once, several times its size, inside the `lake`
 * command's bounded heap (bin/lake.js).
 */
export const DEFAULT_MAX_ELEMENT_BYTES = 16 * 1024 * 1024;
const ROOT_KEYS_KEPT = 20;
const EXCERPT_BYTES = 160;

/** Or-ed into `high` when a string holds an escape sequence: above any byte, so `high < 0x80` means plain ASCII. */
const ESCAPED = 0x100;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
/** U+FFFD as UTF-8 (EF BF BD): a replacement character that was already in the input. */
const REPLACEMENT_UTF8 = Buffer.from('\ufffd', 'utf8');

/** Bytes that matter outside strings when skipping a value: quote, braces, brackets. */
const OUTSIDE_STRING_SIGNIFICANT = new Uint8Array(256);
for (const b of [QUOTE, OPEN_BRACE, CLOSE_BRACE, OPEN_BRACKET, CLOSE_BRACKET]) OUTSIDE_STRING_SIGNIFICANT[b] = 1;

function isWhitespace(b: number): boolean {
  return b === SPACE || b === LF || b === CR || b === TAB;
}

/** Where a scalar (number, true/false/null, or garbage) ends: the next delimiter or whitespace. */
function endsScalar(b: number): boolean {
  return b === COMMA || b === CLOSE_BRACKET || b === CLOSE_BRACE || isWhitespace(b);
}

function valueTypeOf(b: number): JsonValueType {
  if (b === OPEN_BRACE) return 'object';
  if (b === OPEN_BRACKET) return 'array';
  if (b === QUOTE) return 'string';
  if (b === 0x2d || (b >= 0x30 && b <= 0x39)) return 'number';
  return 'literal';
}

/**
 * Decodes UTF-8, replacing invalid sequences with U+FFFD, and counts the replacements (the
 * U+FFFD characters that were not already in the input as EF BF BD).
 */
export function decodeUtf8Counting(bytes: Uint8Array): { text: string; invalidUtf8: number } {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = buffer.toString('utf8');
  if (isUtf8(buffer)) return { text, invalidUtf8: 0 };
  let replaced = 0;
  for (let i = text.indexOf('\ufffd'); i !== -1; i = text.indexOf('\ufffd', i + 1)) replaced++;
  let genuine = 0;
  for (let i = buffer.indexOf(REPLACEMENT_UTF8); i !== -1; i = buffer.indexOf(REPLACEMENT_UTF8, i + 3)) genuine++;
  return { text, invalidUtf8: replaced - genuine };
}

// Scanner modes. Outer modes walk the objects on the way to a target; capture/skip modes consume
// one whole value by depth counting.
const enum Mode {
  RootValue, // before the root value
  ObjectFirstKey, // after `{` of an object on a target's path: a key or `}`
  ObjectKey, // after `,` in such an object: a key
  Key, // inside a key string
  Colon, // after a key
  MemberValue, // after `:`
  AfterMember, // after a member value: `,` or `}`
  ArrayFirst, // after `[` of a target array: an element or `]`
  ArrayNext, // after `,` in a target array: an element
  ArrayAfter, // after an element: `,` or `]`
  Capture, // inside a captured container or string
  CaptureScalar,
  Skip, // inside a skipped container or string
  SkipScalar,
  Done, // after the root value: only whitespace
}

/** Where to go once a captured or skipped value ends. */
const enum Return {
  Root,
  Member,
  Element,
}

interface ObjectFrame {
  path: readonly string[];
}

/**
 * The synchronous core: feed it chunks with `write`, then call `end`. Each call returns the
 * events its bytes completed. A structural error that stops the scan is kept and thrown by
 * `throwIfFailed` (and by any later call), so that the elements completed before it in the same
 * chunk are still delivered first.
 */
export class JsonArrayScanner {
  private readonly file: string;
  private readonly targets: readonly JsonScanTarget[];
  private readonly maxElementBytes: number;
  private readonly matched: boolean[];
  /** With `exactIntegerMembers`: the element text with those members' wide integers quoted. */
  private readonly exact: ((text: string) => string) | null;

  private mode: Mode = Mode.RootValue;
  /** Bytes consumed before the current chunk (file offset of its byte 0). */
  private base = 0;
  private bomChecked = false;
  /** Leading bytes held back until there are enough to recognise a UTF-8 BOM. */
  private bomProbe: Buffer | null = null;
  private failure: ParseError | null = null;

  private root: JsonValueType | null = null;
  private readonly rootKeys: string[] = [];
  private readonly frames: ObjectFrame[] = [];

  // Key being read in an on-path object.
  private keyPieces: Buffer[] = [];
  private keyStart = 0;
  private keyEscapePending = false;
  private memberPath: readonly string[] = [];

  // Target array being walked.
  private arrayTarget = -1;
  private arrayIndex = 0;

  // Value being captured or skipped.
  private valueStart = 0;
  private valueReturn: Return = Return.Root;
  private captureTarget = -1;
  private captureIndex = 0;
  private readonly capturePieces: Buffer[] = [];
  private captureBytes = 0;
  /** Index in the current chunk where the captured bytes begin (0 when continuing from a previous chunk). */
  private captureChunkStart = 0;
  private captureOversized = false;
  /** The captured value nests deeper than MAX_NESTING_DEPTH: reported as `too_deep`, not buffered. */
  private captureTooDeep = false;
  private depth = 0;
  private inString = false;
  private escapePending = false;
  /** OR of the captured bytes: when below 0x80 the element is ASCII and needs no UTF-8 check. */
  private high = 0;

  // A run of complete elements of the current chunk whose parsing is deferred (see flushRun).
  private runChunk: Buffer | null = null;
  private runBase = 0;
  private runTarget = 0;
  private runFirstIndex = 0;
  private runLength = 0;
  private runHigh = 0;
  private readonly runStarts: number[] = [];
  private readonly runEnds: number[] = [];

  constructor(options: JsonScanOptions) {
    this.file = options.file;
    this.targets = options.targets;
    this.maxElementBytes = options.maxElementBytes ?? DEFAULT_MAX_ELEMENT_BYTES;
    this.matched = options.targets.map(() => false);
    this.exact = options.exactIntegerMembers?.length ? exactIntegers(options.exactIntegerMembers) : null;
  }

  write(input: Uint8Array): JsonScanEvent[] {
    this.throwIfFailed();
    let chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    const events: JsonScanEvent[] = [];
    if (!this.bomChecked) {
      const probe = this.bomProbe ? Buffer.concat([this.bomProbe, chunk]) : chunk;
      if (probe.length < 3 && (probe.length === 0 || probe[0] === 0xef)) {
        this.bomProbe = probe;
        return events;
      }
      this.bomChecked = true;
      this.bomProbe = null;
      chunk = probe;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
        chunk = chunk.subarray(3);
        this.base = 3;
      }
    }
    try {
      this.scan(chunk, events);
    } catch (error) {
      if (!(error instanceof ParseError)) throw error;
      this.failure = error;
    }
    // The elements completed before the end of the chunk (or before a structural error) are due now.
    this.flushRun(events);
    this.base += chunk.length;
    return events;
  }

  /** Declares the input complete: returns the closing events, or throws where the input stops short. */
  end(): JsonScanEvent[] {
    this.throwIfFailed();
    const events: JsonScanEvent[] = [];
    if (this.bomProbe) {
      const held = this.bomProbe;
      this.bomProbe = null;
      this.bomChecked = true;
      this.scan(held, events);
      this.flushRun(events);
      this.base += held.length;
    }
    const atRootLevel = this.valueReturn === Return.Root;
    if (this.mode === Mode.CaptureScalar && atRootLevel) {
      this.finishCapture(Buffer.alloc(0), 0, events);
      this.mode = Mode.Done;
    } else if (this.mode === Mode.SkipScalar && atRootLevel) {
      this.mode = Mode.Done;
    }
    if (this.mode !== Mode.Done || this.root === null) {
      throw this.truncation();
    }
    this.push(events, { kind: 'end', matched: [...this.matched], root: this.root, rootKeys: [...this.rootKeys] });
    return events;
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  private truncation(): ParseError {
    const end = this.base;
    switch (this.mode) {
      case Mode.RootValue:
        return new ParseError(this.file, end, 'no JSON value (empty file)');
      case Mode.Capture:
      case Mode.CaptureScalar:
        return new ParseError(
          this.file,
          this.valueStart,
          `input ends inside element ${this.captureIndex} of ${describePath(this.targets[this.captureTarget]!.path)} (truncated file?)`,
        );
      case Mode.Skip:
      case Mode.SkipScalar:
        return new ParseError(this.file, this.valueStart, 'input ends inside a value (truncated file?)');
      case Mode.Key:
        return new ParseError(this.file, this.keyStart, 'input ends inside an object key (truncated file?)');
      default:
        return new ParseError(this.file, end, 'input ends before the JSON document is complete (truncated file?)');
    }
  }

  private fail(offset: number, problem: string): never {
    throw new ParseError(this.file, offset, problem);
  }

  private unexpected(b: number, offset: number, expected: string): never {
    const shown = b >= 0x20 && b < 0x7f ? `'${String.fromCharCode(b)}'` : `byte 0x${b.toString(16).padStart(2, '0')}`;
    this.fail(offset, `unexpected ${shown}, expected ${expected}`);
  }

  private scan(chunk: Buffer, events: JsonScanEvent[]): void {
    const n = chunk.length;
    let i = 0;
    this.captureChunkStart = 0;
    while (i < n) {
      switch (this.mode) {
        case Mode.Capture:
        case Mode.Skip: {
          const end = this.scanContainerOrString(chunk, i, n);
          if (end < 0) {
            if (this.mode === Mode.Capture) this.keepCapturedPiece(chunk);
            return;
          }
          if (this.mode === Mode.Capture) this.finishCapture(chunk, end, events);
          this.returnAfterValue();
          i = end;
          break;
        }
        case Mode.CaptureScalar:
        case Mode.SkipScalar: {
          let j = i;
          while (j < n && !endsScalar(chunk[j]!)) this.high |= chunk[j++]!;
          if (j === n) {
            if (this.mode === Mode.CaptureScalar) this.keepCapturedPiece(chunk);
            return;
          }
          if (this.mode === Mode.CaptureScalar) this.finishCapture(chunk, j, events);
          this.returnAfterValue();
          i = j;
          break;
        }
        case Mode.Key:
          i = this.scanKey(chunk, i, n);
          break;
        default: {
          const b = chunk[i]!;
          if (isWhitespace(b)) i++;
          else if (this.structural(b, this.base + i, events)) i++;
          // else: a value starts at this byte; the capture/skip mode scans it from here
          else this.captureChunkStart = i;
          break;
        }
      }
    }
  }

  /**
   * One byte of document structure outside captured/skipped values. Returns false when the byte
   * starts a value that a capture/skip mode must scan, true when it was consumed.
   */
  private structural(b: number, offset: number, events: JsonScanEvent[]): boolean {
    switch (this.mode) {
      case Mode.RootValue:
        this.root = valueTypeOf(b);
        return this.startValue(b, offset, [], Return.Root, events);
      case Mode.ObjectFirstKey:
      case Mode.ObjectKey:
        if (b === QUOTE) {
          this.mode = Mode.Key;
          this.keyStart = offset;
          this.keyPieces = [];
          this.keyEscapePending = false;
          return true;
        }
        if (b === CLOSE_BRACE && this.mode === Mode.ObjectFirstKey) {
          this.closeObject();
          return true;
        }
        return this.unexpected(b, offset, 'an object key');
      case Mode.Colon:
        if (b !== COLON) this.unexpected(b, offset, "':' after an object key");
        this.mode = Mode.MemberValue;
        return true;
      case Mode.MemberValue:
        return this.startValue(b, offset, this.memberPath, Return.Member, events);
      case Mode.AfterMember:
        if (b === COMMA) this.mode = Mode.ObjectKey;
        else if (b === CLOSE_BRACE) this.closeObject();
        else this.unexpected(b, offset, "',' or '}' after an object member");
        return true;
      case Mode.ArrayFirst:
      case Mode.ArrayNext:
        if (b === CLOSE_BRACKET) {
          if (this.mode === Mode.ArrayNext) this.reportStray(offset, "trailing ',' before ']'", events);
          this.closeTargetArray();
          return true;
        }
        if (b === COMMA) {
          this.reportStray(offset, "empty element between ','", events);
          this.arrayIndex++;
          this.mode = Mode.ArrayNext;
          return true;
        }
        if (b === CLOSE_BRACE || b === COLON) this.unexpected(b, offset, "an array element or ']'");
        this.beginCapture(b, offset, this.arrayTarget, this.arrayIndex, Return.Element);
        return false;
      case Mode.ArrayAfter:
        if (b === COMMA) this.mode = Mode.ArrayNext;
        else if (b === CLOSE_BRACKET) this.closeTargetArray();
        else if (b === CLOSE_BRACE || b === COLON) this.unexpected(b, offset, "',' or ']' after an array element");
        else {
          // A missing comma: report it and read on, taking this byte as the next element's start.
          this.reportStray(offset, "missing ',' between array elements", events);
          this.beginCapture(b, offset, this.arrayTarget, this.arrayIndex, Return.Element);
          return false;
        }
        return true;
      case Mode.Done:
        return this.unexpected(b, offset, 'end of input after the JSON document');
      default:
        throw new Error(`JsonArrayScanner: structural byte in mode ${this.mode}`);
    }
  }

  private reportStray(offset: number, reason: string, events: JsonScanEvent[]): void {
    this.push(events, { kind: 'malformed', target: this.arrayTarget, index: this.arrayIndex, offset, reason, excerpt: '' });
  }

  /** A value at `path` begins with byte `b`: descend into it, capture it, or skip it. */
  private startValue(b: number, offset: number, path: readonly string[], ret: Return, events: JsonScanEvent[]): boolean {
    let onTheWay = ret === Return.Root; // the root object is always walked, to report its keys
    for (let t = 0; t < this.targets.length; t++) {
      const target = this.targets[t]!;
      const relation = comparePath(path, target.path);
      if (relation === 'equal') {
        this.matched[t] = true;
        if (target.mode === 'value') {
          this.beginCapture(b, offset, t, 0, ret);
          return false;
        }
        if (b === OPEN_BRACKET) {
          this.arrayTarget = t;
          this.arrayIndex = 0;
          this.mode = Mode.ArrayFirst;
          return true;
        }
        this.push(events, { kind: 'not_array', target: t, offset, found: valueTypeOf(b) });
      } else if (relation === 'prefix') {
        onTheWay = true;
      }
    }
    if (onTheWay && b === OPEN_BRACE) {
      this.frames.push({ path });
      this.mode = Mode.ObjectFirstKey;
      return true;
    }
    this.beginSkip(b, offset, ret);
    return false;
  }

  private beginCapture(b: number, offset: number, target: number, index: number, ret: Return): void {
    this.valueStart = offset;
    this.valueReturn = ret;
    this.captureTarget = target;
    this.captureIndex = index;
    this.capturePieces.length = 0;
    this.captureBytes = 0;
    this.captureOversized = false;
    this.captureTooDeep = false;
    this.high = 0;
    this.depth = 0;
    this.inString = false;
    this.escapePending = false;
    this.mode = b === OPEN_BRACE || b === OPEN_BRACKET || b === QUOTE ? Mode.Capture : Mode.CaptureScalar;
  }

  private beginSkip(b: number, offset: number, ret: Return): void {
    this.valueStart = offset;
    this.valueReturn = ret;
    this.depth = 0;
    this.inString = false;
    this.escapePending = false;
    if (b === CLOSE_BRACE || b === CLOSE_BRACKET || b === COMMA || b === COLON) {
      this.unexpected(b, offset, 'a value');
    }
    this.mode = b === OPEN_BRACE || b === OPEN_BRACKET || b === QUOTE ? Mode.Skip : Mode.SkipScalar;
  }

  private returnAfterValue(): void {
    if (this.valueReturn === Return.Element) {
      this.arrayIndex++;
      this.mode = Mode.ArrayAfter;
    } else if (this.valueReturn === Return.Member) {
      this.mode = Mode.AfterMember;
    } else {
      this.mode = Mode.Done;
    }
  }

  private closeTargetArray(): void {
    this.arrayTarget = -1;
    // The array itself was the value of a member (or the root): continue after it.
    this.mode = this.frames.length > 0 ? Mode.AfterMember : Mode.Done;
  }

  private closeObject(): void {
    this.frames.pop();
    this.mode = this.frames.length > 0 ? Mode.AfterMember : Mode.Done;
  }

  /**
   * The hot loop: consumes a container or string by depth counting from `start`. Returns the
   * index just past its end, or -1 when the chunk ends first (state is kept for the next chunk).
   */
  private scanContainerOrString(chunk: Buffer, start: number, n: number): number {
    let i = start;
    let depth = this.depth;
    let inString = this.inString;
    let high = this.high;
    if (this.escapePending) {
      // The byte after a backslash that ended the previous chunk.
      this.escapePending = false;
      high |= chunk[i]!;
      i++;
    }
    // Two loops: a tight one inside strings (only `"` and `\` matter) and a table lookup outside
    // them; measured faster than one loop with a branch per byte.
    scanning: while (i < n) {
      if (inString) {
        for (;;) {
          if (i >= n) break scanning;
          const b = chunk[i]!;
          high |= b;
          if (b === QUOTE) break;
          if (b === BACKSLASH) {
            high |= ESCAPED;
            i += 2;
          } else {
            i++;
          }
        }
        inString = false;
        i++;
        if (depth === 0) {
          this.high = high;
          return i;
        }
      } else {
        const b = chunk[i]!;
        high |= b;
        i++;
        if (OUTSIDE_STRING_SIGNIFICANT[b] !== 0) {
          if (b === QUOTE) {
            inString = true;
          } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
            // Only a flag: a skipped value needs no bound, its depth is just a counter.
            if (++depth > MAX_NESTING_DEPTH) this.captureTooDeep = true;
          } else if (--depth === 0) {
            this.high = high;
            return i;
          }
        }
      }
    }
    // i > n: the chunk ended on a backslash inside a string; the next chunk's first byte is escaped.
    this.escapePending = i > n;
    this.depth = depth;
    this.inString = inString;
    this.high = high;
    return -1;
  }


  /** Keeps the captured bytes of this chunk (from `from`) for an element that continues in the next one. */
  private keepCapturedPiece(chunk: Buffer): void {
    const start = this.captureChunkStart;
    const length = chunk.length - start;
    this.captureBytes += length;
    if (this.captureOversized || this.captureTooDeep) {
      this.capturePieces.length = 0;
      return;
    }
    if (this.captureBytes > this.maxElementBytes) {
      this.captureOversized = true;
      this.capturePieces.length = 0;
      return;
    }
    // A copy: the producer may reuse its buffer, and a copy lets the rest of the chunk be freed.
    this.capturePieces.push(Buffer.from(chunk.subarray(start, chunk.length)));
  }

  private finishCapture(chunk: Buffer, end: number, events: JsonScanEvent[]): void {
    const start = this.captureChunkStart;
    const target = this.captureTarget;
    const index = this.captureIndex;
    const offset = this.valueStart;
    const totalBytes = this.captureBytes + (end - start);
    if (this.captureTooDeep) {
      this.capturePieces.length = 0;
      this.push(events, { kind: 'too_deep', target, index, offset, depth: MAX_NESTING_DEPTH });
      return;
    }
    if (this.captureOversized || totalBytes > this.maxElementBytes) {
      this.capturePieces.length = 0;
      this.push(events, { kind: 'too_large', target, index, offset, bytes: totalBytes });
      return;
    }
    if (this.capturePieces.length === 0 && this.valueReturn === Return.Element) {
      // Wholly inside this chunk: defer, to parse it together with its neighbours. A run holds
      // only consecutive elements of one array (only `,` and whitespace between them).
      if (this.runLength > 0 && (this.runTarget !== target || this.runFirstIndex + this.runLength !== index)) this.flushRun(events);
      if (this.runLength === 0) {
        this.runChunk = chunk;
        this.runBase = this.base;
        this.runTarget = target;
        this.runFirstIndex = index;
        this.runHigh = 0;
      }
      this.runStarts[this.runLength] = start;
      this.runEnds[this.runLength] = end;
      this.runLength++;
      this.runHigh |= this.high;
      return;
    }
    let bytes: Buffer;
    if (this.capturePieces.length === 0) {
      bytes = chunk.subarray(start, end);
    } else {
      this.capturePieces.push(chunk.subarray(start, end));
      bytes = Buffer.concat(this.capturePieces, totalBytes);
      this.capturePieces.length = 0;
    }
    this.push(events, parseElement(bytes, this.high, target, index, offset, this.exact));
  }

  /**
   * Parses the deferred run of consecutive elements of one chunk. They are separated only by
   * commas and whitespace, so `[` + their bytes + `]` is one JSON array: a single JSON.parse
   * instead of one per element (measured faster for small elements). Should any element be
   * malformed, or the bytes not be valid UTF-8, each element is parsed alone to report it exactly.
   */
  private flushRun(events: JsonScanEvent[]): void {
    const length = this.runLength;
    if (length === 0) return;
    this.runLength = 0;
    const chunk = this.runChunk!;
    this.runChunk = null;
    const target = this.runTarget;
    const firstIndex = this.runFirstIndex;
    if (length > 1) {
      const from = this.runStarts[0]!;
      const to = this.runEnds[length - 1]!;
      const ascii = (this.runHigh & 0x80) === 0;
      if (ascii || isUtf8(chunk.subarray(from, to))) {
        let values: unknown;
        try {
          const text = chunk.toString(ascii ? 'latin1' : 'utf8', from, to);
          values = JSON.parse(`[${this.exact ? this.exact(text) : text}]`);
        } catch {
          values = null; // some element is malformed: fall through to one at a time
        }
        if (Array.isArray(values) && values.length === length) {
          for (let k = 0; k < length; k++) {
            events.push({ kind: 'element', target, index: firstIndex + k, offset: this.runBase + this.runStarts[k]!, value: values[k], invalidUtf8: 0, plainAscii: this.runHigh < 0x80 });
          }
          return;
        }
      }
    }
    for (let k = 0; k < length; k++) {
      const start = this.runStarts[k]!;
      const end = this.runEnds[k]!;
      const bytes = chunk.subarray(start, end);
      // Per element, the high-bit check is redone by decoding (the run's flag is only an OR).
      events.push(parseElement(bytes, this.runHigh, target, firstIndex + k, this.runBase + start, this.exact));
    }
  }

  /** Every event goes through here so that deferred elements before it keep their order. */
  private push(events: JsonScanEvent[], event: JsonScanEvent): void {
    if (this.runLength > 0) this.flushRun(events);
    events.push(event);
  }


  /** Reads an object key (collecting its raw bytes across chunks), then decides what its value is. */
  private scanKey(chunk: Buffer, start: number, n: number): number {
    let i = start;
    if (this.keyEscapePending) {
      this.keyEscapePending = false;
      i++;
    }
    while (i < n) {
      const b = chunk[i]!;
      if (b === BACKSLASH) {
        i += 2;
        continue;
      }
      if (b === QUOTE) {
        this.keyPieces.push(chunk.subarray(start, i));
        const raw = Buffer.concat(this.keyPieces).toString('utf8');
        this.keyPieces = [];
        const key = parseJsonKey(raw);
        if (key === null) this.fail(this.keyStart, 'invalid object key');
        const frame = this.frames[this.frames.length - 1]!;
        if (this.frames.length === 1 && this.rootKeys.length < ROOT_KEYS_KEPT) this.rootKeys.push(key);
        this.memberPath = [...frame.path, key];
        this.mode = Mode.Colon;
        return i + 1;
      }
      i++;
    }
    this.keyEscapePending = i > n;
    this.keyPieces.push(Buffer.from(chunk.subarray(start, n)));
    return n;
  }
}

function parseElement(bytes: Buffer, high: number, target: number, index: number, offset: number, exact: ((text: string) => string) | null): JsonScanEvent {
  let text: string;
  let invalidUtf8 = 0;
  if ((high & 0x80) === 0) {
    // Pure ASCII: latin1 decoding is a plain copy and gives the same string.
    text = bytes.toString('latin1');
  } else {
    ({ text, invalidUtf8 } = decodeUtf8Counting(bytes));
  }
  if (exact) text = exact(text);
  try {
    return { kind: 'element', target, index, offset, value: JSON.parse(text) as unknown, invalidUtf8, plainAscii: high < 0x80 };
  } catch (error) {
    // Only now, off the hot path: raw control bytes in strings (JSON.parse refuses them) are read
    // as the characters they stand for; the NULs among them are then removed and counted by
    // normalization like an escaped \u0000, since the element is not plain ASCII any more.
    const escaped = escapeRawControlBytes(text);
    if (escaped !== null) {
      try {
        return { kind: 'element', target, index, offset, value: JSON.parse(escaped) as unknown, invalidUtf8, plainAscii: false };
      } catch {
        // malformed for another reason as well: reported with the first error
      }
    }
    const reason = error instanceof Error ? error.message : String(error);
    return { kind: 'malformed', target, index, offset, reason: `invalid JSON: ${reason}`, excerpt: excerptOf(bytes) };
  }
}

/**
 * A rewrite of element text giving the integers of `members` that a double cannot hold exactly
 * as strings: `"deviceTag": -8024144696862913506` → `"deviceTag": "-8024144696862913506n"`. Node
 * 20's JSON.parse has no reviver source text (V8 11.4's `context.source` came with Node 21), and a
 * reviver would call back for every value of every element; one regular expression search per
 * text, which finds nothing in most, keeps the hot path as it was. A member name is matched with
 * its quotes, so text inside a string value (where quotes are escaped) never matches; integers of
 * up to 15 digits are always exact and are left alone.
 */
export function exactIntegers(members: readonly string[]): (text: string) => string {
  const names = members.map((name) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  const pattern = new RegExp(`("(?:${names})"\\s*:\\s*)(-?\\d{16,})(?=\\s*[,}\\]])`, 'g');
  const quote = (whole: string, head: string, digits: string): string => (Number.isSafeInteger(Number(digits)) ? whole : `${head}"${digits}n"`);
  return (text) => text.replace(pattern, quote);
}

/**
 * `text` (JSON) with the raw control characters (U+0000-U+001F) inside its strings written as
 * `\u00XX` escapes, or null when it holds none. JSON forbids them raw, but exports do contain
 * them (a NUL in a Records.json `source`), and the text around them is good.
 */
export function escapeRawControlBytes(text: string): string | null {
  let out: string | null = null;
  let copied = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!inString) {
      if (c === QUOTE) inString = true;
    } else if (c === BACKSLASH) {
      i++;
    } else if (c === QUOTE) {
      inString = false;
    } else if (c < 0x20) {
      out = `${out ?? ''}${text.slice(copied, i)}\\u${c.toString(16).padStart(4, '0')}`;
      copied = i + 1;
    }
  }
  return out === null ? null : out + text.slice(copied);
}

/** An object key's text (between its quotes, as in the file) decoded; null when it is not a JSON string. */
function parseJsonKey(raw: string): string | null {
  for (const text of [raw, escapeRawControlBytes(`"${raw}"`)?.slice(1, -1)]) {
    if (text === undefined) continue;
    try {
      return JSON.parse(`"${text}"`) as string;
    } catch {
      // tried with raw control bytes escaped next
    }
  }
  return null;
}

function comparePath(path: readonly string[], target: readonly string[]): 'equal' | 'prefix' | 'none' {
  if (path.length > target.length) return 'none';
  for (let k = 0; k < path.length; k++) if (path[k] !== target[k]) return 'none';
  return path.length === target.length ? 'equal' : 'prefix';
}

export function describePath(path: readonly string[]): string {
  return path.length === 0 ? 'the top-level array' : `"${path.join('.')}"`;
}

function excerptOf(bytes: Buffer): string {
  return bytes.subarray(0, EXCERPT_BYTES).toString('utf8');
}

/** Chunks to Buffers: accepts Buffers and other Uint8Arrays; refuses decoded strings (offsets would be wrong). */
function asBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  throw new TypeError('JSON scanner input must yield bytes (Buffer/Uint8Array), not decoded text');
}

/**
 * Scans `input` for all `targets` in one pass. Yields the events of each chunk as one batch (fewer
 * async steps on the hot path); throws a `ParseError` after delivering every complete element when
 * the input is truncated or structurally broken outside the elements.
 */
export async function* scanJsonBatches(input: AsyncIterable<unknown>, options: JsonScanOptions): AsyncGenerator<JsonScanEvent[]> {
  const scanner = new JsonArrayScanner(options);
  for await (const chunk of input) {
    const events = scanner.write(asBytes(chunk));
    if (events.length > 0) yield events;
    scanner.throwIfFailed();
  }
  yield scanner.end();
}

/** The elements of the one array at `path` (`[]`: the top-level array), one event at a time. */
export async function* jsonArrayElements(
  input: AsyncIterable<unknown>,
  options: { path: readonly string[]; file: string; maxElementBytes?: number },
): AsyncGenerator<JsonScanEvent> {
  const scanOptions: JsonScanOptions = { file: options.file, targets: [{ path: options.path }] };
  if (options.maxElementBytes !== undefined) scanOptions.maxElementBytes = options.maxElementBytes;
  for await (const batch of scanJsonBatches(input, scanOptions)) yield* batch;
}
