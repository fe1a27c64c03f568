// Contacts (user_data.contacts, from vCard) and calendar events (user_data.calendar_events, from
// iCalendar; one row per occurrence of a recurring event) for the API. Contacts are paged in name
// order, keyed by (full_name, content_hash), and found by text in the name, organization, e-mail
// addresses or phone numbers; events oldest first, keyed by (starts_at, content_hash), those
// overlapping a time range. Neither table is large (thousands of rows): the contact text filter is
// checked on the rows.
import type { Queryable } from '../db/database.js';
import { containsPattern } from './places.js';
import { isTimeHashPosition, SqlParams, utcMicros, whereClause, type Page, type TimeHashPosition, type TimeRange } from './sql.js';

export interface Contact {
  id: string;
  uid: string | null;
  full_name: string | null;
  structured_name: Record<string, unknown> | null;
  emails: string[];
  phones: string[];
  organization: string | null;
  title: string | null;
  birthday: string | null;
  addresses: unknown[];
  notes: string | null;
  categories: string[];
  source: string;
}

export interface CalendarEvent {
  id: string;
  uid: string | null;
  starts_at: Date;
  ends_at: Date | null;
  all_day: boolean;
  time_zone: string | null;
  recurrence_id: Date | null;
  summary: string | null;
  description: string | null;
  location: string | null;
  status: string | null;
  organizer: string | null;
  attendees: unknown[];
  rrule: string | null;
  calendar_name: string | null;
  source: string;
}

/** A contact page's position: the last contact's name ('' for none) and hex content hash. */
export type ContactPosition = [name: string, contentHashHex: string];
export type EventPosition = TimeHashPosition;

export function isContactPosition(value: unknown): value is ContactPosition {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string' && /^[0-9a-f]{64}$/.test(value[1]);
}

export function isEventPosition(value: unknown): value is EventPosition {
  return isTimeHashPosition(value, /^[0-9a-f]{64}$/);
}

// Names compare byte-wise (COLLATE "C"), the same on every server whatever its locale.
const NAME_KEY = `coalesce(full_name, '') COLLATE "C"`;

export async function contactsPage(tx: Queryable, filter: { words: string | null }, options: { after: ContactPosition | null; limit: number }): Promise<Page<Contact, ContactPosition>> {
  const { after, limit } = options;
  const params = new SqlParams();
  const where: string[] = [];
  if (filter.words !== null) {
    const pattern = params.add(containsPattern(filter.words));
    where.push(`(full_name ILIKE ${pattern} OR organization ILIKE ${pattern} OR array_to_string(emails, ' ') ILIKE ${pattern} OR array_to_string(phones, ' ') ILIKE ${pattern})`);
  }
  if (after) where.push(`(${NAME_KEY}, content_hash) > (${params.add(after[0])}::text COLLATE "C", decode(${params.add(after[1])}::text, 'hex'))`);
  const rows = await tx.query<Contact>(
    `SELECT encode(content_hash, 'hex') AS id, uid, full_name, structured_name, emails, phones, organization, title, to_char(birthday, 'YYYY-MM-DD') AS birthday,
            addresses, notes, categories, source
       FROM user_data.contacts
      ${whereClause(where)}
      ORDER BY ${NAME_KEY}, content_hash
      LIMIT ${params.add(limit + 1)}`,
    params.values,
  );
  const page = rows.rows.slice(0, limit);
  const last = page.at(-1);
  return { rows: page, next: rows.rows.length > limit && last ? [last.full_name ?? '', last.id] : null };
}

/** Events overlapping the range: an event that began before `from` and was still going on counts. */
export async function eventsPage(tx: Queryable, filter: TimeRange, options: { after: EventPosition | null; limit: number }): Promise<Page<CalendarEvent, EventPosition>> {
  const { after, limit } = options;
  const params = new SqlParams();
  const where: string[] = [];
  if (filter.from) where.push(`coalesce(ends_at, starts_at) >= ${params.add(filter.from)}`);
  if (filter.to) where.push(`starts_at < ${params.add(filter.to)}`);
  if (after) where.push(`(starts_at, content_hash) > (${params.add(after[0])}::timestamptz, decode(${params.add(after[1])}::text, 'hex'))`);
  const rows = await tx.query<CalendarEvent & { position_time: string }>(
    `SELECT encode(content_hash, 'hex') AS id, uid, starts_at, ends_at, all_day, time_zone, recurrence_id, summary, description, location, status,
            organizer, attendees, rrule, calendar_name, source, ${utcMicros('starts_at')} AS position_time
       FROM user_data.calendar_events
      ${whereClause(where)}
      ORDER BY starts_at, content_hash
      LIMIT ${params.add(limit + 1)}`,
    params.values,
  );
  const page = rows.rows.slice(0, limit);
  const last = page.at(-1);
  return {
    rows: page.map(({ position_time: _, ...event }) => event),
    next: rows.rows.length > limit && last ? [last.position_time, last.id] : null,
  };
}
