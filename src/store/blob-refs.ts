// Who holds which blob: user_data.blob_refs, under row-level security. References are added and
// read in a user's transaction (db.asUser), so the user is the transaction's identity, never a
// parameter; the garbage collector alone looks across users, on the maintenance connection.
//
// The rule that keeps the collector safe: put the content into the store, then add the reference
// within the grace period (a put of content already stored refreshes its time, so this holds for
// shared blobs too).
import { LakeError } from '../errors.js';
import type { Database, Queryable } from '../db/database.js';
import { DEFAULT_GRACE_HOURS } from './blob-settings.js';
import { assertSha256, type BlobStore, type BlobTier } from './blob-store.js';

export interface NewBlobRef {
  sha256: string;
  sizeBytes: number;
  mimeType?: string | null;
  /** Name or path of the file in the export it came from. */
  originalName?: string;
  /** Where it came from, e.g. `google.photos`, `gmail.attachment`. */
  source: string;
  importFileId?: string | null;
}

export interface BlobRef {
  sha256: string;
  sizeBytes: number;
  mimeType: string | null;
  originalName: string;
  source: string;
  importFileId: string | null;
  createdAt: Date;
}

/** Record that the transaction's user has this blob. False when the same reference existed. */
export async function addRef(tx: Queryable, ref: NewBlobRef): Promise<boolean> {
  assertSha256(ref.sha256);
  const result = await tx.query(
    `INSERT INTO user_data.blob_refs (user_id, sha256, size_bytes, mime_type, original_name, source, import_file_id)
     VALUES ((SELECT lake.current_user_id()), decode($1, 'hex'), $2, $3, $4, $5, $6)
     ON CONFLICT DO NOTHING`,
    [ref.sha256, ref.sizeBytes, ref.mimeType ?? null, ref.originalName ?? '', ref.source, ref.importFileId ?? null],
  );
  return result.rowCount === 1;
}

/** Remove one of the transaction's user's references; the blob goes when nobody has it. */
export async function removeRef(tx: Queryable, ref: Pick<NewBlobRef, 'sha256' | 'source' | 'originalName'>): Promise<boolean> {
  assertSha256(ref.sha256);
  const result = await tx.query(
    `DELETE FROM user_data.blob_refs WHERE sha256 = decode($1, 'hex') AND source = $2 AND original_name = $3`,
    [ref.sha256, ref.source, ref.originalName ?? ''],
  );
  return result.rowCount > 0;
}

/** The transaction's user's references, newest first; optionally to one blob only. */
export async function listRefs(tx: Queryable, options: { sha256?: string; limit?: number } = {}): Promise<BlobRef[]> {
  if (options.sha256 !== undefined) assertSha256(options.sha256);
  const result = await tx.query<{
    sha256: string;
    size_bytes: number;
    mime_type: string | null;
    original_name: string;
    source: string;
    import_file_id: string | null;
    created_at: Date;
  }>(
    // float8: a JavaScript number on both backends (bigint comes back as a string from pg); exact below 2^53.
    `SELECT encode(sha256, 'hex') AS sha256, size_bytes::float8 AS size_bytes, mime_type, original_name, source,
            import_file_id, created_at
       FROM user_data.blob_refs
      WHERE $1::text IS NULL OR sha256 = decode($1, 'hex')
      ORDER BY created_at DESC, sha256, source, original_name
      LIMIT $2`,
    [options.sha256 ?? null, options.limit ?? 1000],
  );
  return result.rows.map((row) => ({
    sha256: row.sha256,
    sizeBytes: row.size_bytes,
    mimeType: row.mime_type,
    originalName: row.original_name,
    source: row.source,
    importFileId: row.import_file_id,
    createdAt: row.created_at,
  }));
}

export interface CollectOptions {
  /** Blobs stored or put again more recently than this are kept. Default 24 hours. */
  graceMs?: number;
  /** Report what would be deleted, delete nothing. */
  dryRun?: boolean;
  /** Blobs checked against the database per query. */
  batchSize?: number;
  /** The clock, for tests. */
  now?: Date;
}

export interface CollectResult {
  /** Stored copies looked at. */
  examined: number;
  referenced: number;
  /** Unreferenced, but inside the grace period. */
  recent: number;
  /** Deleted (or, with dryRun, to be deleted). */
  deleted: { sha256: string; tier: BlobTier; storedSize: number }[];
  bytesFreed: number;
  /** Files of interrupted writes removed from tmp/. */
  temporaryFilesRemoved: number;
}

export const DEFAULT_GRACE_MS = DEFAULT_GRACE_HOURS * 60 * 60 * 1000;

/**
 * Delete from the store every blob that no user references and that was not stored or put again
 * within the grace period. Runs on the maintenance connection with row_security off, so a role
 * that row-level security would limit fails here instead of seeing no references and deleting
 * everything.
 */
export async function collectUnreferenced(db: Database, store: BlobStore, options: CollectOptions = {}): Promise<CollectResult> {
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  if (!Number.isFinite(graceMs) || graceMs < 0) throw new LakeError('USAGE', `grace period ${graceMs} ms is not valid: expected >= 0`);
  const idleSince = new Date((options.now ?? new Date()).getTime() - graceMs);
  const batchSize = options.batchSize ?? 1000;
  const result: CollectResult = { examined: 0, referenced: 0, recent: 0, deleted: [], bytesFreed: 0, temporaryFilesRemoved: 0 };

  type Candidate = { sha256: string; tier: BlobTier; storedSize: number };
  const sweep = async (batch: Candidate[]) => {
    if (batch.length === 0) return;
    const referenced = await referencedAmong(db, [...new Set(batch.map((b) => b.sha256))]);
    for (const copy of batch) {
      if (referenced.has(copy.sha256)) {
        result.referenced += 1;
        continue;
      }
      if (options.dryRun) {
        result.deleted.push(copy);
        result.bytesFreed += copy.storedSize;
        continue;
      }
      const outcome = await store.removeCopyIfIdleSince(copy.sha256, copy.tier, idleSince);
      if (outcome.removed) {
        result.deleted.push({ ...copy, storedSize: outcome.storedSize });
        result.bytesFreed += outcome.storedSize;
      } else if (outcome.reason === 'recent') {
        result.recent += 1;
      }
    }
  };

  let batch: Candidate[] = [];
  for await (const copy of store.list()) {
    result.examined += 1;
    if (copy.storedAt >= idleSince) {
      result.recent += 1;
      continue;
    }
    batch.push({ sha256: copy.sha256, tier: copy.tier, storedSize: copy.storedSize });
    if (batch.length >= batchSize) {
      await sweep(batch);
      batch = [];
    }
  }
  await sweep(batch);
  if (!options.dryRun) result.temporaryFilesRemoved = (await store.removeStaleTemporaryFiles(idleSince)).files;
  return result;
}

/** Which of these blobs at least one user references (maintenance connection, across users). */
async function referencedAmong(db: Database, hashes: string[]): Promise<Set<string>> {
  return db.transaction(async (tx) => {
    await tx.query(`SET LOCAL row_security = off`);
    const rows = await tx.query<{ sha256: string }>(
      `SELECT DISTINCT encode(sha256, 'hex') AS sha256 FROM user_data.blob_refs
        WHERE sha256 IN (SELECT decode(h, 'hex') FROM unnest($1::text[]) AS h)`,
      [hashes],
    );
    return new Set(rows.rows.map((r) => r.sha256));
  });
}
