// /v1/places, /v1/visits and /v1/search over real HTTP, with two users' data loaded by the import
// loader: each user sees only their own rows, filters select what they say, pages hold every row
// once, and search finds by full text and (with pg_trgm) by trigram similarity despite typos,
// full-text hits ranked above similarity-only ones.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { containsPattern } from '../src/query/places.js';
import { loadBatch } from '../src/ingest/load/loader.js';
import type { LakeRecord } from '../src/ingest/records.js';
import { allPages, get, startTestServer, type TestServer } from './support/api.js';
import { openTestLake, type TestLake } from './support/lake.js';

const BERLIN = { lat: 52.52, lon: 13.405 };
const PARIS = { lat: 48.8566, lon: 2.3522 };

let t: TestLake;
let server: TestServer;
const users: Record<'alice' | 'bob', { id: string; key: string }> = {} as never;

interface Place { place_id: string; name: string | null; address: string | null; visits: number; last_visit_at: string | null }
interface PlacesPage { places: Place[]; next_cursor: string | null }
interface Visit { visit_id: string; started_at: string; ended_at: string; duration_s: number; place_id: string | null; place_name: string | null; source: string }
interface VisitsPage { visits: Visit[]; next_cursor: string | null }
interface Result { type: string; id: string; title: string | null; score: number; fulltext: boolean; similarity: number }
interface SearchPage { results: Result[]; next_cursor: string | null }

function aliceRecords(): LakeRecord[] {
  const records: LakeRecord[] = [];
  for (let i = 0; i < 30; i++) {
    const inParis = i < 5;
    const centre = inParis ? PARIS : BERLIN;
    records.push({
      type: 'place', source: 'test.semantic', key: ['alice', i], placeId: `alice-place-${String(i).padStart(2, '0')}`,
      name: i === 7 ? 'Café 100%_sure' : `alice-secret ${inParis ? 'bistro' : 'kiosk'} ${i}`,
      address: i % 3 === 0 ? `${i} Unter den Linden` : null,
      lat: centre.lat + i * 0.0001, lon: centre.lon,
    });
  }
  for (let i = 0; i < 45; i++) {
    // Every place gets visits; place 01 many. Every fifth visit starts with the one before (ties).
    const start = Date.parse('2024-02-01T08:00:00Z') + (i % 5 === 4 ? i - 1 : i) * 3600_000;
    records.push({
      type: 'visit', source: 'test.semantic', key: ['alice-visit', i], placeId: i < 15 ? 'alice-place-01' : `alice-place-${String(i % 30).padStart(2, '0')}`,
      startedAt: new Date(start), endedAt: new Date(start + 1800_000),
    });
  }
  records.push(
    { type: 'visit', source: 'test.semantic', key: ['alice-visit', 'nowhere'], placeId: null, startedAt: new Date('2024-01-01T00:00:00Z'), endedAt: new Date('2024-01-02T00:00:00Z') },
    { type: 'item', source: 'test.activity', key: ['alice', 1], kind: 'search', occurredAt: new Date('2024-01-10T00:00:00Z'), title: 'alice-secret giraffe migration', text: 'the long neck of the giraffe' },
    { type: 'item', source: 'test.activity', key: ['alice', 2], kind: 'search', occurredAt: new Date('2024-01-11T00:00:00Z'), title: 'alice-secret zebra stripes', text: 'notes about a giraffe seen near the zebra' },
    { type: 'item', source: 'test.activity', key: ['alice', 3], kind: 'search', occurredAt: new Date('2024-01-12T00:00:00Z'), title: 'alice-secret girafe (typo in the source)' },
    { type: 'item', source: 'test.activity', key: ['alice', 4], kind: 'search', occurredAt: new Date('2024-03-12T00:00:00Z'), title: 'alice-secret unrelated lemur' },
    {
      type: 'message', source: 'test.mail', key: ['alice-mail'], messageId: 'alice@example.org', threadId: null, sentAt: new Date('2024-02-03T08:00:00Z'),
      from: 'alice@example.org', to: ['zoo@example.org'], cc: [], subject: 'alice-secret tickets', body: 'two tickets to see the giraffe', labels: [], inReplyTo: null, attachments: [],
    },
    {
      type: 'contact', source: 'test.contacts', key: ['alice-contact'], uid: 'c1', fullName: 'alice-secret Giraffe Keeper', structuredName: null, emails: ['keeper@zoo.example'],
      phones: [], organization: 'Zoo', title: null, birthday: null, addresses: [], notes: null, photoUri: null, categories: [],
    },
    {
      type: 'calendar_event', source: 'test.calendar', key: ['alice-event'], uid: 'e1', startsAt: new Date('2024-02-10T10:00:00Z'), endsAt: new Date('2024-02-10T11:00:00Z'),
      recurrenceId: null, allDay: false, timeZone: null, summary: 'alice-secret giraffe feeding', description: null, location: 'Zoo', status: null, organizer: null,
      attendees: [], rrule: null, calendarName: null,
    },
    {
      type: 'document', source: 'test.documents', key: ['alice-doc'], sha256: 'ab'.repeat(32), size: 120, path: 'Drive/zoo.pdf', kind: 'pdf',
      mimeType: 'application/pdf', mimeFromName: 'application/pdf', title: 'alice-secret zoo plan', text: 'where the giraffe enclosure is', metadata: {},
      pii: null, extraction: 'text',
    },
  );
  return records;
}

function bobRecords(): LakeRecord[] {
  return [
    { type: 'place', source: 'test.bob', key: ['bob'], placeId: 'bob-place', name: 'bob-secret kiosk', address: 'Unter den Linden 1', lat: BERLIN.lat, lon: BERLIN.lon },
    { type: 'visit', source: 'test.bob', key: ['bob-visit'], placeId: 'bob-place', startedAt: new Date('2024-02-01T10:00:00Z'), endedAt: new Date('2024-02-01T11:00:00Z') },
    { type: 'item', source: 'test.bob', key: ['bob', 1], kind: 'search', occurredAt: new Date('2024-01-10T00:00:00Z'), title: 'bob-secret giraffe' },
    {
      type: 'message', source: 'test.mail', key: ['bob-mail'], messageId: 'bob@example.org', threadId: null, sentAt: new Date('2024-02-03T08:00:00Z'),
      from: 'bob@example.org', to: [], cc: [], subject: 'bob-secret giraffe', body: 'giraffe', labels: [], inReplyTo: null, attachments: [],
    },
  ];
}

before(async () => {
  t = await openTestLake();
  for (const [name, records] of [['alice', aliceRecords()], ['bob', bobRecords()]] as const) {
    const { userId } = await createUser(t.lake.db, name);
    await loadBatch(t.lake.db, { userId, jobId: null, fileId: null }, { records });
    users[name] = { id: userId, key: (await createApiKey(t.lake.db, name)).key };
  }
  server = await startTestServer(t.lake);
});
after(async () => {
  await server?.close();
  await t.dispose();
});

const fuzzy = () => t.lake.profile.features.fuzzy_search.enabled;

describe('user B gets none of user A’s data', () => {
  test('/v1/places', async () => {
    const bob = (await allPages<PlacesPage>(server, '/v1/places', users.bob.key)).flatMap((p) => p.places);
    assert.deepEqual(bob.map((p) => p.place_id), ['bob-place']);
    assert.equal(bob[0]!.visits, 1);
    const alice = (await allPages<PlacesPage>(server, '/v1/places?limit=1000', users.alice.key)).flatMap((p) => p.places);
    assert.equal(alice.length, 30);
    assert.ok(!JSON.stringify(alice).includes('bob-secret'));
    // The same search and area, as bob: only bob's place.
    const linden = await get<PlacesPage>(server, '/v1/places?q=linden', users.bob.key);
    assert.deepEqual(linden.body.places.map((p) => p.place_id), ['bob-place']);
  });

  test('/v1/visits', async () => {
    const bob = (await allPages<VisitsPage>(server, '/v1/visits', users.bob.key)).flatMap((p) => p.visits);
    assert.deepEqual(bob.map((v) => [v.place_id, v.place_name]), [['bob-place', 'bob-secret kiosk']]);
    const aliceAtBobs = await get<VisitsPage>(server, '/v1/visits?place_id=bob-place', users.alice.key);
    assert.deepEqual(aliceAtBobs.body.visits, []);
    const alice = (await allPages<VisitsPage>(server, '/v1/visits?limit=1000', users.alice.key)).flatMap((p) => p.visits);
    assert.equal(alice.length, 46);
    assert.ok(alice.every((v) => v.source === 'test.semantic'));
  });

  test('/v1/search', async () => {
    for (const name of ['alice', 'bob'] as const) {
      const other = name === 'alice' ? 'bob' : 'alice';
      const reply = await get<SearchPage>(server, '/v1/search?q=giraffe&limit=100', users[name].key);
      assert.equal(reply.status, 200, reply.text);
      assert.ok(reply.body.results.length > 0);
      assert.ok(reply.body.results.every((r) => r.title?.startsWith(`${name}-secret`)), name);
      assert.ok(!reply.text.includes(`${other}-secret`));
    }
    const bob = await get<SearchPage>(server, '/v1/search?q=giraffe', users.bob.key);
    assert.deepEqual(bob.body.results.map((r) => r.type).sort(), ['items', 'messages']);
  });
});

describe('/v1/places', () => {
  test('words in name or address, case-insensitive, wildcards taken literally', async () => {
    const names = async (query: string) => (await get<PlacesPage>(server, `/v1/places?${query}`, users.alice.key)).body.places.map((p) => p.name);
    assert.deepEqual(await names('q=BISTRO'), [0, 1, 2, 3, 4].map((i) => `alice-secret bistro ${i}`));
    assert.equal((await names('q=unter%20den')).length, 10, 'address');
    assert.deepEqual(await names('q=100%25_'), ['Café 100%_sure']);
    assert.deepEqual(await names('q=1%25s'), [], '% is a percent sign, not a wildcard (as one, 1%s would match)');
    assert.deepEqual(await names('q=1_0'), [], '_ is an underscore (as a wildcard, 1_0 would match 100)');
    assert.equal(containsPattern('a_b%c\\'), '%a\\_b\\%c\\\\%');
  });

  test('bounding box and radius', async () => {
    const ids = async (query: string) => (await allPages<PlacesPage>(server, `/v1/places?${query}`, users.alice.key)).flatMap((p) => p.places.map((x) => x.place_id));
    assert.equal((await ids('bbox=2,48,3,49')).length, 5, 'Paris');
    assert.equal((await ids(`near=${BERLIN.lat},${BERLIN.lon}&radius=5000`)).length, 25);
    assert.equal((await ids(`near=${BERLIN.lat},${BERLIN.lon}&radius=5000&q=kiosk%2010`)).length, 1);
    const bad = await get(server, `/v1/places?near=${BERLIN.lat},${BERLIN.lon}`, users.alice.key);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_REQUEST');
  });

  test('pages hold every place once; visits are counted per place', async () => {
    const pages = await allPages<PlacesPage>(server, '/v1/places?limit=7', users.alice.key);
    const ids = pages.flatMap((p) => p.places.map((x) => x.place_id));
    assert.equal(pages.length, 5);
    assert.equal(new Set(ids).size, 30);
    assert.deepEqual(ids, [...ids].sort());
    const places = pages.flatMap((p) => p.places);
    assert.equal(places.find((p) => p.place_id === 'alice-place-01')!.visits, 15 + 1);
    assert.equal(places.find((p) => p.place_id === 'alice-place-00')!.last_visit_at, '2024-02-02T14:00:00.000Z');
    assert.equal(places.reduce((sum, p) => sum + p.visits, 0), 45);
  });
});

describe('/v1/visits', () => {
  test('overlapping a time range, at a place, with the place’s name', async () => {
    const visits = async (query: string) => (await allPages<VisitsPage>(server, `/v1/visits?limit=1000&${query}`, users.alice.key)).flatMap((p) => p.visits);
    const first = await visits('to=2024-02-01T08:00:01Z');
    assert.deepEqual(first.map((v) => v.place_id), [null, 'alice-place-01'], 'the placeless visit, then the first');
    assert.equal(first[1]!.place_name, 'alice-secret bistro 1');
    assert.equal(first[1]!.duration_s, 1800);
    // A visit that began before `from` and was still going on counts.
    const ongoing = await visits('from=2024-02-01T08:15:00Z&to=2024-02-01T08:20:00Z');
    assert.deepEqual(ongoing.map((v) => v.started_at), ['2024-02-01T08:00:00.000Z']);
    assert.equal((await visits('place_id=alice-place-01')).length, 16);
  });

  test('pages hold every visit once, oldest first, ties in time included', async () => {
    const pages = await allPages<VisitsPage>(server, '/v1/visits?limit=4', users.alice.key);
    const ids = pages.flatMap((p) => p.visits.map((v) => v.visit_id));
    assert.equal(ids.length, 46);
    assert.equal(new Set(ids).size, 46);
    const times = pages.flatMap((p) => p.visits.map((v) => Date.parse(v.started_at)));
    assert.ok(times.every((x, i) => i === 0 || times[i - 1]! <= x));
  });
});

describe('/v1/search', () => {
  test('full text over items, messages, contacts and events, in one ranked list', async () => {
    const reply = await get<SearchPage>(server, '/v1/search?q=giraffe&limit=100', users.alice.key);
    const found = reply.body.results;
    const byType = (type: string) => found.filter((r) => r.type === type).map((r) => r.title);
    assert.deepEqual(byType('messages'), ['alice-secret tickets'], 'found in the body');
    assert.deepEqual(byType('contacts'), ['alice-secret Giraffe Keeper']);
    assert.deepEqual(byType('events'), ['alice-secret giraffe feeding']);
    assert.deepEqual(byType('documents'), ['alice-secret zoo plan'], 'a document, by its extracted text');
    assert.ok(byType('items').includes('alice-secret giraffe migration'));
    assert.ok(byType('items').includes('alice-secret zebra stripes'), 'found in the body');
    assert.ok(!byType('items').includes('alice-secret unrelated lemur'));
    const scores = found.map((r) => r.score);
    assert.ok(scores.every((s, i) => i === 0 || scores[i - 1]! >= s), 'best first');
    // Title and body both say giraffe: ranked above the item with giraffe only in its body.
    const rank = (title: string) => found.findIndex((r) => r.title === title);
    assert.ok(rank('alice-secret giraffe migration') < rank('alice-secret zebra stripes'));
    assert.ok(found.filter((r) => r.fulltext).every((r) => r.score >= 1));
  });

  test('typos: found by trigram similarity (with pg_trgm), ranked below full-text hits', async () => {
    const reply = await get<SearchPage>(server, '/v1/search?q=giraffe&types=items', users.alice.key);
    const typo = reply.body.results.find((r) => r.title === 'alice-secret girafe (typo in the source)');
    if (!fuzzy()) {
      assert.equal(typo, undefined, 'without pg_trgm only full text');
      return;
    }
    assert.ok(typo, 'the title with the typo is found');
    assert.equal(typo.fulltext, false);
    assert.ok(typo.similarity >= 0.6 && typo.score < 1);
    assert.equal(reply.body.results.at(-1), typo, 'below every full-text hit');
    // And the other way round: a typo in the query finds the right spelling.
    const misspelt = await get<SearchPage>(server, '/v1/search?q=girafe&types=items,places', users.alice.key);
    const titles = misspelt.body.results.map((r) => r.title);
    assert.ok(titles.includes('alice-secret giraffe migration'));
    assert.equal(titles[0], 'alice-secret girafe (typo in the source)', 'the exact word first');
    const kiosk = await get<SearchPage>(server, '/v1/search?q=kiosc&types=places', users.alice.key);
    assert.ok(kiosk.body.results.length > 10 && kiosk.body.results.every((r) => r.type === 'places' && r.title?.includes('kiosk')));
  });

  test('types, time range, web search syntax, pages', async () => {
    const search = (query: string) => get<SearchPage & { error: { code: string; message: string } }>(server, `/v1/search?${query}`, users.alice.key);
    assert.deepEqual((await search('q=giraffe&types=messages')).body.results.map((r) => r.type), ['messages']);
    // A time range leaves out what has no time (places, contacts).
    const february = (await search('q=giraffe&from=2024-02-01&to=2024-03-01')).body.results;
    assert.deepEqual(february.map((r) => r.type).sort(), ['events', 'messages']);
    const phrase = (await search('q=%22giraffe%20migration%22&types=items')).body.results;
    assert.deepEqual(phrase.filter((r) => r.fulltext).map((r) => r.title), ['alice-secret giraffe migration']);
    const pages = await allPages<SearchPage>(server, '/v1/search?q=kiosk&types=places&limit=4', users.alice.key);
    const ids = pages.flatMap((p) => p.results.map((r) => r.id));
    assert.equal(ids.length, 24, 'places 5-29 but the café');
    assert.equal(new Set(ids).size, 24);
    const bad = await search('q=giraffe&types=items,planets');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /planets/);
    assert.equal((await search('types=items')).status, 400, 'q is required');
    assert.equal((await search('q=giraffe&cursor=bm9wZQ')).status, 400);
  });
});
