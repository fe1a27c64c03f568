// Documents (user_data.documents: PDF, DOCX, CSV, JSON, text and other kept files) for the API:
// pages newest first by when they were imported (created_at: a document carries no time of its
// own the lake trusts), filtered by that time and by words in the title or extracted text (the
// indexed `search` column), keyed by (created_at, content_hash). The bytes are the blob `sha256`.
//
// The time order has no index of its own: (user_id, kind, created_at) serves a kind, not all
// kinds, so a page sorts the user's matching documents (thousands, not millions). A missing index
// (user_id, created_at, content_hash), noted for a later migration.
import type { Queryable } from '../db/database.js';
import { isTimeHashPosition, SqlParams, utcMicros, whereClause, type Page, type TimeHashPosition, type TimeRange } from './sql.js';

export const DOCUMENT_KINDS = ['pdf', 'docx', 'csv', 'json', 'text', 'other'] as const;

export interface DocumentSummary {
  id: string;
  sha256: string;
  path: string;
  kind: string;
  mime_type: string | null;
  size_bytes: number;
  title: string | null;
  snippet: string | null;
  language: string | null;
  metadata: Record<string, unknown>;
  pii: Record<string, number> | null;
  extraction: string;
  source: string;
  created_at: Date;
}

export interface DocumentFilter extends TimeRange {
  words: string | null;
  /** Only these kinds (pdf, docx, ...); null: all. */
  kinds: readonly string[] | null;
}

export type DocumentPosition = TimeHashPosition;

export function isDocumentPosition(value: unknown): value is DocumentPosition {
  return isTimeHashPosition(value, /^[0-9a-f]{64}$/);
}

export const DOCUMENT_SNIPPET_CHARS = 240;

export async function documentsPage(tx: Queryable, filter: DocumentFilter, options: { after: DocumentPosition | null; limit: number }): Promise<Page<DocumentSummary, DocumentPosition>> {
  const { after, limit } = options;
  const params = new SqlParams();
  const where: string[] = [];
  if (filter.from) where.push(`created_at >= ${params.add(filter.from)}`);
  if (filter.to) where.push(`created_at < ${params.add(filter.to)}`);
  if (filter.kinds) where.push(`kind = ANY(${params.add(filter.kinds)}::text[])`);
  if (filter.words !== null) where.push(`search @@ websearch_to_tsquery('simple', ${params.add(filter.words)})`);
  if (after) where.push(`(created_at, content_hash) < (${params.add(after[0])}::timestamptz, decode(${params.add(after[1])}::text, 'hex'))`);
  const rows = await tx.query<DocumentSummary & { position_time: string }>(
    `SELECT encode(content_hash, 'hex') AS id, encode(sha256, 'hex') AS sha256, path, kind, mime_type, size_bytes::float8 AS size_bytes, title,
            left(body, ${DOCUMENT_SNIPPET_CHARS}) AS snippet, language, metadata, pii, extraction, source, created_at,
            ${utcMicros('created_at')} AS position_time
       FROM user_data.documents
      ${whereClause(where)}
      ORDER BY created_at DESC, content_hash DESC
      LIMIT ${params.add(limit + 1)}`,
    params.values,
  );
  const page = rows.rows.slice(0, limit);
  const last = page.at(-1);
  return {
    rows: page.map(({ position_time: _, ...document }) => document),
    next: rows.rows.length > limit && last ? [last.position_time, last.id] : null,
  };
}
