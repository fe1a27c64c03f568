// tus 1.0 requests by hand (fetch), for the tests that need exact headers and bad input; the
// upload test also uses the official client (tus-js-client).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { TestServer } from './api.js';

export const TUS = { 'tus-resumable': '1.0.0' };

export function metadata(entries: Record<string, string>): string {
  return Object.entries(entries)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface Created {
  status: number;
  id: string | null;
  location: string | null;
  body: string;
}

/** POST /v1/uploads. */
export async function create(server: TestServer, key: string | null, size: number, meta: Record<string, string>): Promise<Created> {
  const response = await fetch(`${server.url}/v1/uploads`, {
    method: 'POST',
    headers: { ...TUS, ...(key ? { authorization: `Bearer ${key}` } : {}), 'upload-length': String(size), 'upload-metadata': metadata(meta) },
  });
  const location = response.headers.get('location');
  return { status: response.status, location, id: location ? location.split('/').at(-1)! : null, body: await response.text() };
}

/** PATCH /v1/uploads/{id} at an offset with a body (bytes or a stream). */
export async function patch(
  server: TestServer,
  key: string | null,
  id: string,
  offset: number,
  body: Buffer | ReadableStream<Uint8Array> | Readable,
): Promise<{ status: number; offset: number | null; body: string }> {
  const stream = body instanceof Readable ? (Readable.toWeb(body) as ReadableStream<Uint8Array>) : body;
  const response = await fetch(`${server.url}/v1/uploads/${id}`, {
    method: 'PATCH',
    headers: {
      ...TUS,
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      'upload-offset': String(offset),
      'content-type': 'application/offset+octet-stream',
      ...(Buffer.isBuffer(body) ? { 'content-length': String(body.length) } : {}),
    },
    body: stream as RequestInit['body'],
    ...(Buffer.isBuffer(body) ? {} : { duplex: 'half' }),
  } as RequestInit);
  const header = response.headers.get('upload-offset');
  return { status: response.status, offset: header === null ? null : Number(header), body: await response.text() };
}

export async function head(server: TestServer, key: string | null, id: string): Promise<{ status: number; offset: number | null }> {
  const response = await fetch(`${server.url}/v1/uploads/${id}`, { method: 'HEAD', headers: { ...TUS, ...(key ? { authorization: `Bearer ${key}` } : {}) } });
  const header = response.headers.get('upload-offset');
  return { status: response.status, offset: header === null ? null : Number(header) };
}

/** Upload a whole file or buffer in one PATCH; returns the upload id (throws unless verified). */
export async function uploadWhole(server: TestServer, key: string, source: Buffer | string, filename: string): Promise<string> {
  let size: number;
  let digest: string;
  if (Buffer.isBuffer(source)) {
    size = source.length;
    digest = sha256(source);
  } else {
    size = (await stat(source)).size;
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(source)) hash.update(chunk as Buffer);
    digest = hash.digest('hex');
  }
  const created = await create(server, key, size, { filename, sha256: digest });
  if (created.status !== 201 || !created.id) throw new Error(`upload of ${filename} not created: ${created.status} ${created.body}`);
  const sent = await patch(server, key, created.id, 0, Buffer.isBuffer(source) ? source : createReadStream(source));
  if (sent.status !== 204 || sent.offset !== size) throw new Error(`upload of ${filename} failed: ${sent.status} ${sent.body}`);
  return created.id;
}
