// Resumable uploads (imports.uploads): one row per upload, read and changed as its user. The tus
// protocol around them is api/uploads/uploads.ts; the files are on disk, never in the database.
import type { Queryable } from '../db/database.js';

export type UploadStatus = 'uploading' | 'verified' | 'refused' | 'expired' | 'deleted';

export interface UploadRow {
  upload_id: string;
  filename: string | null;
  size_bytes: number;
  /** The SHA-256 the client declared, hex. */
  sha256_declared: string;
  status: UploadStatus;
  note: string | null;
  created_at: Date;
  expires_at: Date;
  finished_at: Date | null;
}

const UPLOAD_COLUMNS = `upload_id, filename, size_bytes, encode(sha256_declared, 'hex') AS sha256_declared, status, note,
  created_at, expires_at, finished_at`;

export async function readUpload(tx: Queryable, uploadId: string): Promise<UploadRow | null> {
  const result = await tx.query<UploadRow>(`SELECT ${UPLOAD_COLUMNS} FROM imports.uploads WHERE upload_id = $1`, [uploadId]);
  return result.rows[0] ?? null;
}

export async function insertUpload(
  tx: Queryable,
  upload: { userId: string; uploadId: string; filename: string | null; sizeBytes: number; sha256Declared: Buffer; ttlSeconds: number },
): Promise<void> {
  await tx.query(
    `INSERT INTO imports.uploads (user_id, upload_id, filename, size_bytes, sha256_declared, expires_at)
     VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
    [upload.userId, upload.uploadId, upload.filename, upload.sizeBytes, upload.sha256Declared, upload.ttlSeconds],
  );
}

/** Its last byte is in and its SHA-256 is the declared one. */
export async function markUploadVerified(tx: Queryable, uploadId: string): Promise<void> {
  await tx.query(`UPDATE imports.uploads SET status = 'verified', finished_at = now() WHERE upload_id = $1 AND status = 'uploading'`, [uploadId]);
}

/** Its bytes are not what was declared: `note` says how. */
export async function markUploadRefused(tx: Queryable, uploadId: string, note: string): Promise<void> {
  await tx.query(`UPDATE imports.uploads SET status = 'refused', note = $2, finished_at = now() WHERE upload_id = $1`, [uploadId, note]);
}

/** Not finished in time (unless it was finished meanwhile). */
export async function markUploadExpired(tx: Queryable, uploadId: string): Promise<void> {
  await tx.query(
    `UPDATE imports.uploads SET status = 'expired', note = 'not finished before it expired', finished_at = now()
      WHERE upload_id = $1 AND status = 'uploading'`,
    [uploadId],
  );
}

/** Terminated by its client (tus DELETE). */
export async function markUploadDeleted(tx: Queryable, uploadId: string): Promise<void> {
  await tx.query(`UPDATE imports.uploads SET status = 'deleted', finished_at = coalesce(finished_at, now()) WHERE upload_id = $1`, [uploadId]);
}

/**
 * Unfinished uploads of every user past their expiry, at most 1000: read on the maintenance
 * connection (before any identity, like the API key lookup); each is then changed as its user.
 */
export async function expiredUploads(db: Queryable): Promise<{ user_id: string; upload_id: string }[]> {
  const due = await db.query<{ user_id: string; upload_id: string }>(
    `SELECT user_id, upload_id FROM imports.uploads WHERE status = 'uploading' AND expires_at < now() LIMIT 1000`,
  );
  return due.rows;
}
