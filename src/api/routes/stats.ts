// GET /v1/stats/monthly: how many records each source contributed per month (UTC), per table,
// counted in the database (query/stats.ts).
import { Type } from 'typebox';
import { monthlyCounts, TIMED_TABLES } from '../../query/stats.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody, parseTimeRange, TimeRangeParams } from '../query-params.js';

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
      return { months: await context.asUser(request, (tx) => monthlyCounts(tx, range)) };
    },
  );
}
