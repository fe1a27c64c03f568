// /v1/uploads: resumable uploads over tus 1.0 (uploads/uploads.ts), plus GET of an upload's state.
//
//   POST   /v1/uploads        create (Upload-Length, Upload-Metadata with sha256 and filename)
//   HEAD   /v1/uploads/{id}   its offset
//   PATCH  /v1/uploads/{id}   append at Upload-Offset (application/offset+octet-stream)
//   DELETE /v1/uploads/{id}   terminate
//   OPTIONS /v1/uploads       discovery: Tus-Version, Tus-Extension, Tus-Max-Size (no key needed)
//   GET    /v1/uploads/{id}   the upload as JSON: status (uploading, verified...), size, offset
//
// Every request has passed the API key check (the /v1 hook). Before tus sees a request for an
// upload, its row is read as the request's user: no row (another user's upload, an id that never
// existed, `..`) is a 404; an expired one a 410. tus then acts on that id only, whatever else
// the URL holds (uploads.ts). The body of a PATCH is not read by Fastify: its
// stream goes to tus as it arrives, so uploads of any size take constant memory.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { stat } from 'node:fs/promises';
import { Type } from 'typebox';
import { LakeError } from '../../errors.js';
import { activeJobOfUploads } from '../../query/jobs.js';
import { markUploadDeleted, readUpload, type UploadRow } from '../../query/uploads.js';
import { principalOf } from '../auth.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody, Nullable } from '../query-params.js';
import { UPLOAD_ID, type Uploads } from '../uploads/uploads.js';

const TUS_HEADERS = {
  description: 'tus 1.0: see https://tus.io/protocols/resumable-upload (creation, termination, expiration)',
};

export const UploadBody = Type.Object({
  upload_id: Type.String({ format: 'uuid' }),
  filename: Nullable(Type.String()),
  size_bytes: Type.Integer(),
  offset_bytes: Type.Integer({ description: 'bytes received so far' }),
  sha256: Type.String({ description: 'the SHA-256 the client declared (hex); verified uploads have exactly this' }),
  status: Type.Union([Type.Literal('uploading'), Type.Literal('verified'), Type.Literal('refused'), Type.Literal('expired'), Type.Literal('deleted')]),
  note: Nullable(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  expires_at: Nullable(Type.String({ format: 'date-time', description: 'when an unfinished upload is deleted' })),
  finished_at: Nullable(Type.String({ format: 'date-time' })),
});

export async function uploadRoutes(parent: ApiApp, context: ApiContext, uploads: Uploads): Promise<void> {
  // A scope of their own (keeping the /v1 hooks: API key, rate limit) for the parser below.
  await parent.register(async (app: ApiApp) => routes(app, context, uploads));
}

function routes(app: ApiApp, context: ApiContext, uploads: Uploads): void {
  // PATCH bodies stay streams for tus: no parser reads them here.
  app.addContentTypeParser('application/offset+octet-stream', (_request, _payload, done) => done(null));

  const toTus = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const userId = principalOf(request).userId;
    const id = (request.params as { id?: string }).id;
    if (request.method === 'POST' && request.headers['upload-length'] === undefined) {
      throw new LakeError('INVALID_REQUEST', 'Upload-Length is required: uploads of a deferred length are not accepted');
    }
    if (id !== undefined) {
      const row = await ownUpload(context, request, uploads, id);
      if (request.method === 'DELETE' && row.status === 'verified') {
        const busy = await context.asUser(request, (tx) => activeJobOfUploads(tx, [id]));
        if (busy !== null) throw new LakeError('CONFLICT', `upload ${id} is being imported: cancel its job first`);
      }
    }
    // From here on tus writes the response itself (the access log and metrics still see it).
    reply.hijack();
    await uploads.handle(request.raw, reply.raw, userId, id);
    if (id !== undefined && request.method === 'DELETE' && reply.raw.statusCode === 204) {
      await uploads.removeFiles(id);
      await context.asUser(request, (tx) => markUploadDeleted(tx, id));
    }
  };

  const common = { tags: ['uploads'], security: [{ apiKey: [] }] };
  const idParams = Type.Object({ id: Type.String({ description: 'the upload id from the Location of its creation' }) });
  app.route({ method: 'POST', url: '/uploads', schema: { ...common, summary: 'create a resumable upload (tus 1.0)', ...TUS_HEADERS }, handler: toTus });
  app.route({
    method: 'OPTIONS',
    url: '/uploads',
    // Discovery holds no user data, and browsers send their preflight without credentials.
    config: { public: true },
    schema: { tags: ['uploads'], summary: 'tus discovery: Tus-Version, Tus-Extension, Tus-Max-Size', ...TUS_HEADERS },
    handler: async (request, reply) => {
      reply.hijack();
      await uploads.handle(request.raw, reply.raw, null);
    },
  });
  for (const method of ['HEAD', 'PATCH', 'DELETE'] as const) {
    app.route({
      method,
      url: '/uploads/:id',
      schema: { ...common, summary: `${method} of a resumable upload (tus 1.0)`, ...TUS_HEADERS, params: idParams },
      handler: toTus,
    });
  }

  app.get(
    '/uploads/:id',
    {
      // HEAD is tus's (above), not this route's.
      exposeHeadRoute: false,
      schema: {
        ...common,
        summary: 'an upload: its size, bytes received, declared SHA-256 and status',
        params: idParams,
        response: { 200: UploadBody, 401: ErrorBody, 404: ErrorBody, 410: ErrorBody },
      },
    },
    async (request) => {
      const row = await ownUpload(context, request, uploads, request.params.id, { allowGone: true });
      return toUploadBody(row, await receivedBytes(uploads, row));
    },
  );
}

/** The request user's upload, or 404 (not theirs, no such id, not an id) / 410 (expired, refused). */
async function ownUpload(context: ApiContext, request: FastifyRequest, uploads: Uploads, id: string, options: { allowGone?: boolean } = {}): Promise<UploadRow> {
  if (!UPLOAD_ID.test(id)) throw new LakeError('NOT_FOUND', `no upload ${JSON.stringify(id.slice(0, 100))}`);
  const row = await context.asUser(request, (tx) => readUpload(tx, id));
  if (!row || row.status === 'deleted') throw new LakeError('NOT_FOUND', `no upload ${id}`);
  if (row.status === 'uploading' && row.expires_at.getTime() < Date.now()) {
    await uploads.expire(principalOf(request).userId, id);
    row.status = 'expired';
    row.note = 'not finished before it expired';
  }
  if (options.allowGone) return row;
  if (row.status === 'expired') throw new LakeError('GONE', `upload ${id} expired on ${row.expires_at.toISOString()} before it was finished, and was deleted`);
  if (row.status === 'refused') throw new LakeError('GONE', row.note ?? `upload ${id} was refused`);
  return row;
}

async function receivedBytes(uploads: Uploads, row: UploadRow): Promise<number> {
  if (row.status === 'verified') return row.size_bytes;
  if (row.status !== 'uploading') return 0;
  return (await stat(uploads.filePath(row.upload_id)).catch(() => null))?.size ?? 0;
}

export function toUploadBody(row: UploadRow, offset: number) {
  return {
    upload_id: row.upload_id,
    filename: row.filename,
    size_bytes: Number(row.size_bytes),
    offset_bytes: offset,
    sha256: row.sha256_declared,
    status: row.status,
    note: row.note,
    created_at: row.created_at.toISOString(),
    expires_at: row.status === 'uploading' ? row.expires_at.toISOString() : null,
    finished_at: row.finished_at?.toISOString() ?? null,
  };
}
