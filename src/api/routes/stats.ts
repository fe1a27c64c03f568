// GET /v1/stats/monthly: how many records each source contributed per month (UTC), per table,
// counted in the database (query/stats.ts). GET /v1/stats/daily: what happened on each local day
// of a time zone, per kind of the timeline, for at most MAX_DAILY_DAYS days (query/daily-stats.ts).
import { Type } from 'typebox';
import { dailyCounts, LOCATION_HOURS_KIND, MAX_DAILY_DAYS } from '../../query/daily-stats.js';
import { TIMELINE_KINDS } from '../../query/items.js';
import { monthlyCounts, TIMED_TABLES } from '../../query/stats.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody, EXPECTED, invalid, parseInstant, parseTimeRange, TimeRangeParams } from '../query-params.js';

const MonthlyCount = Type.Object({
  month: Type.String({ pattern: '^\\d{4}-\\d{2}$', description: 'YYYY-MM (UTC)' }),
  table: Type.Enum(TIMED_TABLES.map((t) => t.name)),
  source: Type.String(),
  count: Type.Integer(),
});

const MonthlyStats = Type.Object({ months: Type.Array(MonthlyCount, { description: 'ordered by month, table, source' }) });

const DayParam = (description: string) =>
  Type.String({
    pattern: '^\\d{4}-\\d{2}-\\d{2}$',
    description: `${description}: a calendar date (YYYY-MM-DD) in the time zone tz`,
    examples: ['2024-03-10'],
    [EXPECTED]: 'a date like 2024-01-31',
  });

const DailyQuery = Type.Object(
  {
    from: Type.Optional(DayParam('first day counted, inclusive; default: one year before `to`')),
    to: Type.Optional(DayParam(`day after the last one counted, exclusive; default: tomorrow in tz (today included). At most ${MAX_DAILY_DAYS} days after from`)),
    tz: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 64,
        pattern: '^[A-Za-z][A-Za-z0-9_+\\-/]*$',
        default: 'UTC',
        description: 'the IANA time zone whose calendar days are counted, e.g. Europe/Berlin; default UTC',
        [EXPECTED]: 'an IANA time zone name like Europe/Berlin or UTC',
      }),
    ),
  },
  { additionalProperties: false },
);

const DailyCount = Type.Object({
  day: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'YYYY-MM-DD, a local day in tz' }),
  kind: Type.String({ description: `one of the timeline's kinds (${TIMELINE_KINDS.join(', ')}), or ${LOCATION_HOURS_KIND}: hours with a location fix` }),
  count: Type.Integer({ minimum: 1 }),
});

const DailyStats = Type.Object({
  from: Type.String({ description: 'the first day counted' }),
  to: Type.String({ description: 'the day after the last one counted' }),
  tz: Type.String({ description: 'the time zone, by its canonical name' }),
  days: Type.Array(DailyCount, { description: 'days with something only, ordered by day and kind' }),
});

const DAY_MS = 86_400_000;
const isoDay = (date: Date) => date.toISOString().slice(0, 10);

/** The canonical name of an IANA time zone, or INVALID_REQUEST naming `tz`. */
function parseTimeZone(name: string): string {
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    throw invalid('tz', `${JSON.stringify(name)} is not an IANA time zone (like Europe/Berlin or UTC)`);
  }
}

/** Today's date in a time zone, as UTC midnight of that date. */
function today(timeZone: string): Date {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric' }).formatToParts(new Date()).map((p) => [p.type, p.value]),
  );
  return new Date(Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day)));
}

export function parseDayRange(query: { from?: string | undefined; to?: string | undefined; tz?: string | undefined }): { from: string; to: string; timeZone: string } {
  const timeZone = parseTimeZone(query.tz ?? 'UTC');
  const from = query.from === undefined ? null : parseInstant('from', query.from);
  const to = query.to !== undefined ? parseInstant('to', query.to) : from ? new Date(from.getTime() + 365 * DAY_MS) : new Date(today(timeZone).getTime() + DAY_MS);
  const start = from ?? new Date(Date.UTC(to.getUTCFullYear() - 1, to.getUTCMonth(), to.getUTCDate()));
  // PostgreSQL's calendar has no year 0.
  if (start.getUTCFullYear() < 1) throw invalid('from', 'must be in the year 1 or later');
  if (start.getTime() >= to.getTime()) throw invalid('to', 'must be later than `from`');
  const days = Math.round((to.getTime() - start.getTime()) / DAY_MS);
  if (days > MAX_DAILY_DAYS) throw invalid('to', `must be at most ${MAX_DAILY_DAYS} days after \`from\` (${days} asked): ask for the rest in another request`);
  return { from: isoDay(start), to: isoDay(to), timeZone };
}

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

  app.get(
    '/stats/daily',
    {
      schema: {
        summary: 'what happened on each day of a time zone, per kind: an activity calendar',
        description:
          `Per local day of \`tz\` (days from \`from\` to \`to\`, at most ${MAX_DAILY_DAYS}), how many entries of each kind the timeline has (items by their kind; ` +
          `photo, video, mail, document, measurement at the times the timeline lists them at) and ${LOCATION_HOURS_KIND}: the UTC hours with a location fix, ` +
          'counted from the hourly summary at the hour’s first fix. Days without anything are left out.',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: DailyQuery,
        response: { 200: DailyStats, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const range = parseDayRange(request.query);
      try {
        const days = await context.asUser(request, (tx) => dailyCounts(tx, range));
        return { from: range.from, to: range.to, tz: range.timeZone, days };
      } catch (error) {
        // A zone this runtime knows and the database's time zone data does not.
        if ((error as { code?: unknown }).code === '22023' && /time zone/.test(String((error as Error).message))) {
          throw invalid('tz', `${JSON.stringify(request.query.tz)} is not a time zone the database knows`);
        }
        throw error;
      }
    },
  );
}
