// New embedded lakes start as a copy of one database made and migrated once per installation.
// Making one runs PGlite's initdb and every migration, about ten seconds; copying one, a fraction
// of a second. The template lives in the cache directory under a key of what makes it (the
// migrations and the PGlite packages), so a new release of either makes a new one. A copy is
// migrated like any lake at open, so a template can lag behind nothing, and it gets a lake id of
// its own (giveOwnIdentity).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { LakeError } from '../errors.js';
import { lockDirectory } from './adapters/directory-lock.js';
import { openEmbedded } from './adapters/embedded.js';
import { loadMigrations } from './migrate.js';
import { prepareSchema } from './schema.js';
import type { SessionSettings } from './session.js';

/** Written last beside a template: one without it was left half-made and is made again. */
const COMPLETE = '.complete';

export interface TemplateOptions {
  cacheDir: string;
  session: SessionSettings;
  partitionMonthsAhead: number;
  /** Told when the template must be made first (the installation's first lake): that takes about ten seconds. */
  onMaking?: () => void;
}

/**
 * Fill `directory`, which holds no database yet, with a copy of the template, making the template
 * first if this installation has none. False when no copy was made (the cache cannot be written,
 * another process is making the template): the caller then makes the database as before.
 */
export async function copyTemplate(directory: string, options: TemplateOptions): Promise<boolean> {
  // Copied beside and renamed: a copy cut short (kill -9) must not look like a database.
  const partial = `${directory}.${process.pid}.partial`;
  try {
    const template = await ensureTemplate(options);
    if (!template) return false;
    await rm(partial, { recursive: true, force: true });
    await cp(template, partial, { recursive: true });
    await rmdir(directory).catch(() => {}); // the empty directory made before opening
    await rename(partial, directory);
    return true;
  } catch {
    await rm(partial, { recursive: true, force: true }).catch(() => {});
    return false;
  }
}

async function ensureTemplate(options: TemplateOptions): Promise<string | null> {
  const root = path.join(options.cacheDir, 'embedded-template');
  const key = await templateKey();
  const template = path.join(root, key, 'pglite');
  if (existsSync(path.join(root, key, COMPLETE))) return template;
  await mkdir(root, { recursive: true });
  let unlock: () => Promise<void>;
  try {
    unlock = await lockDirectory(root);
  } catch (error) {
    if (error instanceof LakeError && error.code === 'DATA_DIR_LOCKED') return null; // being made: not waited for
    throw error;
  }
  try {
    if (existsSync(path.join(root, key, COMPLETE))) return template;
    options.onMaking?.();
    const scratch = path.join(root, `${key}.${process.pid}.partial`);
    await rm(scratch, { recursive: true, force: true });
    const db = await openEmbedded({ directory: path.join(scratch, 'pglite'), session: options.session, cacheDir: options.cacheDir });
    try {
      await prepareSchema(db, options.partitionMonthsAhead);
    } finally {
      await db.close();
    }
    await writeFile(path.join(scratch, COMPLETE), '');
    for (const name of await readdir(root)) {
      if (name !== 'lake.pid' && name !== path.basename(scratch)) await rm(path.join(root, name), { recursive: true, force: true }); // older keys, half-made ones
    }
    await rename(scratch, path.join(root, key));
    return template;
  } finally {
    await unlock();
  }
}

/** A hash of what a new migrated database is made of: the migrations and the PGlite packages. */
async function templateKey(): Promise<string> {
  const hash = createHash('sha256');
  for (const migration of await loadMigrations()) hash.update(`${migration.version}\0${migration.checksum}\0`);
  const require = createRequire(import.meta.url);
  for (const pkg of ['@electric-sql/pglite', '@electric-sql/pglite-postgis']) {
    const manifest = path.join(path.dirname(require.resolve(pkg)), '..', 'package.json');
    hash.update(`${pkg}@${(JSON.parse(await readFile(manifest, 'utf8')) as { version: string }).version}\0`);
  }
  return hash.digest('hex').slice(0, 16);
}
