// GET /v1/messages: the user's messages (mail), newest first by default, filtered by time range,
// label, thread and words, paged with a cursor on (sent_at, content_hash); GET /v1/messages/{id}:
// one message with its body and attachments, whose bytes are at /v1/blobs/{sha256}. Another
// user's message is not there under row-level security: a 404 like an id that never existed.
// The queries: query/messages.ts.
import { Type, type Static } from 'typebox';
import { LakeError } from '../../errors.js';
import { isMessagePosition, MESSAGE_ID_PATTERN, MESSAGE_SNIPPET_CHARS, messageById, messagesPage, type MessageSummary } from '../../query/messages.js';
import type { ApiApp, ApiContext } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { CursorParam, ErrorBody, EXPECTED, IntegerParam, Nullable, parseTimeRange, TimeRangeParams } from '../query-params.js';

const MessagesQuery = Type.Object(
  {
    ...TimeRangeParams,
    label: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'only messages with this label (exactly as listed in `labels`, e.g. Inbox)' })),
    thread: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'only this thread (`thread_id`)' })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'words in the subject or body (web search syntax: "phrase", -not, or)' })),
    order: Type.Optional(Type.Enum(['desc', 'asc'], { default: 'desc', description: 'newest first (desc) or oldest first (asc)' })),
    limit: Type.Optional(IntegerParam({ minimum: 1, maximum: 1000, default: 100, description: 'messages per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

const MessageHeaders = {
  id: Type.String({ description: 'the message’s content hash in hex: its id here and in /v1/search' }),
  sent_at: Type.String({ format: 'date-time' }),
  message_id: Nullable(Type.String({ description: 'RFC 5322 Message-ID, without angle brackets' })),
  thread_id: Nullable(Type.String()),
  in_reply_to: Nullable(Type.String()),
  from: Nullable(Type.String()),
  to: Type.Array(Type.String()),
  cc: Type.Array(Type.String()),
  subject: Nullable(Type.String()),
  labels: Type.Array(Type.String()),
  source: Type.String(),
};

const MessageSummaryBody = Type.Object({
  ...MessageHeaders,
  snippet: Nullable(Type.String({ description: `the start of the body, at most ${MESSAGE_SNIPPET_CHARS} characters` })),
  attachment_count: Type.Integer(),
});

const AttachmentBody = Type.Object({
  sha256: Type.String({ description: 'the attachment’s bytes: GET /v1/blobs/{sha256}' }),
  name: Nullable(Type.String({ description: 'its file name, as the message gave it' })),
  size: Type.Integer({ description: 'bytes' }),
  type: Type.String({ description: 'its MIME type' }),
});

const MessageBody = Type.Object({
  ...MessageHeaders,
  body: Nullable(Type.String()),
  attachments: Type.Array(AttachmentBody),
  attributes: Nullable(Type.Record(Type.String(), Type.Unknown())),
  import_file_id: Nullable(Type.String({ format: 'uuid' })),
});

const MessagesPage = Type.Object({
  messages: Type.Array(MessageSummaryBody),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

type Headers = Pick<MessageSummary, 'id' | 'sent_at' | 'message_id' | 'thread_id' | 'in_reply_to' | 'from_address' | 'to_addresses' | 'cc_addresses' | 'subject' | 'labels' | 'source'>;

function headersOf(message: Headers) {
  return {
    id: message.id,
    sent_at: message.sent_at.toISOString(),
    message_id: message.message_id,
    thread_id: message.thread_id,
    in_reply_to: message.in_reply_to,
    from: message.from_address,
    to: message.to_addresses,
    cc: message.cc_addresses,
    subject: message.subject,
    labels: message.labels,
    source: message.source,
  };
}

function toSummary(message: MessageSummary): Static<typeof MessageSummaryBody> {
  return { ...headersOf(message), snippet: message.snippet, attachment_count: message.attachment_count };
}

export function messageRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/messages',
    {
      schema: {
        summary: 'messages (mail): by time, label, thread and words, paged',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: MessagesQuery,
        response: { 200: MessagesPage, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const query = request.query;
      const range = parseTimeRange(query);
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isMessagePosition);
      const page = await context.asUser(request, (tx) =>
        messagesPage(
          tx,
          { ...range, label: query.label ?? null, thread: query.thread ?? null, words: query.q ?? null },
          { order: query.order ?? 'desc', after, limit: query.limit ?? 100 },
        ),
      );
      return { messages: page.rows.map(toSummary), next_cursor: page.next && encodeCursor(page.next) };
    },
  );

  app.get(
    '/messages/:id',
    {
      schema: {
        summary: 'one message with its body and attachments',
        tags: ['data'],
        security: [{ apiKey: [] }],
        params: Type.Object({
          id: Type.String({ pattern: MESSAGE_ID_PATTERN, description: 'the message’s id (64 hex digits)', [EXPECTED]: 'a message id: 64 hex digits, as /v1/messages lists them' }),
        }),
        response: { 200: MessageBody, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const id = request.params.id.toLowerCase();
      const message = await context.asUser(request, (tx) => messageById(tx, id));
      if (!message) throw new LakeError('NOT_FOUND', `no message ${id}`);
      return { ...headersOf(message), body: message.body, attachments: message.attachments, attributes: message.attributes, import_file_id: message.import_file_id };
    },
  );
}
