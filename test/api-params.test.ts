// Every parameter of every route, as the OpenAPI document lists them, probed with what a careless
// client or an attacker sends: numbers that are not finite (Infinity, 1e309, NaN) or just past
// their range, parameters the route does not take, dates and ids that are not. Each must be a 400
// INVALID_REQUEST that names the parameter and says in words what is wrong (no regular
// expression), never a 500; grid cells of a radius query are bound, not written into the SQL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { jsonDepth, MAX_JSON_DEPTH } from '../src/api/errors.js';
import { SqlParams } from '../src/query/sql.js';
import { splitRange } from '../src/query/tiles.js';
import { cellCondition, cellRangesAround } from '../src/geo/cells.js';
import { loadBatch } from '../src/ingest/load/loader.js';
import { get, startTestServer, type Reply, type TestServer } from './support/api.js';
import { openTestLake, type TestLake } from './support/lake.js';

interface Schema { type?: string; minimum?: number; maximum?: number; exclusiveMinimum?: number; pattern?: string; format?: string }
interface Parameter { in: 'query' | 'path' | 'header'; name: string; required?: boolean; schema: Schema & { default?: unknown }; examples?: Record<string, { value: unknown }> }
interface Operation { method: string; path: string; parameters: Parameter[] }

let t: TestLake;
let server: TestServer;
let key: string;
let operations: Operation[];

/** Values for the parameters a route requires, so that only the one probed is wrong. */
const VALID: Record<string, string> = { q: 'giraffe', id: '0b6e54c4-6f4e-4b0e-9a51-5b3a9b1f2c3d', z: '3', x: '4', y: '2' };
const BERLIN = { lat: 52.52, lon: 13.405 };

before(async () => {
  t = await openTestLake({ LAKE_API_RATE_LIMIT: '0' });
  const { userId } = await createUser(t.lake.db, 'alice');
  key = (await createApiKey(t.lake.db, 'alice')).key;
  await loadBatch(t.lake.db, { userId, jobId: null, fileId: null }, {
    records: [{ type: 'location_point', source: 'test.records', key: ['berlin'], recordedAt: new Date('2024-06-01T00:00:00Z'), lat: BERLIN.lat, lon: BERLIN.lon }],
  });
  server = await startTestServer(t.lake);
  const doc = (await get(server, '/openapi.json')).body as { paths: Record<string, Record<string, { parameters?: Parameter[] }>> };
  operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), path, parameters: operation.parameters ?? [] })),
  );
});
after(async () => {
  await server.close();
  await t.dispose();
});

/** The route's path with its path parameters filled in (`value` for `name`, valid values for the others). */
function fill(operation: Operation, name?: string, value?: string): string {
  return operation.path.replace(/\{(\w+)\}/g, (_, param: string) => encodeURIComponent(param === name ? value! : VALID[param] ?? VALID.id!));
}

/** The path with a query of the route's required parameters, and `name=value` beside them. */
function withQuery(operation: Operation, name: string, value: string, path = fill(operation)): string {
  const query = new URLSearchParams();
  for (const parameter of operation.parameters) {
    if (parameter.in !== 'query' || !parameter.required || parameter.schema.default !== undefined || parameter.name === name) continue;
    assert.ok(VALID[parameter.name] !== undefined, `a valid value for the required ${parameter.name} of ${operation.path}`);
    query.set(parameter.name, VALID[parameter.name]!);
  }
  query.set(name, value);
  return `${path}?${query}`;
}

async function send(method: string, path: string): Promise<Reply> {
  if (method === 'GET') return get(server, path, key);
  // Bodies the routes accept, so that the query is what is refused.
  const json = method === 'POST' || method === 'PATCH';
  const response = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(json ? { 'content-type': 'application/json' } : {}) },
    ...(json ? { body: '[]' } : {}),
  });
  const text = await response.text();
  const isJson = (response.headers.get('content-type') ?? '').startsWith('application/json');
  return { status: response.status, headers: response.headers, body: isJson ? JSON.parse(text) : undefined, text };
}

/** A 400 INVALID_REQUEST whose message names `name` and quotes no regular expression. */
function assertRefusedInWords(reply: Reply, name: string, context: string): void {
  assert.equal(reply.status, 400, `${context}: ${reply.status} ${reply.text}`);
  assert.equal(reply.body?.error?.code, 'INVALID_REQUEST', `${context}: ${reply.text}`);
  const message: string = reply.body.error.message;
  assert.ok(message.includes(`\`${name}\``), `${context}: the message names ${name}: ${message}`);
  assert.doesNotMatch(message, /\^|\\d|\[0-9|\(\?:|\{\d+(,\d*)?\}|must match/, `${context}: no regular expression: ${message}`);
}

/** tus requests (every /v1/uploads method but GET) belong to the tus protocol, which ignores query strings. */
const isTus = (operation: Operation) => operation.path.startsWith('/v1/uploads') && operation.method !== 'GET';

describe('numeric parameters: finite and in range', () => {
  test('Infinity, -Infinity, 1e309, -1e309, NaN and values just past either end: 400 naming the parameter, on every route', async () => {
    let probed = 0;
    for (const operation of operations) {
      for (const parameter of operation.parameters) {
        const { type, minimum, maximum, exclusiveMinimum } = parameter.schema;
        if (parameter.in !== 'query' || (type !== 'integer' && type !== 'number')) continue;
        assert.ok(typeof maximum === 'number', `${operation.path} ${parameter.name} has a maximum`);
        assert.ok(typeof minimum === 'number' || typeof exclusiveMinimum === 'number', `${operation.path} ${parameter.name} has a minimum`);
        const step = type === 'integer' ? 1 : 0.5;
        const low = typeof exclusiveMinimum === 'number' ? exclusiveMinimum : minimum! - step;
        const values = ['Infinity', '-Infinity', '1e309', '-1e309', 'NaN', '+Infinity', String(maximum + step), String(low), '0x10', ''];
        for (const value of values) {
          const path = withQuery(operation, parameter.name, value);
          assertRefusedInWords(await send(operation.method, path), parameter.name, `${operation.method} ${path}`);
          probed++;
        }
      }
    }
    // timeline, locations (radius, simplify, limit), places (radius, limit), visits, search, jobs, quarantine.
    assert.ok(probed >= 10 * 10, `${probed} probes`);
  });

  test('the values at either end of a range are taken', async () => {
    for (const path of ['/v1/timeline?limit=1000', '/v1/timeline?limit=1', '/v1/locations?limit=10000&simplify=31622400', `/v1/locations?near=${BERLIN.lat},${BERLIN.lon}&radius=20037509`]) {
      const reply = await get(server, path, key);
      assert.equal(reply.status, 200, `${path}: ${reply.text}`);
    }
  });

  test('a radius query binds its grid cells: the SQL text holds placeholders only, and the points are found', async (ctx) => {
    const params = new SqlParams();
    const ranges = cellRangesAround(BERLIN.lat, BERLIN.lon, 5000)!;
    const condition = cellCondition(ranges, (cell) => params.add(cell))!;
    assert.doesNotMatch(condition.replace(/\$\d+/g, ''), /\d/, condition);
    assert.equal(params.values.length, ranges.reduce((sum, [low, high]) => sum + (low === high ? 1 : 2), 0));
    assert.equal(cellRangesAround(BERLIN.lat, BERLIN.lon, Infinity), null, 'no cells for a radius that is not finite');
    for (const radius of ['10', '5000', '400000', '20037509']) {
      await ctx.test(`radius ${radius}`, async () => {
        const reply = await get(server, `/v1/locations?near=${BERLIN.lat},${BERLIN.lon}&radius=${radius}`, key);
        assert.equal(reply.status, 200, `radius ${radius}: ${reply.text}`);
        assert.equal(reply.body.features.length, 1, `radius ${radius}`);
      });
    }
  });
});

describe('unknown parameters', () => {
  test('every route answers an unknown query parameter with a 400 naming it', async () => {
    let probed = 0;
    for (const operation of operations) {
      if (isTus(operation)) continue;
      const path = withQuery(operation, 'limt', '5');
      const reply = await send(operation.method, path);
      assertRefusedInWords(reply, 'limt', `${operation.method} ${path}`);
      assert.match(reply.body.error.message, /unknown query parameter/, path);
      probed++;
    }
    assert.ok(probed >= 20, `${probed} routes`);
  });

  test('the message lists what the route takes', async () => {
    const reply = await get(server, '/v1/timeline?limt=5', key);
    assert.equal(reply.body.error.message, 'unknown query parameter `limt` (this route takes from, to, kinds, sources, q, order, limit, cursor)');
  });
});

describe('dates and ids in words', () => {
  const isDate = ({ schema, examples }: Parameter) =>
    schema.format === 'date-time' || schema.format === 'date' || Object.values(examples ?? {}).some((example) => /^\d{4}-\d{2}-\d{2}/.test(String(example.value)));

  test('a bad date: 400 naming the parameter, saying what a date looks like', async () => {
    let probed = 0;
    for (const operation of operations) {
      for (const parameter of operation.parameters) {
        if (parameter.in !== 'query' || !isDate(parameter)) continue;
        for (const value of ['yesterday', '2024-13-01', '2024-02-30', '2024-01-31T25:00:00Z', '31/01/2024', '2024-01-31T12:00:00']) {
          const path = withQuery(operation, parameter.name, value);
          const reply = await send(operation.method, path);
          assertRefusedInWords(reply, parameter.name, `${operation.method} ${path}`);
          assert.match(reply.body.error.message, /date/, path);
          probed++;
        }
      }
    }
    assert.ok(probed >= 6 * 6, `${probed} probes`); // from and to of timeline, locations, visits, search, stats
    const reply = await get(server, '/v1/timeline?from=yesterday', key);
    assert.match(reply.body.error.message, /^`from` must be a date like 2024-01-31 or a date-time like 2024-01-31T12:00:00Z/);
  });

  test('a date outside the years 0001 to 9998 (UTC): 400 naming the parameter and the range, on every route; the ends are taken', async () => {
    let probed = 0;
    const ends = new Set<string>();
    for (const operation of operations) {
      for (const parameter of operation.parameters) {
        if (parameter.in !== 'query' || !isDate(parameter)) continue;
        // Year 0 (PostgreSQL has none, also reached through an offset), year 9999 and after (the
        // tiles' periods would end in a five-digit year).
        for (const value of ['0000-01-01', '0000-01-02', '0000-12-31T23:59:59Z', '0001-01-01T00:30:00+01:00', '9999-01-01', '9999-12-31T23:59:59Z', '9998-12-31T23:00:00-01:00']) {
          const path = withQuery(operation, parameter.name, value);
          const reply = await send(operation.method, path);
          assertRefusedInWords(reply, parameter.name, `${operation.method} ${path}`);
          assert.match(reply.body.error.message, /^`(from|to)` must be (in the year 1 or later|before the year 9999): dates are taken within the years 0001 to 9998 \(UTC\), not "/, path);
          probed++;
        }
        for (const value of ['0001-01-01', '9998-12-31T23:59:59Z']) {
          const path = withQuery(operation, parameter.name, value);
          const reply = await send(operation.method, path);
          assert.equal(reply.status, 200, `${operation.method} ${path}: ${reply.status} ${reply.text}`);
          ends.add(operation.path);
        }
      }
    }
    for (const route of ['/v1/timeline', '/v1/locations', '/v1/visits', '/v1/stats/monthly', '/v1/media', '/v1/documents', '/v1/messages', '/v1/measurements', '/v1/calendar/events', '/v1/search', '/v1/tiles/{z}/{x}/{y}.mvt']) {
      assert.ok(ends.has(route), `${route} takes dates`);
    }
    assert.ok(probed >= 11 * 2 * 7, `${probed} probes`);
    const tiles = await get(server, `/v1/tiles/3/4/2.mvt?from=0001-01-01&to=9998-12-31T23:59:59Z`, key);
    assert.equal(tiles.status, 200, tiles.text);
    // The tiles' periods of an early range are in its own years (Date.UTC would take 0050 for 1950),
    // and those of the latest accepted instant end in a four-digit year.
    const early = splitRange({ from: new Date('0050-06-15T12:00:00Z'), to: new Date('0052-01-01T00:00:00Z') });
    assert.deepEqual(early.spans.map((span) => [span.period, span.from?.toISOString(), span.to?.toISOString()]), [
      ['year', '0051-01-01T00:00:00.000Z', '0052-01-01T00:00:00.000Z'],
      ['month', '0050-07-01T00:00:00.000Z', '0051-01-01T00:00:00.000Z'],
      ['day', '0050-06-16T00:00:00.000Z', '0050-07-01T00:00:00.000Z'],
    ]);
    assert.deepEqual(early.points.map((part) => [part.from?.toISOString(), part.to?.toISOString()]), [['0050-06-15T12:00:00.000Z', '0050-06-16T00:00:00.000Z']]);
    const late = splitRange({ from: new Date('9998-12-31T23:59:59Z'), to: null });
    assert.deepEqual(late.spans.map((span) => [span.period, span.from?.toISOString()]), [['year', '9999-01-01T00:00:00.000Z']]);
    assert.deepEqual(late.points.map((part) => part.to?.toISOString()), ['9999-01-01T00:00:00.000Z']);
  });

  test('a cursor whose time is not a real date-time or in year 0: 400 naming `cursor`, on every route that pages', async () => {
    const encode = (position: unknown) => Buffer.from(JSON.stringify(position)).toString('base64url');
    const hash = 'a'.repeat(64);
    const cursors = ['2019-13-45T99:99:99.000000Z', '0000-01-01T00:00:00.000000Z', '2019-02-29T00:00:00.000000Z', '2019-01-01T24:00:00.000000Z'].map((time) => encode([time, hash]));
    // The routes paged on a time (contacts are paged on a name, where such text is a name).
    const timed = new Set(['/v1/timeline', '/v1/locations', '/v1/visits', '/v1/media', '/v1/documents', '/v1/messages', '/v1/measurements', '/v1/calendar/events']);
    let routes = 0;
    for (const operation of operations) {
      if (operation.method !== 'GET' || !operation.parameters.some((parameter) => parameter.in === 'query' && parameter.name === 'cursor')) continue;
      for (const cursor of cursors) {
        const path = withQuery(operation, 'cursor', cursor);
        const reply = await send(operation.method, path);
        if (timed.has(operation.path)) assertRefusedInWords(reply, 'cursor', `${operation.method} ${path}`);
        else assert.ok(reply.status < 500, `${operation.method} ${path}: ${reply.status} ${reply.text}`);
      }
      if (timed.has(operation.path)) routes++;
    }
    assert.equal(routes, timed.size, 'every route paged on a time was probed');
    // The last page's own cursor still works: a real position is taken.
    const page = await get(server, '/v1/locations?limit=1', key);
    assert.equal(page.status, 200, page.text);
    const real = encode(['0001-01-01T00:00:00.000000Z', hash]);
    for (const route of ['/v1/timeline', '/v1/locations', '/v1/visits']) {
      const reply = await get(server, `${route}?cursor=${real}`, key);
      assert.equal(reply.status, 200, `${route}: ${reply.text}`);
    }
  });

  test('an id of the wrong form: 400 in words where the route declares its form; never a 500 or a regular expression', async () => {
    let declared = 0;
    for (const operation of operations) {
      for (const parameter of operation.parameters) {
        if (parameter.in !== 'path') continue;
        for (const value of ['abc', '0', '-1', 'Infinity', '1e309', "1' OR '1'='1", 'x'.repeat(300)]) {
          const path = fill(operation, parameter.name, value);
          const context = `${operation.method} ${path}`;
          const reply = await send(operation.method, path);
          if (value.length > 100) {
            // Refused by the router (Fastify's maxParamLength) before the route and its names are known.
            assert.deepEqual([reply.status, reply.body?.error], [400, { code: 'INVALID_REQUEST', message: 'a path parameter is longer than 100 characters' }], context);
          } else if (parameter.schema.pattern !== undefined || parameter.schema.format !== undefined) {
            assertRefusedInWords(reply, parameter.name, context);
            declared++;
          } else if (parameter.schema.type === 'integer') {
            // A number in a path (a map tile's z, x, y): refused in words unless it is one in range
            // (0 is; at zoom 0 the other coordinates are not, and the refusal names them).
            if (value !== '0') assertRefusedInWords(reply, parameter.name, context);
            else if (reply.status !== 200) assertRefusedInWords(reply, parameter.name === 'z' ? 'x' : parameter.name, context);
          } else {
            // An id the schema takes as any text is looked up and not found.
            assert.ok(reply.status === 400 || reply.status === 404, `${context}: ${reply.status} ${reply.text}`);
            if (reply.body?.error) assert.doesNotMatch(reply.body.error.message, /\^|\\d|must match/, context);
          }
        }
      }
    }
    assert.ok(declared > 0, '/v1/items/{id} declares its form');
  });

  test('the rest of a schema failure is in words too: a missing parameter, a value not among the choices, a body field', async (ctx) => {
    const cases: [string, string][] = [
      ['/v1/search', 'query parameter `q` is required'],
      ['/v1/timeline?order=sideways', '`order` must be one of desc, asc, not "sideways"'],
      ['/v1/timeline?q=', '`q` must be 1 to 500 characters long'],
      ['/v1/locations?bbox=1,2,3', '`bbox` must be four numbers minLon,minLat,maxLon,maxLat in degrees, like 13.3,52.4,13.5,52.6, not "1,2,3"'],
      ['/v1/locations?limit=Infinity', '`limit` must be a whole number from 1 to 10000, not "Infinity"'],
      ['/v1/locations?near=52.5,13.4&radius=1e309', '`radius` must be a finite number greater than 0 and at most 20037509, not "1e309"'],
    ];
    for (const [path, message] of cases) {
      await ctx.test(path, async () => {
        const reply = await get(server, path, key);
        assert.equal(reply.status, 400, path);
        assert.equal(reply.body.error.message, message, path);
      });
    }
    const post = (body: unknown) =>
      fetch(`${server.url}/v1/jobs`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
        async (response) => ({ status: response.status, body: (await response.json()) as { error: { message: string } } }),
      );
    const extra = await post({ upload_id: VALID.id, extra: 1 });
    assert.deepEqual([extra.status, extra.body.error.message], [400, 'unknown field `extra` in the body']);
    const tooBig = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: `{"upload_id":"${VALID.id}","batch_size":1e309}`,
    });
    assert.equal(tooBig.status, 400);
    assert.match(((await tooBig.json()) as { error: { message: string } }).error.message, /^`batch_size` must be a whole number from 1 to 1000000/);
  });
});

describe('deeply nested JSON bodies', () => {
  const postJson = async (path: string, body: string, withKey: boolean) => {
    const response = await fetch(server.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(withKey ? { authorization: `Bearer ${key}` } : {}) },
      body,
    });
    const text = await response.text();
    return { status: response.status, text, body: JSON.parse(text) as { error?: { code: string; message: string } } };
  };
  const nested = (depth: number, open = '[', close = ']', inner = '') => `${open.repeat(depth)}${inner}${close.repeat(depth)}`;

  test('400,000 nested arrays or objects: 400 INVALID_REQUEST in the API\'s shape, before parsing, with or without a key', async () => {
    const cases: [string, string, boolean][] = [
      ['/v1/auth/link', `{"token":${nested(400_000)}}`, false],
      ['/v1/jobs', `{"token":${nested(400_000)}}`, true],
      ['/v1/jobs', `{"upload_id":${nested(400_000)}}`, true],
      ['/v1/jobs', `{"upload_id":${nested(100_000, '{"a":', '}', '1')}}`, true],
      ['/v1/auth/link', `{"token":${nested(128)}}`, false],
    ];
    for (const [path, body, withKey] of cases) {
      const started = performance.now();
      const reply = await postJson(path, body, withKey);
      const ms = performance.now() - started;
      assert.equal(reply.status, 400, `${path}: ${reply.text}`);
      assert.deepEqual(reply.body, { error: { code: 'INVALID_REQUEST', message: 'the JSON body is nested more than 128 levels deep' } }, path);
      assert.ok(ms < 2000, `${path}: ${ms.toFixed(0)} ms`);
    }
  });

  test('a body within the depth is parsed, and a nested value is shown one level deep in the refusal', async () => {
    const link = await postJson('/v1/auth/link', `{"token":${nested(127)}}`, false);
    assert.deepEqual([link.status, link.body], [400, { error: { code: 'INVALID_REQUEST', message: '`token` must be text, not [...]' } }]);
    const job = await postJson('/v1/jobs', `{"upload_id":[1,"a",[2],{"b":3},null]}`, true);
    assert.deepEqual([job.status, job.body.error?.message], [400, '`upload_id` must be text, not 1,a,[...],{...},null']);
  });

  test('brackets inside strings do not count', () => {
    assert.equal(jsonDepth('{"a":"[[[[{{{{\\"[[["}'), 1);
    assert.equal(jsonDepth('[[["\\\\"],[]]]'), 3);
    assert.equal(jsonDepth(nested(129)), 129);
    assert.equal(jsonDepth(nested(1_000_000)), MAX_JSON_DEPTH + 1, 'counting stops past the limit');
  });
});
