// `lake users delete`: a user erased from every table, their keys, uploads, jobs and the blobs only
// they had; the other user's rows and the shared blob stay; one audit entry without the name.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config/config.js';
import { Lake } from '../src/lake.js';
import { insertAccessEntries } from '../src/query/access-log.js';
import { createApiKey } from '../src/query/api-keys.js';
import { ERASURE_ACTION, ERASURE_AUDIT_USER } from '../src/query/erase.js';
import { userTables } from '../src/query/export.js';
import { insertUploadJob } from '../src/query/jobs.js';
import { insertUpload } from '../src/query/uploads.js';
import { createUser } from '../src/query/users.js';
import { addRef } from '../src/store/blob-refs.js';
import { thumbnailsDirectory } from '../src/store/blob-settings.js';
import { CLI_TIMEOUT_MS, cliTestLake, type CliTestLake } from './support/lake-cli.js';

const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;
const run = promisify(execFile);

async function lake(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // stdin is a pipe: not a terminal.
    const { stdout, stderr } = await run(process.execPath, [LAKE, ...args], { env: cli.env, timeout: CLI_TIMEOUT_MS });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function withLake<T>(work: (lake: Lake) => Promise<T>): Promise<T> {
  const opened = await Lake.open(loadConfig(cli.env), { brief: true });
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}

/** Rows of `userId` per user table, read across users (row_security off, as the maintenance role may). */
async function rowsOf(opened: Lake, userId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const { name } of await userTables(opened.db)) {
    counts[name] = await opened.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL row_security = off`);
      return (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${name} WHERE user_id = $1`, [userId])).rows[0]!.n;
    });
  }
  return counts;
}

let cli: CliTestLake;
const ids = { alice: '', bob: '' };
const blobs = { shared: '', onlyAlice: '' };
let uploadFile = '';
let bobBefore: Record<string, number>;
let aliceBefore: Record<string, number>;

before(async () => {
  cli = await cliTestLake('lake-erase-');
  await withLake(async (opened) => {
    for (const name of ['alice', 'bob'] as const) ids[name] = (await createUser(opened.db, name)).userId;
    blobs.shared = (await opened.blobs.put(Buffer.from('a photo both users have'))).sha256;
    blobs.onlyAlice = (await opened.blobs.put(Buffer.from('a photo only alice has'))).sha256;
    for (const [name, userId] of Object.entries(ids)) {
      await opened.db.asUser(userId, async (tx) => {
        for (let n = 0; n < 3; n++) {
          await tx.query(
            `INSERT INTO user_data.items (user_id, occurred_at, content_hash, kind, source, title)
             VALUES ($1, '2024-03-10T12:00:00Z'::timestamptz + make_interval(hours => $3), $2, 'search', 'test', 'a search')`,
            [userId, Buffer.from([n]), n],
          );
          await tx.query(
            `INSERT INTO timeseries.location_points (user_id, recorded_at, content_hash, lat, lon, source)
             VALUES ($1, '2024-03-10T12:00:00Z'::timestamptz + make_interval(hours => $3), $2, 52.5, 13.4, 'test')`,
            [userId, Buffer.from([n]), n],
          );
        }
        await addRef(tx, { sha256: blobs.shared, sizeBytes: 23, source: 'test', originalName: 'shared.jpg' });
        if (name === 'alice') await addRef(tx, { sha256: blobs.onlyAlice, sizeBytes: 22, source: 'test', originalName: 'mine.jpg' });
        const uploadId = randomUUID();
        await insertUpload(tx, { userId, uploadId, filename: 'takeout.zip', sizeBytes: 4, sha256Declared: Buffer.alloc(32), ttlSeconds: 3600 });
        await insertUploadJob(tx, { userId, uploadIds: [uploadId], filenames: ['takeout.zip'], batchSize: 100 });
        if (name === 'alice') {
          await mkdir(opened.config.uploadDir, { recursive: true });
          uploadFile = path.join(opened.config.uploadDir, uploadId);
          await writeFile(uploadFile, 'data');
        }
        await insertAccessEntries(tx, userId, [
          { userId, keyId: 'k', at: new Date(), method: 'GET', route: '/v1/items', path: '/v1/items', status: 200, durationMs: 1, requestId: 'r' },
        ]);
      });
      await createApiKey(opened.db, name, 'laptop');
    }
    aliceBefore = await rowsOf(opened, ids.alice);
    bobBefore = await rowsOf(opened, ids.bob);
  });
  for (const table of ['user_data.items', 'timeseries.location_points', 'user_data.blob_refs', 'user_data.api_keys', 'imports.jobs', 'imports.uploads', 'audit.events', 'user_data.users']) {
    assert.ok(aliceBefore[table]! > 0, `alice has rows in ${table}`);
  }
});
after(() => cli?.dispose());

test('the user tables are every table of the lake with a user_id column', async () => {
  await withLake(async (opened) => {
    const all = await opened.db.query<{ name: string }>(
      `SELECT format('%s.%s', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE '\\_timescaledb%' AND n.nspname <> 'lake_chunks'
          -- One-time console links: never exported (token hashes), gone with their user by ON DELETE CASCADE (0025).
          AND format('%s.%s', n.nspname, c.relname) <> 'lake.console_links'
          AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'user_id' AND NOT a.attisdropped)`,
    );
    assert.deepEqual((await userTables(opened.db)).map((t) => t.name).sort(), all.rows.map((r) => r.name).sort());
  });
});

test('without --yes and not on a terminal it refuses and deletes nothing', async () => {
  const refused = await lake(['users', 'delete', 'alice']);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /--yes/);
  assert.match(refused.stderr, /\[USAGE\]/);
  await withLake(async (opened) => assert.deepEqual(await rowsOf(opened, ids.alice), aliceBefore));
  await stat(uploadFile);
});

test('delete erases every row of the user, their upload file and the blob only they had', async () => {
  // Cached thumbnails of alice's blob and of the shared one (as GET /v1/media/{sha256}/thumbnail leaves them).
  const thumbnailsOf = (sha256: string) => path.join(thumbnailsDirectory(loadConfig(cli.env).tiers.blobs), sha256.slice(0, 2));
  for (const sha256 of [blobs.onlyAlice, blobs.shared]) {
    await mkdir(thumbnailsOf(sha256), { recursive: true });
    await writeFile(path.join(thumbnailsOf(sha256), `${sha256}-256.jpg`), 'a thumbnail');
  }
  const erased = await lake(['users', 'delete', 'alice', '--yes', '--json']);
  assert.equal(erased.code, 0, erased.stderr);
  const result = JSON.parse(erased.stdout) as {
    rows: Record<string, number>;
    blobsRemoved: number;
    bytesFreed: number;
    blobsKept: number;
    uploadFilesRemoved: number;
    verified: boolean;
    note: string;
  };
  assert.deepEqual(result.rows, aliceBefore);
  assert.equal(result.verified, true);
  assert.equal(result.blobsRemoved, 1);
  assert.ok(result.bytesFreed > 0);
  assert.equal(result.blobsKept, 1);
  assert.equal(result.uploadFilesRemoved, 1);
  assert.match(result.note, /backups made before the erasure still hold the data/);

  await withLake(async (opened) => {
    const left = await rowsOf(opened, ids.alice);
    assert.ok(Object.values(left).every((n) => n === 0), JSON.stringify(left));
    assert.deepEqual(await rowsOf(opened, ids.bob), bobBefore);
    assert.equal(await opened.blobs.has(blobs.shared), true);
    assert.equal(await opened.blobs.has(blobs.onlyAlice), false);
    assert.deepEqual(await readdir(thumbnailsOf(blobs.onlyAlice)).then((names) => names.filter((n) => n.startsWith(blobs.onlyAlice))), []);
    assert.deepEqual(await readdir(thumbnailsOf(blobs.shared)).then((names) => names.filter((n) => n.startsWith(blobs.shared))), [`${blobs.shared}-256.jpg`]);
    const audit = await opened.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL row_security = off`);
      return (await tx.query<{ user_id: string; actor: string; text: string; details: { rows: Record<string, number> } }>(
        `SELECT user_id::text, actor, to_jsonb(e)::text AS text, details FROM audit.events e WHERE action = $1`,
        [ERASURE_ACTION],
      )).rows;
    });
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.user_id, ERASURE_AUDIT_USER);
    assert.equal(audit[0]!.actor, 'cli');
    assert.doesNotMatch(audit[0]!.text, /alice/);
    assert.ok(!audit[0]!.text.includes(ids.alice), 'the entry does not name the user by id');
    assert.deepEqual(audit[0]!.details.rows, aliceBefore);
  });
  await assert.rejects(stat(uploadFile), { code: 'ENOENT' });
});

test('a user that does not exist (any more) is NOT_FOUND, named', async () => {
  const again = await lake(['users', 'delete', 'alice', '--yes']);
  assert.equal(again.code, 1, again.stderr);
  assert.match(again.stderr, /no user alice.*\[NOT_FOUND\]/);
});

test('the text report lists the tables and says backups still hold the data', async () => {
  const text = await lake(['users', 'delete', 'bob', '--yes']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /erased user bob/);
  assert.match(text.stdout, /user_data\.items\s+3/);
  assert.match(text.stdout, /blobs removed\s+1/);
  assert.match(text.stdout, /backups made before the erasure still hold the data/);
});

test('--scrub rewrites the tables that held the rows and, embedded, drops the WAL that recorded them', async () => {
  // A name and a title that appear nowhere else, to look for in the database's files.
  const name = 'carol-zq7scrub';
  const title = 'carol-zq7scrub-search-words';
  await withLake(async (opened) => {
    const { userId } = await createUser(opened.db, name);
    await opened.db.asUser(userId, (tx) =>
      tx.query(
        `INSERT INTO user_data.items (user_id, occurred_at, content_hash, kind, source, title) VALUES ($1, '2024-03-11T12:00:00Z', '\\x01', 'search', 'test', $2)`,
        [userId, title],
      ),
    );
  });
  const erased = await lake(['users', 'delete', name, '--yes', '--scrub', '--json']);
  assert.equal(erased.code, 0, erased.stderr);
  const result = JSON.parse(erased.stdout) as { scrubbed: boolean; rows: Record<string, number> };
  assert.equal(result.scrubbed, true);
  assert.equal(result.rows['user_data.items'], 1);
  if (!cli.env.DATABASE_URL) {
    const hot = path.join(cli.env.LAKE_DATA_DIR!, 'hot');
    for (const entry of await readdir(hot, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const bytes = await readFile(path.join(entry.parentPath, entry.name));
      for (const marker of [name, title]) assert.equal(bytes.indexOf(marker), -1, `${marker} is still written in ${path.relative(hot, path.join(entry.parentPath, entry.name))}`);
    }
  }
});
