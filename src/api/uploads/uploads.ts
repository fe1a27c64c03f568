// Resumable uploads: the tus 1.0 protocol (core, creation, termination, expiration) served by
// @tus/server over @tus/file-store, inside the API's Fastify app at /v1/uploads.
//
// What the lake adds around the library:
// - Ownership in the database: every upload has an imports.uploads row, read as the request's user
//   before tus sees the request (routes/uploads.ts), so another user's upload is a 404 like one
//   that never existed. The owner's id is also written into the upload's info file by the server
//   (a client's own `owner` metadata is overwritten), for the hooks that run without a request.
// - Ids: made by the server (UUIDs) and checked against that shape before anything touches the
//   disk; the file store also refuses ids that resolve outside its directory. The id tus works on
//   is the one the route checked, handed over with the request (never read again from the URL,
//   whose query string or extra segments tus would otherwise take it from), and the request's URL
//   is rewritten to the canonical one before tus sees it.
// - Discovery: OPTIONS answers Tus-Version, Tus-Extension (without creation-defer-length, which
//   the lake refuses: every upload declares its length) and Tus-Max-Size.
// - The whole file's SHA-256: declared by the client at creation (Upload-Metadata `sha256`, hex or
//   base64), computed from the stored file once its last byte is in (streaming), compared: on a
//   mismatch the upload is refused (460 CHECKSUM_MISMATCH) and deleted, so nothing can import it.
// - Expiry: an upload not finished LAKE_UPLOAD_TTL_SECONDS after its creation is gone (410) and
//   its bytes are deleted, on the next request for it or by a sweep (every TTL, at most 10 min).
// - One writer at a time: the library's in-memory locker. A PATCH arriving while another holds the
//   upload asks the holder to stop (its bytes so far are kept), then checks its offset against the
//   file: both clients cannot append the same bytes, and the second one learns the real offset
//   from the 409 (tus's rule for resuming after a half-open connection).
import { FileStore } from '@tus/file-store';
import { MemoryLocker, Server as TusServer, type Upload } from '@tus/server';
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, rm, stat, symlink } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Database } from '../../db/database.js';
import { assertFreeSpace, DISK_RESERVE_BYTES, diskFull, isNoSpace } from '../../disk-space.js';
import { LakeError, type ErrorCode } from '../../errors.js';
import { UUID_PATTERN } from '../../query/ids.js';
import {
  expiredUploads,
  insertUpload,
  markUploadExpired,
  markUploadRefused,
  markUploadVerified,
  readUpload,
  type UploadRow,
} from '../../query/uploads.js';

export const UPLOADS_PATH = '/v1/uploads';
/** Server-made upload ids: anything else (`..`, slashes, other names) is not an upload. */
export const UPLOAD_ID = UUID_PATTERN;

export interface UploadSettings {
  directory: string;
  maxBytes: number;
  ttlMs: number;
}

/** What a tus hook throws to answer with an error: the API's error shape as the body. */
interface TusError {
  status_code: number;
  body: string;
}

export function tusError(status: number, code: ErrorCode, message: string): TusError {
  return { status_code: status, body: JSON.stringify({ error: { code, message } }) };
}

/** tus's own failures (409 offset, 410 expired, 413 size...) in the API's error shape. */
const TUS_STATUS_CODES: Record<number, ErrorCode> = {
  400: 'INVALID_REQUEST',
  403: 'INVALID_REQUEST',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  410: 'GONE',
  413: 'PAYLOAD_TOO_LARGE',
  460: 'CHECKSUM_MISMATCH',
};

export class Uploads {
  readonly tus: TusServer;
  readonly store: FileStore;
  /** The user of each request handed to tus (its hooks get the Node request, not Fastify's). */
  private readonly owners = new WeakMap<IncomingMessage, string>();
  /** The upload id each request was checked for: the only id tus may act on. */
  private readonly checkedIds = new WeakMap<IncomingMessage, string>();
  private readonly sweeper: NodeJS.Timeout;
  private sweeping: Promise<void> | null = null;

  constructor(
    private readonly db: Database,
    readonly settings: UploadSettings,
    private readonly log: (message: string, error?: unknown) => void = () => {},
  ) {
    this.store = new FileStore({ directory: settings.directory, expirationPeriodInMilliseconds: settings.ttlMs });
    // Every upload declares its length (created() refuses a deferred one): discovery says so.
    this.store.extensions = this.store.extensions.filter((extension) => extension !== 'creation-defer-length');
    this.tus = new TusServer({
      path: UPLOADS_PATH,
      datastore: this.store,
      locker: new MemoryLocker(),
      maxSize: settings.maxBytes,
      namingFunction: () => randomUUID(),
      // Whatever the URL holds after the id (a query string, more segments) never names the upload.
      getFileIdFromRequest: (req) => {
        const node = nodeRequest(req);
        return node ? this.checkedIds.get(node) : undefined;
      },
      // The client's Location is built from the Host it used; forwarded headers are not trusted.
      respectForwardedHeaders: false,
      // No cross-origin access (tus's default is any origin): the console is served from the same
      // origin, and the lake's other clients are not browsers. Like the rest of the API.
      allowedOrigins: [],
      onUploadCreate: (req, upload) => this.created(req, upload),
      // A full disk: 507 before any byte is written, rather than a file cut short.
      onIncomingRequest: async (req) => {
        if (req.method === 'PATCH') await this.assertRoomForPatch(req);
      },
      onUploadFinish: (req, upload) => {
        // Hashing a large file moves no bytes on the connection: no idle timeout while it runs.
        nodeRequest(req)?.socket.setTimeout(0);
        return this.finished(upload);
      },
      onResponseError: async (_req, error) => {
        // The disk filled while the body was written: the offset stays at the bytes on disk (all
        // of them whole), and the upload is not finished.
        if (isNoSpace(error)) {
          const full = error instanceof LakeError ? error : diskFull(this.settings.directory, 'uploads', { needed: DISK_RESERVE_BYTES, cause: error });
          return tusError(full.httpStatus, full.code, full.message);
        }
        const status = (error as { status_code?: number }).status_code ?? 500;
        const body = (error as { body?: string }).body ?? '';
        if (body.startsWith('{')) return { status_code: status, body };
        if (status >= 500) this.log('upload request failed', error);
        const code = TUS_STATUS_CODES[status] ?? (status >= 500 ? 'INTERNAL' : 'INVALID_REQUEST');
        return tusError(status, code, status >= 500 ? 'internal error' : body.trim() || 'upload request refused');
      },
    });
    // Expired uploads are swept as often as they can expire, at most every 10 minutes.
    const every = Math.max(1000, Math.min(settings.ttlMs, 600_000));
    this.sweeper = setInterval(() => void this.sweepExpired(), every).unref();
  }

  /**
   * Hand a request to tus, as the given user, for the upload id whose ownership the caller checked
   * (none for a creation or discovery). tus sees the canonical URL of that id, nothing else.
   */
  async handle(raw: IncomingMessage, res: import('node:http').ServerResponse, userId: string | null, uploadId?: string): Promise<void> {
    if (userId !== null) this.owners.set(raw, userId);
    if (uploadId !== undefined) {
      if (!UPLOAD_ID.test(uploadId)) throw new Error(`not an upload id: ${JSON.stringify(uploadId.slice(0, 100))}`);
      this.checkedIds.set(raw, uploadId);
    }
    raw.url = uploadId === undefined ? UPLOADS_PATH : `${UPLOADS_PATH}/${uploadId}`;
    await this.tus.handle(raw, res);
  }

  /**
   * DISK_FULL unless there is room for what this PATCH can write: what the upload can still receive
   * (its declared length minus its offset, read from the store for the id the route checked), or
   * the body's Content-Length when that is smaller. A body without a length (chunked) is bounded
   * by the upload's remaining length, never taken as empty. An upload the store cannot read is
   * left to tus, which answers 404 or 410 for it.
   */
  private async assertRoomForPatch(req: Request): Promise<void> {
    const header = req.headers.get('content-length');
    const length = header !== null && /^\d+$/.test(header.trim()) ? Number(header.trim()) : null;
    const node = nodeRequest(req);
    const id = node ? this.checkedIds.get(node) : undefined;
    let remaining: number | null = null;
    if (id !== undefined) {
      const upload = await this.store.getUpload(id).catch(() => null);
      if (upload === null) return;
      // Every upload declares its length (created()); the size limit bounds one that would not.
      remaining = Math.max(0, (upload.size ?? this.settings.maxBytes) - (upload.offset ?? 0));
    }
    const bytes = remaining === null ? (length ?? this.settings.maxBytes) : length === null ? remaining : Math.min(length, remaining);
    this.assertRoomFor(bytes);
  }

  /** DISK_FULL unless the upload directory's disk has room for `bytes` and the reserve every writer leaves (disk-space.ts). */
  private assertRoomFor(bytes: number): void {
    assertFreeSpace(this.settings.directory, DISK_RESERVE_BYTES + bytes, 'uploads');
  }

  /** Where an upload's bytes are. */
  filePath(uploadId: string): string {
    return path.join(this.settings.directory, uploadId);
  }

  /**
   * The path an import reads a verified upload from: a hard link named like the client's file, so
   * the importer sees its extension (`.zip`, `.tgz`, `Records.json`) as for `lake import`. The
   * same path every time, so an interrupted import of it resumes.
   */
  async importPath(upload: Pick<UploadRow, 'upload_id' | 'filename'>): Promise<string> {
    const dir = path.join(this.settings.directory, 'imports', upload.upload_id);
    const target = path.join(dir, upload.filename ?? 'upload');
    try {
      await mkdir(dir, { recursive: true });
      await link(this.filePath(upload.upload_id), target).catch(async (error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') return;
        // A file system without hard links: a symbolic link does as well (the importer follows it).
        if (error.code !== 'EPERM' && error.code !== 'ENOTSUP' && error.code !== 'EXDEV') throw error;
        await symlink(this.filePath(upload.upload_id), target).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
      });
    } catch (error) {
      throw importPathError(upload, error);
    }
    return target;
  }

  /** Delete an upload's bytes, its info file and its import link (missing ones are fine). */
  async removeFiles(uploadId: string): Promise<void> {
    if (!UPLOAD_ID.test(uploadId)) return;
    await this.store.remove(uploadId).catch(() => {});
    await rm(this.filePath(uploadId), { force: true });
    await rm(`${this.filePath(uploadId)}.json`, { force: true });
    await rm(path.join(this.settings.directory, 'imports', uploadId), { recursive: true, force: true });
  }

  /** Mark an upload expired and delete its bytes (as its user). */
  async expire(userId: string, uploadId: string): Promise<void> {
    await this.removeFiles(uploadId);
    await this.db.asUser(userId, (tx) => markUploadExpired(tx, uploadId));
  }

  /**
   * Expired, unfinished uploads of every user. Which ones is read on the maintenance connection
   * (like the API key lookup, before any identity); each is then changed as its user.
   */
  sweepExpired(): Promise<void> {
    this.sweeping ??= (async () => {
      try {
        for (const row of await expiredUploads(this.db)) await this.expire(row.user_id, row.upload_id);
      } catch (error) {
        this.log('sweeping expired uploads failed', error);
      } finally {
        this.sweeping = null;
      }
    })();
    return this.sweeping;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.sweeping;
  }

  /** Creation: the declared size and SHA-256 are required; the row is written as the user. */
  private async created(req: Request, upload: Upload): Promise<{ metadata: Record<string, string | null> }> {
    const node = nodeRequest(req);
    const userId = node ? this.owners.get(node) : undefined;
    if (!userId) throw tusError(401, 'UNAUTHORIZED', 'this route needs an API key');
    if (upload.size === undefined) {
      throw tusError(400, 'INVALID_REQUEST', 'Upload-Length is required: uploads of a deferred length are not accepted');
    }
    const declared = parseSha256(upload.metadata?.sha256 ?? null);
    if (!declared) {
      throw tusError(400, 'INVALID_REQUEST', 'Upload-Metadata must declare the whole file\'s SHA-256 as `sha256` (64 hex digits or 44 base64 characters)');
    }
    const filename = safeFilename(upload.metadata?.filename ?? upload.metadata?.name ?? null);
    await this.db.asUser(userId, (tx) =>
      insertUpload(tx, { userId, uploadId: upload.id, filename, sizeBytes: upload.size!, sha256Declared: declared, ttlSeconds: this.settings.ttlMs / 1000 }),
    );
    return { metadata: { ...upload.metadata, owner: userId, sha256: declared.toString('hex'), filename } };
  }

  /** The last byte is in: hash the stored file and compare with what the client declared. */
  private async finished(upload: Upload): Promise<Record<string, never>> {
    const userId = upload.metadata?.owner;
    if (!userId) throw tusError(500, 'INTERNAL', 'internal error');
    const row = await this.db.asUser(userId, (tx) => readUpload(tx, upload.id));
    if (!row) throw tusError(404, 'NOT_FOUND', `no upload ${upload.id}`);
    if (row.status === 'verified') return {};
    const hash = createHash('sha256');
    await pipeline(createReadStream(this.filePath(upload.id)), hash);
    const actual = hash.digest('hex');
    const size = (await stat(this.filePath(upload.id))).size;
    if (actual !== row.sha256_declared) {
      const message = `upload ${upload.id}${row.filename ? ` (${row.filename})` : ''}: the SHA-256 of the ${size} bytes received is ${actual}, not the declared ${row.sha256_declared}; the upload is refused and deleted`;
      await this.removeFiles(upload.id);
      await this.db.asUser(userId, (tx) => markUploadRefused(tx, upload.id, message));
      throw tusError(460, 'CHECKSUM_MISMATCH', message);
    }
    await this.db.asUser(userId, (tx) => markUploadVerified(tx, upload.id));
    return {};
  }
}

/**
 * Why an upload could not be handed to an import, in words for its user: the message becomes the
 * job's `error`, which the API shows, so it names the upload and the system's error code, never
 * a path on the server (the original error, with its paths, stays the cause, for the log).
 */
function importPathError(upload: Pick<UploadRow, 'upload_id' | 'filename'>, error: unknown): LakeError {
  const name = `upload ${upload.upload_id}${upload.filename ? ` (${upload.filename})` : ''}`;
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return new LakeError('GONE', `${name}: its bytes are no longer on the server; upload the file again`, { cause: error });
  if (isNoSpace(error)) return new LakeError('DISK_FULL', `${name}: no space left on the server to prepare it for import; try again once the operator has freed space`, { cause: error });
  return new LakeError('INTERNAL', `${name}: could not be prepared for import (${typeof code === 'string' ? code : 'internal error'}); the server's log has the details`, { cause: error });
}

/** The Node request under the web Request tus hands its hooks. */
function nodeRequest(req: Request): IncomingMessage | undefined {
  return (req as unknown as { runtime?: { node?: { req?: IncomingMessage } } }).runtime?.node?.req;
}

/** A SHA-256 as 64 hex digits or base64 (standard or URL-safe, padding optional); null otherwise. */
export function parseSha256(value: string | null): Buffer | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 32) return bytes;
  }
  return null;
}

/** The client's file name as a plain name: no directories, no control characters, at most 200 characters. */
export function safeFilename(value: string | null): string | null {
  if (value === null) return null;
  // eslint-disable-next-line no-control-regex
  const name = path.posix.basename(value.replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(-200);
  return name === '' || name === '.' || name === '..' ? null : name;
}
