// GET /v1/export: every row the user owns, in every table of user data, as NDJSON, streamed in
// chunks as the client takes them (query/export.ts: which tables, which columns, the lines). The
// last line is `{"complete":true,"rows":{...}}`: a response without it was cut short.
// `?format=archive`: the same rows plus the user's blobs and a manifest, as the portable archive of
// `lake export` (backup/user-archive.ts), which `lake import` restores; a response cut short has no manifest.
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { userArchive } from '../../backup/user-archive.js';
import { consistentReads, exportLines, USER_SCHEMAS, type ConsistentReads } from '../../query/export.js';
import { principalOf } from '../auth.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody } from '../query-params.js';

/** Once the 200 is sent a failure can only cut the stream short: say why in the server's log. */
async function* logFailure(lines: AsyncGenerator<string>, request: FastifyRequest): AsyncGenerator<string> {
  try {
    yield* lines;
  } catch (error) {
    request.log.error({ err: error }, `export for ${principalOf(request).userName} failed after the response started`);
    throw error;
  }
}

/**
 * The reads of one export, as context.asUser makes them (the user's identity, LAKE_API_TIMEOUT_MS,
 * the transaction metrics) but on a server all in one snapshot (query/export.ts).
 */
function readsFor(request: FastifyRequest, context: ApiContext): ConsistentReads {
  const { db, config } = context.lake;
  const userId = principalOf(request).userId;
  const settings = config.apiTimeoutMs > 0 ? { statement_timeout: `${config.apiTimeoutMs}ms` } : undefined;
  return consistentReads(db, (work, snapshot) => context.metrics.timeTransaction((inner) => db.asUser(userId, inner, settings, { snapshot }), work));
}

/** The snapshot is released when the response stream ends, fails or is destroyed (the client went away). */
function releasedWith<S extends Readable>(stream: S, reads: ConsistentReads, request: FastifyRequest): S {
  stream.once('close', () => void reads.close().catch((error: unknown) => request.log.error({ err: error }, 'export: releasing its snapshot failed')));
  return stream;
}

export function exportRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/export',
    {
      schema: {
        summary: 'everything the user owns, every table of it, streamed as NDJSON or as a portable archive',
        description:
          `One line per row, {"table": "schema.table", "row": {...}}, for every table of the user's data (schemas ${USER_SCHEMAS.join(', ')}); the last line is {"complete": true, "rows": {table: count}}. ` +
          'With format=archive: the portable archive of `lake export` (a zstd-compressed tar: header.json, the blobs the user references, the rows, and manifest.json with row counts and SHA-256 of every entry), which `lake import` restores into another lake.',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: Type.Object(
          {
            format: Type.Optional(
              Type.Union([Type.Literal('ndjson'), Type.Literal('archive')], { description: 'ndjson (the default): the rows as NDJSON lines; archive: rows, blobs and manifest in one .tar.zst' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Unsafe<Readable>({
            description: 'NDJSON lines, or the archive',
            content: { 'application/x-ndjson': { schema: { type: 'string' } }, 'application/zstd': { schema: { type: 'string', format: 'binary' } } },
          }),
          400: ErrorBody,
          401: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const user = principalOf(request).userName;
      if (request.query.format === 'archive') {
        const reads = readsFor(request, context);
        const archive = releasedWith(userArchive({ db: context.lake.db, asUser: reads.asUser, blobs: context.lake.blobs, userName: user }), reads, request);
        archive.on('error', (error) => request.log.error({ err: error }, `archive export for ${user} failed after the response started`));
        return reply
          .header('content-type', 'application/zstd')
          .header('content-disposition', `attachment; filename="lake-export-${user}.tar.zst"`)
          .send(archive);
      }
      const reads = readsFor(request, context);
      return reply
        .header('content-type', 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="lake-export-${user}.ndjson"`)
        .send(releasedWith(Readable.from(logFailure(exportLines(context.lake.db, reads.asUser), request), { objectMode: false }), reads, request));
    },
  );
}
