// A directory's files stored in the backup repository and back, for the embedded database's
// files. Each file is kept like a blob: content-addressed in the repository's pool
// (repository.blobPath(sha256)), written only when the pool does not hold it yet, so a backup
// after a small change adds only the files that changed. The tree itself is a list, one line per
// entry in walk order (directories before their files):
//
//   d <mode, octal> <relative path>
//   f <mode, octal> <size> <sha256> <relative path>
//
// Streaming: one file open at a time. Only plain files and directories (a PostgreSQL data
// directory has no other kind); a path with a newline is refused, and an entry that would land
// outside the target is refused on the way back.
import { createHash } from 'node:crypto';
import { constants, createReadStream, createWriteStream, existsSync } from 'node:fs';
import { copyFile, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LakeError } from '../errors.js';
import { readBackupFile, readBackupFileLines, writeBackupFile } from './backup-file.js';
import type { BackupRepository } from './repository.js';

/** Files a running PostgreSQL keeps for itself, meaningless in a copy. */
const SKIPPED = new Set(['postmaster.pid', 'postmaster.opts']);

/** A file or directory of a tree, as listed; `sha256` when its content is known without reading it. */
export interface TreeFile {
  relative: string;
  directory: boolean;
  mode: number;
  size: number;
  /** inode, modification and change times (ns): equal on two listings only when the file was not written between them. */
  identity: string;
  sha256?: string;
}

/** Every file under `root`, relative paths, directories before their files. */
async function* walk(root: string, relative = ''): AsyncGenerator<TreeFile> {
  const names = (await readdir(path.join(root, relative))).sort();
  for (const name of names) {
    if (relative === '' && SKIPPED.has(name)) continue;
    const entry = path.posix.join(relative, name);
    const stats = await lstat(path.join(root, entry), { bigint: true });
    const common = { relative: entry, mode: Number(stats.mode & 0o777n), identity: `${stats.ino}:${stats.mtimeNs}:${stats.ctimeNs}` };
    if (stats.isDirectory()) {
      yield { ...common, directory: true, size: 0 };
      yield* walk(root, entry);
    } else if (stats.isFile()) {
      yield { ...common, directory: false, size: Number(stats.size) };
    }
  }
}

/** The tree under `root`, without the files for which `keep` says false. */
export async function listTree(root: string, keep: (relative: string) => boolean = () => true): Promise<TreeFile[]> {
  const entries: TreeFile[] = [];
  for await (const entry of walk(root)) if (entry.directory || keep(entry.relative)) entries.push(entry);
  return entries;
}

/**
 * Copy the listed entries of `from` into `to` (made), file by file; a reflink where the file
 * system can (btrfs, XFS). Files whose content is known (`sha256`) are left out. Returns the bytes copied.
 */
export async function copyEntries(from: string, to: string, entries: readonly TreeFile[]): Promise<number> {
  let bytes = 0;
  await mkdir(to, { recursive: true });
  for (const entry of entries) {
    if (entry.directory) await mkdir(path.join(to, entry.relative), { recursive: true, mode: entry.mode });
    else if (!entry.sha256) {
      await copyFile(path.join(from, entry.relative), path.join(to, entry.relative), constants.COPYFILE_FICLONE);
      bytes += entry.size;
    }
  }
  return bytes;
}

/** What storeTree did: the list's lines (each ending with a newline) and its figures. */
export interface StoredTree {
  lines: string[];
  files: number;
  /** Bytes of the files listed. */
  bytes: number;
  /** File copies newly written to the pool, and their bytes of content. */
  added: number;
  addedBytes: number;
  /** Each file's SHA-256 by relative path. */
  hashes: Map<string, string>;
}

/** One entry of a tree list. */
export type TreeEntry = { directory: true; mode: number; relative: string } | { directory: false; mode: number; size: number; sha256: string; relative: string };

/** SHA-256 and size of a file, read as a stream. */
async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/**
 * Store the listed files in the repository's pool and return the tree's list: each file of unknown
 * content is read from `root`, hashed, and written when the pool lacks it; a file whose content is
 * known (`sha256`, the pool holding it) is listed as it is. `onProgress` gets the bytes done so far.
 */
export async function storeEntries(root: string, entries: Iterable<TreeFile> | AsyncIterable<TreeFile>, repository: BackupRepository, onProgress?: (bytes: number) => void): Promise<StoredTree> {
  const stored: StoredTree = { lines: [], files: 0, bytes: 0, added: 0, addedBytes: 0, hashes: new Map() };
  let reported = 0;
  for await (const entry of entries) {
    if (entry.relative.includes('\n') || entry.relative.includes('\r')) {
      throw new LakeError('BACKUP_CORRUPT', `${path.join(root, entry.relative)}: a path with a line break cannot be listed in a backup`);
    }
    const mode = entry.mode.toString(8);
    if (entry.directory) {
      stored.lines.push(`d ${mode} ${entry.relative}\n`);
      continue;
    }
    let sha256 = entry.sha256;
    let size = entry.size;
    if (!sha256) {
      const file = path.join(root, entry.relative);
      ({ sha256, size } = await hashFile(file));
      if (!repository.hasBlob(sha256)) {
        const written = await writeBackupFile(repository.blobPath(sha256), createReadStream(file), repository.key);
        if (written.sha256 !== sha256) throw new Error(`${file} changed while it was stored (hashed ${sha256}, stored ${written.sha256})`);
        stored.added++;
        stored.addedBytes += written.contentBytes;
      }
    }
    stored.hashes.set(entry.relative, sha256);
    stored.lines.push(`f ${mode} ${size} ${sha256} ${entry.relative}\n`);
    stored.files++;
    stored.bytes += size;
    if (onProgress && (reported === 0 || stored.bytes - reported >= 64 << 20)) {
      onProgress(stored.bytes);
      reported = stored.bytes;
    }
  }
  return stored;
}

/** Store every file under `root` (storeEntries of the whole tree). */
export function storeTree(root: string, repository: BackupRepository, onProgress?: (bytes: number) => void): Promise<StoredTree> {
  return storeEntries(root, walk(root), repository, onProgress);
}

/** A list's lines as chunks of about 1 MiB. */
export async function* linesOf(lines: readonly string[]): AsyncGenerator<Buffer> {
  let batch: string[] = [];
  let length = 0;
  for (const line of lines) {
    batch.push(line);
    length += line.length;
    if (length >= 1 << 20) {
      yield Buffer.from(batch.join(''));
      batch = [];
      length = 0;
    }
  }
  if (batch.length > 0) yield Buffer.from(batch.join(''));
}

/** One line of a tree list, parsed; BACKUP_CORRUPT naming `name` when it is malformed. */
export function parseTreeLine(line: string, name: string): TreeEntry {
  const file = /^f ([0-7]{1,4}) (\d{1,15}) ([0-9a-f]{64}) (.+)$/.exec(line);
  if (file) return { directory: false, mode: Number.parseInt(file[1]!, 8), size: Number(file[2]), sha256: file[3]!, relative: file[4]! };
  const directory = /^d ([0-7]{1,4}) (.+)$/.exec(line);
  if (directory) return { directory: true, mode: Number.parseInt(directory[1]!, 8), relative: directory[2]! };
  throw new LakeError('BACKUP_CORRUPT', `backup file ${name}: the file list has a malformed line ${JSON.stringify(line.slice(0, 100))}`);
}

/**
 * Write the tree of a list under `root` (made when absent), each file from its copy in the pool,
 * checked against its SHA-256 and size. Returns the files and bytes written.
 */
export async function restoreTree(lines: AsyncIterable<string> | Iterable<string>, root: string, repository: BackupRepository, name: string): Promise<{ files: number; bytes: number }> {
  const base = path.resolve(root);
  await mkdir(base, { recursive: true });
  let files = 0;
  let bytes = 0;
  for await (const line of lines) {
    if (!line) continue;
    const entry = parseTreeLine(line, name);
    const target = path.resolve(base, entry.relative);
    if (target === base || !target.startsWith(`${base}${path.sep}`)) {
      throw new LakeError('BACKUP_CORRUPT', `backup file ${name}: the entry ${JSON.stringify(entry.relative)} would be written outside ${base}`);
    }
    if (entry.directory) {
      await mkdir(target, { recursive: true, mode: entry.mode | 0o700 });
      continue;
    }
    const copy = repository.blobPath(entry.sha256);
    if (!existsSync(copy)) {
      throw new LakeError('BACKUP_CORRUPT', `backup file ${name}: the copy of database file ${entry.relative} (sha256 ${entry.sha256}) is missing from the repository (${copy})`);
    }
    await mkdir(path.dirname(target), { recursive: true });
    let size = 0;
    const counted = async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of readBackupFile(copy, repository.key, `blobs/${entry.sha256.slice(0, 2)}/${entry.sha256} (database file ${entry.relative})`, entry.sha256)) {
        size += chunk.length;
        yield chunk;
      }
    };
    await pipeline(counted(), createWriteStream(target, { mode: entry.mode | 0o600 }));
    if (size !== entry.size) {
      throw new LakeError('BACKUP_CORRUPT', `backup file ${name}: database file ${entry.relative} is ${size} bytes in the repository, the list says ${entry.size}`);
    }
    files++;
    bytes += size;
  }
  return { files, bytes };
}

/**
 * The live files an embedded backup stored, "sha256 size identity path" per line, kept in the set
 * as FILE_STATE_FILE: the next backup of the same data directory takes a file whose size and
 * identity (inode, modification and change times) are the same as its content already stored,
 * and reads only the files written since (as rsync and git's index trust size and times).
 */
export const FILE_STATE_FILE = 'files-state.dpk';

export interface KnownFile {
  sha256: string;
  size: number;
  identity: string;
}

export async function* fileStateLines(entries: readonly TreeFile[], hashes: ReadonlyMap<string, string>): AsyncGenerator<Buffer> {
  const lines: string[] = [];
  for (const entry of entries) {
    const sha256 = hashes.get(entry.relative);
    if (!entry.directory && sha256) lines.push(`${sha256} ${entry.size} ${entry.identity} ${entry.relative}\n`);
  }
  yield* linesOf(lines);
}

/** A set's file state (fileStateLines), by relative path. */
export async function readFileState(file: string, repository: BackupRepository): Promise<Map<string, KnownFile>> {
  const known = new Map<string, KnownFile>();
  for await (const line of readBackupFileLines(file, repository.key)) {
    if (!line) continue;
    const match = /^([0-9a-f]{64}) (\d+) (\S+) (.+)$/.exec(line);
    if (!match) throw new LakeError('BACKUP_CORRUPT', `${file}: a malformed line ${JSON.stringify(line.slice(0, 100))}`);
    known.set(match[4]!, { sha256: match[1]!, size: Number(match[2]), identity: match[3]! });
  }
  return known;
}

/**
 * Give each listed file whose size and identity are those `known` recorded (and whose stored copy
 * the pool still holds) that content's SHA-256. Returns how many were matched.
 */
export function markUnchanged(entries: TreeFile[], known: ReadonlyMap<string, KnownFile>, repository: BackupRepository): number {
  let matched = 0;
  for (const entry of entries) {
    if (entry.directory) continue;
    const was = known.get(entry.relative);
    if (was && was.size === entry.size && was.identity === entry.identity && repository.hasBlob(was.sha256)) {
      entry.sha256 = was.sha256;
      matched++;
    }
  }
  return matched;
}
