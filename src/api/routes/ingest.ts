// POST /v1/ingest/locations and POST /v1/ingest/measurements: streaming ingestion for live trackers.
//
// The body is NDJSON (`Content-Type: application/x-ndjson`, also application/ndjson and
// application/jsonl): one JSON object per line, read from the socket as it arrives, never held
// whole. Each line is parsed, checked against its shape, normalized and validated like an
// imported record, and collected into batches of INGEST_BATCH lines; each batch is loaded in one
// transaction as the key's user. While a batch loads, the body is not read (backpressure: the
// socket's buffers fill and TCP slows the client down). A small client may instead send a JSON
// array of the same objects (`application/json`, up to LAKE_API_BODY_LIMIT_BYTES).
//
// Lines (snake_case, like the GeoJSON properties of /v1/locations):
//   locations:    {"recorded_at": "2024-03-01T12:00:00Z" | epoch ms, "lat": 52.5, "lon": 13.4,
//                  "accuracy_m"?, "altitude_m"?, "velocity_mps"?, "heading_deg"?, "activity"?,
//                  "device"?, "attributes"?: {...}}
//   measurements: {"measured_at": ..., "metric": "heart_rate", "value": 61, "unit": "bpm", "attributes"?: {...}}
// Times are ISO 8601 with Z or an offset (no local times), or milliseconds since the epoch. Unknown
// fields are refused (a typo is an error; extra data goes into `attributes`).
//
// Records get source `api.ingest` and a natural key, so posting the same lines again adds nothing
// (they are counted as duplicates): a location point is (device, time, lat, lon); a measurement
// (metric, unit, time): one value per metric and instant, the first one posted stays.
//
// The answer: `{ accepted, duplicates, rejected: [{ line, reason }], rejected_count, lines }`, the
// rejected list cut at MAX_REJECTED_LISTED entries (rejected_count has them all). A malformed or
// invalid line is rejected with its number (1-based; blank lines count but are skipped) and the
// rest carries on. Rejected lines are reported to the client, not quarantined: the client holds
// the input and there is no import file to file them under.
//
// Provenance: rows get import_file_id null and source `api.ingest`; who posted them and when is in
// the access log (audit.events). No imports.jobs/files row is made per request: a tracker posting
// every minute would add half a million of them a year.
//
// Over LAKE_API_INGEST_BODY_LIMIT_BYTES: a declared Content-Length over it is refused with 413
// before anything is read. A body that grows past it (chunked) is cut there: batches committed
// before stay loaded (they were accepted; posting them again adds nothing), the lines read since
// the last commit are dropped, and the 413 error says so, with `accepted`, `duplicates` and
// `loaded_through_line` (every line up to it was loaded or rejected) beside `error`, so the client
// can send the rest.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import { Type } from 'typebox';
import { z } from 'zod';
import { retryTransient, isDataError } from '../../db/retry.js';
import { LakeError } from '../../errors.js';
import { loadBatch, type LoadCounts, type LoadTarget } from '../../ingest/load/loader.js';
import type { LakeRecord, LocationPointRecord, MeasurementRecord, RepairCounts } from '../../ingest/records.js';
import { normalizeRecord } from '../../ingest/transform/normalize.js';
import { validateRecord } from '../../ingest/validate/validate.js';
import { principalOf } from '../auth.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ingestHandlerTimeoutMs } from '../limits.js';
import { ErrorBody } from '../query-params.js';

export const INGEST_SOURCE = 'api.ingest';
/** Lines per load transaction. */
export const INGEST_BATCH = 1000;
/** Longest line read; a longer one is rejected without being held (memory stays bounded). */
export const MAX_LINE_BYTES = 256 * 1024;
/** Rejected lines listed in the answer at most (all are counted). */
export const MAX_REJECTED_LISTED = 100;

export const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl'];
const ACCEPTED_TYPES = [...NDJSON_TYPES, 'application/json'];

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

const instant = z.union([
  z.string().regex(INSTANT, 'expected an ISO 8601 date-time with Z or an offset'),
  z.number().int('expected whole milliseconds since the epoch'),
]).transform((value, ctx) => {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    ctx.addIssue({ code: 'custom', message: 'not a real date-time' });
    return z.NEVER;
  }
  return date;
});
const optionalNumber = z.number().nullable().optional();
const optionalString = z.string().nullable().optional();
const attributes = z.record(z.string(), z.unknown()).optional();

const LocationLine = z.strictObject({
  recorded_at: instant,
  lat: z.number(),
  lon: z.number(),
  accuracy_m: optionalNumber,
  altitude_m: optionalNumber,
  velocity_mps: optionalNumber,
  heading_deg: optionalNumber,
  activity: optionalString,
  device: optionalString,
  attributes,
});

const MeasurementLine = z.strictObject({
  measured_at: instant,
  metric: z.string(),
  value: z.number(),
  unit: z.string(),
  attributes,
});

interface IngestKind {
  name: 'locations' | 'measurements';
  toRecord(value: unknown): LakeRecord;
}

const KINDS: IngestKind[] = [
  {
    name: 'locations',
    toRecord(value): LocationPointRecord {
      const line = LocationLine.parse(value);
      return {
        type: 'location_point',
        source: INGEST_SOURCE,
        key: [line.device ?? null, line.recorded_at.toISOString(), line.lat, line.lon],
        recordedAt: line.recorded_at,
        lat: line.lat,
        lon: line.lon,
        accuracyM: line.accuracy_m ?? null,
        altitudeM: line.altitude_m ?? null,
        velocityMps: line.velocity_mps ?? null,
        headingDeg: line.heading_deg ?? null,
        activity: line.activity ?? null,
        device: line.device ?? null,
        attributes: line.attributes,
      };
    },
  },
  {
    name: 'measurements',
    toRecord(value): MeasurementRecord {
      const line = MeasurementLine.parse(value);
      return {
        type: 'measurement',
        source: INGEST_SOURCE,
        key: [line.metric, line.unit, line.measured_at.toISOString()],
        measuredAt: line.measured_at,
        metric: line.metric,
        value: line.value,
        unit: line.unit,
        attributes: line.attributes,
      };
    },
  },
];

export interface RejectedLine {
  line: number;
  reason: string;
}

const IngestResult = Type.Object({
  accepted: Type.Integer({ description: 'lines loaded as new rows' }),
  duplicates: Type.Integer({ description: 'valid lines whose row was already there (posted before)' }),
  rejected: Type.Array(Type.Object({ line: Type.Integer(), reason: Type.String() }), { description: `refused lines, the first ${MAX_REJECTED_LISTED}` }),
  rejected_count: Type.Integer(),
  lines: Type.Integer({ description: 'lines read (blank ones included)' }),
});

const TooLarge = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
  accepted: Type.Integer(),
  duplicates: Type.Integer(),
  loaded_through_line: Type.Integer({ description: 'every line up to this one was loaded or rejected' }),
});

/** A line of the body: its text, or the note that it was longer than MAX_LINE_BYTES. */
export type BodyLine = { line: number; text: string } | { line: number; tooLong: true };

export class BodyTooLarge extends Error {}

/**
 * The lines of a byte stream, as the stream delivers them. Written by hand because readline has
 * no byte limit per line or per stream; splitting at 0x0A is safe in UTF-8 (no multi-byte
 * sequence contains that byte). The stream is not destroyed when the caller stops early (its
 * socket still has to carry the answer).
 */
export async function* readLines(stream: Readable, maxBytes: number, maxLineBytes = MAX_LINE_BYTES): AsyncGenerator<BodyLine> {
  let pieces: Buffer[] = [];
  let pending = 0;
  let tooLong = false;
  let line = 0;
  let total = 0;
  const finish = (): BodyLine => {
    line++;
    const result: BodyLine = tooLong ? { line, tooLong: true } : { line, text: Buffer.concat(pieces, pending).toString('utf8').replace(/\r$/, '') };
    pieces = [];
    pending = 0;
    tooLong = false;
    return result;
  };
  for await (const chunk of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) throw new BodyTooLarge(`the body is larger than ${maxBytes} bytes`);
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!tooLong) {
        if (pending + (end - start) > maxLineBytes) {
          tooLong = true;
          pieces = [];
          pending = 0;
        } else if (end > start) {
          pieces.push(chunk.subarray(start, end));
          pending += end - start;
        }
      }
      if (newline === -1) break;
      yield finish();
      start = newline + 1;
    }
  }
  if (pending > 0 || tooLong) yield finish();
}

/** Why a value is not a valid line: the first problem, with the field it concerns. */
function describeProblem(error: unknown, value: unknown): string {
  if (error instanceof z.ZodError) {
    const issue = error.issues[0]!;
    const field = issue.path.length > 0 ? issue.path.join('.') : null;
    if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')} (extra data goes into attributes)`;
    const given = issue.path.reduce<unknown>((at, key) => (at !== null && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[key] : undefined), value);
    if (field && given === undefined) return `${field} is missing`;
    if (field && issue.code === 'invalid_union') return `${field}: ${JSON.stringify(given)?.slice(0, 80)} is not an ISO 8601 date-time with Z or an offset, nor milliseconds since the epoch`;
    return field ? `${field}: ${issue.message}` : issue.message;
  }
  return (error as Error).message;
}

class Ingestion {
  readonly counts = { accepted: 0, duplicates: 0, rejectedCount: 0, lines: 0 };
  readonly rejected: RejectedLine[] = [];
  /** Every line up to this one is loaded or rejected. */
  committedThrough = 0;
  private records: LakeRecord[] = [];
  private recordLines: number[] = [];
  private readonly repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };

  constructor(
    private readonly context: ApiContext,
    private readonly kind: IngestKind,
    private readonly target: LoadTarget,
  ) {}

  reject(line: number, reason: string): void {
    this.counts.rejectedCount++;
    if (this.rejected.length < MAX_REJECTED_LISTED) this.rejected.push({ line, reason });
    this.context.metrics.ingested(this.kind.name, 'rejected', 1);
  }

  /** Take one value (a parsed line); loads a batch when one is full. */
  async add(line: number, value: unknown): Promise<void> {
    this.counts.lines = line;
    let record: LakeRecord;
    try {
      record = this.kind.toRecord(value);
    } catch (error) {
      this.reject(line, describeProblem(error, value));
      return;
    }
    const checked = validateRecord(normalizeRecord(record, this.repairs));
    if (!checked.ok) {
      this.reject(line, checked.rejection.reason);
      return;
    }
    this.records.push(checked.record);
    this.recordLines.push(line);
    if (this.records.length >= INGEST_BATCH) await this.flush();
  }

  addText(line: number, text: string): Promise<void> {
    this.counts.lines = line;
    if (text.trim() === '') {
      if (this.records.length === 0) this.committedThrough = line;
      return Promise.resolve();
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.reject(line, `not JSON: ${(error as Error).message}`);
      return Promise.resolve();
    }
    return this.add(line, value);
  }

  /** Load what is collected (one transaction; a batch the database refuses is loaded line by line). */
  async flush(): Promise<void> {
    const records = this.records;
    const lines = this.recordLines;
    this.records = [];
    this.recordLines = [];
    const started = performance.now();
    if (records.length > 0) {
      try {
        this.count(await this.load(records));
      } catch (error) {
        if (!isDataError(error)) throw error;
        // Validation should have caught what the database refuses; if not, find the line.
        for (let i = 0; i < records.length; i++) {
          try {
            this.count(await this.load([records[i]!]));
          } catch (single) {
            if (!isDataError(single)) throw single;
            this.reject(lines[i]!, `refused by the database: ${(single as Error).message}`);
          }
        }
      }
      this.context.metrics.ingestBatchLoaded(this.kind.name, (performance.now() - started) / 1000);
    }
    this.committedThrough = this.counts.lines;
  }

  private load(records: LakeRecord[]): Promise<LoadCounts> {
    return retryTransient(() => loadBatch(this.context.lake.db, this.target, { records }));
  }

  private count(counts: LoadCounts): void {
    this.counts.accepted += counts.inserted;
    this.counts.duplicates += counts.duplicates;
    this.context.metrics.ingested(this.kind.name, 'accepted', counts.inserted);
    this.context.metrics.ingested(this.kind.name, 'duplicate', counts.duplicates);
  }

  result() {
    return { accepted: this.counts.accepted, duplicates: this.counts.duplicates, rejected: this.rejected, rejected_count: this.counts.rejectedCount, lines: this.counts.lines };
  }
}

function mediaType(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** onRequest: anything but NDJSON or JSON is refused before the body is read. */
async function requireIngestType(request: FastifyRequest): Promise<void> {
  const type = mediaType(request);
  if (!ACCEPTED_TYPES.includes(type)) {
    throw new LakeError('UNSUPPORTED_MEDIA_TYPE', `${type ? `Content-Type ${type}` : 'no Content-Type'}: send application/x-ndjson (one JSON object per line) or application/json (an array)`);
  }
}

export function ingestRoutes(app: ApiApp, context: ApiContext): void {
  const limit = context.lake.config.apiIngestBodyLimitBytes;
  const timeout = ingestHandlerTimeoutMs(context.lake.config);
  // NDJSON bodies reach the handler as the request stream itself (read there, line by line).
  app.addContentTypeParser(NDJSON_TYPES, (_request, payload, done) => done(null, payload));

  for (const kind of KINDS) {
    app.post(
      `/ingest/${kind.name}`,
      {
        onRequest: requireIngestType,
        ...(timeout > 0 ? { handlerTimeout: timeout } : {}),
        schema: {
          summary: `stream ${kind.name} as NDJSON (one JSON object per line), loaded in batches`,
          description: `Content-Type application/x-ndjson (up to LAKE_API_INGEST_BODY_LIMIT_BYTES) or application/json with an array (up to LAKE_API_BODY_LIMIT_BYTES). See the README for the line format.`,
          tags: ['ingest'],
          security: [{ apiKey: [] }],
          response: { 200: IngestResult, 400: ErrorBody, 401: ErrorBody, 413: Type.Union([TooLarge, ErrorBody]), 415: ErrorBody, 429: ErrorBody },
        },
      },
      async (request, reply) => {
        const ingestion = new Ingestion(context, kind, { userId: principalOf(request).userId, jobId: null, fileId: null });
        if (mediaType(request) === 'application/json') {
          // Parsed by Fastify within LAKE_API_BODY_LIMIT_BYTES (malformed JSON: 400 before this).
          if (!Array.isArray(request.body)) throw new LakeError('INVALID_REQUEST', `body: expected a JSON array of ${kind.name}, or NDJSON with Content-Type application/x-ndjson`);
          for (const [index, value] of request.body.entries()) await ingestion.add(index + 1, value);
          await ingestion.flush();
          return ingestion.result();
        }
        const declared = Number(request.headers['content-length']);
        if (declared > limit) {
          reply.header('connection', 'close');
          throw new LakeError('PAYLOAD_TOO_LARGE', `the body (${declared} bytes) is larger than LAKE_API_INGEST_BODY_LIMIT_BYTES (${limit} bytes); nothing was read: send it in smaller parts`);
        }
        const body = request.body as Readable | undefined;
        if (!body) return ingestion.result();
        // The handler timeout answers 503 by itself; a client still sending (or stalled) is then cut
        // off. (request.signal also aborts when the body has been read: only the timeout counts.)
        let timedOut = false;
        const onAbort = () => {
          if ((request.signal.reason as { code?: string } | undefined)?.code !== 'FST_ERR_HANDLER_TIMEOUT') return;
          timedOut = true;
          cutOff(request, reply);
        };
        request.signal.addEventListener('abort', onAbort, { once: true });
        try {
          for await (const line of readLines(body, limit)) {
            if (timedOut) break;
            if ('tooLong' in line) ingestion.reject(line.line, `the line is longer than ${MAX_LINE_BYTES} bytes`);
            else await ingestion.addText(line.line, line.text);
          }
          if (timedOut) return reply;
          await ingestion.flush();
        } catch (error) {
          if (timedOut) return reply;
          if (!(error instanceof BodyTooLarge)) throw error;
          return tooLarge(reply, ingestion, limit);
        } finally {
          request.signal.removeEventListener('abort', onAbort);
        }
        return ingestion.result();
      },
    );
  }
}

/** Past the limit: what was committed stays; say so and close the connection (the rest of the body is not read). */
function tooLarge(reply: FastifyReply, ingestion: Ingestion, limit: number) {
  const through = ingestion.committedThrough;
  return reply
    .status(413)
    .header('connection', 'close')
    .send({
      error: {
        code: 'PAYLOAD_TOO_LARGE',
        message: `the body is larger than LAKE_API_INGEST_BODY_LIMIT_BYTES (${limit} bytes): lines 1-${through} were loaded (${ingestion.counts.accepted} new, ${ingestion.counts.duplicates} duplicates), the lines after ${through} were not; send them in smaller parts`,
      },
      accepted: ingestion.counts.accepted,
      duplicates: ingestion.counts.duplicates,
      loaded_through_line: through,
    });
}

/** The handler timeout answered already: stop reading, and close the connection once that answer is out. */
function cutOff(request: FastifyRequest, reply: FastifyReply): void {
  if (reply.raw.writableFinished) request.raw.destroy();
  else reply.raw.once('finish', () => request.raw.destroy());
}
