// The embedded database's light start (issue 16): extensions read from this installation's cache
// when first used, new data directories copied from a migrated template, small shared buffers for
// brief commands, and data files of another PostgreSQL major version refused by name.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { readIdentity } from '../src/data-dir-identity.js';
import { PGLITE_POSTGRES_MAJOR } from '../src/db/adapters/embedded.js';
import { UNUSED_EXTENSION_DAYS } from '../src/db/adapters/pglite-extensions.js';
import { LakeError } from '../src/errors.js';
import { Lake, type OpenOptions } from '../src/lake.js';
import { BACKEND } from './support/lake.js';

// The embedded adapter's own start-up; the server has none of it (its extensions and databases are the server's).
const skip = BACKEND === 'server' ? 'embedded database start-up only' : false;

describe('embedded start', { skip }, () => {
  let work: string;
  let cacheDir: string;
  const lakes: string[] = [];

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'lake-embedded-start-'));
    cacheDir = path.join(work, 'cache');
  });
  after(() => rm(work, { recursive: true, force: true }));

  async function withLake<T>(name: string, work_: (lake: Lake) => Promise<T>, options: OpenOptions = {}, cache = cacheDir): Promise<T> {
    const lake = await Lake.open(loadConfig({ LAKE_DATA_DIR: path.join(work, name), LAKE_CACHE_DIR: cache }), options);
    lakes.push(name);
    try {
      return await work_(lake);
    } finally {
      await lake.close();
    }
  }

  const lakeId = (lake: Lake) => lake.db.query<{ id: string }>(`SELECT lake_id::text AS id FROM lake.identity`).then((r) => r.rows[0]!.id);

  test('a new installation unpacks the extensions once and makes the template', async () => {
    const first = await withLake('first', async (lake) => {
      // PostGIS, pgvector and pg_trgm work although PGlite loaded none of their bundles: their files
      // are linked from the cache and read when a query first calls into them.
      const geo = await lake.db.query<{ metres: number }>(
        `SELECT round(ST_Distance('SRID=4326;POINT(13.4 52.5)'::geography, 'SRID=4326;POINT(2.35 48.85)'::geography))::float8 AS metres`,
      );
      assert.equal(geo.rows[0]?.metres, 879035);
      // PROJ's data (proj.db) is found: PGlite gives PostGIS its path only for an extension named postgis.
      const projected = await lake.db.query<{ t: string }>(`SELECT ST_AsText(ST_SnapToGrid(ST_Transform('SRID=4326;POINT(13.4 52.5)'::geometry, 3857), 1)) AS t`);
      assert.equal(projected.rows[0]?.t, 'POINT(1491681 6891042)');
      const vec = await lake.db.query<{ d: number }>(`SELECT ('[1,0]'::vector <=> '[0,1]'::vector)::float8 AS d`);
      assert.equal(vec.rows[0]!.d, 1);
      const trgm = await lake.db.query<{ s: number }>(`SELECT similarity('lake', 'lake')::float8 AS s`);
      assert.equal(trgm.rows[0]!.s, 1);
      return { id: await lakeId(lake), applied: lake.migrations!.applied.length };
    });
    const unpacked = await readdir(path.join(cacheDir, 'pglite-extensions'));
    for (const name of ['postgis', 'vector', 'pg_trgm', 'pgcrypto']) {
      const dir = unpacked.find((d) => d.startsWith(`${name}-`));
      assert.ok(dir, `${name} unpacked`);
      assert.ok((await readdir(path.join(cacheDir, 'pglite-extensions', dir))).includes('.complete'));
    }
    const [key, ...others] = (await readdir(path.join(cacheDir, 'embedded-template'))).filter((n) => n !== 'lake.pid');
    assert.deepEqual(others, []);
    assert.ok((await readdir(path.join(cacheDir, 'embedded-template', key!))).includes('.complete'));
    // The first lake is itself a copy: the template was made first, then copied.
    assert.equal(first.applied, 0, 'the copy had every migration applied already');
    assert.equal((await readIdentity(path.join(work, 'first')))?.lakeId, first.id);
  });

  test('each new data directory is a copy of the template with a lake id of its own', async () => {
    const ids = new Set<string>();
    for (const name of ['copy-a', 'copy-b']) {
      const { id, pending } = await withLake(name, async (lake) => {
        const status = await lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM lake.migrations WHERE status = 'applied'`);
        assert.ok(status.rows[0]!.n >= 20);
        return { id: await lakeId(lake), pending: lake.migrations!.applied.length };
      });
      assert.equal(pending, 0);
      assert.equal((await readIdentity(path.join(work, name)))?.lakeId, id, 'the data directory records its own lake');
      ids.add(id);
    }
    ids.add(await withLake('first', lakeId));
    assert.equal(ids.size, 3, 'no two lakes share an id');
    // No copy left half-made beside the databases.
    assert.deepEqual((await readdir(path.join(work, 'copy-a', 'hot'))).filter((n) => n.includes('partial')), []);
  });

  test('a copy cut short and a half-unpacked extension are made again', async () => {
    // A kill -9 during the copy leaves the partial copy beside the database directory, never in it.
    await mkdir(path.join(work, 'cut', 'hot', 'pglite.999999.partial'), { recursive: true });
    await writeFile(path.join(work, 'cut', 'hot', 'pglite.999999.partial', 'PG_VERSION'), `${PGLITE_POSTGRES_MAJOR}\n`);
    const [postgis] = (await readdir(path.join(cacheDir, 'pglite-extensions'))).filter((d) => d.startsWith('postgis-'));
    await rm(path.join(cacheDir, 'pglite-extensions', postgis!, '.complete'));
    await withLake('cut', async (lake) => {
      const geo = await lake.db.query<{ t: string }>(`SELECT ST_AsText(ST_MakePoint(1, 2)) AS t`);
      assert.equal(geo.rows[0]!.t, 'POINT(1 2)');
    });
    assert.ok((await readdir(path.join(cacheDir, 'pglite-extensions', postgis!))).includes('.complete'));
  });

  test("another PGlite's unpacked extensions go once no start has used them for two weeks", async () => {
    const root = path.join(cacheDir, 'pglite-extensions');
    const longAgo = new Date(Date.now() - (UNUSED_EXTENSION_DAYS + 1) * 86_400_000);
    const lately = new Date(Date.now() - 86_400_000);
    const old = async (name: string, complete: boolean, when: Date) => {
      await mkdir(path.join(root, name, 'lib'), { recursive: true });
      await writeFile(path.join(root, name, 'lib', 'postgis-3.so'), 'old');
      if (complete) await writeFile(path.join(root, name, '.complete'), '');
      await utimes(path.join(root, name, complete ? '.complete' : ''), when, when);
    };
    await old('postgis-111-222', true, longAgo); // an older PGlite's, unused since
    await old('vector-333-444', true, lately); // an older PGlite's, used yesterday: a lake may still run on it
    await old('pg_trgm-555-666.4242.partial', false, longAgo); // a half-unpacked one of a killed process
    const current = (await readdir(root)).filter((d) => !/-(111|333|555)-/.test(d));
    await withLake('prune', async (lake) => {
      assert.equal((await lake.db.query<{ t: string }>(`SELECT ST_AsText(ST_MakePoint(5, 6)) AS t`)).rows[0]!.t, 'POINT(5 6)');
    });
    assert.deepEqual((await readdir(root)).sort(), [...current, 'vector-333-444'].sort());
    for (const dir of current) {
      const used = (await stat(path.join(root, dir, '.complete'))).mtimeMs;
      assert.ok(Date.now() - used < 600_000, `${dir} is marked as used now`);
    }
  });

  test('an unwritable cache falls back to PGlite loading its bundles', async () => {
    const notADirectory = path.join(work, 'cache-file');
    await writeFile(notADirectory, '');
    await withLake(
      'no-cache',
      async (lake) => {
        const geo = await lake.db.query<{ t: string }>(`SELECT ST_AsText(ST_MakePoint(3, 4)) AS t`);
        assert.equal(geo.rows[0]!.t, 'POINT(3 4)');
        assert.ok(lake.migrations!.applied.length > 0, 'made and migrated in place');
      },
      {},
      path.join(notADirectory, 'cache'),
    );
  });

  test('brief commands start with small shared buffers, the others with 128MB', async () => {
    const shared = (lake: Lake) => lake.db.query<{ s: string }>(`SELECT current_setting('shared_buffers') AS s`).then((r) => r.rows[0]!.s);
    assert.equal(await withLake('first', shared, { brief: true }), '16MB');
    assert.equal(await withLake('first', shared), '128MB');
  });

  test('the data files of another PostgreSQL major version are refused by name', async () => {
    const made = await readFile(path.join(work, 'first', 'hot', 'pglite', 'PG_VERSION'), 'utf8');
    assert.equal(made.trim(), PGLITE_POSTGRES_MAJOR, 'the pinned PGlite makes the version the adapter expects');
    const old = path.join(work, 'old', 'hot', 'pglite');
    await mkdir(old, { recursive: true });
    await writeFile(path.join(old, 'PG_VERSION'), '16\n');
    await assert.rejects(
      Lake.open(loadConfig({ LAKE_DATA_DIR: path.join(work, 'old'), LAKE_CACHE_DIR: cacheDir })),
      (error: unknown) =>
        error instanceof LakeError &&
        error.code === 'DB_VERSION_UNSUPPORTED' &&
        error.message.includes('PostgreSQL 16') &&
        error.message.includes(`PostgreSQL ${PGLITE_POSTGRES_MAJOR}`) &&
        error.message.includes(old),
    );
  });
});
