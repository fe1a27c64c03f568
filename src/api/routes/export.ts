// GET /v1/export: every row the user owns, in every table of user data, as NDJSON, streamed. Each table is
// read in key order, EXPORT_CHUNK rows per short transaction (keyset on the primary key), and a
// chunk is read only when the client has taken the previous one: memory stays bounded whatever the
// lake holds, a slow client holds no transaction (on the embedded database a transaction blocks
// every other request), and a client that goes away stops the reading.
//
// Lines: `{"table":"user_data.items","row":{...}}` with every column but the derived ones (search
// vectors, geography) and the numbers drawn from sequences every user shares (identity columns:
// internal orderings whose gaps would show other users' activity), then one last line
// `{"complete":true,"rows":{"user_data.items":N,...}}`. A response without that line was cut short.
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { QueryResult } from '../../db/database.js';
import { principalOf } from '../auth.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody } from '../query-params.js';

const EXPORT_CHUNK = 2000;

/** The schemas that hold users' rows; every table there with a user_id column is exported. */
const USER_SCHEMAS = ['user_data', 'timeseries', 'imports', 'analytics', 'vectors', 'archive', 'audit'];

interface ExportedTable {
  /** `schema.table`, as the lines name it. */
  name: string;
  /** The primary key after user_id: column names and types. */
  key: readonly { column: string; type: string }[];
  /**
   * Left out: generated columns (geography, search vectors: derived from the others), identity
   * columns (numbers from a sequence all users share: their gaps tell of other users' rows) and API
   * key hashes (credentials, not data). Identity columns still order the chunks, on the server only.
   */
  derived: readonly string[];
}

/**
 * The user tables, found in the catalog rather than listed (a table added later is exported
 * without anyone remembering to): those of USER_SCHEMAS with a user_id column, not partitions.
 * The API role sees them all under row-level security, so each user reads exactly their rows.
 */
async function userTables(context: ApiContext): Promise<ExportedTable[]> {
  const result = await context.lake.db.query<{ name: string; key: { column: string; type: string }[]; derived: string[] }>(
    `SELECT format('%s.%s', n.nspname, c.relname) AS name,
            (SELECT coalesce(json_agg(json_build_object('column', a.attname, 'type', format_type(a.atttypid, NULL)) ORDER BY k.ord), '[]')
               FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = c.oid AND i.indisprimary AND a.attname <> 'user_id') AS key,
            ARRAY(SELECT a.attname::text FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                     AND (a.attgenerated <> '' OR a.attidentity <> '' OR a.attname = 'secret_hash')
                   ORDER BY a.attnum) AS derived
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped)
      ORDER BY array_position($1, n.nspname::text), c.relname`,
    [USER_SCHEMAS],
  );
  return result.rows;
}

/** How a key column travels from one chunk's query to the next: as exact text. */
function keyToText(column: string, type: string): string {
  return type === 'bytea' ? `encode(${column}, 'hex')` : `${column}::text`;
}

function keyFromText(placeholder: string, type: string): string {
  return type === 'bytea' ? `decode(${placeholder}::text, 'hex')` : `${placeholder}::text::${type}`;
}

function chunkQuery(spec: ExportedTable, afterKey: boolean): string {
  const key = spec.key.map(({ column }) => column).join(', ');
  // Keys travel as exact text (timestamps in PostgreSQL's own output with microseconds, bytea as hex).
  const keyText = spec.key.map(({ column, type }, i) => `${keyToText(column, type)} AS k${i}`).join(', ');
  const placeholders = spec.key.map(({ type }, i) => keyFromText(`$${i + 1}`, type)).join(', ');
  const row = spec.derived.length > 0 ? `(to_jsonb(t) - ARRAY[${spec.derived.map((c) => `'${c}'`).join(', ')}])` : 'to_jsonb(t)';
  const order = key === '' ? '' : `ORDER BY ${key}`;
  return `SELECT '{"table":"${spec.name}","row":' || ${row}::text || '}' AS line${keyText ? `, ${keyText}` : ''}
            FROM ${spec.name} t
           ${afterKey ? `WHERE (${key}) > (${placeholders})` : ''}
           ${order} LIMIT ${EXPORT_CHUNK}`;
}

async function* exportLines(context: ApiContext, request: FastifyRequest): AsyncGenerator<string> {
  const counts: Record<string, number> = {};
  for (const spec of await userTables(context)) {
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
      // A table keyed by user_id alone (the user's own row) has one row: no next chunk.
      if (chunk.rows.length < EXPORT_CHUNK || spec.key.length === 0) break;
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
        summary: 'everything the user owns, every table of it, streamed as NDJSON',
        description: `One line per row, {"table": "schema.table", "row": {...}}, for every table of the user's data (schemas ${USER_SCHEMAS.join(', ')}); the last line is {"complete": true, "rows": {table: count}}.`,
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
