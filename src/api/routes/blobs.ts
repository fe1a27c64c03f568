// GET /v1/blobs/{sha256}: a stored file's original bytes (a photo, a mail attachment, a document),
// streamed from the blob store, with the MIME type of the user's reference to it, Content-Length,
// the SHA-256 as ETag (strong: the content never changes under its hash), and single byte ranges
// (206 with Content-Range; 416 when none of it can be served). Only for a user who references the
// blob: another user's blob, like one that does not exist, is a 404, so a hash's existence is
// never revealed.
//
// The store keeps blobs compressed in the warm and cold tiers and opens them as one verified
// stream (BlobStore.open), so a range is cut from the decompressed stream: the bytes before it are
// read and skipped. Only a whole response is checked against the hash to its end; a range stops
// reading after its last byte.
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { LakeError } from '../../errors.js';
import { blobReference, SHA256_PATTERN } from '../../query/media.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody, EXPECTED } from '../query-params.js';

/** A SHA-256 path parameter's description, and its form in words. */
export const SHA256_DESCRIPTION = 'the blob’s SHA-256, 64 hex digits';
export const SHA256_WORDS = 'a SHA-256 in hex, 64 characters like 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08';

export const Sha256Param = Type.String({ pattern: SHA256_PATTERN, description: SHA256_DESCRIPTION, [EXPECTED]: SHA256_WORDS });

/** A single byte range, both ends inclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The range a Range header asks for in a body of `size` bytes: null to send it all (no header, a
 * unit other than bytes, several ranges, or a malformed one: RFC 9110 §14.2 lets a server ignore
 * those), 'unsatisfiable' when it starts past the end (or asks for the last 0 bytes).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '') {
    // A suffix: the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (last !== '' && end < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** Passes bytes start..end (inclusive) of what flows through, then ends; the source is destroyed once they are out. */
function byteSlice(source: Readable, range: ByteRange): Transform {
  let position = 0;
  let done = false;
  const slice = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (done) return callback();
      const from = Math.max(0, range.start - position);
      const to = Math.min(chunk.length, range.end + 1 - position);
      position += chunk.length;
      if (to > from) this.push(chunk.subarray(from, to));
      if (position > range.end) {
        done = true;
        this.push(null);
        source.unpipe(slice);
        source.destroy();
      }
      callback();
    },
  });
  source.on('error', (error) => {
    if (!done) slice.destroy(error);
  });
  return source.pipe(slice);
}

/** Types a browser shows as media, never as a page: everything else (HTML, SVG, XML, scripts) is sent as a download. */
function displayedInline(mimeType: string | null): boolean {
  const type = mimeType?.split(';')[0]!.trim().toLowerCase() ?? '';
  if (type === 'image/svg+xml') return false;
  return /^(image|audio|video)\//.test(type) || type === 'application/pdf' || type === 'text/plain';
}

/** The blob's bytes for a request whose user references it: the whole or the range asked, with its headers. */
async function sendBlob(context: ApiContext, request: FastifyRequest, reply: FastifyReply, sha256: string, mimeType: string | null) {
  const stored = await context.lake.blobs.stat(sha256);
  if (!stored) throw new LakeError('NOT_FOUND', `no blob ${sha256}`);
  const size = stored.size;
  const etag = `"${sha256}"`;
  reply.header('etag', etag).header('accept-ranges', 'bytes').header('cache-control', 'private, max-age=31536000, immutable');
  reply.header('content-type', mimeType ?? 'application/octet-stream');
  // The bytes are somebody's mail attachment or document, served from the console's origin: no
  // script in them runs there, and a type a browser would render as a page is a download.
  reply.header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox");
  if (!displayedInline(mimeType)) reply.header('content-disposition', 'attachment');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  const range = parseRange(request.headers.range, size);
  if (range === 'unsatisfiable') {
    return reply
      .code(416)
      .header('content-range', `bytes */${size}`)
      .header('content-type', 'application/json; charset=utf-8')
      .send({ error: { code: 'RANGE_NOT_SATISFIABLE', message: `range ${request.headers.range} is outside the blob's ${size} bytes` } });
  }
  const content = await context.lake.blobs.open(sha256);
  content.on('error', (error) => {
    if (!(range && content.destroyed)) request.log.error({ err: error }, `blob ${sha256} failed while it was sent`);
  });
  if (range === null) return reply.header('content-length', String(size)).send(content);
  return reply
    .code(206)
    .header('content-range', `bytes ${range.start}-${range.end}/${size}`)
    .header('content-length', String(range.end - range.start + 1))
    .send(byteSlice(content, range));
}

export function blobRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/blobs/:sha256',
    {
      schema: {
        summary: 'a stored file’s original bytes (photo, attachment, document), with Range requests',
        description:
          'The bytes as imported, with the MIME type of your reference to them, `Content-Length`, `ETag` (the SHA-256) and `Accept-Ranges: bytes`. ' +
          'A single `Range: bytes=a-b`, `bytes=a-` or `bytes=-n` gives 206 with `Content-Range`; a range starting past the end gives 416 with `Content-Range: bytes */size`; ' +
          'several ranges or a malformed one are ignored (the whole file, 200). A blob you do not reference is a 404, whether or not it exists.',
        tags: ['data'],
        security: [{ apiKey: [] }],
        params: Type.Object({ sha256: Sha256Param }),
        response: {
          200: Type.Unsafe<Readable>({ description: 'the bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }),
          206: Type.Unsafe<Readable>({ description: 'the range asked for', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } }),
          304: Type.Unsafe<null>({ description: 'If-None-Match named this blob: not sent again' }),
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
          416: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const sha256 = request.params.sha256.toLowerCase();
      const reference = await context.asUser(request, (tx) => blobReference(tx, sha256));
      if (!reference) throw new LakeError('NOT_FOUND', `no blob ${sha256}`);
      return sendBlob(context, request, reply, sha256, reference.mime_type);
    },
  );
}
