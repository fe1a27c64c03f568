// GET /v1/export: every row the user owns, in every table of user data, as NDJSON, streamed in
// chunks as the client takes them (query/export.ts: which tables, which columns, the lines). The
// last line is `{"complete":true,"rows":{...}}`: a response without it was cut short.
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
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
        .send(Readable.from(logFailure(exportLines(context.lake.db, (work) => context.asUser(request, work)), request), { objectMode: false }));
    },
  );
}
