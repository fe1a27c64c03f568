// A data directory is only ever used with the database it belongs to: `lake blobs gc` with
// DATABASE_URL set over the embedded lake's data directory saw every blob as unreferenced. The
// real command, real files: a mismatch is refused with DATA_DIR_MISMATCH before anything is touched.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { IDENTITY_FILE, type DataDirIdentity } from '../src/data-dir-identity.js';
import { BlobStore } from '../src/store/blob-store.js';
import { CLI_TIMEOUT_MS, lakeEnvironment } from './support/lake-cli.js';
import { createServerDatabase, SERVER_URL } from './support/lake.js';

const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function lake(args: string[], settings: Record<string, string>): Promise<Outcome> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [LAKE, ...args], { env: lakeEnvironment(settings), timeout: CLI_TIMEOUT_MS });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
/** An embedded lake with one blob, the way a user has one in ./lake-data. */
let embeddedDataDir: string;
let blob: string;

const readIdentity = async (dataDir: string) => JSON.parse(await readFile(path.join(dataDir, IDENTITY_FILE), 'utf8')) as DataDirIdentity;

function assertRefused(out: Outcome, ...named: RegExp[]): void {
  assert.equal(out.code, 3, out.stderr);
  // `lake import` says it opens the database first (`import: ...` lines); the refusal is one line.
  const said = out.stderr.split('\n').filter((line) => !line.startsWith('import: '));
  assert.equal(said.length, 2, `one line: ${out.stderr}`);
  assert.match(out.stderr, /\[DATA_DIR_MISMATCH\]\n$/);
  for (const name of named) assert.match(out.stderr, name);
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'lake-identity-'));
  embeddedDataDir = path.join(dir, 'embedded');
  const note = path.join(dir, 'note.txt');
  await writeFile(note, 'a note only the embedded lake references\n');
  const imported = await lake(['import', note, '--json'], { LAKE_DATA_DIR: embeddedDataDir });
  assert.equal(imported.code, 0, imported.stderr);
  const blobs: string[] = [];
  for await (const listed of new BlobStore(path.join(embeddedDataDir, 'blobs')).list()) blobs.push(listed.sha256);
  assert.equal(blobs.length, 1);
  blob = blobs[0]!;
});
after(() => rm(dir, { recursive: true, force: true }));

test('the first use records the database in the data directory', async () => {
  const identity = await readIdentity(embeddedDataDir);
  assert.equal(identity.backend, 'embedded');
  assert.equal(identity.database, path.join(embeddedDataDir, 'hot', 'pglite'));
  assert.match(identity.lakeId, /^[0-9a-f]{8}-[0-9a-f]{4}-/);
});

test('a data directory recorded for another database is refused by gc and import, and its blob stays', async () => {
  // The same data directory with another database: on the embedded backend, the record names another lake.
  const other = path.join(dir, 'recorded-elsewhere');
  await cp(embeddedDataDir, other, { recursive: true });
  const stranger: DataDirIdentity = { ...(await readIdentity(other)), lakeId: '00000000-0000-4000-8000-000000000000' };
  await writeFile(path.join(other, IDENTITY_FILE), JSON.stringify(stranger));
  const note = path.join(dir, 'note.txt');
  for (const args of [['blobs', 'gc', '--dry-run', '--grace-hours', '0'], ['blobs', 'gc', '--grace-hours', '0'], ['import', note]]) {
    const out = await lake(args, { LAKE_DATA_DIR: other });
    assertRefused(out, /belongs to the embedded database .*\(lake 00000000-0000-4000-8000-000000000000\), not to the embedded database .*\(lake [0-9a-f-]{36}\)/);
  }
  assert.equal(await new BlobStore(path.join(other, 'blobs')).has(blob), true);
  assert.deepEqual(await readIdentity(other), stranger, 'the record is not rewritten');
});

test('a data directory from before the record: an embedded lake is adopted; blobs without their embedded database are refused', async () => {
  const old = path.join(dir, 'before-the-record');
  await cp(embeddedDataDir, old, { recursive: true });
  const { lakeId } = await readIdentity(old);
  await rm(path.join(old, IDENTITY_FILE));
  const doctor = await lake(['doctor', '--json'], { LAKE_DATA_DIR: old });
  assert.ok(doctor.code === 0 || doctor.code === 1, doctor.stderr);
  assert.equal((await readIdentity(old)).lakeId, lakeId, 'adopted with its own database');

  // Blobs left by a server lake (no embedded database beside them): a new embedded database must not take them.
  const orphaned = path.join(dir, 'server-blobs-only');
  await cp(path.join(embeddedDataDir, 'blobs'), path.join(orphaned, 'blobs'), { recursive: true });
  const gc = await lake(['blobs', 'gc', '--dry-run', '--grace-hours', '0'], { LAKE_DATA_DIR: orphaned });
  assertRefused(gc, /has no record of its database \(lake-identity\.json\) and it holds blobs but no embedded database/);
  await assert.rejects(readFile(path.join(orphaned, 'hot', 'pglite', 'PG_VERSION')), 'no embedded database was made');
  assert.equal(await new BlobStore(path.join(orphaned, 'blobs')).has(blob), true);
});

test('DATABASE_URL over the embedded lake\'s data directory: gc and import refuse, nothing is touched', { skip: !SERVER_URL && 'needs a server database' }, async () => {
  const database = (await createServerDatabase())!;
  try {
    const settings = { LAKE_DATA_DIR: embeddedDataDir, DATABASE_URL: database.url };
    const note = path.join(dir, 'note.txt');
    const recorded = await readIdentity(embeddedDataDir);
    for (const args of [['blobs', 'gc', '--dry-run', '--grace-hours', '0'], ['blobs', 'gc', '--grace-hours', '0'], ['import', note]]) {
      const out = await lake(args, settings);
      assertRefused(out, new RegExp(`belongs to the embedded database .*\\(lake ${recorded.lakeId}\\), not to the server database postgres://[^ ]*${new URL(database.url).pathname}`));
    }
    // Before the record existed (a data directory from an older lake): still refused.
    await rm(path.join(embeddedDataDir, IDENTITY_FILE));
    try {
      const out = await lake(['blobs', 'gc', '--dry-run', '--grace-hours', '0'], settings);
      assertRefused(out, /has no record of its database \(lake-identity\.json\) and it holds blobs and an embedded database/);
    } finally {
      await writeFile(path.join(embeddedDataDir, IDENTITY_FILE), JSON.stringify(recorded));
    }
    assert.equal(await new BlobStore(path.join(embeddedDataDir, 'blobs')).has(blob), true);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const tables = await client.query(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'lake'`);
      assert.equal(tables.rows[0].n, 0, 'the server database was not migrated');
    } finally {
      await client.end();
    }
  } finally {
    await database.drop();
  }
});

test('a server lake\'s data directory is refused with another server database', { skip: !SERVER_URL && 'needs a server database' }, async () => {
  const [mine, theirs] = [(await createServerDatabase())!, (await createServerDatabase())!];
  try {
    const dataDir = path.join(dir, 'server-lake');
    const first = await lake(['migrate'], { LAKE_DATA_DIR: dataDir, DATABASE_URL: mine.url });
    assert.equal(first.code, 0, first.stderr);
    assert.equal((await readIdentity(dataDir)).backend, 'server');
    const again = await lake(['users', 'list'], { LAKE_DATA_DIR: dataDir, DATABASE_URL: mine.url });
    assert.equal(again.code, 0, again.stderr);
    const other = await lake(['blobs', 'gc', '--dry-run'], { LAKE_DATA_DIR: dataDir, DATABASE_URL: theirs.url });
    assertRefused(other, new RegExp(`belongs to the server database postgres://[^ ]*${new URL(mine.url).pathname} \\(lake [0-9a-f-]{36}\\), not to the server database postgres://[^ ]*${new URL(theirs.url).pathname} \\(no lake id\\)`));
    const embedded = await lake(['blobs', 'gc', '--dry-run'], { LAKE_DATA_DIR: dataDir });
    assertRefused(embedded, /belongs to the server database .*, not to the new embedded database/);
  } finally {
    await mine.drop();
    await theirs.drop();
  }
});
