// Migrated test lakes without migrating each one: a lake is made and migrated once per change of
// what makes it (migrations, the database code, PGlite), kept as a template, and each test lake
// starts as a copy. On a server a template database (CREATE DATABASE ... TEMPLATE, like
// graphile-worker's tests); embedded, a tarball of PGlite's data directory (dumpDataDir), loaded
// in memory or into a new data directory. Creating and migrating took about half a minute a lake
// on a loaded 2-core machine, a copy a few seconds. Each copy gets a lake id of its own
// (lake.identity), as a freshly migrated lake has: a data directory is bound to its database by it.
//
// The first process that needs a template builds it while the others wait on a lock (a file for
// embedded, an advisory lock on the server), so the test files running at once never race. A
// template is found again by its key, a hash of its ingredients; templates of other keys are
// removed after a day.
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, stat, writeFile, mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { loadConfig } from '../../src/config/config.js';
import { lockDirectory } from '../../src/db/adapters/directory-lock.js';
import { LakeError } from '../../src/errors.js';
import { Lake } from '../../src/lake.js';

const ROOT = new URL('../../', import.meta.url).pathname;
/** Templates of other keys older than this are removed (another checkout may still use a newer one). */
const STALE_AFTER_MS = 24 * 60 * 60 * 1000;
/** A hang guard for waiting on another process's build. */
const BUILD_WAIT_MS = 20 * 60 * 1000;
/** Names the advisory lock of the server template's build (migrate.ts's lock is 4_736_201). */
const SERVER_TEMPLATE_LOCK = 4_736_202;

export { giveOwnIdentity } from '../../src/data-dir-identity.js';

/** A hash of what a migrated lake is made of: the database code, its migrations, the PGlite packages, and `more`. */
async function templateKey(more: string): Promise<string> {
  const hash = createHash('sha256');
  const files = [path.join(ROOT, 'src/lake.ts'), ...(await listFiles(path.join(ROOT, 'src/db')))].filter((f) => /\.(ts|sql)$/.test(f)).sort();
  for (const file of files) hash.update(`${path.relative(ROOT, file)}\0`).update(await readFile(file)).update('\0');
  for (const pkg of ['@electric-sql/pglite', '@electric-sql/pglite-postgis']) {
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string };
    hash.update(`${pkg}@${version}\0`);
  }
  return hash.update(more).digest('hex').slice(0, 16);
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name)) : [path.join(dir, e.name)])));
  return nested.flat();
}

// ---- embedded: a tarball in the system's temporary directory

const EMBEDDED_DIR = path.join(os.tmpdir(), 'datapunk-lake-test-templates');
let embedded: Promise<Blob> | undefined;

/** The data directory of a new, migrated embedded lake, as a tarball for Lake.open's loadDataDir. */
export function embeddedTemplate(): Promise<Blob> {
  embedded ??= loadEmbeddedTemplate();
  return embedded;
}

async function loadEmbeddedTemplate(): Promise<Blob> {
  const file = path.join(EMBEDDED_DIR, `embedded-${await templateKey('embedded')}.tar`);
  const ready = await readFile(file).catch(() => null);
  if (ready) return new Blob([ready]);
  await mkdir(EMBEDDED_DIR, { recursive: true });
  const unlock = await waitFor(() => lockDirectory(EMBEDDED_DIR), (e) => e instanceof LakeError && e.code === 'DATA_DIR_LOCKED');
  try {
    const built = await readFile(file).catch(() => null); // by the process that held the lock
    if (built) return new Blob([built]);
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'lake-template-'));
    try {
      const lake = await Lake.open(loadConfig({ LAKE_DATA_DIR: scratch }), { inMemory: true });
      let tarball: Blob;
      try {
        const { dumpEmbedded } = await import('../../src/db/adapters/embedded.js');
        tarball = await dumpEmbedded(lake.db);
      } finally {
        await lake.close();
      }
      const partial = `${file}.${process.pid}.partial`;
      await writeFile(partial, new Uint8Array(await tarball.arrayBuffer()));
      await rename(partial, file);
      await removeStaleFiles(file);
      return tarball;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  } finally {
    await unlock();
  }
}

async function removeStaleFiles(current: string): Promise<void> {
  for (const name of await readdir(EMBEDDED_DIR)) {
    const file = path.join(EMBEDDED_DIR, name);
    if (file === current || !/^embedded-.*\.(tar|partial)$/.test(name)) continue;
    const { mtimeMs } = await stat(file);
    if (Date.now() - mtimeMs > STALE_AFTER_MS) await rm(file, { force: true });
  }
}

/** Retry `attempt` while it fails with an error `retryable` accepts: another process holds what it needs. */
async function waitFor<T>(attempt: () => Promise<T>, retryable: (error: unknown) => boolean): Promise<T> {
  const deadline = Date.now() + BUILD_WAIT_MS;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!retryable(error) || Date.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

// ---- server: a template database

let server: Promise<string> | undefined;

/** The name of the migrated template database on the server at `adminUrl`, built on first use. */
export function serverTemplate(adminUrl: string): Promise<string> {
  server ??= withClient(adminUrl, (client) => ensureServerTemplate(client, adminUrl));
  return server;
}

async function ensureServerTemplate(client: pg.Client, adminUrl: string): Promise<string> {
  const versions = await client.query<{ v: string }>(
    `SELECT version() || string_agg(name || ' ' || coalesce(default_version, ''), ',' ORDER BY name) AS v FROM pg_available_extensions`,
  );
  const name = `lake_test_template_${await templateKey(`server\0${versions.rows[0]!.v}`)}`;
  // Session-level: held across the build's own transactions, released with the connection if this process dies.
  await client.query(`SELECT pg_advisory_lock($1)`, [SERVER_TEMPLATE_LOCK]);
  try {
    // Marked a template only once built: one left half-built by a killed process is built again.
    const found = await client.query(`SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate`, [name]);
    if (found.rowCount) return name;
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'lake-template-'));
    try {
      const lake = await Lake.open(loadConfig({ LAKE_DATA_DIR: scratch, DATABASE_URL: databaseUrl(adminUrl, name) }));
      await lake.close();
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    // Nobody may connect to it (a copy is refused while anyone is), TimescaleDB's scheduler included.
    await client.query(`ALTER DATABASE ${name} WITH ALLOW_CONNECTIONS false`);
    await client.query(`SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE datname = $1`, [name]);
    await client.query(`COMMENT ON DATABASE ${name} IS 'datapunk-lake test template, built ${new Date().toISOString()}'`);
    await client.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE true`);
    await removeStaleDatabases(client, name);
    return name;
  } finally {
    await client.query(`SELECT pg_advisory_unlock($1)`, [SERVER_TEMPLATE_LOCK]);
  }
}

async function removeStaleDatabases(client: pg.Client, current: string): Promise<void> {
  const templates = await client.query<{ datname: string; comment: string | null }>(
    `SELECT datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname LIKE 'lake\\_test\\_template\\_%' AND datname <> $1`,
    [current],
  );
  for (const { datname, comment } of templates.rows) {
    const built = Date.parse(/built (\S+)$/.exec(comment ?? '')?.[1] ?? '');
    if (Number.isNaN(built) || Date.now() - built < STALE_AFTER_MS) continue;
    await client.query(`ALTER DATABASE ${datname} WITH IS_TEMPLATE false`);
    await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
  }
}

/** `url` pointing at database `name`. */
export function databaseUrl(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A database name no other test process uses. */
export function uniqueDatabaseName(): string {
  return `lake_test_${process.pid}_${randomBytes(4).toString('hex')}`;
}
