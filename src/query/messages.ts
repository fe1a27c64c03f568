// Messages (user_data.messages: Gmail mbox and later chat exports): pages filtered by time range,
// label, thread and words, newest first by default, keyed by (sent_at, content_hash), the primary
// key after user_id; and one message by its id (the hex content hash, as /v1/search names it) with
// its attachments, whose bytes are blobs (GET /v1/blobs/{sha256}).
//
// A message by id alone: (user_id, content_hash) has no index of its own, so the lookup reads the
// user's messages in every monthly partition (a missing index, noted for a later migration).
import type { Queryable } from '../db/database.js';
import { isTimeHashPosition, SqlParams, utcMicros, whereClause, type Page, type TimeHashPosition, type TimeRange } from './sql.js';

/** A list entry: the headers and the start of the body. */
export interface MessageSummary {
  id: string;
  sent_at: Date;
  message_id: string | null;
  thread_id: string | null;
  in_reply_to: string | null;
  from_address: string | null;
  to_addresses: string[];
  cc_addresses: string[];
  subject: string | null;
  snippet: string | null;
  labels: string[];
  attachment_count: number;
  source: string;
}

export interface Attachment {
  sha256: string;
  name: string | null;
  size: number;
  type: string;
}

export interface Message extends Omit<MessageSummary, 'snippet' | 'attachment_count'> {
  body: string | null;
  attachments: Attachment[];
  attributes: Record<string, unknown> | null;
  import_file_id: string | null;
}

export interface MessageFilter extends TimeRange {
  /** Only messages carrying this label (Gmail's X-Gmail-Labels). */
  label: string | null;
  /** Only this thread (Gmail's X-GM-THRID). */
  thread: string | null;
  /** Words in the subject or body, web search syntax. */
  words: string | null;
}

export type MessagePosition = TimeHashPosition;

/** A message's id: its content hash, 32 bytes in hex. */
export const MESSAGE_ID_PATTERN = '^[0-9a-fA-F]{64}$';

export function isMessagePosition(value: unknown): value is MessagePosition {
  return isTimeHashPosition(value, /^[0-9a-f]{64}$/);
}

/** Characters of the body a list entry shows. */
export const MESSAGE_SNIPPET_CHARS = 240;

const HEADER_COLUMNS = `encode(content_hash, 'hex') AS id, sent_at, message_id, thread_id, in_reply_to, from_address, to_addresses, cc_addresses,
  subject, labels, source`;

export async function messagesPage(
  tx: Queryable,
  filter: MessageFilter,
  options: { order: 'asc' | 'desc'; after: MessagePosition | null; limit: number },
): Promise<Page<MessageSummary, MessagePosition>> {
  const { after, limit } = options;
  const descending = options.order === 'desc';
  const params = new SqlParams();
  const where: string[] = [];
  if (filter.from) where.push(`sent_at >= ${params.add(filter.from)}`);
  if (filter.to) where.push(`sent_at < ${params.add(filter.to)}`);
  // labels @> ARRAY[...] is served by the GIN index on labels; thread_id by (user_id, thread_id, sent_at).
  if (filter.label !== null) where.push(`labels @> ARRAY[${params.add(filter.label)}::text]`);
  if (filter.thread !== null) where.push(`thread_id = ${params.add(filter.thread)}`);
  if (filter.words !== null) where.push(`search @@ websearch_to_tsquery('simple', ${params.add(filter.words)})`);
  if (after) where.push(`(sent_at, content_hash) ${descending ? '<' : '>'} (${params.add(after[0])}::timestamptz, decode(${params.add(after[1])}::text, 'hex'))`);
  const direction = descending ? 'DESC' : 'ASC';
  const rows = await tx.query<MessageSummary & { position_time: string }>(
    `SELECT ${HEADER_COLUMNS}, left(body, ${MESSAGE_SNIPPET_CHARS}) AS snippet, jsonb_array_length(attachments)::int AS attachment_count,
            ${utcMicros('sent_at')} AS position_time
       FROM user_data.messages
      ${whereClause(where)}
      ORDER BY sent_at ${direction}, content_hash ${direction}
      LIMIT ${params.add(limit + 1)}`,
    params.values,
  );
  const page = rows.rows.slice(0, limit);
  const last = page.at(-1);
  return {
    rows: page.map(({ position_time: _, ...message }) => message),
    next: rows.rows.length > limit && last ? [last.position_time, last.id] : null,
  };
}

/** One message with its attachments; null when the user has none with this id. */
export async function messageById(tx: Queryable, id: string): Promise<Message | null> {
  const found = await tx.query<Omit<Message, 'attachments'> & { attachments: { filename: string | null; contentType: string; size: number; sha256: string }[] }>(
    `SELECT ${HEADER_COLUMNS}, body, attachments, attributes, import_file_id
       FROM user_data.messages WHERE content_hash = decode($1, 'hex') LIMIT 1`,
    [id.toLowerCase()],
  );
  const row = found.rows[0];
  if (!row) return null;
  return {
    ...row,
    attachments: row.attachments.map((a) => ({ sha256: a.sha256, name: a.filename, size: a.size, type: a.contentType })),
  };
}
