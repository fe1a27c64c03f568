// Erasure (`lake users delete`): every row of a user in every table of user data, found in the
// catalog as the export finds them (export.ts userTables), deleted in one transaction with a check,
// table by table, that none is left (their SQL login role dropped before); then, after the commit, the files that were theirs alone: the
// upload files and the blobs no other user references. One audit entry records that an erasure
// happened, when and how much: not whose (the user's id and name are their data).
//
// Runs on the maintenance connection with row_security off, like the blob collector: a role that
// row-level security would limit fails here instead of seeing (and deleting) nothing.
import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Database, Queryable } from '../db/database.js';
import { LakeError } from '../errors.js';
import { BLOB_TIERS, thumbnailsDirectory } from '../store/blob-settings.js';
import type { BlobStore } from '../store/blob-store.js';
import { loadOrder, userTables } from './export.js';
import { revokeSqlAccess } from './sql-access.js';
import { assertUserName } from './users.js';

/** audit.events needs a user: erasure entries belong to nobody (the nil UUID), so they say nothing of whose. */
export const ERASURE_AUDIT_USER = '00000000-0000-0000-0000-000000000000';
export const ERASURE_ACTION = 'user.erased';
export const BACKUP_NOTE = 'backups made before the erasure still hold the data';

export interface ErasureResult {
  /** Rows deleted per table (`schema.table`), every user table listed. */
  rows: Record<string, number>;
  rowsTotal: number;
  /** Uploads whose files were removed from the upload directory. */
  uploadFilesRemoved: number;
  /** Blobs only this user referenced, removed from the store. */
  blobsRemoved: number;
  bytesFreed: number;
  /** Blobs this user referenced that another user also references: kept. */
  blobsKept: number;
  /** Every table was checked after the deletes: none holds a row of the user. */
  verified: true;
  note: string;
}

/** The user's id; NOT_FOUND naming them when there is none. */
export async function erasableUserId(db: Queryable, name: string): Promise<string> {
  assertUserName(name);
  const r = await db.query<{ user_id: string }>(`SELECT user_id FROM user_data.users WHERE name = $1`, [name]);
  if (!r.rows[0]) throw new LakeError('NOT_FOUND', `no user ${name}: nothing to erase`);
  return r.rows[0].user_id;
}

/** The tables in an order that deletes rows before the rows they reference (foreign keys). */
async function deletionOrder(db: Queryable, tables: readonly string[]): Promise<string[]> {
  return (await loadOrder(db, tables.map((name) => ({ name })))).map((t) => t.name).reverse();
}

function quoted(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join('.');
}

/** Erase user `name`: rows (all or nothing), then their upload files and the blobs only they had. */
/** `actor`: who asked, for the audit entry: `cli` (lake users delete) or `api` (DELETE /v1/me). */
export async function eraseUser(db: Database, store: BlobStore, uploadDir: string, name: string, actor: 'cli' | 'api'): Promise<ErasureResult> {
  const userId = await erasableUserId(db, name);
  // Their SQL login role first: from here on it cannot log in (it would see nothing, but it is theirs).
  await revokeSqlAccess(db, name);
  // Blobs put again from now on (another user's import storing the same content) are kept.
  const started = new Date();
  const tables = await deletionOrder(db, (await userTables(db)).map((t) => t.name));

  const done = await db.transaction(async (tx) => {
    await tx.query(`SET LOCAL row_security = off`);
    // Gone by the time the transaction commits: read first.
    const uploads = tables.includes('imports.uploads')
      ? (await tx.query<{ upload_id: string }>(`SELECT upload_id::text FROM imports.uploads WHERE user_id = $1`, [userId])).rows.map((r) => r.upload_id)
      : [];
    const hashes = (
      await tx.query<{ sha256: string }>(`SELECT DISTINCT encode(sha256, 'hex') AS sha256 FROM user_data.blob_refs WHERE user_id = $1`, [userId])
    ).rows.map((r) => r.sha256);

    const rows: Record<string, number> = {};
    for (const table of tables) {
      const deleted = await tx.query(`DELETE FROM ${quoted(table)} WHERE user_id = $1`, [userId]);
      rows[table] = deleted.rowCount;
    }
    for (const table of tables) {
      const left = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${quoted(table)} WHERE user_id = $1`, [userId]);
      if (left.rows[0]!.n !== 0) throw new LakeError('DB_ERROR', `erasure not verified: ${table} still holds ${left.rows[0]!.n} rows of the user; nothing was erased`);
    }
    const stillReferenced = new Set(
      (
        await tx.query<{ sha256: string }>(
          `SELECT DISTINCT encode(sha256, 'hex') AS sha256 FROM user_data.blob_refs
            WHERE sha256 IN (SELECT decode(h, 'hex') FROM unnest($1::text[]) AS h)`,
          [hashes],
        )
      ).rows.map((r) => r.sha256),
    );
    const orphans = hashes.filter((h) => !stillReferenced.has(h));
    const rowsTotal = Object.values(rows).reduce((a, b) => a + b, 0);
    await tx.query(
      `INSERT INTO audit.events (user_id, actor, action, object_type, details) VALUES ($1, $4, $2, 'user', $3)`,
      [ERASURE_AUDIT_USER, ERASURE_ACTION, JSON.stringify({ rows, rows_total: rowsTotal, uploads: uploads.length, blobs_unreferenced: orphans.length, blobs_kept: stillReferenced.size }), actor],
    );
    return { rows, rowsTotal, uploads, orphans, kept: stillReferenced.size };
  });

  // After the commit: a failure here leaves files no row names (the blob collector finds the blobs).
  let uploadFilesRemoved = 0;
  for (const uploadId of done.uploads) {
    if (!/^[A-Za-z0-9_-]+$/.test(uploadId)) continue;
    const file = path.join(uploadDir, uploadId);
    const existed = await stat(file).then(() => true, () => false);
    await rm(file, { force: true });
    await rm(`${file}.json`, { force: true });
    await rm(path.join(uploadDir, 'imports', uploadId), { recursive: true, force: true });
    if (existed) uploadFilesRemoved += 1;
  }
  let blobsRemoved = 0;
  let bytesFreed = 0;
  // Looked at again: another user may have referenced one since the commit.
  const referencedNow = await db.transaction(async (tx) => {
    await tx.query(`SET LOCAL row_security = off`);
    const r = await tx.query<{ sha256: string }>(
      `SELECT DISTINCT encode(sha256, 'hex') AS sha256 FROM user_data.blob_refs
        WHERE sha256 IN (SELECT decode(h, 'hex') FROM unnest($1::text[]) AS h)`,
      [done.orphans],
    );
    return new Set(r.rows.map((row) => row.sha256));
  });
  for (const sha256 of done.orphans) {
    if (referencedNow.has(sha256)) continue;
    let removed = false;
    for (const tier of BLOB_TIERS) {
      const outcome = await store.removeCopyIfIdleSince(sha256, tier, started);
      if (outcome.removed) {
        removed = true;
        bytesFreed += outcome.storedSize;
      }
    }
    if (removed) blobsRemoved += 1;
    // Its thumbnails too: they show the photo (read without loading sharp, which makes them).
    const thumbnails = path.join(thumbnailsDirectory(store.root), sha256.slice(0, 2));
    for (const name of await readdir(thumbnails).catch(() => [] as string[])) {
      if (name.startsWith(`${sha256}-`)) await rm(path.join(thumbnails, name), { force: true });
    }
  }
  return {
    rows: done.rows,
    rowsTotal: done.rowsTotal,
    uploadFilesRemoved,
    blobsRemoved,
    bytesFreed,
    blobsKept: done.kept,
    verified: true,
    note: BACKUP_NOTE,
  };
}

/**
 * DELETE makes the rows invisible at once, but their bytes stay in the tables' files until the
 * space is reused, and in the WAL. Scrubbing rewrites each table that held the erased rows
 * (VACUUM FULL: each table is locked while it is rewritten, so other requests wait), then, on the
 * embedded database, switches the WAL to new segments and checkpoints past them with recycling
 * off, so the segments that recorded the deletes are deleted rather than renamed for reuse. A
 * server's checkpointer keeps its own WAL settings, and archived WAL (pgBackRest) holds the
 * records until its sets expire.
 */
export async function scrubErasedRows(db: Database, rows: Readonly<Record<string, number>>): Promise<void> {
  if (db.backend === 'embedded') await db.query(`SET wal_recycle = off`);
  for (const [table, n] of Object.entries(rows)) if (n > 0) await db.query(`VACUUM FULL ${quoted(table)}`);
  if (db.backend !== 'embedded') return;
  for (let i = 0; i < 2; i++) {
    await db.query(`SELECT pg_switch_wal()`);
    await db.query(`CHECKPOINT`);
  }
  await db.query(`RESET wal_recycle`);
}
