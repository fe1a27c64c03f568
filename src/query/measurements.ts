// Measurements (timeseries.measurements: steps, heart rate, weight... from Google Fit and the
// like) for the API: the readings themselves, oldest first and keyed by (measured_at,
// content_hash), or one row per hour or day (UTC) with the count, minimum, maximum and mean of
// the readings in it, keyed by the bucket's start. Both are served by the (user_id, metric,
// measured_at) index when a metric is given; buckets need one.
import type { Queryable } from '../db/database.js';
import { isMicrosTimestamp, isTimeHashPosition, SqlParams, utcMicros, whereClause, type Page, type TimeHashPosition, type TimeRange } from './sql.js';

export const MEASUREMENT_BUCKETS = ['raw', 'hour', 'day'] as const;
export type MeasurementBucket = (typeof MEASUREMENT_BUCKETS)[number];

export interface Measurement {
  id: string;
  measured_at: Date;
  metric: string;
  value: number;
  unit: string;
  source: string;
  attributes: Record<string, unknown> | null;
}

export interface MeasurementAggregate {
  /** Start of the bucket (UTC). */
  bucket: Date;
  metric: string;
  unit: string;
  count: number;
  min: number;
  max: number;
  avg: number;
}

export interface MeasurementFilter extends TimeRange {
  /** Only this metric (required for buckets). */
  metric: string | null;
}

export type MeasurementPosition = TimeHashPosition;
/** A bucket page's position: the last bucket's start and its unit. */
export type BucketPosition = [bucket: string, unit: string];

export function isMeasurementPosition(value: unknown): value is MeasurementPosition {
  return isTimeHashPosition(value, /^[0-9a-f]{64}$/);
}

export function isBucketPosition(value: unknown): value is BucketPosition {
  return Array.isArray(value) && value.length === 2 && isMicrosTimestamp(value[0]) && typeof value[1] === 'string';
}

function rangeConditions(filter: MeasurementFilter, params: SqlParams): string[] {
  const where: string[] = [];
  if (filter.metric !== null) where.push(`metric = ${params.add(filter.metric)}`);
  if (filter.from) where.push(`measured_at >= ${params.add(filter.from)}`);
  if (filter.to) where.push(`measured_at < ${params.add(filter.to)}`);
  return where;
}

export async function measurementsPage(tx: Queryable, filter: MeasurementFilter, options: { after: MeasurementPosition | null; limit: number }): Promise<Page<Measurement, MeasurementPosition>> {
  const { after, limit } = options;
  const params = new SqlParams();
  const where = rangeConditions(filter, params);
  if (after) where.push(`(measured_at, content_hash) > (${params.add(after[0])}::timestamptz, decode(${params.add(after[1])}::text, 'hex'))`);
  const rows = await tx.query<Measurement & { position_time: string }>(
    `SELECT encode(content_hash, 'hex') AS id, measured_at, metric, value, unit, source, attributes, ${utcMicros('measured_at')} AS position_time
       FROM timeseries.measurements
      ${whereClause(where)}
      ORDER BY measured_at, content_hash
      LIMIT ${params.add(limit + 1)}`,
    params.values,
  );
  const page = rows.rows.slice(0, limit);
  const last = page.at(-1);
  return {
    rows: page.map(({ position_time: _, ...measurement }) => measurement),
    next: rows.rows.length > limit && last ? [last.position_time, last.id] : null,
  };
}

/**
 * One row per bucket (hour or day, in UTC) and unit of one metric: a metric read in two units
 * (kg and lb) is never averaged across them.
 */
export async function measurementBuckets(
  tx: Queryable,
  filter: MeasurementFilter & { metric: string },
  options: { bucket: 'hour' | 'day'; after: BucketPosition | null; limit: number },
): Promise<Page<MeasurementAggregate, BucketPosition>> {
  const { after, limit } = options;
  const params = new SqlParams();
  const where = rangeConditions(filter, params);
  const bucket = `date_trunc('${options.bucket}', measured_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;
  let having = '';
  if (after) {
    // The next page's buckets start at or after the last one: the index skips what came before.
    const start = params.add(after[0]);
    where.push(`measured_at >= ${start}::timestamptz`);
    having = `HAVING (${bucket}, unit) > (${start}::timestamptz, ${params.add(after[1])}::text)`;
  }
  const rows = await tx.query<MeasurementAggregate & { position_time: string }>(
    `SELECT ${bucket} AS bucket, ${utcMicros(bucket)} AS position_time, metric, unit,
            count(*)::int AS count, min(value) AS min, max(value) AS max, avg(value) AS avg
       FROM timeseries.measurements
      ${whereClause(where)}
      GROUP BY ${bucket}, metric, unit
      ${having}
      ORDER BY 1, unit
      LIMIT ${params.add(limit + 1)}`,
    params.values,
  );
  const page = rows.rows.slice(0, limit);
  const last = page.at(-1);
  return {
    rows: page.map(({ position_time: _, ...aggregate }) => aggregate),
    next: rows.rows.length > limit && last ? [last.position_time, last.unit] : null,
  };
}
