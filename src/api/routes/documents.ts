// GET /v1/documents: the user's documents (PDF, DOCX, CSV, JSON, text, other kept files), newest
// import first, filtered by when they were imported, kind and words in the title or extracted
// text, paged on (created_at, content_hash). Their bytes: /v1/blobs/{sha256}. query/documents.ts.
import { Type, type Static } from 'typebox';
import { DOCUMENT_KINDS, DOCUMENT_SNIPPET_CHARS, documentsPage, isDocumentPosition, type DocumentSummary } from '../../query/documents.js';
import type { ApiApp, ApiContext } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { CursorParam, ErrorBody, IntegerParam, invalid, ListParam, Nullable, parseList, parseTimeRange, TimeRangeParams } from '../query-params.js';

const DocumentsQuery = Type.Object(
  {
    ...TimeRangeParams,
    kinds: Type.Optional(ListParam(`only these kinds: ${DOCUMENT_KINDS.join(', ')}`)),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'words in the title or extracted text (web search syntax: "phrase", -not, or)' })),
    limit: Type.Optional(IntegerParam({ minimum: 1, maximum: 1000, default: 100, description: 'documents per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false, description: 'from/to: when the document was imported (a document has no time of its own the lake trusts)' },
);

const DocumentBody = Type.Object({
  id: Type.String({ description: 'the document’s content hash in hex: its id here and in /v1/search' }),
  sha256: Type.String({ description: 'its bytes: GET /v1/blobs/{sha256}' }),
  path: Type.String({ description: 'where it was in the export' }),
  kind: Type.Enum([...DOCUMENT_KINDS]),
  mime_type: Nullable(Type.String()),
  size_bytes: Type.Integer(),
  title: Nullable(Type.String()),
  snippet: Nullable(Type.String({ description: `the start of the extracted text, at most ${DOCUMENT_SNIPPET_CHARS} characters` })),
  language: Nullable(Type.String()),
  metadata: Type.Record(Type.String(), Type.Unknown()),
  pii: Nullable(Type.Record(Type.String(), Type.Integer(), { description: 'personal data found in the text, by kind: {"email": 2}; null when no text was scanned' })),
  extraction: Type.String({ description: 'text, none, encrypted, malformed or too_large' }),
  source: Type.String(),
  imported_at: Type.String({ format: 'date-time' }),
});

const DocumentsPage = Type.Object({
  documents: Type.Array(DocumentBody),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

function toDocument({ created_at, ...document }: DocumentSummary): Static<typeof DocumentBody> {
  return { ...document, kind: document.kind as Static<typeof DocumentBody>['kind'], imported_at: created_at.toISOString() };
}

export function documentRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/documents',
    {
      schema: {
        summary: 'documents: by import time, kind and words, paged',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: DocumentsQuery,
        response: { 200: DocumentsPage, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const query = request.query;
      const range = parseTimeRange(query);
      const kinds = parseList(query.kinds);
      for (const kind of kinds ?? []) {
        if (!(DOCUMENT_KINDS as readonly string[]).includes(kind)) throw invalid('kinds', `${JSON.stringify(kind)} is not one of ${DOCUMENT_KINDS.join(', ')}`);
      }
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isDocumentPosition);
      const page = await context.asUser(request, (tx) => documentsPage(tx, { ...range, kinds, words: query.q ?? null }, { after, limit: query.limit ?? 100 }));
      return { documents: page.rows.map(toDocument), next_cursor: page.next && encodeCursor(page.next) };
    },
  );
}
