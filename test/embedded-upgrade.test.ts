// Upgrades of PGlite lose nothing (issue 16): a data directory made by the previous PGlite release
// (devDependency pglite-previous) opens with the pinned one as a working lake, every value read
// back exactly, its indexes used; one made by a PGlite of an older PostgreSQL major (pglite-pg16)
// is refused by name and left as it was. When PGlite is bumped, pglite-previous moves to the
// release being replaced (CONTRIBUTING.md).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { postgis } from '@electric-sql/pglite-postgis';
import { PGlite as Pg16PGlite } from 'pglite-pg16';
import { PGlite as PreviousPGlite } from 'pglite-previous';
import { pg_trgm } from 'pglite-previous/contrib/pg_trgm';
import { vector } from 'pglite-previous/vector';
import { loadConfig } from '../src/config/config.js';
import { readIdentity } from '../src/data-dir-identity.js';
import { embeddedDirectory, PGLITE_POSTGRES_MAJOR } from '../src/db/adapters/embedded.js';
import type { Database } from '../src/db/database.js';
import { LakeError } from '../src/errors.js';
import { Lake } from '../src/lake.js';
import { BACKEND } from './support/lake.js';

// Files of the embedded database only; the server keeps its own.
const skip = BACKEND === 'server' ? 'embedded database files only (the server upgrades its own)' : false;

const BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

/** Rows as inserted: ids beyond 2^53, text PostgreSQL and JavaScript must not re-encode, microseconds. */
const ROWS = [
  {
    id: '9007199254740993',
    t: 'Zoë naïve café — 東京 🐟',
    j: '{"ä": [1, 2.5, null, "🐟"], "nested": {"ok": true}}',
    ts: '2024-02-29 23:59:59.123456+00',
    n: '12345678901234567890.123456789',
    b: BYTES,
    v: '[0.5,-1.25,3]',
    g: 'SRID=4326;POINT(13.4 52.5)',
  },
  {
    id: '-9223372036854775808',
    t: 'plain ascii lake row',
    j: '[]',
    ts: '1970-01-01 00:00:00.000001+00',
    n: '-0.000000000000000001',
    b: new Uint8Array(0),
    v: '[0,0,0]',
    g: 'SRID=4326;POINT(-0.1276 51.5072)',
  },
  { id: '1', t: 'Ελληνικά και русский', j: null, ts: null, n: null, b: null, v: null, g: null },
];

/** Every value in a text form that does not depend on the session (time zone, parsers). */
const SNAPSHOT = `
  SELECT id::text AS id, t, j::text AS j, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS ts, n::text AS n,
         encode(b, 'hex') AS b, v::text AS v, ST_AsEWKT(g) AS g
  FROM upgrade_probe ORDER BY upgrade_probe.id`;

const EXPECTED = [
  {
    id: '-9223372036854775808',
    t: 'plain ascii lake row',
    j: '[]',
    ts: '1970-01-01 00:00:00.000001',
    n: '-0.000000000000000001',
    b: '',
    v: '[0,0,0]',
    g: 'SRID=4326;POINT(-0.1276 51.5072)',
  },
  { id: '1', t: 'Ελληνικά και русский', j: null, ts: null, n: null, b: null, v: null, g: null },
  {
    id: '9007199254740993',
    t: 'Zoë naïve café — 東京 🐟',
    j: '{"ä": [1, 2.5, null, "🐟"], "nested": {"ok": true}}',
    ts: '2024-02-29 23:59:59.123456',
    n: '12345678901234567890.123456789',
    b: Buffer.from(BYTES).toString('hex'),
    v: '[0.5,-1.25,3]',
    g: 'SRID=4326;POINT(13.4 52.5)',
  },
];

async function installedVersion(name: string): Promise<string> {
  const manifest = JSON.parse(await readFile(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

function older(a: string, b: string): boolean {
  const [x, y] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if (x![i] !== y![i]) return x![i]! < y![i]!;
  return false;
}

describe('embedded upgrade', { skip }, () => {
  let work: string;
  let cacheDir: string;

  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'lake-embedded-upgrade-'));
    cacheDir = path.join(work, 'cache');
  });
  after(() => rm(work, { recursive: true, force: true }));

  const open = (name: string) => Lake.open(loadConfig({ LAKE_DATA_DIR: path.join(work, name), LAKE_CACHE_DIR: cacheDir }));
  /** Where the lake keeps the embedded database of data directory `name`, its parent made (PGlite makes one level only). */
  async function databaseOf(name: string): Promise<string> {
    const hot = path.join(work, name, 'hot');
    await mkdir(hot, { recursive: true });
    return embeddedDirectory(hot);
  }

  test('pglite-previous is an older release than the pinned PGlite', async () => {
    const [previous, pinned] = [await installedVersion('pglite-previous'), await installedVersion('@electric-sql/pglite')];
    assert.ok(older(previous, pinned), `pglite-previous ${previous} is older than @electric-sql/pglite ${pinned}`);
  });

  test('a data directory made by the previous PGlite opens as a working lake, every value intact', async () => {
    const directory = await databaseOf('previous');
    // pglite-postgis 0.0.8 declares PGlite 0.4.6 as its peer, but loads into 0.4.5 and works there
    // (the same PostGIS 3.6.2 on PostgreSQL 17.5): the old directory holds a geography column too.
    const old = await PreviousPGlite.create({ dataDir: directory, extensions: { vector, pg_trgm, postgis } });
    let written: unknown[];
    try {
      const version = (await old.query<{ v: string }>(`SELECT version() AS v`)).rows[0]!.v;
      assert.match(version, new RegExp(`^PostgreSQL ${PGLITE_POSTGRES_MAJOR}\\.`));
      await old.exec(`
        CREATE EXTENSION vector; CREATE EXTENSION pg_trgm; CREATE EXTENSION postgis;
        CREATE TABLE upgrade_probe (
          id bigint PRIMARY KEY, t text NOT NULL, j jsonb, ts timestamptz, n numeric, b bytea, v vector(3), g geography(Point, 4326)
        );
        CREATE INDEX upgrade_probe_t_trgm ON upgrade_probe USING gin (t gin_trgm_ops);
        CREATE INDEX upgrade_probe_v_hnsw ON upgrade_probe USING hnsw (v vector_l2_ops);`);
      for (const row of ROWS) {
        await old.query(`INSERT INTO upgrade_probe VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [row.id, row.t, row.j, row.ts, row.n, row.b, row.v, row.g]);
      }
      written = (await old.query(SNAPSHOT)).rows;
    } finally {
      await old.close();
    }
    assert.deepEqual(written, EXPECTED, 'the previous PGlite stored the values as given');
    assert.equal((await readFile(path.join(directory, 'PG_VERSION'), 'utf8')).trim(), PGLITE_POSTGRES_MAJOR);

    let lakeId: string;
    const lake = await open('previous');
    try {
      assert.ok(lake.migrations!.applied.length > 0, 'the lake migrated the database in place');
      lakeId = (await lake.db.query<{ id: string }>(`SELECT lake_id::text AS id FROM lake.identity`)).rows[0]!.id;
      await assertIntact(lake.db, written);
      // Read raw through the lake's own adapter too: the bytes and the text as JavaScript gets them.
      const raw = await lake.db.query<{ t: string; b: Uint8Array }>(`SELECT t, b FROM upgrade_probe WHERE id = 9007199254740993`);
      assert.equal(raw.rows[0]!.t, ROWS[0]!.t);
      assert.deepEqual(new Uint8Array(raw.rows[0]!.b), BYTES);
    } finally {
      await lake.close();
    }
    assert.equal((await readIdentity(path.join(work, 'previous')))?.lakeId, lakeId, 'the data directory records its lake');

    // Closed and opened once more: still readable, nothing left to migrate, the same lake.
    const again = await open('previous');
    try {
      assert.deepEqual(again.migrations!.applied, []);
      assert.equal((await again.db.query<{ id: string }>(`SELECT lake_id::text AS id FROM lake.identity`)).rows[0]!.id, lakeId);
      await assertIntact(again.db, written);
    } finally {
      await again.close();
    }
  });

  test('a data directory made by a PGlite of PostgreSQL 16 is refused by name and left as it was', async () => {
    const directory = await databaseOf('pg16');
    const old = await Pg16PGlite.create({ dataDir: directory });
    try {
      assert.match((await old.query<{ v: string }>(`SELECT version() AS v`)).rows[0]!.v, /^PostgreSQL 16\./);
      await old.exec(`CREATE TABLE kept (t text); INSERT INTO kept VALUES ('Zoë 🐟')`);
    } finally {
      await old.close();
    }
    assert.notEqual(PGLITE_POSTGRES_MAJOR, '16');
    await assert.rejects(open('pg16'), (error: unknown) => {
      assert.ok(error instanceof LakeError, String(error));
      assert.equal(error.code, 'DB_VERSION_UNSUPPORTED');
      assert.ok(error.message.includes('PostgreSQL 16'), error.message);
      assert.ok(error.message.includes(`PostgreSQL ${PGLITE_POSTGRES_MAJOR}`), error.message);
      assert.ok(error.message.includes(directory), error.message);
      return true;
    });
    assert.equal(await readIdentity(path.join(work, 'pg16')), null, 'no lake recorded in the refused data directory');
    // Refused before PGlite touched it: the PGlite that made it still opens it.
    const reopened = await Pg16PGlite.create({ dataDir: directory });
    try {
      assert.deepEqual((await reopened.query(`SELECT t FROM kept`)).rows, [{ t: 'Zoë 🐟' }]);
    } finally {
      await reopened.close();
    }
  });
});

/** The rows read back as the previous PGlite wrote them, and both indexes valid and used. */
async function assertIntact(db: Database, written: unknown[]): Promise<void> {
  assert.deepEqual((await db.query(SNAPSHOT)).rows, written);
  const valid = await db.query<{ name: string; valid: boolean }>(
    `SELECT indexrelid::regclass::text AS name, indisvalid AND indisready AS valid FROM pg_index
     WHERE indrelid = 'upgrade_probe'::regclass ORDER BY 1`,
  );
  assert.deepEqual(valid.rows, [
    { name: 'upgrade_probe_pkey', valid: true },
    { name: 'upgrade_probe_t_trgm', valid: true },
    { name: 'upgrade_probe_v_hnsw', valid: true },
  ]);
  await db.transaction(async (tx) => {
    // Three rows: without this the planner reads the table instead of the indexes under test.
    await tx.query(`SET LOCAL enable_seqscan = off`);
    // Trigrams of multibyte letters too (the database's ctype is C.UTF-8). Unordered: an ORDER BY
    // id would have the planner walk the primary key instead.
    const trgm = `SELECT id::text AS id FROM upgrade_probe WHERE t % 'naïve café' OR t % 'русский'`;
    const plan = (await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${trgm}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
    assert.match(plan, /upgrade_probe_t_trgm/, plan);
    assert.deepEqual((await tx.query<{ id: string }>(trgm)).rows.map((r) => r.id).sort(), ['1', '9007199254740993']);
    const nearest = `SELECT id::text AS id FROM upgrade_probe ORDER BY v <-> '[0.5,-1.25,2.9]' LIMIT 1`;
    const vectorPlan = (await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) ${nearest}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
    assert.match(vectorPlan, /upgrade_probe_v_hnsw/, vectorPlan);
    assert.deepEqual((await tx.query(nearest)).rows, [{ id: '9007199254740993' }]);
  });
}
