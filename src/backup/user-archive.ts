// A user's portable archive (`lake export`, GET /v1/export?format=archive): every row they own in
// every table of user data, every blob they reference, and a manifest to check it all against, in
// one file that another lake (embedded or server) restores with `lake import` (user-archive-restore.ts).
//
// Layout, format version 1: a tar stream, compressed as standard zstd frames.
//   header.json                          first, small: format, format version, schema version, user,
//                                        created; an importer refuses a newer schema before reading on
//   blobs/<sha256>                       each blob the user references (user_data.blob_refs), as stored
//   tables/<schema.table>/<NNNNNN>.ndjson the rows, one entry per export chunk (query/export.ts
//                                        tableLines: same tables, same columns left out, same lines),
//                                        tables in foreign-key order, parents first
//   manifest.json                        last: rows per table and every entry's size and SHA-256
// A table is cut into one entry per chunk because a tar entry's size comes before its bytes: the
// rows are never held whole in memory nor spooled to a temporary file. Blobs come before the rows
// so that a restore reading the archive once puts every blob before the references to it.
//
// Compression: the tar bytes cut into 1 MiB pieces, each one zstd frame (frame-codecs.ts, as the
// cold blob tier), each preceded by a zstd skippable frame giving its lengths, and the whole opened
// by a skippable frame that says what the file is:
//   skippable 0x184D2A5A, 8 bytes: "DPLA", archive format version (u32 LE)
//   then per piece: skippable 0x184D2A5F, 8 bytes: frame length, content length (u32 LE each); the frame
// `zstd -d` and `tar --zstd -x` read the file as it is (they skip skippable frames); the lengths let
// the restore cut frames without a streaming zstd decoder, with bounded memory.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import type { Queryable, Transaction } from '../db/database.js';
import { LakeError } from '../errors.js';
import { loadOrder, tableLines, userTables, type AsUser, type ExportedTable } from '../query/export.js';
import { PIECE_BYTES } from '../store/blob-codec.js';
import type { BlobStore } from '../store/blob-store.js';
import { FRAME_CODECS } from '../store/frame-codecs.js';
import { drainedOrClosed } from '../drained.js';

export const ARCHIVE_FORMAT = 'datapunk-lake-user-archive';
export const ARCHIVE_FORMAT_VERSION = 1;
export const HEADER_ENTRY = 'header.json';
export const MANIFEST_ENTRY = 'manifest.json';

const SKIPPABLE_BYTES = 8;
export const OPENING_MAGIC = 0x184d2a5a;
export const OPENING_SIGNATURE = 'DPLA';
export const OPENING_BYTES = SKIPPABLE_BYTES + 8;
export const FRAME_PREFIX_MAGIC = 0x184d2a5f;
export const FRAME_PREFIX_BYTES = SKIPPABLE_BYTES + 8;
/** Content per zstd frame; no frame of ours is longer than this plus a little. */
export const ARCHIVE_PIECE_BYTES = PIECE_BYTES;
export const MAX_ARCHIVE_FRAME_BYTES = PIECE_BYTES + (64 << 10);

/** header.json: what an importer reads before anything else. */
export interface ArchiveHeader {
  format: typeof ARCHIVE_FORMAT;
  formatVersion: number;
  /** The highest migration recorded in the exporting lake's ledger (lake.migrations). */
  schemaVersion: number;
  /** Migrations applied and skipped (an optional extension missing) in the exporting lake. */
  migrations: { applied: number[]; skipped: number[] };
  user: string;
  created: string;
}

export interface ManifestEntry {
  name: string;
  size: number;
  sha256: string;
  /** Table entries: the rows (lines) in it. */
  rows?: number;
}

/** manifest.json, the last entry. */
export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT;
  formatVersion: number;
  schemaVersion: number;
  user: string;
  /** Rows per table (`schema.table`), every user table of the exporting lake, zero included. */
  tables: Record<string, number>;
  blobs: number;
  /** Every entry between header.json and manifest.json, in order (header.json included first). */
  entries: ManifestEntry[];
}

export interface ArchiveSource {
  /** The maintenance connection: the catalog, the migration ledger (no user data). */
  db: Queryable;
  /** A transaction as the exported user (row-level security limits it to their rows). */
  asUser: AsUser;
  blobs: BlobStore;
  userName: string;
  /** Told after each entry is written (progress). */
  onEntry?: (entry: ManifestEntry) => void;
}

export function tableEntryName(table: string, part: number): string {
  return `tables/${table}/${String(part).padStart(6, '0')}.ndjson`;
}

export function blobEntryName(sha256: string): string {
  return `blobs/${sha256}`;
}

/** The migration ledger's highest version (applied or skipped), and which were applied and which skipped. */
export async function schemaVersionOf(db: Queryable): Promise<{ version: number; applied: number[]; skipped: number[] }> {
  const r = await db.query<{ version: number; status: string }>(`SELECT version, status FROM lake.migrations ORDER BY version`);
  return {
    version: r.rows.reduce((max, row) => Math.max(max, row.version), 0),
    applied: r.rows.filter((row) => row.status === 'applied').map((row) => row.version),
    skipped: r.rows.filter((row) => row.status === 'skipped').map((row) => row.version),
  };
}

/** The blobs the user references, in hash order, a page at a time. */
async function* referencedBlobs(asUser: AsUser): AsyncGenerator<string> {
  let after = '';
  for (;;) {
    const page = await asUser((tx: Transaction) =>
      tx.query<{ sha256: string }>(
        `SELECT DISTINCT encode(sha256, 'hex') AS sha256 FROM user_data.blob_refs WHERE sha256 > decode($1, 'hex') ORDER BY 1 LIMIT 1000`,
        [after],
      ),
    );
    for (const { sha256 } of page.rows) yield sha256;
    if (page.rows.length < 1000) return;
    after = page.rows.at(-1)!.sha256;
  }
}

/** The 16 bytes that open an archive: a skippable frame saying "DPLA" and the format version. */
export function openingBytes(): Buffer {
  const opening = Buffer.alloc(OPENING_BYTES);
  opening.writeUInt32LE(OPENING_MAGIC, 0);
  opening.writeUInt32LE(8, 4);
  opening.write(OPENING_SIGNATURE, 8, 'latin1');
  opening.writeUInt32LE(ARCHIVE_FORMAT_VERSION, 12);
  return opening;
}

/** Tar bytes in, the archive's framed zstd bytes out, one 1 MiB piece at a time. */
async function* compressFrames(tar: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield openingBytes();
  let piece = Buffer.allocUnsafe(ARCHIVE_PIECE_BYTES);
  let fill = 0;
  const flush = async (): Promise<Buffer> => {
    const frame = await FRAME_CODECS.cold.compress(piece.subarray(0, fill));
    const prefix = Buffer.alloc(FRAME_PREFIX_BYTES);
    prefix.writeUInt32LE(FRAME_PREFIX_MAGIC, 0);
    prefix.writeUInt32LE(8, 4);
    prefix.writeUInt32LE(frame.length, 8);
    prefix.writeUInt32LE(fill, 12);
    fill = 0;
    return Buffer.concat([prefix, frame]);
  };
  for await (const chunk of tar) {
    let offset = 0;
    while (offset < chunk.length) {
      const copied = chunk.copy(piece, fill, offset);
      fill += copied;
      offset += copied;
      if (fill === ARCHIVE_PIECE_BYTES) {
        yield await flush();
        // The frame holds a copy: the piece buffer may be refilled.
        piece = Buffer.allocUnsafe(ARCHIVE_PIECE_BYTES);
      }
    }
  }
  if (fill > 0) yield await flush();
}

/** Write one tar entry of `size` bytes from `content`, hashing it; waits while the reader is behind. */
async function writeEntry(pack: tarStream.Pack, name: string, size: number, content: Iterable<Buffer> | AsyncIterable<Buffer>, mtime: Date): Promise<string> {
  const hash = createHash('sha256');
  let done!: (error?: Error | null) => void;
  const written = new Promise<void>((resolve, reject) => (done = (error) => (error ? reject(error) : resolve())));
  const entry = pack.entry({ name, size, mtime, mode: 0o600 }, (error) => done(error));
  for await (const chunk of content) {
    hash.update(chunk);
    // The reader went away (a client that hung up): the pack is destroyed and will never drain.
    if (pack.destroyed) throw new Error('the archive stream was closed before it was finished');
    if (!entry.write(chunk)) await drainedOrClosed(entry, pack);
  }
  entry.end();
  await written;
  return hash.digest('hex');
}

/**
 * The archive of `source.userName`, as a stream of bytes: read as it is consumed (the tables a chunk
 * at a time, each blob as it streams from the store), so memory stays bounded. The stream fails
 * (and no manifest is written) when anything cannot be read: a file cut short has no manifest.
 */
export function userArchive(source: ArchiveSource): Readable {
  const pack = tarStream.pack();
  const produce = async (): Promise<void> => {
    const created = new Date();
    const schema = await schemaVersionOf(source.db);
    const entries: ManifestEntry[] = [];
    const add = async (name: string, size: number, content: Iterable<Buffer> | AsyncIterable<Buffer>, rows?: number) => {
      const entry: ManifestEntry = { name, size, sha256: await writeEntry(pack, name, size, content, created), ...(rows === undefined ? {} : { rows }) };
      entries.push(entry);
      source.onEntry?.(entry);
    };
    const header: ArchiveHeader = {
      format: ARCHIVE_FORMAT,
      formatVersion: ARCHIVE_FORMAT_VERSION,
      schemaVersion: schema.version,
      migrations: { applied: schema.applied, skipped: schema.skipped },
      user: source.userName,
      created: created.toISOString(),
    };
    const headerBytes = Buffer.from(`${JSON.stringify(header, null, 2)}\n`);
    await add(HEADER_ENTRY, headerBytes.length, [headerBytes]);

    let blobs = 0;
    for await (const sha256 of referencedBlobs(source.asUser)) {
      const stat = await source.blobs.stat(sha256);
      if (!stat) {
        throw new LakeError('BLOB_NOT_FOUND', `blob ${sha256} is referenced by user ${source.userName} but is not in the store: the archive cannot be complete (see lake blobs verify)`, {
          details: { sha256 },
        });
      }
      // open() checks the content's hash and size as it streams: a damaged copy fails the export.
      const written = await writeBlob(pack, sha256, stat.size, source, created);
      entries.push(written);
      source.onEntry?.(written);
      blobs += 1;
    }

    const tables: Record<string, number> = {};
    for (const spec of await loadOrder(source.db, await userTables(source.db))) {
      tables[spec.name] = 0;
      let part = 0;
      for await (const chunk of tableLines(spec as ExportedTable, source.asUser)) {
        part += 1;
        tables[spec.name]! += chunk.rows;
        const bytes = Buffer.from(chunk.lines);
        await add(tableEntryName(spec.name, part), bytes.length, [bytes], chunk.rows);
      }
    }

    const manifest: ArchiveManifest = {
      format: ARCHIVE_FORMAT,
      formatVersion: ARCHIVE_FORMAT_VERSION,
      schemaVersion: schema.version,
      user: source.userName,
      tables,
      blobs,
      entries,
    };
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest)}\n`);
    await writeEntry(pack, MANIFEST_ENTRY, manifestBytes.length, [manifestBytes], created);
    pack.finalize();
  };
  produce().catch((error: unknown) => pack.destroy(error as Error));
  return Readable.from(compressFrames(pack as unknown as AsyncIterable<Buffer>), { objectMode: false });
}

async function writeBlob(pack: tarStream.Pack, sha256: string, size: number, source: ArchiveSource, mtime: Date): Promise<ManifestEntry> {
  const name = blobEntryName(sha256);
  const content = await source.blobs.open(sha256);
  const digest = await writeEntry(pack, name, size, content as AsyncIterable<Buffer>, mtime);
  if (digest !== sha256) throw new LakeError('BLOB_CORRUPT', `blob ${sha256} read back with SHA-256 ${digest}: the archive was not finished`);
  return { name, size, sha256: digest };
}
