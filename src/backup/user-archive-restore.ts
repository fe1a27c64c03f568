// Restoring a user's portable archive (user-archive.ts) into this lake, embedded or server:
// `lake import FILE` when FILE opens as such an archive.
//
// 1. Check, before touching the lake: the archive is read once whole. header.json must come first
//    (a newer format or schema version is refused there, naming both versions, before anything
//    else is read); every entry is hashed and its size and rows counted, and the list must be the
//    manifest's exactly (an entry missing, extra, changed or out of place is refused by name); the
//    rows per table must add up to the manifest's; an archive cut short has no manifest.
// 2. Blobs: each put into the lake's blob store, its SHA-256 checked against its name.
// 3. Rows: all tables in ONE transaction as the target user (row-level security: nothing of
//    another user can be written), tables in the archive's order, which is foreign-key order
//    (parents first; checked against this lake's foreign keys in step 1). A failure anywhere rolls
//    every row back; blobs already put stay unreferenced until the blob collector removes them.
//    Each row keeps its ids and content hashes and gets the target's user_id; identity columns
//    (left out of the archive) are drawn again here. Dedup: ON CONFLICT DO NOTHING on the primary
//    key and unique keys; a table whose only key is an identity column (audit events, import
//    errors, archive logs) skips a row equal, column for column, to one the user already has. So
//    importing the same archive twice adds nothing.
//    Not restored: user_data.users (the target user is made or found by name) and
//    user_data.api_keys (the archive has no key hashes: keys do not travel).
// The archive is read twice (check, then load); the second reading is hashed again and must match.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import tarStream from 'tar-stream';
import type { Database, Queryable, Transaction } from '../db/database.js';
import { LakeError } from '../errors.js';
import { foreignKeys, userTables } from '../query/export.js';
import { ensureUser } from '../query/users.js';
import type { BlobStore } from '../store/blob-store.js';
import { drainedOrClosed } from '../drained.js';
import { FRAME_CODECS } from '../store/frame-codecs.js';
import {
  ARCHIVE_FORMAT,
  ARCHIVE_FORMAT_VERSION,
  ARCHIVE_PIECE_BYTES,
  FRAME_PREFIX_BYTES,
  FRAME_PREFIX_MAGIC,
  HEADER_ENTRY,
  MANIFEST_ENTRY,
  MAX_ARCHIVE_FRAME_BYTES,
  OPENING_BYTES,
  OPENING_MAGIC,
  OPENING_SIGNATURE,
  schemaVersionOf,
  type ArchiveHeader,
  type ArchiveManifest,
  type ManifestEntry,
} from './user-archive.js';

/** Tables whose rows are not restored, and why. */
export const NOT_RESTORED: Record<string, string> = {
  'user_data.users': 'the target user is made or found by name',
  'user_data.api_keys': 'API keys do not travel (the archive has no key hashes)',
};

const MAX_HEADER_BYTES = 64 * 1024;
const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;
/** One table entry is one export chunk (2000 rows): far below this. */
const MAX_TABLE_ENTRY_BYTES = 512 * 1024 * 1024;
const TABLE_ENTRY = /^tables\/([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)\/(\d{6})\.ndjson$/;
const BLOB_ENTRY = /^blobs\/([0-9a-f]{64})$/;
const SKIPPABLE_MIN = 0x184d2a50;
const SKIPPABLE_MAX = 0x184d2a5f;

function invalid(file: string, problem: string, details: Record<string, unknown> = {}): LakeError {
  return new LakeError('ARCHIVE_INVALID', `${file}: ${problem}; nothing was imported`, { details });
}

/** Whether `file` opens as a user archive: ours zstd-framed, or the plain tar inside one (after `zstd -d`). */
export async function isUserArchive(file: string): Promise<boolean> {
  const handle = await open(file, 'r').catch(() => null);
  if (handle === null) return false;
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, 512, 0);
    if (bytesRead >= OPENING_BYTES && head.readUInt32LE(0) === OPENING_MAGIC && head.toString('latin1', 8, 12) === OPENING_SIGNATURE) return true;
    return bytesRead === 512 && head.toString('latin1', 0, HEADER_ENTRY.length + 1) === `${HEADER_ENTRY}\0` && head.toString('latin1', 257, 262) === 'ustar';
  } catch {
    return false;
  } finally {
    await handle.close();
  }
}

/** The archive's framed zstd bytes in, the tar bytes out; a plain tar passes as it is. */
async function* decodeFrames(file: string, input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const queued: Buffer[] = [];
  let queuedBytes = 0;
  let offset = 0;
  const take = (bytes: number): Buffer => {
    const out = Buffer.allocUnsafe(bytes);
    let filled = 0;
    while (filled < bytes) {
      const head = queued[0]!;
      const used = head.copy(out, filled, 0, Math.min(head.length, bytes - filled));
      filled += used;
      if (used === head.length) queued.shift();
      else queued[0] = head.subarray(used);
    }
    queuedBytes -= bytes;
    offset += bytes;
    return out;
  };
  let framed: boolean | null = null;
  let next: { frameBytes: number; contentBytes: number } | null = null;
  for await (const chunk of input) {
    if (framed === false) {
      yield chunk;
      continue;
    }
    queued.push(chunk);
    queuedBytes += chunk.length;
    if (framed === null) {
      if (queuedBytes < OPENING_BYTES) continue;
      const opening = take(OPENING_BYTES);
      if (opening.readUInt32LE(0) === OPENING_MAGIC && opening.toString('latin1', 8, 12) === OPENING_SIGNATURE) {
        const version = opening.readUInt32LE(12);
        if (version > ARCHIVE_FORMAT_VERSION) {
          throw invalid(file, `archive format version ${version} is newer than this lake reads (format version ${ARCHIVE_FORMAT_VERSION}): upgrade the lake`);
        }
        framed = true;
      } else {
        // A plain tar (header.json first): what `zstd -d` of an archive gives.
        framed = false;
        yield Buffer.concat([opening, ...queued.splice(0)]);
        queuedBytes = 0;
        continue;
      }
    }
    for (;;) {
      if (next === null) {
        if (queuedBytes < FRAME_PREFIX_BYTES) break;
        const at = offset;
        const prefix = take(FRAME_PREFIX_BYTES);
        const magic = prefix.readUInt32LE(0);
        if (magic < SKIPPABLE_MIN || magic > SKIPPABLE_MAX || magic !== FRAME_PREFIX_MAGIC || prefix.readUInt32LE(4) !== 8) {
          throw invalid(file, `no frame lengths at byte ${at}: not an archive written by lake export, or damaged`);
        }
        const frameBytes = prefix.readUInt32LE(8);
        const contentBytes = prefix.readUInt32LE(12);
        if (frameBytes < 4 || frameBytes > MAX_ARCHIVE_FRAME_BYTES || contentBytes > ARCHIVE_PIECE_BYTES) {
          throw invalid(file, `the frame lengths at byte ${at} are out of range (${frameBytes} bytes, ${contentBytes} of content)`);
        }
        next = { frameBytes, contentBytes };
      }
      if (queuedBytes < next.frameBytes) break;
      const at = offset;
      const frame = take(next.frameBytes);
      let content: Uint8Array;
      try {
        content = await FRAME_CODECS.cold.decompress(frame, next.contentBytes);
      } catch (cause) {
        throw invalid(file, `the zstd frame at byte ${at} does not decompress (${cause instanceof Error ? cause.message : String(cause)})`);
      }
      next = null;
      yield Buffer.from(content.buffer, content.byteOffset, content.length);
    }
  }
  if (framed === null) throw invalid(file, `the file ends after ${queuedBytes} bytes: truncated`);
  if (framed && (queuedBytes > 0 || next !== null)) throw invalid(file, `the archive ends inside the frame at byte ${offset}: truncated`);
}

interface ArchiveEntry {
  name: string;
  size: number;
  /** The entry's bytes; read it to the end before asking for the next entry. */
  body: AsyncIterable<Buffer>;
}

/** The tar entries of the archive, in order. Truncation is an ARCHIVE_INVALID error. */
async function* archiveEntries(file: string): AsyncGenerator<ArchiveEntry> {
  const extract = tarStream.extract();
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  const feeding = (async () => {
    try {
      for await (const tar of decodeFrames(file, source)) {
        if (extract.destroyed) return;
        // Wait for the reader; a reader that stopped early (return()) destroys the extract, which then never drains.
        if (!extract.write(tar)) await drainedOrClosed(extract);
      }
      extract.end();
    } catch (error) {
      extract.destroy(error as Error);
    }
  })();
  try {
    for await (const entry of extract) {
      const header = entry.header;
      if (header.type !== 'file') throw invalid(file, `entry ${header.name} is a ${header.type}, not a file`);
      yield { name: header.name, size: header.size ?? 0, body: entry };
    }
  } catch (error) {
    if (error instanceof LakeError) throw error;
    throw invalid(file, `the tar stream cannot be read (${(error as Error).message}): truncated or damaged`);
  } finally {
    source.destroy();
    if (!extract.destroyed) extract.destroy();
    await feeding;
  }
}

async function readAll(file: string, entry: ArchiveEntry, limit: number): Promise<Buffer> {
  if (entry.size > limit) throw invalid(file, `entry ${entry.name} is ${entry.size} bytes, more than the ${limit} such an entry may have`);
  const parts: Buffer[] = [];
  for await (const chunk of entry.body) parts.push(chunk);
  return Buffer.concat(parts);
}

function parseJson<T>(file: string, name: string, bytes: Buffer): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (cause) {
    throw invalid(file, `${name} is not JSON (${(cause as Error).message})`);
  }
}

function checkHeader(file: string, header: ArchiveHeader, schemaVersion: number): void {
  if (header?.format !== ARCHIVE_FORMAT || typeof header.formatVersion !== 'number' || typeof header.schemaVersion !== 'number' || typeof header.user !== 'string') {
    throw invalid(file, `${HEADER_ENTRY} is not the header of a lake user archive`);
  }
  if (header.formatVersion > ARCHIVE_FORMAT_VERSION) {
    throw invalid(file, `archive format version ${header.formatVersion} is newer than this lake reads (format version ${ARCHIVE_FORMAT_VERSION}): upgrade the lake`);
  }
  if (header.schemaVersion > schemaVersion) {
    throw new LakeError(
      'SCHEMA_TOO_NEW',
      `${file}: the archive is from schema version ${header.schemaVersion} (migration ${String(header.schemaVersion).padStart(4, '0')}), ` +
        `newer than this lake's schema version ${schemaVersion}: upgrade the lake and run lake migrate first; nothing was imported`,
      { details: { archiveSchemaVersion: header.schemaVersion, lakeSchemaVersion: schemaVersion } },
    );
  }
}

export interface VerifiedArchive {
  header: ArchiveHeader;
  manifest: ArchiveManifest;
  /** Per table with rows: the earliest and latest value of its time column, for the tables partitioned by time. */
  timeRanges: Map<string, { from: string; to: string }>;
  /** Tables with rows, in the order of their first entry. */
  tableOrder: string[];
}

/**
 * Read the whole archive once and check it against its manifest. `schemaVersion`: this lake's,
 * checked against the header's as soon as it is read. `timeColumns`: table -> column, for the
 * ranges of the tables partitioned by time.
 */
export async function verifyUserArchive(file: string, schemaVersion: number, timeColumns: ReadonlyMap<string, string> = new Map()): Promise<VerifiedArchive> {
  let header: ArchiveHeader | null = null;
  let manifest: ArchiveManifest | null = null;
  const seen: ManifestEntry[] = [];
  const timeRanges = new Map<string, { from: string; to: string }>();
  const tableOrder: string[] = [];
  for await (const entry of archiveEntries(file)) {
    if (header === null) {
      if (entry.name !== HEADER_ENTRY) throw invalid(file, `the first entry is ${entry.name}, not ${HEADER_ENTRY}: not a lake user archive`);
      const bytes = await readAll(file, entry, MAX_HEADER_BYTES);
      header = parseJson<ArchiveHeader>(file, HEADER_ENTRY, bytes);
      checkHeader(file, header, schemaVersion);
      seen.push({ name: entry.name, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
      continue;
    }
    if (manifest !== null) throw invalid(file, `entry ${entry.name} comes after ${MANIFEST_ENTRY}, which must be last`, { entry: entry.name });
    if (entry.name === MANIFEST_ENTRY) {
      manifest = parseJson<ArchiveManifest>(file, MANIFEST_ENTRY, await readAll(file, entry, MAX_MANIFEST_BYTES));
      continue;
    }
    const table = TABLE_ENTRY.exec(entry.name)?.[1];
    if (table !== undefined) {
      const bytes = await readAll(file, entry, MAX_TABLE_ENTRY_BYTES);
      let rows = 0;
      for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, at + 1)) rows += 1;
      seen.push({ name: entry.name, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), rows });
      if (!tableOrder.includes(table)) tableOrder.push(table);
      const column = timeColumns.get(table);
      if (column && rows > 0) {
        // Rows come in primary-key order, whose first column is the time for tables partitioned by it: the first and last lines bound the entry.
        const first = bytes.subarray(0, bytes.indexOf(10));
        const last = bytes.subarray(bytes.lastIndexOf(10, bytes.length - 2) + 1, bytes.length - 1);
        const times = [first, last].map((line) => parseJson<{ row?: Record<string, unknown> }>(file, entry.name, line).row?.[column]);
        for (const time of times) {
          if (typeof time !== 'string') continue;
          const known = timeRanges.get(table);
          if (!known) timeRanges.set(table, { from: time, to: time });
          else {
            if (Date.parse(time) < Date.parse(known.from)) known.from = time;
            if (Date.parse(time) > Date.parse(known.to)) known.to = time;
          }
        }
      }
      continue;
    }
    if (BLOB_ENTRY.test(entry.name)) {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of entry.body) {
        hash.update(chunk);
        size += chunk.length;
      }
      seen.push({ name: entry.name, size, sha256: hash.digest('hex') });
      continue;
    }
    throw invalid(file, `entry ${entry.name} is not one a lake user archive has`, { entry: entry.name });
  }
  if (header === null) throw invalid(file, `the archive is empty: no ${HEADER_ENTRY}`);
  if (manifest === null) throw invalid(file, `the archive has no ${MANIFEST_ENTRY} at its end: truncated`);
  checkAgainstManifest(file, header, manifest, seen);
  return { header, manifest, timeRanges, tableOrder };
}

function checkAgainstManifest(file: string, header: ArchiveHeader, manifest: ArchiveManifest, seen: ManifestEntry[]): void {
  if (manifest.format !== ARCHIVE_FORMAT || !Array.isArray(manifest.entries) || typeof manifest.tables !== 'object' || manifest.tables === null) {
    throw invalid(file, `${MANIFEST_ENTRY} is not the manifest of a lake user archive`);
  }
  if (manifest.schemaVersion !== header.schemaVersion || manifest.user !== header.user || manifest.formatVersion !== header.formatVersion) {
    throw invalid(file, `${MANIFEST_ENTRY} and ${HEADER_ENTRY} disagree (schema version ${manifest.schemaVersion} and ${header.schemaVersion}, user ${manifest.user} and ${header.user})`);
  }
  const listed = new Map(manifest.entries.map((e) => [e.name, e]));
  const found = new Set(seen.map((e) => e.name));
  for (const entry of seen) {
    const expected = listed.get(entry.name);
    if (!expected) throw invalid(file, `entry ${entry.name} is not in the manifest`, { entry: entry.name });
    if (expected.size !== entry.size || expected.sha256 !== entry.sha256) {
      throw invalid(file, `entry ${entry.name} does not match the manifest (SHA-256 ${entry.sha256}, ${entry.size} bytes; the manifest says ${expected.sha256}, ${expected.size} bytes)`, {
        entry: entry.name,
      });
    }
    if ((expected.rows ?? undefined) !== entry.rows) {
      throw invalid(file, `entry ${entry.name} holds ${entry.rows ?? 'no'} rows, the manifest says ${expected.rows ?? 'none'}`, { entry: entry.name });
    }
    const blob = BLOB_ENTRY.exec(entry.name)?.[1];
    if (blob !== undefined && blob !== entry.sha256) throw invalid(file, `entry ${entry.name} holds content with SHA-256 ${entry.sha256}, not its name`, { entry: entry.name });
  }
  for (const name of listed.keys()) if (!found.has(name)) throw invalid(file, `entry ${name} is in the manifest but not in the archive`, { entry: name });
  if (manifest.entries.length !== seen.length || manifest.entries.some((e, i) => e.name !== seen[i]!.name)) throw invalid(file, 'the entries are not in the manifest\'s order');
  const counted: Record<string, number> = {};
  for (const entry of seen) {
    const table = TABLE_ENTRY.exec(entry.name)?.[1];
    if (table !== undefined) counted[table] = (counted[table] ?? 0) + entry.rows!;
  }
  for (const [table, rows] of Object.entries(manifest.tables)) {
    if ((counted[table] ?? 0) !== rows) throw invalid(file, `table ${table}: the manifest counts ${rows} rows, the archive holds ${counted[table] ?? 0}`, { entry: table });
  }
  for (const table of Object.keys(counted)) {
    if (!(table in manifest.tables)) throw invalid(file, `table ${table} has entries but is not in the manifest's tables`, { entry: table });
  }
  const blobs = seen.filter((e) => BLOB_ENTRY.test(e.name)).length;
  if (manifest.blobs !== blobs) throw invalid(file, `the manifest counts ${manifest.blobs} blobs, the archive holds ${blobs}`);
}

export interface TableRestore {
  /** Rows in the archive. */
  rows: number;
  added: number;
  alreadyPresent: number;
  /** Set when the table's rows are not restored: why. */
  skipped?: string;
}

export interface RestoreReport {
  file: string;
  /** The user named in the archive, and the user the rows went to. */
  archiveUser: string;
  user: string;
  archiveSchemaVersion: number;
  schemaVersion: number;
  tables: Record<string, TableRestore>;
  rowsAdded: number;
  rowsAlreadyPresent: number;
  blobs: { total: number; added: number; alreadyPresent: number; bytesAdded: number };
  seconds: number;
}

interface TargetTable {
  name: string;
  /** Columns a restored row sets (all but generated and identity ones). */
  columns: string[];
  /** Dedup by a key (ON CONFLICT DO NOTHING) or, without a key free of identity columns, by equal rows. */
  dedup: 'key' | 'row';
}

async function targetTables(db: Queryable): Promise<Map<string, TargetTable>> {
  const names = (await userTables(db)).map((t) => t.name);
  const r = await db.query<{ name: string; columns: string[]; keyed: boolean }>(
    `SELECT format('%s.%s', n.nspname, c.relname) AS name,
            ARRAY(SELECT a.attname::text FROM pg_attribute a
                   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' AND a.attidentity = ''
                   ORDER BY a.attnum) AS columns,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique
                      AND NOT EXISTS (SELECT 1 FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k
                                       WHERE a.attidentity <> '')) AS keyed
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE format('%s.%s', n.nspname, c.relname) = ANY($1)`,
    [names],
  );
  return new Map(r.rows.map((row) => [row.name, { name: row.name, columns: row.columns, dedup: row.keyed ? 'key' : 'row' }]));
}

function quoted(identifier: string): string {
  return identifier
    .split('.')
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join('.');
}

/** Insert one entry's rows as the target user; returns how many were added. */
async function loadRows(tx: Transaction, table: TargetTable, text: string, userId: string, file: string, entryName: string): Promise<number> {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) return 0;
  const prefix = `{"table":"${table.name}","row":`;
  const bad = lines.findIndex((line) => !line.startsWith(prefix));
  if (bad !== -1) throw invalid(file, `entry ${entryName}, line ${bad + 1}, is not a row of ${table.name}`, { entry: entryName });
  // The columns the archive has (an older schema may lack some: they get their defaults).
  const present = Object.keys((JSON.parse(lines[0]!) as { row: Record<string, unknown> }).row);
  const columns = table.columns.filter((c) => c !== 'user_id' && present.includes(c));
  const list = columns.map((c) => quoted(c)).join(', ');
  const rowOf = (alias: string) => `md5(row(${columns.map((c) => `${alias}.${quoted(c)}`).join(', ')})::text)`;
  const sql = `
    WITH incoming AS (
      SELECT r.* FROM unnest($1::text[]) AS l, jsonb_populate_record(NULL::${quoted(table.name)}, (l::jsonb)->'row') AS r
    )
    INSERT INTO ${quoted(table.name)} (user_id${list ? `, ${list}` : ''})
    SELECT $2::uuid${list ? `, ${columns.map((c) => `i.${quoted(c)}`).join(', ')}` : ''} FROM incoming i
    ${table.dedup === 'row' ? `WHERE NOT EXISTS (SELECT 1 FROM ${quoted(table.name)} e WHERE e.user_id = $2::uuid AND ${rowOf('e')} = ${rowOf('i')})` : ''}
    ON CONFLICT DO NOTHING`;
  return (await tx.query(sql, [lines, userId])).rowCount;
}

export interface RestoreTarget {
  db: Database;
  blobs: BlobStore;
}

/** Check the archive, then restore it into `options.user` (default: the user it names). */
export async function restoreUserArchive(
  target: RestoreTarget,
  file: string,
  options: { user?: string; onPhase?: (phase: string, message: string) => void } = {},
): Promise<RestoreReport> {
  const started = performance.now();
  const { db } = target;
  const schema = await schemaVersionOf(db);
  const timeColumns = new Map(
    (await db.query<{ table_name: string; time_column: string }>(`SELECT table_name, time_column FROM lake.time_tables`)).rows.map((r) => [r.table_name, r.time_column]),
  );
  options.onPhase?.('check', `checking ${file} against its manifest…`);
  const verified = await verifyUserArchive(file, schema.version, timeColumns);
  const { header, manifest } = verified;

  // Every table with rows must be one this lake has, and the archive's order must be this lake's foreign-key order.
  const tables = await targetTables(db);
  for (const [table, rows] of Object.entries(manifest.tables)) {
    if (rows > 0 && !tables.has(table) && !(table in NOT_RESTORED)) {
      throw invalid(file, `table ${table} has ${rows} rows in the archive but this lake has no such table (a migration skipped for a missing extension?)`, { entry: table });
    }
  }
  for (const { child, parent } of await foreignKeys(db)) {
    const c = verified.tableOrder.indexOf(child);
    const p = verified.tableOrder.indexOf(parent);
    if (c !== -1 && p !== -1 && c < p && !(parent in NOT_RESTORED)) throw invalid(file, `table ${child} comes before ${parent}, which it references`);
  }

  const userName = options.user ?? header.user;
  const userId = await ensureUser(db, userName);
  // Partitions for the months the rows fall in, as the importer makes them (a no-op on hypertables).
  for (const [table, range] of verified.timeRanges) {
    if (!tables.has(table)) continue;
    await db.transaction((tx) => tx.query(`SELECT lake.ensure_month_partitions($1, $2::timestamptz, $3::timestamptz + interval '1 second')`, [table, range.from, range.to]));
  }

  const report: RestoreReport = {
    file,
    archiveUser: header.user,
    user: userName,
    archiveSchemaVersion: header.schemaVersion,
    schemaVersion: schema.version,
    tables: {},
    rowsAdded: 0,
    rowsAlreadyPresent: 0,
    blobs: { total: manifest.blobs, added: 0, alreadyPresent: 0, bytesAdded: 0 },
    seconds: 0,
  };
  for (const [table, rows] of Object.entries(manifest.tables)) {
    report.tables[table] = { rows, added: 0, alreadyPresent: 0, ...(table in NOT_RESTORED ? { skipped: NOT_RESTORED[table] } : {}) };
  }
  const expected = new Map(manifest.entries.map((e) => [e.name, e]));
  const changed = (name: string) => invalid(file, `entry ${name} changed since it was checked (the file was modified during the import)`, { entry: name });

  options.onPhase?.('blobs', `putting ${manifest.blobs} blobs into the blob store…`);
  const entries = archiveEntries(file)[Symbol.asyncIterator]();
  try {
    let next = await entries.next();
    // header.json: checked already.
    if (!next.done) {
      for await (const _ of next.value.body);
      next = await entries.next();
    }
    while (!next.done && BLOB_ENTRY.test(next.value.name)) {
      const { name, body } = next.value;
      const sha256 = BLOB_ENTRY.exec(name)![1]!;
      // The entry is a streamx stream: handed over as a plain async iterable.
      const put = await target.blobs.put((async function* () {
        yield* body;
      })());
      if (put.sha256 !== sha256) throw changed(name);
      if (put.created) {
        report.blobs.added += 1;
        report.blobs.bytesAdded += put.size;
      } else report.blobs.alreadyPresent += 1;
      next = await entries.next();
    }

    options.onPhase?.('rows', `loading ${Object.values(manifest.tables).reduce((a, b) => a + b, 0)} rows in one transaction…`);
    await db.asUser(userId, async (tx) => {
      while (!next.done && next.value.name !== MANIFEST_ENTRY) {
        const entry = next.value;
        const table = TABLE_ENTRY.exec(entry.name)?.[1];
        if (table === undefined) throw invalid(file, `entry ${entry.name} is out of place`, { entry: entry.name });
        const bytes = await readAll(file, entry, MAX_TABLE_ENTRY_BYTES);
        if (createHash('sha256').update(bytes).digest('hex') !== expected.get(entry.name)?.sha256) throw changed(entry.name);
        const counts = report.tables[table]!;
        if (!counts.skipped) {
          const added = await loadRows(tx, tables.get(table)!, bytes.toString('utf8'), userId, file, entry.name);
          counts.added += added;
          counts.alreadyPresent += expected.get(entry.name)!.rows! - added;
        }
        next = await entries.next();
      }
      if (next.done) throw invalid(file, `the archive has no ${MANIFEST_ENTRY} at its end: truncated`);
    });
    for await (const _ of next.value.body);
  } finally {
    await entries.return?.(undefined);
  }
  for (const [table, counts] of Object.entries(report.tables)) {
    report.rowsAdded += counts.added;
    report.rowsAlreadyPresent += counts.alreadyPresent;
    // Statistics for the rows just loaded: the embedded database has no autovacuum to gather them,
    // and without them reading a large table back in key order (the export) is planned as a sort of all of it.
    if (counts.added > 0) await db.query(`ANALYZE ${quoted(table)}`);
  }
  report.seconds = Number(((performance.now() - started) / 1000).toFixed(2));
  return report;
}

/** The report as lines for people. */
export function formatRestoreReport(report: RestoreReport): string {
  const lines = [`restored archive of user ${report.archiveUser} (schema version ${report.archiveSchemaVersion}) into user ${report.user}:`];
  for (const [table, t] of Object.entries(report.tables)) {
    if (t.rows === 0) continue;
    lines.push(t.skipped ? `  ${table}: ${t.rows} rows not restored (${t.skipped})` : `  ${table}: ${t.added} rows added, ${t.alreadyPresent} already present`);
  }
  lines.push(`  blobs: ${report.blobs.added} added (${report.blobs.bytesAdded} bytes), ${report.blobs.alreadyPresent} already present`);
  lines.push(`  total: ${report.rowsAdded} rows added, ${report.rowsAlreadyPresent} already present, in ${report.seconds} s`);
  return lines.join('\n');
}
