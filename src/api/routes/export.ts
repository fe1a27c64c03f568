// GET /v1/export: every row the user owns in the data tables, as NDJSON, streamed. Each table is
// read in key order, EXPORT_CHUNK rows per short transaction (keyset on the primary key), and a
// chunk is read only when the client has taken the previous one: memory stays bounded whatever the
// lake holds, a slow client holds no transaction (on the embedded database a transaction blocks
// every other request), and a client that goes away stops the reading.
//
// Lines: `{"table":"items","row":{...}}` with every column but the derived ones (search vectors,
// geography), then one last line `{"complete":true,"rows":{"items":N,...}}`. A response without
// that line was cut short.
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { QueryResult } from '../../db/database.js';
import { principalOf } from '../auth.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody } from '../query-params.js';

const EXPORT_CHUNK = 2000;

/** How a key column is carried from one chunk's query to the next: as text, exactly. */
const KEY_TYPES = {
  timestamptz: { toText: (c: string) => `${c}::text`, fromText: (p: string) => `${p}::timestamptz` },
  bytea: { toText: (c: string) => `encode(${c}, 'hex')`, fromText: (p: string) => `decode(${p}::text, 'hex')` },
  text: { toText: (c: string) => c, fromText: (p: string) => `${p}::text` },
} as const;

interface ExportedTable {
  name: string;
  table: string;
  /** The primary key after user_id, and each column's type. */
  key: readonly (readonly [column: string, type: keyof typeof KEY_TYPES])[];
}

const EXPORTED_TABLES: readonly ExportedTable[] = [
  { name: 'items', table: 'user_data.items', key: [['occurred_at', 'timestamptz'], ['content_hash', 'bytea']] },
  { name: 'location_points', table: 'timeseries.location_points', key: [['recorded_at', 'timestamptz'], ['content_hash', 'bytea']] },
  { name: 'visits', table: 'user_data.visits', key: [['started_at', 'timestamptz'], ['content_hash', 'bytea']] },
  { name: 'places', table: 'user_data.places', key: [['place_id', 'text']] },
  { name: 'measurements', table: 'timeseries.measurements', key: [['measured_at', 'timestamptz'], ['content_hash', 'bytea']] },
  { name: 'messages', table: 'user_data.messages', key: [['sent_at', 'timestamptz'], ['content_hash', 'bytea']] },
];

/** Columns computed from others: not data of their own. */
const DERIVED_COLUMNS = ['search', 'geog'];

function chunkQuery(spec: ExportedTable, afterKey: boolean): string {
  const columns = spec.key.map(([column]) => column).join(', ');
  // Keys travel as exact text (timestamps in PostgreSQL's own output with microseconds, bytea as hex).
  const keyText = spec.key.map(([column, type], i) => `${KEY_TYPES[type].toText(column)} AS k${i}`).join(', ');
  const placeholders = spec.key.map(([, type], i) => KEY_TYPES[type].fromText(`$${i + 1}`)).join(', ');
  const row = `to_jsonb(t) ${DERIVED_COLUMNS.map((c) => `- '${c}'`).join(' ')}`;
  return `SELECT '{"table":"${spec.name}","row":' || (${row})::text || '}' AS line, ${keyText}
            FROM ${spec.table} t
           ${afterKey ? `WHERE (${columns}) > (${placeholders})` : ''}
           ORDER BY ${columns} LIMIT ${EXPORT_CHUNK}`;
}

async function* exportLines(context: ApiContext, request: FastifyRequest): AsyncGenerator<string> {
  const counts: Record<string, number> = {};
  for (const spec of EXPORTED_TABLES) {
    counts[spec.name] = 0;
    let after: string[] | null = null;
    for (;;) {
      const params: string[] | null = after;
      const chunk: QueryResult<Record<string, string>> = await context.asUser(request, (tx) =>
        tx.query<Record<string, string>>(chunkQuery(spec, params !== null), params ?? []),
      );
      if (chunk.rows.length === 0) break;
      counts[spec.name]! += chunk.rows.length;
      yield `${chunk.rows.map((r) => r.line).join('\n')}\n`;
      if (chunk.rows.length < EXPORT_CHUNK) break;
      const last = chunk.rows.at(-1)!;
      after = spec.key.map((_, i) => last[`k${i}`]!);
    }
  }
  yield `${JSON.stringify({ complete: true, rows: counts })}\n`;
}

/** Once the 200 is sent a failure can only cut the stream short: say why in the server's log. */
async function* logFailure(lines: AsyncGenerator<string>, request: FastifyRequest): AsyncGenerator<string> {
  try {
    yield* lines;
  } catch (error) {
    request.log.error({ err: error }, `export for ${principalOf(request).userName} failed after the response started`);
    throw error;
  }
}

export function exportRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/export',
    {
      schema: {
        summary: 'everything the user owns in the data tables, streamed as NDJSON',
        description: `One line per row, {"table": ..., "row": {...}}, tables in this order: ${EXPORTED_TABLES.map((t) => t.name).join(', ')}; the last line is {"complete": true, "rows": {table: count}}.`,
        tags: ['data'],
        security: [{ apiKey: [] }],
        response: {
          200: Type.Unsafe<Readable>({ description: 'NDJSON lines', content: { 'application/x-ndjson': { schema: { type: 'string' } } } }),
          401: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const user = principalOf(request).userName;
      return reply
        .header('content-type', 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="lake-export-${user}.ndjson"`)
        .send(Readable.from(logFailure(exportLines(context, request), request), { objectMode: false }));
    },
  );
}
