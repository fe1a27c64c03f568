// GET /v1/contacts: the user's contacts in name order, found by text in name, organization,
// e-mail addresses or phone numbers, paged on (name, content_hash); GET /v1/calendar/events:
// calendar events (one per occurrence of a recurring one) overlapping a time range, oldest first,
// paged on (starts_at, content_hash). query/contacts.ts.
import { Type, type Static } from 'typebox';
import { contactsPage, eventsPage, isContactPosition, isEventPosition, type CalendarEvent } from '../../query/contacts.js';
import type { ApiApp, ApiContext } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { CursorParam, ErrorBody, IntegerParam, Nullable, parseTimeRange, TimeRangeParams } from '../query-params.js';

const ContactsQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'text found in the name, organization, an e-mail address or a phone number (case-insensitive)' })),
    limit: Type.Optional(IntegerParam({ minimum: 1, maximum: 1000, default: 100, description: 'contacts per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

const ContactBody = Type.Object({
  id: Type.String({ description: 'the contact’s content hash in hex: its id here and in /v1/search' }),
  uid: Nullable(Type.String()),
  full_name: Nullable(Type.String()),
  structured_name: Nullable(Type.Record(Type.String(), Type.Unknown())),
  emails: Type.Array(Type.String()),
  phones: Type.Array(Type.String()),
  organization: Nullable(Type.String()),
  title: Nullable(Type.String()),
  birthday: Nullable(Type.String({ format: 'date' })),
  addresses: Type.Array(Type.Unknown()),
  notes: Nullable(Type.String()),
  categories: Type.Array(Type.String()),
  source: Type.String(),
});

const ContactsPage = Type.Object({
  contacts: Type.Array(ContactBody),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

const EventsQuery = Type.Object(
  {
    ...TimeRangeParams,
    limit: Type.Optional(IntegerParam({ minimum: 1, maximum: 1000, default: 100, description: 'events per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false, description: 'from/to: events overlapping the range (one that began before from and was still going on counts)' },
);

const EventBody = Type.Object({
  id: Type.String({ description: 'the event’s content hash in hex: its id here and in /v1/search' }),
  uid: Nullable(Type.String({ description: 'the series’ UID: every occurrence of a recurring event shares it' })),
  starts_at: Type.String({ format: 'date-time' }),
  ends_at: Nullable(Type.String({ format: 'date-time' })),
  all_day: Type.Boolean(),
  time_zone: Nullable(Type.String()),
  recurrence_id: Nullable(Type.String({ format: 'date-time' })),
  summary: Nullable(Type.String()),
  description: Nullable(Type.String()),
  location: Nullable(Type.String()),
  status: Nullable(Type.String()),
  organizer: Nullable(Type.String()),
  attendees: Type.Array(Type.Unknown()),
  rrule: Nullable(Type.String()),
  calendar_name: Nullable(Type.String()),
  source: Type.String(),
});

const EventsPage = Type.Object({
  events: Type.Array(EventBody),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

function toEvent(event: CalendarEvent): Static<typeof EventBody> {
  return { ...event, starts_at: event.starts_at.toISOString(), ends_at: event.ends_at?.toISOString() ?? null, recurrence_id: event.recurrence_id?.toISOString() ?? null };
}

export function contactRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/contacts',
    {
      schema: {
        summary: 'contacts in name order, found by name, organization, e-mail or phone',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: ContactsQuery,
        response: { 200: ContactsPage, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const query = request.query;
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isContactPosition);
      const page = await context.asUser(request, (tx) => contactsPage(tx, { words: query.q ?? null }, { after, limit: query.limit ?? 100 }));
      return { contacts: page.rows, next_cursor: page.next && encodeCursor(page.next) };
    },
  );

  app.get(
    '/calendar/events',
    {
      schema: {
        summary: 'calendar events overlapping a time range, oldest first',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: EventsQuery,
        response: { 200: EventsPage, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const query = request.query;
      const range = parseTimeRange(query);
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isEventPosition);
      const page = await context.asUser(request, (tx) => eventsPage(tx, range, { after, limit: query.limit ?? 100 }));
      return { events: page.rows.map(toEvent), next_cursor: page.next && encodeCursor(page.next) };
    },
  );
}
