// PGlite's extensions, read from disk when PostgreSQL first needs them. PGlite itself reads each
// extension's bundle (a tar.gz) at every start: it unzips and unpacks it into its in-memory file
// system and compiles every library in it, used or not. PostGIS alone is 56 MB unpacked with two
// WebAssembly libraries, most of a second and a quarter of a GB at each start, for commands
// that never touch a geometry. Here the bundles are unpacked once per installation into a cache
// directory, mounted into PGlite's file system (NODEFS) and linked where PostgreSQL looks for
// them: a library is read and compiled only when a query first calls into it (PostgreSQL's own
// dlopen), a control or script file only when an extension is created.
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { Extension, Extensions } from '@electric-sql/pglite';
import tar from 'tar-stream';

/** Where the unpacked files are mounted inside PGlite's file system. */
const MOUNT_POINT = '/lake-extensions';
/** Written last: a directory without it was left half-unpacked (a killed process) and is unpacked again. */
const COMPLETE = '.complete';
/**
 * Another bundle's files (an older PGlite) are deleted once no start has used them for this long:
 * a lake of that older installation may still be running on them, reading a library only when a
 * query first needs it, so they are not deleted as soon as a newer bundle is unpacked.
 */
export const UNUSED_EXTENSION_DAYS = 14;

/** The subset of PGlite's Emscripten module the links need. */
interface EmscriptenModule {
  WASM_PREFIX: string;
  FS: {
    filesystems: { NODEFS: unknown };
    mkdirTree(path: string): void;
    mount(type: unknown, options: { root: string }, mountpoint: string): void;
    symlink(target: string, link: string): void;
    analyzePath(path: string): { exists: boolean };
  };
}

/**
 * `extensions` as PGlite extensions of the same names (PGlite goes by the name: `postgis` gets
 * PROJ's data path) that link their unpacked files from `cacheDir`, unpacking them there first if
 * this installation has not yet. Null when the cache cannot be written (a read-only home, a full
 * disk): PGlite then loads the bundles itself, as slowly as ever.
 */
export async function extensionsFromDisk(extensions: Extensions, cacheDir: string): Promise<Extensions | null> {
  const root = path.join(cacheDir, 'pglite-extensions');
  try {
    const linked: Extensions = {};
    const used = new Set<string>();
    for (const [name, extension] of Object.entries(extensions)) {
      const bundle = await bundleOf(extension);
      // Unpacked again when the bundle changes (another PGlite installed): named by its size and time.
      const { size, mtimeMs } = await stat(bundle);
      const unpacked = path.join(root, `${name}-${size}-${Math.trunc(mtimeMs)}`);
      await unpackOnce(bundle, unpacked);
      // The mark's time is this bundle's last use: what another bundle's pruning goes by.
      const now = new Date();
      await utimes(path.join(unpacked, COMPLETE), now, now).catch(() => {}); // a read-only cache serves as it is
      linked[name] = linkedFrom(name, unpacked, await listFiles(unpacked));
      used.add(path.basename(unpacked));
    }
    await pruneUnused(root, used);
    return linked;
  } catch {
    return null;
  }
}

/**
 * Delete the unpacked files of bundles no start has used for UNUSED_EXTENSION_DAYS (other PGlite
 * versions), and half-unpacked ones of as long ago. Best effort: a failure leaves them for later.
 */
async function pruneUnused(root: string, inUse: ReadonlySet<string>): Promise<void> {
  const before = Date.now() - UNUSED_EXTENSION_DAYS * 86_400_000;
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const directory = path.join(root, name);
    const lastUse = await stat(path.join(directory, COMPLETE)).catch(() => stat(directory)).catch(() => null);
    if (inUse.has(name) || !lastUse || lastUse.mtimeMs >= before) continue;
    await rm(directory, { recursive: true, force: true }).catch(() => {});
  }
}

/** The bundle PGlite would load for `extension` (an extension's setup only names its file). */
async function bundleOf(extension: Extension | URL): Promise<string> {
  const bundle = extension instanceof URL ? extension : (await extension.setup(undefined as never, {})).bundlePath;
  if (!bundle) throw new Error(`extension ${extension instanceof URL ? extension : extension.name} has no bundle`);
  return bundle.pathname;
}

async function unpackOnce(bundle: string, directory: string): Promise<void> {
  if (existsSync(path.join(directory, COMPLETE))) return;
  const scratch = `${directory}.${process.pid}.partial`;
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  try {
    await untar(bundle, scratch);
    await writeFile(path.join(scratch, COMPLETE), '');
    await rm(directory, { recursive: true, force: true }); // a half-unpacked one
    await rename(scratch, directory);
  } catch (error) {
    await rm(scratch, { recursive: true, force: true });
    // Another process unpacked the same bundle at the same time: its copy serves.
    if (existsSync(path.join(directory, COMPLETE))) return;
    throw error;
  }
}

/** Its files only: the bundles' links (PostGIS's upgrade scripts) point at a file none of them holds. */
async function untar(bundle: string, into: string): Promise<void> {
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const target = path.join(into, path.normalize(header.name));
    if (header.type !== 'file' || !target.startsWith(into + path.sep)) {
      stream.on('end', () => next());
      stream.resume();
      return;
    }
    mkdir(path.dirname(target), { recursive: true })
      .then(() => pipeline(stream, createWriteStream(target, { mode: header.mode ?? 0o644 })))
      .then(() => next(), next);
  });
  await pipeline(createReadStream(bundle), createGunzip(), extract);
}

/** Files under `directory`, relative to it, the completion mark left out. */
async function listFiles(directory: string, relative = ''): Promise<string[]> {
  const entries = await readdir(path.join(directory, relative), { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) => {
      const name = path.posix.join(relative, entry.name);
      if (entry.isDirectory()) return listFiles(directory, name);
      return entry.name === COMPLETE ? [] : [name];
    }),
  );
  return nested.flat();
}

/**
 * Before PostgreSQL starts: mount `directory` and link each of its `files` (paths in the bundle) at
 * its path in PGlite's file system, where PGlite's own unpacking would have written it.
 */
function linkedFrom(name: string, directory: string, files: readonly string[]): Extension {
  return {
    name,
    setup: async (_pg, emscriptenOpts) => ({
      emscriptenOpts: {
        ...emscriptenOpts,
        preRun: [
          ...(emscriptenOpts.preRun ?? []),
          (module: EmscriptenModule) => {
            const { FS } = module;
            const mountPoint = `${MOUNT_POINT}/${name}`;
            FS.mkdirTree(mountPoint);
            FS.mount(FS.filesystems.NODEFS, { root: directory }, mountPoint);
            for (const file of files) {
              const link = `${module.WASM_PREFIX}/${file}`;
              FS.mkdirTree(path.posix.dirname(link));
              if (!FS.analyzePath(link).exists) FS.symlink(`${mountPoint}/${file}`, link);
            }
          },
        ],
      },
    }),
  };
}
