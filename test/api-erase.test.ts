// DELETE /v1/me over real HTTP: a user erases themselves with their API key, after a confirmation
// token (409 without or with a bad one, nothing deleted), and another user's data and key stay.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '../src/query/api-keys.js';
import { BACKUP_NOTE } from '../src/query/erase.js';
import { createUser } from '../src/query/users.js';
import { get, startTestServer, type TestServer } from './support/api.js';
import { openTestLake, type TestLake } from './support/lake.js';

let t: TestLake;
let server: TestServer;
const users: Record<'alice' | 'bob', { userId: string; key: string }> = {} as never;
const POINTS = 40;

async function request(method: string, path: string, key: string, body?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/x-ndjson';
  const response = await fetch(server.url + path, { method, headers, body });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, text };
}

const eraseMe = (key: string, confirm?: string) => request('DELETE', confirm === undefined ? '/v1/me' : `/v1/me?confirm=${encodeURIComponent(confirm)}`, key);

async function pointCount(key: string): Promise<number> {
  const reply = await get(server, '/v1/locations?limit=1000', key);
  assert.equal(reply.status, 200, reply.text);
  return reply.body.features.length;
}

async function userRowCount(userId: string): Promise<number> {
  const r = await t.lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM user_data.users WHERE user_id = $1`, [userId]);
  return r.rows[0]!.n;
}

before(async () => {
  t = await openTestLake();
  server = await startTestServer(t.lake);
  for (const [name, lon] of [['alice', 13.4], ['bob', 2.35]] as const) {
    const user = await createUser(t.lake.db, name);
    const key = (await createApiKey(t.lake.db, name, 'erase test')).key;
    users[name] = { userId: user.userId, key };
    const lines = Array.from({ length: POINTS }, (_, i) =>
      JSON.stringify({ recorded_at: new Date(Date.UTC(2024, 4, 1, 0, i)).toISOString(), lat: 50 + i / 1000, lon }),
    );
    const ingested = await request('POST', '/v1/ingest/locations', key, `${lines.join('\n')}\n`);
    assert.equal(ingested.status, 200, ingested.text);
    assert.equal(ingested.body.accepted, POINTS);
  }
});
after(async () => {
  await server.close();
  await t.dispose();
});

function assertConfirmationNeeded(reply: { status: number; body: any; text: string }): string {
  assert.equal(reply.status, 409, reply.text);
  assert.equal(reply.body.error.code, 'CONFLICT');
  const token = reply.body.confirmation as string;
  assert.match(token, /^[A-Za-z0-9_-]{43,}$/, 'base64url, at least 256 bits');
  assert.ok(reply.body.error.message.includes(`?confirm=${token}`), reply.body.error.message);
  assert.match(reply.body.error.message, /10 minutes/);
  assert.ok(reply.body.error.message.includes(BACKUP_NOTE));
  assert.equal(reply.body.note, BACKUP_NOTE);
  const expires = Date.parse(reply.body.expires_at) - Date.now();
  assert.ok(expires > 9 * 60_000 && expires <= 10 * 60_000, `expires in ${expires} ms`);
  return token;
}

describe('DELETE /v1/me', () => {
  test('without, with a wrong or with another user\'s token: 409 with a fresh token, nothing deleted; with the right one: erased', async () => {
    const first = assertConfirmationNeeded(await eraseMe(users.alice.key));
    assert.equal(await pointCount(users.alice.key), POINTS, 'nothing deleted');

    const wrong = assertConfirmationNeeded(await eraseMe(users.alice.key, 'not-a-token'));
    assert.notEqual(wrong, first, 'a fresh token');
    assert.equal(await pointCount(users.alice.key), POINTS);

    const bobs = assertConfirmationNeeded(await eraseMe(users.bob.key));
    const withBobs = assertConfirmationNeeded(await eraseMe(users.alice.key, bobs));
    assert.notEqual(withBobs, bobs);
    assert.equal(await pointCount(users.alice.key), POINTS, "bob's token does not erase alice");
    assert.equal(await pointCount(users.bob.key), POINTS, 'nor bob');

    // Another key of alice's: the token is bound to the key too.
    const otherKey = (await createApiKey(t.lake.db, 'alice', 'second key')).key;
    assertConfirmationNeeded(await eraseMe(otherKey, first));
    assert.equal(await pointCount(users.alice.key), POINTS);

    const erased = await eraseMe(users.alice.key, first);
    assert.equal(erased.status, 200, erased.text);
    assert.equal(erased.body.verified, true);
    assert.equal(erased.body.note, BACKUP_NOTE);
    assert.ok(erased.body.rowsTotal > POINTS, `rowsTotal ${erased.body.rowsTotal}`);
    assert.equal(erased.body.rows['timeseries.location_points'], POINTS, JSON.stringify(erased.body.rows));
    assert.equal(erased.body.rows['user_data.users'], 1);
    assert.equal(Object.values(erased.body.rows as Record<string, number>).reduce((a, b) => a + b, 0), erased.body.rowsTotal);
    for (const field of ['uploadFilesRemoved', 'blobsRemoved', 'bytesFreed', 'blobsKept']) assert.equal(typeof erased.body[field], 'number', field);

    // Alice's keys no longer authenticate; her rows are gone.
    for (const key of [users.alice.key, otherKey]) {
      const after = await get(server, '/v1/locations', key);
      assert.equal(after.status, 401, after.text);
      assert.equal(after.body.error.code, 'UNAUTHORIZED');
    }
    assert.equal((await eraseMe(users.alice.key, first)).status, 401, 'the token cannot be used again (the key is gone too)');
    assert.equal(await userRowCount(users.alice.userId), 0);
    // Nor does the access log bring her back: her earlier requests were written before the
    // erasure (and erased), the erasing request and the refused ones after it are not under her id.
    await server.app.accessLog.flush();
    const left = await t.lake.db.transaction(async (tx) => {
      await tx.query(`SET LOCAL row_security = off`);
      const count = async (table: string) => (await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE user_id = $1`, [users.alice.userId])).rows[0]!.n;
      const erasures = await tx.query<{ actor: string }>(`SELECT actor FROM audit.events WHERE action = 'user.erased'`);
      return {
        points: await count('timeseries.location_points'),
        audit: await count('audit.events'),
        keys: await count('user_data.api_keys'),
        erasedBy: erasures.rows.map((r) => r.actor),
      };
    });
    assert.deepEqual(left, { points: 0, audit: 0, keys: 0, erasedBy: ['api'] });

    // Bob: data and key intact.
    assert.equal(await pointCount(users.bob.key), POINTS);
    assert.equal(await userRowCount(users.bob.userId), 1);
  });

  test('the route is in the OpenAPI document', async () => {
    const doc = (await get(server, '/openapi.json')).body;
    const op = doc.paths['/v1/me']?.delete;
    assert.ok(op, Object.keys(doc.paths).join(', '));
    assert.deepEqual(Object.keys(op.responses).sort(), ['200', '400', '401', '409']);
    assert.ok(op.parameters.some((p: { name: string; in: string }) => p.name === 'confirm' && p.in === 'query'));
  });
});
