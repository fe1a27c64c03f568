// The transform and quality stages of one file, as batches ready to load: the source's events,
// skipping those a resumed import already committed, each record normalized, validated, tagged
// with its language and at once encoded as a COPY row (load/encode.ts: so it dies young), each
// refusal turned into a quarantine entry. The same generator runs in the runner's thread or in a
// parse worker (parse-worker.ts); the runner loads what it yields.
import type { Readable } from 'node:stream';
import { ParseError } from '../../errors.js';
import { BatchEncoder, buffersOf, type EncodedTable } from '../load/encode.js';
import type { LoadTarget, QuarantineEntry } from '../load/loader.js';
import type { LakeRecord, QuarantineCategory } from '../records.js';
import type { ParseContext, Source } from '../source.js';
import { normalizeRecord, normalizeText } from '../transform/normalize.js';
import { validateRecord } from '../validate/validate.js';

/**
 * The language tagger, loaded with the first item or document (the records it tags): its n-gram
 * table takes time to load and tens of megabytes of heap, which a file of location points never
 * needs.
 */
let tagLanguage: ((record: LakeRecord) => void) | null = null;

/** A batch also ends once its records span this much of their file (mail: a few hundred messages). */
const MAX_BATCH_INPUT_BYTES = 32 * 1024 * 1024;

export interface ProducedBatch {
  /** The batch's records as COPY rows, with their offsets in the file. */
  tables: EncodedTable[];
  quarantine: QuarantineEntry[];
  /** Parse events of the file (records and rejections) up to the end of this batch: what a resume skips. */
  eventsDone: number;
  /** Byte offset of the batch's last record. */
  lastOffset: number;
  /** The file's last batch (possibly empty: it carries the final checkpoint). */
  last: boolean;
  /**
   * Called once the batch is committed: its COPY buffers (these, when they were transferred back
   * from another thread) are written into again by later batches.
   */
  release(buffers?: readonly ArrayBuffer[]): void;
}

/** How the file's parse ended, filled in by produceBatches as it goes. */
export interface ParseOutcome {
  /** Parse events in the file, resumed ones included. */
  events: number;
  /** The message of the error that ended a file early (truncated JSON...): what came before it is kept. */
  broken: string | null;
}

export interface ProduceOptions {
  /** Parse events a previous, interrupted import committed: skipped. */
  resumedFrom: number;
  /** Records and quarantined values per batch, at most. */
  batchSize: number;
  /** Whose rows these are and which file they come from (the COPY rows carry both). */
  target: LoadTarget;
}

export async function* produceBatches(
  source: Source,
  input: Readable,
  context: ParseContext,
  options: ProduceOptions,
  outcome: ParseOutcome,
): AsyncGenerator<ProducedBatch> {
  const path = context.path;
  const encoder = new BatchEncoder(options.target);
  let quarantined: QuarantineEntry[] = [];
  let lastOffset = 0;
  let batchStart: number | null = null;
  const quarantine = (category: QuarantineCategory, reason: string, where: { byteOffset?: number | null; line?: number | null; excerpt?: string | null }) => {
    // Reasons and excerpts quote the input (a parser's message, the element's first bytes): cleaned
    // like the records' text, since PostgreSQL refuses a NUL in text.
    const excerpt = where.excerpt == null ? null : normalizeText(where.excerpt, null);
    quarantined.push({ entry: path, category, reason: normalizeText(reason, null), byteOffset: where.byteOffset ?? null, line: where.line ?? null, excerpt });
  };
  const take = (last: boolean): ProducedBatch => {
    const tables = encoder.finish();
    const release = (buffers = buffersOf(tables)) => encoder.recycle(buffers);
    const done = { tables, quarantine: quarantined, eventsDone: outcome.events, lastOffset, last, release };
    quarantined = [];
    batchStart = null;
    return done;
  };

  try {
    for await (const event of source.parse(input, context)) {
      outcome.events++;
      if (outcome.events <= options.resumedFrom) continue;
      if (event.kind === 'reject') {
        quarantine(event.rejection.category, event.rejection.reason, event.rejection);
      } else {
        lastOffset = event.offset;
        batchStart ??= event.offset;
        const checked = validateRecord(event.asciiOnly ? event.record : normalizeRecord(event.record, context.repairs));
        if (checked.ok) {
          // After validation: on the text as stored, and only for kept records.
          if (checked.record.type === 'item' || checked.record.type === 'document') {
            tagLanguage ??= (await import('../transform/language.js')).tagLanguage;
            tagLanguage(checked.record);
          }
          encoder.add(checked.record, event.offset);
        } else {
          quarantine(checked.rejection.category, checked.rejection.reason, { ...checked.rejection, byteOffset: event.offset });
        }
      }
      if (encoder.rows + quarantined.length >= options.batchSize || lastOffset - (batchStart ?? lastOffset) >= MAX_BATCH_INPUT_BYTES) {
        yield take(false);
      }
    }
  } catch (cause) {
    if (!(cause instanceof ParseError)) throw cause;
    // A file that ends early keeps what was complete; the rest is quarantined with where it broke.
    quarantine('malformed', cause.message, { byteOffset: cause.byteOffset });
    outcome.broken = normalizeText(cause.message, null);
  }
  yield take(true);
}
