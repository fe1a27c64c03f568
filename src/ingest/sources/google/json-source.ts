// The plumbing every Google JSON source shares: run the streaming scanner over the file, turn
// its malformed / too-large / wrong-shape reports into rejections with byte offsets, count invalid
// UTF-8 repairs, and refuse to end quietly when the file had none of the structure looked for.
import { describePath, scanJsonBatches, type JsonScanEvent, type JsonScanTarget, type JsonValueType } from '../../parse/json-array.js';
import type { LakeRecord, ParseEvent, QuarantineCategory } from '../../records.js';
import type { ParseContext } from '../../source.js';

export interface SourceTarget extends JsonScanTarget {
  /**
   * One of several alternative shapes (an object with `semanticSegments`, or a top-level array):
   * finding it with the wrong type is not an error in itself. The file is still refused when no
   * target at all is usable.
   */
  optional?: boolean;
}

export interface ElementPosition {
  /** Byte offset where the element starts. */
  offset: number;
  /** Index into the targets. */
  target: number;
  index: number;
  /** Every string in the element is plain ASCII (see JsonScanEvent). */
  plainAscii: boolean;
}

export interface JsonSourceOptions {
  targets: readonly SourceTarget[];
  /** What the source looks for, for the "no … found" message: `"locations" array`. */
  expected: string;
  maxElementBytes?: number;
  /** Members whose integers past ±2^53 arrive as `"<digits>n"` strings (JsonScanOptions.exactIntegerMembers). */
  exactIntegerMembers?: readonly string[];
  /** Turns one element into events, pushed onto `out` (an array, not a generator: this is the hot path). */
  onElement(value: unknown, at: ElementPosition, out: ParseEvent[]): void;
  /** Called once the whole document was read (not after a ParseError). */
  onEnd?(out: ParseEvent[]): void;
}

const EXCERPT_CHARS = 200;

/**
 * Streams a source's events. A hand-written async iterator rather than an async generator: the
 * records are produced a chunk at a time, and handing out each buffered one with a resolved
 * promise costs less than an async generator's `yield` (measured on Records.json).
 */
export function parseJsonSource(input: AsyncIterable<unknown>, context: ParseContext, options: JsonSourceOptions): AsyncIterableIterator<ParseEvent> {
  return new JsonSourceEvents(input, context, options);
}

class JsonSourceEvents implements AsyncIterableIterator<ParseEvent> {
  private readonly batches: AsyncGenerator<JsonScanEvent[]>;
  private readonly wrongType: boolean[];
  private buffer: ParseEvent[] = [];
  private position = 0;
  private finished = false;
  private refilling: Promise<IteratorResult<ParseEvent>> | null = null;

  constructor(
    input: AsyncIterable<unknown>,
    private readonly context: ParseContext,
    private readonly options: JsonSourceOptions,
  ) {
    const { targets, maxElementBytes, exactIntegerMembers } = options;
    this.wrongType = targets.map(() => false);
    this.batches = scanJsonBatches(input, {
      file: context.path,
      targets,
      ...(maxElementBytes === undefined ? {} : { maxElementBytes }),
      ...(exactIntegerMembers === undefined ? {} : { exactIntegerMembers }),
    });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ParseEvent>> {
    if (this.refilling) return this.refilling.then(() => this.next());
    if (this.position < this.buffer.length) return Promise.resolve({ value: this.buffer[this.position++]!, done: false });
    this.refilling = this.refill().finally(() => {
      this.refilling = null;
    });
    return this.refilling;
  }

  async return(): Promise<IteratorResult<ParseEvent>> {
    this.finished = true;
    this.buffer = [];
    this.position = 0;
    await this.batches.return(undefined);
    return { value: undefined, done: true };
  }

  private async refill(): Promise<IteratorResult<ParseEvent>> {
    this.buffer = [];
    this.position = 0;
    while (this.buffer.length === 0) {
      if (this.finished) return { value: undefined, done: true };
      const batch = await this.batches.next();
      if (batch.done) this.finished = true;
      else for (const event of batch.value) this.translate(event, this.buffer);
    }
    return { value: this.buffer[this.position++]!, done: false };
  }

  private translate(event: JsonScanEvent, out: ParseEvent[]): void {
    const { targets } = this.options;
    switch (event.kind) {
      case 'element':
        if (event.invalidUtf8 > 0) this.context.repairs.invalidUtf8 += event.invalidUtf8;
        this.options.onElement(event.value, { offset: event.offset, target: event.target, index: event.index, plainAscii: event.plainAscii }, out);
        return;
      case 'malformed':
        out.push(reject('malformed', `element ${event.index} of ${describePath(targets[event.target]!.path)}: ${event.reason}`, event.offset, event.excerpt || null));
        return;
      case 'too_large':
        out.push(reject('too_large', `element ${event.index} of ${describePath(targets[event.target]!.path)} is ${event.bytes} bytes, over the limit`, event.offset));
        return;
      case 'too_deep':
        out.push(reject('too_large', `element ${event.index} of ${describePath(targets[event.target]!.path)} nests deeper than ${event.depth} levels, over the limit`, event.offset));
        return;
      case 'not_array': {
        this.wrongType[event.target] = true;
        const target = targets[event.target]!;
        if (!target.optional) out.push(reject('unsupported', `${describePath(target.path)} is ${article(event.found)}, expected an array`, event.offset));
        return;
      }
      case 'end': {
        const usable = event.matched.some((found, t) => found && !this.wrongType[t]);
        if (!usable) {
          const keys = event.rootKeys.length > 0 ? ` with keys ${event.rootKeys.map((k) => JSON.stringify(k)).join(', ')}` : '';
          out.push(reject('unsupported', `no ${this.options.expected} found: the file holds ${article(event.root)}${keys}`, 0));
        } else {
          this.options.onEnd?.(out);
        }
        return;
      }
    }
  }
}

function article(type: JsonValueType): string {
  return type === 'object' || type === 'array' ? `an ${type}` : `a ${type}`;
}

export function reject(category: QuarantineCategory, reason: string, byteOffset: number, excerpt: string | null = null): ParseEvent {
  return { kind: 'reject', rejection: { category, reason, byteOffset, excerpt } };
}

/** A rejection of a parsed element, with a bounded excerpt of its JSON. */
export function rejectValue(category: QuarantineCategory, reason: string, offset: number, value: unknown): ParseEvent {
  return reject(category, reason, offset, excerptOf(value));
}

export function excerptOf(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}

export function emit(record: LakeRecord, offset: number, asciiOnly = false): ParseEvent {
  return { kind: 'record', record, offset, asciiOnly };
}

/**
 * Counts elements of kinds a source deliberately does not import (Timeline.json raw signals of
 * a kind it does not know...) and reports each kind once, with its count and first offset, instead of one
 * quarantine row per element.
 */
export class SkippedKinds {
  private readonly counts = new Map<string, { count: number; firstOffset: number }>();

  add(kind: string, offset: number): void {
    const entry = this.counts.get(kind);
    if (entry) entry.count++;
    else this.counts.set(kind, { count: 1, firstOffset: offset });
  }

  reportTo(out: ParseEvent[], describe: (kind: string, count: number) => string): void {
    for (const [kind, { count, firstOffset }] of this.counts) out.push(reject('unsupported', describe(kind, count), firstOffset));
  }
}
