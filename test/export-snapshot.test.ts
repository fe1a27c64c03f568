// An export is one consistent snapshot on the PostgreSQL server: rows written while it runs, in
// any table, are not in it, however the chunks fall; the connection holding the snapshot is closed
// when the export ends and when its client goes away mid-stream.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SNAPSHOT_APPLICATION_NAME } from '../src/db/adapters/server.js';
import { createApiKey } from '../src/query/api-keys.js';
import { consistentReads, exportLines, type AsUserIn } from '../src/query/export.js';
import { createUser } from '../src/query/users.js';
import { startTestServer, type TestServer } from './support/api.js';
import { BACKEND, openTestLake, type TestLake } from './support/lake.js';

const SKIP = BACKEND === 'embedded' ? 'server only: the embedded database reads each chunk in its own transaction (a held one would block every writer)' : false;
/** More than two chunks of contacts (2,000 rows each), fat enough that a paused reader leaves the export unfinished. */
const CONTACTS = 30_000;

let t: TestLake;
let server: TestServer;
let userId: string;
let key: string;

describe('an export is one snapshot (server)', { skip: SKIP }, () => {
  before(async () => {
    t = await openTestLake();
    userId = (await createUser(t.lake.db, 'alice')).userId;
    key = (await createApiKey(t.lake.db, 'alice', 'tests')).key;
    await t.lake.db.asUser(userId, (tx) =>
      tx.query(
        `INSERT INTO user_data.contacts (user_id, content_hash, full_name, notes, source)
         SELECT $1, sha256(i::text::bytea), 'contact ' || i, (SELECT string_agg(md5(i || '/' || j), '') FROM generate_series(1, 20) AS j), 'test'
           FROM generate_series(1, $2) AS i`,
        [userId, CONTACTS],
      ),
    );
    server = await startTestServer(t.lake);
  });
  after(async () => {
    await server?.close();
    await t?.dispose();
  });

  /** Connections holding an export's snapshot in this test's database. */
  const holders = async (): Promise<number> =>
    (await t.lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`, [SNAPSHOT_APPLICATION_NAME]))
      .rows[0]!.n;

  const until = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.fail(`still not so after 5 s: ${what}`);
  };

  const asAlice: AsUserIn = (work, snapshot) => t.lake.db.asUser(userId, work, undefined, { snapshot });

  /** Rows written between two chunks, in one transaction: a contact after the first chunk's keys and a place (a later table). */
  const writeDuringExport = (tag: string) =>
    t.lake.db.asUser(userId, async (tx) => {
      await tx.query(`INSERT INTO user_data.contacts (user_id, content_hash, full_name, source) VALUES ($1, '\\xffffffff'::bytea || convert_to($2, 'UTF8'), $2, 'test')`, [userId, tag]);
      await tx.query(`INSERT INTO user_data.places (user_id, place_id, source, name) VALUES ($1, $2, 'test', $2)`, [userId, tag]);
    });

  const tagged = (text: string, tag: string) => text.split('\n').filter((line) => line.includes(`"${tag}"`)).map((line) => JSON.parse(line).table as string);

  test('rows written between two chunks are in no table of the export; the next export has both', async () => {
    const reads = consistentReads(t.lake.db, asAlice);
    const lines = exportLines(t.lake.db, reads.asUser);
    let text = '';
    // Read until the first chunk of contacts: the export is under way, its snapshot held.
    while (!text.includes('"table":"user_data.contacts"')) text += (await lines.next()).value;
    assert.equal(await holders(), 1, 'one connection holds the snapshot');
    await writeDuringExport('during-1');
    for await (const chunk of lines) text += chunk;
    await reads.close();

    const summary = JSON.parse(text.trimEnd().split('\n').at(-1)!) as { complete: boolean; rows: Record<string, number> };
    assert.equal(summary.complete, true);
    assert.equal(summary.rows['user_data.contacts'], CONTACTS, 'the contact written meanwhile is not counted');
    assert.equal(summary.rows['user_data.places'], 0, 'nor the place');
    assert.deepEqual(tagged(text, 'during-1'), [], 'neither row is in the export');
    assert.equal(await holders(), 0, 'the snapshot connection is closed after the export');

    const second = consistentReads(t.lake.db, asAlice);
    let again = '';
    for await (const chunk of exportLines(t.lake.db, second.asUser)) again += chunk;
    await second.close();
    assert.deepEqual(tagged(again, 'during-1').sort(), ['user_data.contacts', 'user_data.places']);
    assert.equal(JSON.parse(again.trimEnd().split('\n').at(-1)!).rows['user_data.contacts'], CONTACTS + 1);
  });

  test('GET /v1/export: the same over HTTP; the snapshot connection is closed when the response ends', async () => {
    const response = await fetch(`${server.url}/v1/export`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('"table":"user_data.contacts"')) text += decoder.decode((await reader.read()).value, { stream: true });
    assert.equal(await holders(), 1);
    await writeDuringExport('during-2');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    assert.match(text, /"complete":true/);
    assert.deepEqual(tagged(text, 'during-2'), []);
    await until('the snapshot connection is closed after a complete export', async () => (await holders()) === 0);

    const archive = await fetch(`${server.url}/v1/export?format=archive`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(archive.status, 200);
    assert.ok((await archive.arrayBuffer()).byteLength > 0);
    await until('the snapshot connection is closed after an archive export', async () => (await holders()) === 0);
  });

  test('a client that goes away mid-stream: the snapshot connection is closed, the pool keeps working', async () => {
    for (const format of ['ndjson', 'archive']) {
      const abort = new AbortController();
      const response = await fetch(`${server.url}/v1/export?format=${format}`, { headers: { authorization: `Bearer ${key}` }, signal: abort.signal });
      const reader = response.body!.getReader();
      await reader.read();
      await until(`${format}: the export holds its snapshot`, async () => (await holders()) === 1);
      abort.abort();
      await reader.read().catch(() => {});
      await until(`${format}: the snapshot connection is closed after the client went away`, async () => (await holders()) === 0);
    }
    // Nothing was left checked out of the pool: every one of its connections can be in a transaction at once.
    const size = t.lake.db.concurrentTransactions;
    let started = 0;
    let allStarted!: () => void;
    const barrier = new Promise<void>((resolve) => (allStarted = resolve));
    await Promise.all(
      Array.from({ length: size }, () =>
        t.lake.db.asUser(userId, async (tx) => {
          await tx.query('SELECT 1');
          if (++started === size) allStarted();
          await barrier;
        }),
      ),
    );
    assert.equal(started, size);
    await until('all snapshot connections are closed', async () => (await holders()) === 0);
  });
});
