// How many records each source contributed per month (UTC), per table with a time of its own,
// counted in the database (one aggregate per table, never rows sent to the application).
import type { Queryable } from '../db/database.js';
import { SqlParams, type TimeRange } from './sql.js';

/** Tables with a time of their own, and that time. Places have none (first_seen_at is load time). */
export const TIMED_TABLES = [
  { name: 'items', table: 'user_data.items', time: 'occurred_at' },
  { name: 'location_points', table: 'timeseries.location_points', time: 'recorded_at' },
  { name: 'visits', table: 'user_data.visits', time: 'started_at' },
  { name: 'measurements', table: 'timeseries.measurements', time: 'measured_at' },
  { name: 'messages', table: 'user_data.messages', time: 'sent_at' },
] as const;

export interface MonthlyCount {
  /** YYYY-MM (UTC). */
  month: string;
  table: (typeof TIMED_TABLES)[number]['name'];
  source: string;
  count: number;
}

/** The counts within a time range, ordered by month, table, source. */
export async function monthlyCounts(tx: Queryable, range: TimeRange): Promise<MonthlyCount[]> {
  const params = new SqlParams();
  const from = range.from && params.add(range.from);
  const to = range.to && params.add(range.to);
  const selects = TIMED_TABLES.map(({ name, table, time }) => {
    const where = [from && `${time} >= ${from}`, to && `${time} < ${to}`].filter(Boolean);
    return `SELECT to_char(month, 'YYYY-MM') AS month, '${name}' AS "table", source, count
              FROM (SELECT date_trunc('month', ${time} AT TIME ZONE 'UTC') AS month, source, count(*)::int AS count
                      FROM ${table} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} GROUP BY 1, 2) AS counted`;
  });
  const rows = await tx.query<MonthlyCount>(`${selects.join('\nUNION ALL\n')}\nORDER BY month, "table", source`, params.values);
  return rows.rows;
}
