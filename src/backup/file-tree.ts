// A directory's files as a tar stream and back, for the embedded database's files. Streaming:
// one file open at a time. Only plain files and directories (a PostgreSQL data directory has no
// other kind); an entry that would land outside the target is refused.
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { copyFile, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { LakeError } from '../errors.js';

/** Files a running PostgreSQL keeps for itself, meaningless in a copy. */
const SKIPPED = new Set(['postmaster.pid', 'postmaster.opts']);

/** Every file under `root`, relative paths, directories before their files. */
async function* walk(root: string, relative = ''): AsyncGenerator<{ relative: string; directory: boolean; size: number; mode: number; mtime: Date }> {
  const names = (await readdir(path.join(root, relative))).sort();
  for (const name of names) {
    if (relative === '' && SKIPPED.has(name)) continue;
    const entry = path.posix.join(relative, name);
    const stats = await lstat(path.join(root, entry));
    if (stats.isDirectory()) {
      yield { relative: entry, directory: true, size: 0, mode: stats.mode & 0o777, mtime: stats.mtime };
      yield* walk(root, entry);
    } else if (stats.isFile()) {
      yield { relative: entry, directory: false, size: stats.size, mode: stats.mode & 0o777, mtime: stats.mtime };
    }
  }
}

/**
 * Copy `from` into `to` (made), file by file; a reflink where the file system can (btrfs, XFS).
 * Files for which `keep` says false are left out. Returns the bytes copied.
 */
export async function copyTree(from: string, to: string, keep: (relative: string) => boolean = () => true): Promise<number> {
  let bytes = 0;
  await mkdir(to, { recursive: true });
  for await (const entry of walk(from)) {
    if (!entry.directory && !keep(entry.relative)) continue;
    if (entry.directory) await mkdir(path.join(to, entry.relative), { recursive: true, mode: entry.mode });
    else {
      await copyFile(path.join(from, entry.relative), path.join(to, entry.relative), constants.COPYFILE_FICLONE);
      bytes += entry.size;
    }
  }
  return bytes;
}

/** The files under `root` as a tar stream. */
export function packTree(root: string): AsyncIterable<Uint8Array> {
  const pack = tar.pack();
  (async () => {
    for await (const entry of walk(root)) {
      if (entry.directory) {
        pack.entry({ name: entry.relative, type: 'directory', mode: entry.mode, mtime: entry.mtime });
        continue;
      }
      const sink = pack.entry({ name: entry.relative, type: 'file', size: entry.size, mode: entry.mode, mtime: entry.mtime });
      await pipeline(createReadStream(path.join(root, entry.relative)), sink);
    }
    pack.finalize();
  })().catch((error) => pack.destroy(error));
  return pack;
}

/** Write the files of a tar stream under `root` (which must exist). Returns the files written. */
export async function unpackTree(source: AsyncIterable<Uint8Array>, root: string, name: string): Promise<number> {
  const extract = tar.extract();
  let files = 0;
  const reading = (async () => {
    for await (const entry of extract) {
      const target = path.resolve(root, entry.header.name);
      if (target !== root && !target.startsWith(`${root}${path.sep}`)) {
        throw new LakeError('BACKUP_CORRUPT', `backup file ${name}: the entry ${JSON.stringify(entry.header.name)} would be written outside ${root}`);
      }
      if (entry.header.type === 'directory') {
        await mkdir(target, { recursive: true, mode: (entry.header.mode ?? 0o700) | 0o700 });
        entry.resume();
      } else if (entry.header.type === 'file') {
        await mkdir(path.dirname(target), { recursive: true });
        await pipeline(entry, createWriteStream(target, { mode: entry.header.mode ?? 0o600 }));
        files++;
      } else {
        throw new LakeError('BACKUP_CORRUPT', `backup file ${name}: the entry ${JSON.stringify(entry.header.name)} is a ${entry.header.type}, not a file or directory`);
      }
    }
  })();
  await Promise.all([pipeline(source, extract), reading]);
  return files;
}
