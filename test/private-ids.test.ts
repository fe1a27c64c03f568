// Ids that say nothing about other users (issue 12, defect 9). Two users load items and
// quarantined input turn about; whatever the API hands user B (item ids, search ids, quarantine
// ids, cursors, the export) holds no number drawn from a sequence the users share, every id B is
// given finds B's row, and A's ids find nothing for B. A lake left by the release before
// migration 0018 keeps every item reachable: by its new UUID and by the number it had.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { loadConfig } from '../src/config/config.js';
import { installExtensions } from '../src/db/extensions.js';
import { migrate } from '../src/db/migrate.js';
import { loadBatch } from '../src/ingest/load/loader.js';
import type { LakeRecord } from '../src/ingest/records.js';
import { Lake } from '../src/lake.js';
import { allPages, get, startTestServer, type TestServer } from './support/api.js';
import { createServerDatabase, openTestLake, type TestLake } from './support/lake.js';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const HEX_HASH = /^[0-9a-f]{64}$/;

interface Item { item_id: string; occurred_at: string; title: string | null }
interface TimelinePage { items: Item[]; next_cursor: string | null }
interface QuarantinePage { items: { quarantine_id: string; reason: string }[]; next_cursor: string | null }

function items(user: string, from: number, count: number): LakeRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    type: 'item' as const,
    source: 'test.ids',
    key: [user, from + i],
    kind: 'search',
    // Two items at each instant: pages break ties by something other than an id.
    occurredAt: new Date(Date.parse('2024-05-01T00:00:00Z') + Math.floor((from + i) / 2) * 3600_000),
    title: `${user}-secret ${from + i}`,
  }));
}

function decodedCursor(cursor: string): unknown {
  return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
}

/** Every number anywhere in a JSON value. */
function numbersIn(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.flatMap(numbersIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(numbersIn);
  return [];
}

describe('two users load turn about: B’s ids reveal nothing about A', () => {
  let t: TestLake;
  let server: TestServer;
  const users: Record<'alice' | 'bob', { id: string; key: string; jobId: string }> = {} as never;

  before(async () => {
    t = await openTestLake();
    for (const name of ['alice', 'bob'] as const) {
      const { userId } = await createUser(t.lake.db, name);
      const job = await t.lake.db.asUser(userId, (tx) =>
        tx.query<{ job_id: string }>(`INSERT INTO imports.jobs (user_id, status) VALUES ($1, 'done') RETURNING job_id`, [userId]),
      );
      users[name] = { id: userId, key: (await createApiKey(t.lake.db, name)).key, jobId: job.rows[0]!.job_id };
    }
    const load = (name: 'alice' | 'bob', records: LakeRecord[], refused: number) =>
      loadBatch(t.lake.db, { userId: users[name].id, jobId: users[name].jobId, fileId: null }, {
        records,
        quarantine: Array.from({ length: refused }, (_, i) => ({
          entry: `${name}.json`, category: 'invalid' as const, reason: `${name}-secret refusal ${records.length}-${i}`, byteOffset: 100 * i, line: null, excerpt: null,
        })),
      });
    await load('alice', items('alice', 0, 18), 3);
    await load('bob', items('bob', 0, 2), 2);
    await load('alice', items('alice', 18, 7), 2);
    await load('bob', items('bob', 2, 3), 1);
    server = await startTestServer(t.lake);
  });
  after(async () => {
    await server?.close();
    await t?.dispose();
  });

  test('item ids are random UUIDs; each finds its item for its owner, and nothing for the other user', async () => {
    const bob = (await allPages<TimelinePage>(server, '/v1/timeline?limit=1000', users.bob.key)).flatMap((p) => p.items);
    const alice = (await allPages<TimelinePage>(server, '/v1/timeline?limit=1000', users.alice.key)).flatMap((p) => p.items);
    assert.equal(bob.length, 5);
    assert.equal(alice.length, 25);
    for (const item of [...bob, ...alice]) assert.match(item.item_id, UUID_V4);
    assert.equal(new Set([...bob, ...alice].map((i) => i.item_id)).size, 30, 'no id twice');
    for (const item of bob) {
      const own = await get(server, `/v1/items/${item.item_id}`, users.bob.key);
      assert.equal(own.status, 200);
      assert.deepEqual(own.body.item, item);
      assert.equal((await get(server, `/v1/items/${item.item_id.toUpperCase()}`, users.bob.key)).body.item?.item_id, item.item_id, 'any case');
    }
    const missing = await get(server, '/v1/items/00000000-0000-4000-8000-000000000000', users.bob.key);
    for (const item of alice) {
      const asBob = await get(server, `/v1/items/${item.item_id}`, users.bob.key);
      assert.equal(asBob.status, 404);
      assert.deepEqual(asBob.body, { error: { code: 'NOT_FOUND', message: `no item ${item.item_id}` } });
    }
    assert.equal(missing.status, 404, 'the same answer as an id that does not exist');
  });

  test('no number finds an item made since ids became UUIDs: numbers cannot be probed for others’ activity', async () => {
    // Before, items were numbered 1, 2, 3... across users: bob's first were 19 and 20.
    for (let n = 1; n <= 40; n++) {
      for (const name of ['alice', 'bob'] as const) {
        const reply = await get(server, `/v1/items/${n}`, users[name].key);
        assert.equal(reply.status, 404, `${name}: /v1/items/${n} ${reply.text}`);
      }
    }
    const sequence = await t.lake.db.query<{ name: string | null }>(`SELECT pg_get_serial_sequence('user_data.items', 'legacy_item_id') AS name`);
    assert.equal(sequence.rows[0]!.name, null, 'items draw from no sequence');
  });

  test('timeline cursors hold the last item’s time and content hash, nothing shared; pages are stable', async () => {
    const hashes = await t.lake.db.asUser(users.bob.id, (tx) =>
      tx.query<{ hash: string }>(`SELECT encode(content_hash, 'hex') AS hash FROM user_data.items`),
    );
    for (const order of ['desc', 'asc']) {
      const pages = await allPages<TimelinePage>(server, `/v1/timeline?limit=1&order=${order}`, users.bob.key);
      assert.equal(pages.length, 5);
      const cursors = pages.map((p) => p.next_cursor).filter((c): c is string => c !== null);
      for (const cursor of cursors) {
        const position = decodedCursor(cursor) as [string, string];
        assert.deepEqual(numbersIn(position), [], 'no number in a cursor');
        assert.match(position[1], HEX_HASH);
        assert.ok(hashes.rows.some((r) => r.hash === position[1]), 'the hash of one of bob’s own items');
      }
      const times = pages.map((p) => Date.parse(p.items[0]!.occurred_at));
      assert.ok(times.every((x, i) => i === 0 || (order === 'asc' ? times[i - 1]! <= x : times[i - 1]! >= x)), order);
      assert.equal(new Set(pages.map((p) => p.items[0]!.item_id)).size, 5, `${order}: every item once`);
    }
    // Alice's cursor replayed by bob pages bob's items from alice's position: nothing of alice's.
    const aliceFirst = await get<TimelinePage>(server, '/v1/timeline?limit=1', users.alice.key);
    const replayed = await get<TimelinePage>(server, `/v1/timeline?limit=100&cursor=${aliceFirst.body.next_cursor}`, users.bob.key);
    assert.equal(replayed.status, 200);
    assert.ok(replayed.body.items.every((i) => i.title?.startsWith('bob-secret')));
  });

  test('search results name items by their UUID', async () => {
    const reply = await get<{ results: { type: string; id: string }[] }>(server, '/v1/search?q=secret&types=items', users.bob.key);
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.body.results.length, 5);
    for (const result of reply.body.results) {
      assert.match(result.id, UUID_V4);
      assert.equal((await get(server, `/v1/items/${result.id}`, users.bob.key)).status, 200);
    }
  });

  test('quarantine entries are named by their dedup key and paged by it', async () => {
    for (const [name, count] of [['bob', 3], ['alice', 5]] as const) {
      const pages = await allPages<QuarantinePage>(server, `/v1/jobs/${users[name].jobId}/quarantine?limit=1`, users[name].key);
      const entries = pages.flatMap((p) => p.items);
      assert.equal(entries.length, count, name);
      assert.equal(new Set(entries.map((e) => e.quarantine_id)).size, count);
      for (const entry of entries) assert.match(entry.quarantine_id, HEX_HASH);
      assert.ok(entries.every((e) => e.reason.startsWith(`${name}-secret`)));
      // In the order they were found: the first batch's entries before the second's.
      assert.deepEqual(entries.map((e) => /refusal (\d+)-/.exec(e.reason)![1]), name === 'bob' ? ['2', '2', '3'] : ['18', '18', '18', '7', '7']);
      for (const page of pages.slice(0, -1)) {
        const position = decodedCursor(page.next_cursor!);
        assert.equal(typeof position, 'string');
        assert.match(position as string, HEX_HASH);
      }
    }
    // Alice's cursor on bob's job: alice's entry is not bob's to find, so nothing follows it.
    const aliceFirst = await get<QuarantinePage>(server, `/v1/jobs/${users.alice.jobId}/quarantine?limit=1`, users.alice.key);
    const replayed = await get<QuarantinePage>(server, `/v1/jobs/${users.bob.jobId}/quarantine?cursor=${aliceFirst.body.next_cursor}`, users.bob.key);
    assert.equal(replayed.status, 200);
    assert.deepEqual(replayed.body, { items: [], next_cursor: null });
    const numeric = await get(server, `/v1/jobs/${users.bob.jobId}/quarantine?cursor=${Buffer.from('3').toString('base64url')}`, users.bob.key);
    assert.equal(numeric.status, 400, 'a cursor of before (a number) is refused');
  });

  test('the export leaves out every number drawn from a shared sequence', async () => {
    const identity = await t.lake.db.query<{ table_name: string; column_name: string }>(
      `SELECT format('%s.%s', n.nspname, c.relname) AS table_name, a.attname AS column_name
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE a.attidentity <> '' AND NOT a.attisdropped AND NOT c.relispartition`,
    );
    assert.ok(identity.rows.some((r) => r.table_name === 'imports.quarantine'), 'the catalog query finds them');
    const response = await fetch(`${server.url}/v1/export`, { headers: { authorization: `Bearer ${users.bob.key}` } });
    const lines = (await response.text()).trimEnd().split('\n').map((line) => JSON.parse(line));
    const tables = new Set(lines.map((l) => l.table));
    assert.ok(tables.has('imports.quarantine') && tables.has('audit.events') && tables.has('user_data.items'), [...tables].join());
    for (const line of lines.filter((l) => l.row)) {
      for (const { column_name } of identity.rows.filter((r) => r.table_name === line.table)) {
        assert.equal(column_name in line.row, false, `${line.table}.${column_name} is left out`);
      }
      if (line.table === 'user_data.items') {
        assert.match(line.row.item_id, UUID_V4);
        assert.equal(line.row.legacy_item_id, null);
      }
    }
  });
});

describe('a lake migrated before ids became UUIDs', () => {
  let dataDir: string;
  let database: Awaited<ReturnType<typeof createServerDatabase>>;
  let lake: Lake | undefined;
  let server: TestServer | undefined;
  const old: Record<'alice' | 'bob', { id: string; key: string; numbers: number[] }> = {} as never;

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'lake-test-'));
    database = await createServerDatabase();
    const config = loadConfig({ LAKE_DATA_DIR: dataDir, ...(database ? { DATABASE_URL: database.url } : {}) });
    // The lake as the release with migrations up to 0017 left it, items numbered from one sequence.
    const before = await Lake.open(config, { migrate: false });
    try {
      await installExtensions(before.db);
      await migrate(before.db, await before.db.detectProfile(), { through: 17 });
      for (const [name, from, count] of [['alice', 0, 3], ['bob', 0, 2], ['alice', 3, 2]] as const) {
        const userId = old[name]?.id ?? (await createUser(before.db, name)).userId;
        const inserted = await before.db.asUser(userId, (tx) =>
          tx.query<{ item_id: string }>(
            `INSERT INTO user_data.items (user_id, occurred_at, content_hash, kind, source, title)
             SELECT $1, timestamptz '2023-01-01' + make_interval(hours => i), sha256(($2 || i)::bytea), 'search', 'test.old', $2 || '-secret ' || i
               FROM generate_series($3::int, $3::int + $4::int - 1) i RETURNING item_id`,
            [userId, name, from, count],
          ),
        );
        old[name] = { id: userId, key: '', numbers: [...(old[name]?.numbers ?? []), ...inserted.rows.map((r) => Number(r.item_id))] };
      }
    } finally {
      await before.close();
    }
    lake = await Lake.open(config);
    for (const name of ['alice', 'bob'] as const) old[name].key = (await createApiKey(lake.db, name)).key;
    server = await startTestServer(lake);
  });
  after(async () => {
    await server?.close();
    await lake?.close();
    await database?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('every old item keeps its number, answered by /v1/items/{number} with its new UUID, for its owner only', async () => {
    assert.deepEqual(old.bob.numbers, [4, 5], 'numbered from the shared sequence, as before');
    for (const [name, other] of [['alice', 'bob'], ['bob', 'alice']] as const) {
      const timeline = (await allPages<TimelinePage>(server!, '/v1/timeline?limit=2', old[name].key)).flatMap((p) => p.items);
      assert.equal(timeline.length, old[name].numbers.length);
      for (const number of old[name].numbers) {
        const reply = await get(server!, `/v1/items/${number}`, old[name].key);
        assert.equal(reply.status, 200, `${name}: ${number}`);
        assert.match(reply.body.item.item_id, UUID_V4);
        assert.deepEqual(reply.body.item, timeline.find((i) => i.item_id === reply.body.item.item_id), 'the same item as by its UUID');
        assert.deepEqual((await get(server!, `/v1/items/${reply.body.item.item_id}`, old[name].key)).body, reply.body);
        const asOther = await get(server!, `/v1/items/${number}`, old[other].key);
        assert.deepEqual(asOther.body, { error: { code: 'NOT_FOUND', message: `no item ${number}` } });
      }
    }
  });

  test('items loaded after the migration get a UUID and no number', async () => {
    await loadBatch(lake!.db, { userId: old.bob.id, jobId: null, fileId: null }, { records: items('bob', 100, 2) });
    const rows = await lake!.db.asUser(old.bob.id, (tx) =>
      tx.query<{ item_id: string; legacy_item_id: string | null }>(`SELECT item_id, legacy_item_id FROM user_data.items WHERE source = 'test.ids'`),
    );
    assert.equal(rows.rows.length, 2);
    for (const row of rows.rows) {
      assert.match(row.item_id, UUID_V4);
      assert.equal(row.legacy_item_id, null);
    }
    assert.equal((await get(server!, '/v1/items/8', old.bob.key)).status, 404, 'the number the sequence would have given next is nobody’s');
  });
});
