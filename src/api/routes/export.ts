// GET /v1/export: every row the user owns, in every table of user data, as NDJSON, streamed in
// chunks as the client takes them (query/export.ts: which tables, which columns, the lines). The
// last line is `{"complete":true,"rows":{...}}`: a response without it was cut short.
// `?format=archive`: the same rows plus the user's blobs and a manifest, as the portable archive of
// `lake export` (backup/user-archive.ts), which `lake import` restores; a response cut short has no manifest.
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { userArchive } from '../../backup/user-archive.js';
import { exportLines, USER_SCHEMAS } from '../../query/export.js';
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
        const archive = userArchive({ db: context.lake.db, asUser: (work) => context.asUser(request, work), blobs: context.lake.blobs, userName: user });
        archive.on('error', (error) => request.log.error({ err: error }, `archive export for ${user} failed after the response started`));
        return reply
          .header('content-type', 'application/zstd')
          .header('content-disposition', `attachment; filename="lake-export-${user}.tar.zst"`)
          .send(archive);
      }
      return reply
        .header('content-type', 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="lake-export-${user}.ndjson"`)
        .send(Readable.from(logFailure(exportLines(context.lake.db, (work) => context.asUser(request, work)), request), { objectMode: false }));
    },
  );
}
