// GET /v1/stats/monthly: how many records each source contributed per month (UTC), per table,
// counted in the database (one aggregate per table, never rows sent to the application).
import { Type } from 'typebox';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody, parseTimeRange, TimeRangeParams } from '../query-params.js';
import { SqlParams } from '../sql.js';

/** Tables with a time of their own, and that time. Places have none (first_seen_at is load time). */
const TIMED_TABLES = [
  { name: 'items', table: 'user_data.items', time: 'occurred_at' },
  { name: 'location_points', table: 'timeseries.location_points', time: 'recorded_at' },
  { name: 'visits', table: 'user_data.visits', time: 'started_at' },
  { name: 'measurements', table: 'timeseries.measurements', time: 'measured_at' },
  { name: 'messages', table: 'user_data.messages', time: 'sent_at' },
] as const;

const MonthlyCount = Type.Object({
  month: Type.String({ pattern: '^\\d{4}-\\d{2}$', description: 'YYYY-MM (UTC)' }),
  table: Type.Enum(TIMED_TABLES.map((t) => t.name)),
  source: Type.String(),
  count: Type.Integer(),
});

const MonthlyStats = Type.Object({ months: Type.Array(MonthlyCount, { description: 'ordered by month, table, source' }) });

export function statsRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/stats/monthly',
    {
      schema: {
        summary: 'records per source per month, for each table with a time',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: Type.Object(TimeRangeParams, { additionalProperties: false }),
        response: { 200: MonthlyStats, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const range = parseTimeRange(request.query);
      const params = new SqlParams();
      const from = range.from && params.add(range.from);
      const to = range.to && params.add(range.to);
      const selects = TIMED_TABLES.map(({ name, table, time }) => {
        const where = [from && `${time} >= ${from}`, to && `${time} < ${to}`].filter(Boolean);
        return `SELECT to_char(month, 'YYYY-MM') AS month, '${name}' AS "table", source, count
                  FROM (SELECT date_trunc('month', ${time} AT TIME ZONE 'UTC') AS month, source, count(*)::int AS count
                          FROM ${table} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} GROUP BY 1, 2) AS counted`;
      });
      const rows = await context.asUser(request, (tx) =>
        tx.query<{ month: string; table: (typeof TIMED_TABLES)[number]['name']; source: string; count: number }>(
          `${selects.join('\nUNION ALL\n')}\nORDER BY month, "table", source`,
          params.values,
        ),
      );
      return { months: rows.rows };
    },
  );
}
