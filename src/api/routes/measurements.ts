// GET /v1/measurements: numeric readings (steps, heart rate, weight...), either the readings
// themselves (bucket=raw, oldest first, paged on (measured_at, content_hash)) or one row per hour
// or day in UTC with the count, minimum, maximum and mean of the readings in it (bucket=hour|day,
// which needs a metric; paged on the bucket's start). query/measurements.ts.
import { Type, type Static } from 'typebox';
import {
  isBucketPosition,
  isMeasurementPosition,
  MEASUREMENT_BUCKETS,
  measurementBuckets,
  measurementsPage,
  type Measurement,
  type MeasurementAggregate,
} from '../../query/measurements.js';
import type { ApiApp, ApiContext } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { CursorParam, ErrorBody, IntegerParam, invalid, Nullable, parseTimeRange, TimeRangeParams } from '../query-params.js';

const MeasurementsQuery = Type.Object(
  {
    metric: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'only this metric (e.g. steps); required with bucket=hour or day' })),
    ...TimeRangeParams,
    bucket: Type.Optional(
      Type.Enum([...MEASUREMENT_BUCKETS], { default: 'raw', description: 'raw: every reading; hour or day: one row per UTC hour or day with count, min, max and avg' }),
    ),
    limit: Type.Optional(IntegerParam({ minimum: 1, maximum: 1000, default: 100, description: 'readings or buckets per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

const ReadingBody = Type.Object({
  id: Type.String({ description: 'the reading’s content hash in hex' }),
  measured_at: Type.String({ format: 'date-time' }),
  metric: Type.String(),
  value: Type.Number(),
  unit: Type.String(),
  source: Type.String(),
  attributes: Nullable(Type.Record(Type.String(), Type.Unknown())),
});

const BucketBody = Type.Object({
  bucket: Type.String({ format: 'date-time', description: 'the start of the hour or day (UTC)' }),
  metric: Type.String(),
  unit: Type.String({ description: 'a metric read in two units has a row for each' }),
  count: Type.Integer({ description: 'readings in the bucket' }),
  min: Type.Number(),
  max: Type.Number(),
  avg: Type.Number(),
});

const MeasurementsPage = Type.Object({
  bucket: Type.Enum([...MEASUREMENT_BUCKETS]),
  readings: Type.Optional(Type.Array(ReadingBody, { description: 'bucket=raw' })),
  buckets: Type.Optional(Type.Array(BucketBody, { description: 'bucket=hour or day' })),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page (with the same bucket); null on the last page' })),
});

function toReading(reading: Measurement): Static<typeof ReadingBody> {
  return { ...reading, measured_at: reading.measured_at.toISOString() };
}

function toBucket(aggregate: MeasurementAggregate): Static<typeof BucketBody> {
  return { ...aggregate, bucket: aggregate.bucket.toISOString() };
}

export function measurementRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/measurements',
    {
      schema: {
        summary: 'measurements: the readings, or hourly or daily count, min, max and avg',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: MeasurementsQuery,
        response: { 200: MeasurementsPage, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const query = request.query;
      const range = parseTimeRange(query);
      const bucket = query.bucket ?? 'raw';
      const limit = query.limit ?? 100;
      const metric = query.metric ?? null;
      if (bucket === 'raw') {
        const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isMeasurementPosition);
        const page = await context.asUser(request, (tx) => measurementsPage(tx, { ...range, metric }, { after, limit }));
        return { bucket, readings: page.rows.map(toReading), next_cursor: page.next && encodeCursor(page.next) };
      }
      if (metric === null) throw invalid('metric', `is required with bucket=${bucket}: readings of different metrics are not aggregated together`);
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isBucketPosition);
      const page = await context.asUser(request, (tx) => measurementBuckets(tx, { ...range, metric }, { bucket, after, limit }));
      return { bucket, buckets: page.rows.map(toBucket), next_cursor: page.next && encodeCursor(page.next) };
    },
  );
}
