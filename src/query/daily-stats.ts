// What happened on each local day (an IANA time zone's calendar), per kind of the timeline, counted
// in the database for a bounded range of days: the console's activity calendar. Each table is read
// by an index leading with user_id and its time (row-level security picks the user), so only the
// user's rows of the range are read; locations come from the hourly summary
// (timeseries.location_hours), never the points.
import type { Queryable } from '../db/database.js';
import { SqlParams } from './sql.js';

/** The kind the hours with a location fix are counted under: hours, not points. */
export const LOCATION_HOURS_KIND = 'location_hours';

/** The longest range of days one request may count. */
export const MAX_DAILY_DAYS = 400;

export interface DailyCount {
  /** YYYY-MM-DD, the local day in the time zone asked for. */
  day: string;
  /** A kind of the timeline (search, page_visit, photo, mail, ...), or location_hours. */
  kind: string;
  count: number;
}

export interface DayRange {
  /** First day counted, YYYY-MM-DD. */
  from: string;
  /** Day after the last one counted, YYYY-MM-DD. */
  to: string;
  /** An IANA time zone the database knows. */
  timeZone: string;
}

/** Each table's rows as (local day, kind), its time column bounded by the range. */
function parts(lo: string, hi: string, tz: string): string[] {
  const dayOf = (time: string) => `(${time} AT TIME ZONE ${tz})::date`;
  const within = (time: string) => `${time} >= ${lo} AND ${time} < ${hi}`;
  return [
    `SELECT ${dayOf('occurred_at')} AS day, kind, count(*) AS count FROM user_data.items WHERE ${within('occurred_at')} GROUP BY 1, 2`,
    `SELECT ${dayOf('taken_at')} AS day, CASE WHEN mime_type LIKE 'video/%' THEN 'video' ELSE 'photo' END AS kind, count(*) AS count
       FROM user_data.media WHERE ${within('taken_at')} GROUP BY 1, 2`,
    `SELECT ${dayOf('sent_at')} AS day, 'mail' AS kind, count(*) AS count FROM user_data.messages WHERE ${within('sent_at')} GROUP BY 1`,
    `SELECT ${dayOf('created_at')} AS day, 'document' AS kind, count(*) AS count FROM user_data.documents WHERE ${within('created_at')} GROUP BY 1`,
    `SELECT ${dayOf('measured_at')} AS day, 'measurement' AS kind, count(*) AS count FROM timeseries.measurements WHERE ${within('measured_at')} GROUP BY 1`,
    // One row per UTC hour with a fix, at its first fix (recorded_at): the hour column bounds the
    // index scan (an hour starts at most an hour before its fix), the fix picks the local day.
    `SELECT ${dayOf('recorded_at')} AS day, '${LOCATION_HOURS_KIND}' AS kind, count(*) AS count
       FROM timeseries.location_hours WHERE hour > ${lo} - interval '1 hour' AND hour < ${hi} AND ${within('recorded_at')} GROUP BY 1`,
  ];
}

/** The counts of each local day of the range that has any, ordered by day and kind. */
export async function dailyCounts(tx: Queryable, range: DayRange): Promise<DailyCount[]> {
  const params = new SqlParams();
  const tz = `${params.add(range.timeZone)}::text`;
  const lo = `(${params.add(range.from)}::date::timestamp AT TIME ZONE ${tz})`;
  const hi = `(${params.add(range.to)}::date::timestamp AT TIME ZONE ${tz})`;
  const rows = await tx.query<DailyCount>(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, kind, sum(count)::int AS count
       FROM (${parts(lo, hi, tz).join('\n      UNION ALL\n      ')}) AS counted
      GROUP BY day, kind
      ORDER BY day, kind`,
    params.values,
  );
  return rows.rows;
}
