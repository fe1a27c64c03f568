// What every document source does with its input: stream it into the blob store while hashing it,
// sniff its first bytes, optionally keep the whole of it in memory when it is small enough to
// extract text from (PDF, DOCX), and build the two records a document ends as: the user's
// reference to the blob and the `user_data.documents` row.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { byteChunks } from '../../../parse/byte-chunks.js';
import { sniffMimeType, type SniffResult } from '../../../extract/sniff.js';
import type { BlobRefRecord, DocumentExtraction, DocumentRecord, ParseEvent } from '../../../records.js';
import type { ParseContext } from '../../../source.js';
import { TEXT_MAX_BYTES } from '../../../validate/validate.js';
import { scanPii } from '../../../transform/pii.js';

/**
 * PDF and DOCX text is extracted from the whole file in memory (pdf.js and mammoth read a file,
 * not a stream: both need random access to a PDF's cross-reference table or a zip's central
 * directory). Files up to this size are held for it; bigger ones are still stored as blobs,
 * without text (extraction `too_large`).
 */
export const MAX_EXTRACT_BYTES = 64 * 1024 * 1024;

/** Extracted text kept per document: the validator's cap on free text (1 MiB of UTF-8). */
export const MAX_TEXT_BYTES = TEXT_MAX_BYTES;

/** The head that is sniffed: the same 64 KiB the runner sniffs, so both see the same type. */
const HEAD_BYTES = 64 * 1024;

export interface Stored {
  sha256: string;
  size: number;
  /** False when the import has no blob store (ParseContext.blobs null): only the row is kept. */
  kept: boolean;
  sniff: SniffResult;
  /** The whole file when `collectUpTo` was given and the file fits; null otherwise. */
  whole: Buffer | null;
}

/**
 * Reads `input` once: each chunk goes to the blob store (with back-pressure), into the hash and,
 * through `chunks()`, to the caller; `finish()` (after `chunks()` ended) waits for the blob.
 */
export class Intake {
  private readonly hash = createHash('sha256');
  private size = 0;
  private readonly headParts: Buffer[] = [];
  private headBytes = 0;
  private collected: Buffer[] | null;
  private collectedBytes = 0;
  private readonly sink: PassThrough | null;
  private readonly put: Promise<{ sha256: string; size: number }> | null;
  /** Reading the input failed (as opposed to the caller stopping): the file cannot be kept. */
  readFailed = false;

  constructor(
    private readonly input: Readable,
    private readonly context: ParseContext,
    private readonly collectUpTo: number | null = null,
  ) {
    this.collected = collectUpTo === null ? null : [];
    if (context.blobs) {
      this.sink = new PassThrough({ highWaterMark: 1 << 20 });
      this.put = context.blobs.put(this.sink);
      this.put.catch(() => {}); // awaited in finish() or by the write that waits on it
    } else {
      this.sink = null;
      this.put = null;
    }
  }

  async *chunks(): AsyncGenerator<Buffer> {
    let completed = false;
    try {
      for await (const chunk of byteChunks(this.input, this.context.path)) {
        this.hash.update(chunk);
        this.size += chunk.length;
        if (this.headBytes < HEAD_BYTES) {
          this.headParts.push(chunk.subarray(0, HEAD_BYTES - this.headBytes));
          this.headBytes += Math.min(chunk.length, HEAD_BYTES - this.headBytes);
        }
        if (this.collected !== null) {
          this.collectedBytes += chunk.length;
          if (this.collectedBytes > (this.collectUpTo ?? 0)) this.collected = null;
          else this.collected.push(chunk);
        }
        if (this.sink && !this.sink.write(chunk)) {
          await Promise.race([once(this.sink, 'drain'), this.put!.then(() => Promise.reject(new Error('the blob store stopped reading')))]);
        }
        yield chunk;
      }
      completed = true;
    } catch (error) {
      this.readFailed = true;
      throw error;
    } finally {
      if (completed) this.sink?.end();
      else this.sink?.destroy(new Error('document input stopped early'));
    }
  }

  /** The head read so far (all of it once `chunks()` passed 64 KiB or the end). */
  head(): Buffer {
    return Buffer.concat(this.headParts);
  }

  async finish(): Promise<Stored> {
    const sha256 = this.hash.digest('hex');
    let kept = false;
    if (this.put) {
      const result = await this.put;
      if (result.sha256 !== sha256 || result.size !== this.size) {
        throw new Error(`${this.context.path}: the blob store saw ${result.size} bytes (${result.sha256}), the source ${this.size} (${sha256})`);
      }
      kept = true;
    }
    const whole = this.collected === null ? null : Buffer.concat(this.collected, this.collectedBytes);
    this.collected = null;
    return { sha256, size: this.size, kept, sniff: sniffMimeType(this.head(), this.context.path), whole };
  }
}

/** Reads the whole input through an Intake, nothing else done with the chunks. */
export async function storeWhole(input: Readable, context: ParseContext, collectUpTo: number | null): Promise<Stored> {
  const intake = new Intake(input, context, collectUpTo);
  for await (const _ of intake.chunks());
  return intake.finish();
}

export interface DocumentFields {
  kind: DocumentRecord['kind'];
  title?: string | null;
  text: string | null;
  metadata: Record<string, unknown>;
  extraction: DocumentExtraction;
  attributes?: Record<string, unknown>;
}

/** The blob reference (when the content was kept) and the document row, both at offset 0. */
export function documentEvents(sourceId: string, context: ParseContext, stored: Stored, fields: DocumentFields): ParseEvent[] {
  const events: ParseEvent[] = [];
  const mimeType = stored.sniff.detected ?? stored.sniff.expected;
  if (stored.kept) {
    const ref: BlobRefRecord = {
      type: 'blob_ref',
      source: sourceId,
      key: [stored.sha256, context.path],
      sha256: stored.sha256,
      size: stored.size,
      mimeType,
      originalName: context.path,
    };
    events.push({ kind: 'record', record: ref, offset: 0 });
  }
  const text = fields.text === null || fields.text.trim() === '' ? null : fields.text;
  const title = fields.title?.trim() || path.posix.basename(context.path) || null;
  const attributes: Record<string, unknown> = { ...fields.attributes };
  if (!stored.kept) attributes.contentKept = false;
  const document: DocumentRecord = {
    type: 'document',
    source: sourceId,
    key: [stored.sha256, context.path],
    sha256: stored.sha256,
    size: stored.size,
    path: context.path,
    kind: fields.kind,
    mimeType: stored.sniff.detected,
    mimeFromName: stored.sniff.expected,
    title,
    text,
    language: null, // detected from the text with the other records' (pipeline/batches.ts)
    metadata: fields.metadata,
    pii: text === null ? null : piiCounts(text),
    extraction: fields.extraction,
  };
  if (Object.keys(attributes).length > 0) document.attributes = attributes;
  events.push({ kind: 'record', record: document, offset: 0 });
  return events;
}

/** scanPii over the text: only the kinds found, with their counts (`{}` when none). */
export function piiCounts(text: string): Record<string, number> {
  const { counts } = scanPii(text, { samplesPerKind: 0 });
  return Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));
}

/**
 * Collects text up to MAX_TEXT_BYTES of UTF-8 and counts what did not fit; the validator makes
 * the final cut on a character boundary.
 */
export class BoundedText {
  private readonly parts: string[] = [];
  /** UTF-16 units held; at most 3 UTF-8 bytes each, so MAX_TEXT_BYTES of units is always enough. */
  private held = 0;
  truncated = false;

  constructor(private readonly limitUnits = MAX_TEXT_BYTES) {}

  get full(): boolean {
    return this.held >= this.limitUnits;
  }

  add(text: string): void {
    if (text.length === 0) return;
    if (this.held >= this.limitUnits) {
      this.truncated = true;
      return;
    }
    const room = this.limitUnits - this.held;
    const part = text.length > room ? text.slice(0, room) : text;
    if (part.length < text.length) this.truncated = true;
    this.parts.push(part);
    this.held += part.length;
  }

  toString(): string {
    return this.parts.join('');
  }
}

/** A rejection at a byte offset (line unknown). */
export function rejectAt(category: 'malformed' | 'encrypted' | 'too_large', reason: string, byteOffset: number | null): ParseEvent {
  return { kind: 'reject', rejection: { category, reason, byteOffset, line: null, excerpt: null } };
}
