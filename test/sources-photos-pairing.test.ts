// Google Photos pairing past the simple names (issue 13, defect 6): long names Google cut and
// numbered, names with characters past U+FFFF cut in either unit, `<digits>-edited.jpg` beside
// `<digits>.supplemental-metadata.json`, and album enrichments. One Takeout zip, imported once,
// on the backend the suite runs on (embedded PGlite, or LAKE_TEST_DATABASE_URL).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runImport } from '../src/ingest/runner.js';
import { writeYazl } from './support/archives.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';
import { jpeg } from './support/media.js';

let t: TestLake;
let work: string;

before(async () => {
  t = await openTestLake();
  work = await mkdtemp(path.join(os.tmpdir(), 'lake-photos-pairing-'));
});

after(async () => {
  await t?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

const YEAR = 'Takeout/Google Photos/Photos from 2023';
const ALBUM = 'Takeout/Google Photos/Road trip';
let padding = 100;
/** A distinct photo (its own SHA-256) and the time its sidecar gives it. */
function photo(): Buffer {
  return jpeg({ width: 10, height: 10, padding: padding++ });
}
function sidecar(title: string, seconds: number): Buffer {
  return Buffer.from(JSON.stringify({ title, description: '', photoTakenTime: { timestamp: String(seconds), formatted: '' }, creationTime: { timestamp: String(seconds), formatted: '' }, geoData: { latitude: 0, longitude: 0 } }));
}
/** The first `units` UTF-16 units of a name (never half a surrogate pair in these fixtures). */
const utf16Cut = (name: string, units: number) => name.slice(0, units);
/** The first `points` code points. */
const codePointCut = (name: string, points: number) => Array.from(name).slice(0, points).join('');

interface Case { name: string; bytes: Buffer; seconds: number; why: string }
const cases: Case[] = [];
const entries: { name: string; content: Buffer }[] = [];
function add(folder: string, mediaName: string, sidecarName: string | null, seconds: number, why: string): void {
  const bytes = photo();
  entries.push({ name: `${folder}/${mediaName}`, content: bytes });
  if (sidecarName) entries.push({ name: `${folder}/${sidecarName}`, content: sidecar(mediaName, seconds) });
  cases.push({ name: mediaName, bytes, seconds, why });
}

// 1. Long names cut to 46 characters and numbered: `(n)` after the cut name, for the old and
//    the 2024 naming, and with a third copy whose own sidecar is missing (it must not take another's).
const LONG = 'Holiday_in_the_mountains_with_the_whole_family_abcdefghijklmnopqrs';
add(YEAR, `${LONG}.jpg`, `${LONG.slice(0, 46)}.json`, 1_600_000_000, 'long name, old naming, no number');
add(YEAR, `${LONG}(1).jpg`, `${LONG.slice(0, 46)}(1).json`, 1_600_000_100, 'long name (1) ↔ cut(1).json');
add(YEAR, `${LONG}(2).jpg`, `${LONG.slice(0, 46)}(2).json`, 1_600_000_200, 'long name (2) ↔ cut(2).json');
const MID = 'Screenshot_20230405-101112_Maps_navigation';
const cut2024 = (name: string) => `${name}.supplemental-metadata`.slice(0, 46);
add(YEAR, `${MID}.png`, `${cut2024(`${MID}.png`)}.json`, 1_610_000_000, '2024 naming cut, no number');
add(YEAR, `${MID}(1).png`, `${cut2024(`${MID}.png`)}(1).json`, 1_610_000_100, '2024 naming cut, (1)');
add(YEAR, `${MID}(3).png`, null, 0, 'a numbered copy without its sidecar pairs with none');

// 2. Characters past U+FFFF: Google's cut counted in UTF-16 units, and in code points.
const EMOJI_ONLY = `${'😀'.repeat(30)}.jpg`;
add(YEAR, EMOJI_ONLY, `${utf16Cut(EMOJI_ONLY, 46)}.json`, 1_620_000_000, 'emoji name cut at 46 UTF-16 units');
const EMOJI_MIXED = '🌅🌅 Sunset over the lake with friends 🎉🎉 and a long tail.jpg';
add(YEAR, EMOJI_MIXED, `${codePointCut(EMOJI_MIXED, 46)}.json`, 1_620_000_100, 'emoji name cut at 46 code points');
const EMOJI_DOGS = `${'🐶'.repeat(12)} park afternoon walk.jpg`;
add(YEAR, EMOJI_DOGS, `${utf16Cut(`${EMOJI_DOGS}.supplemental-metadata`, 46)}.json`, 1_620_000_200, 'emoji name, 2024 naming cut at 46 UTF-16 units');
add(YEAR, `${'🐱'.repeat(25)}(1).jpg`, `${utf16Cut(`${'🐱'.repeat(25)}.jpg`, 46)}(1).json`, 1_620_000_300, 'emoji name, cut and numbered');

// 3. Edited copies of digit-named photos beside an extension-less 2024 sidecar, localized suffixes.
add(ALBUM, '1697872351123.jpg', '1697872351123.supplemental-metadata.json', 1_630_000_000, '<digits>.jpg ↔ <digits>.supplemental-metadata.json');
add(ALBUM, '1697872351123-edited.jpg', null, 1_630_000_000, '<digits>-edited.jpg shares it');
add(YEAR, '20230506123456-bearbeitet.jpg', '20230506123456.supplemental-metadata.json', 1_630_000_100, '-bearbeitet, no original in the export');
add(YEAR, '1680000000999-modifié.jpeg', '1680000000999.json', 1_630_000_200, '-modifié ↔ <digits>.json');
add(YEAR, '1680000000777-editado(1).jpg', '1680000000777.supplemental-metadata(1).json', 1_630_000_300, '-editado(1) ↔ <digits>.supplemental-metadata(1).json');

const ENRICHED_ALBUM = {
  title: 'Road trip',
  description: 'Summer',
  access: 'protected',
  date: { timestamp: '1697872351', formatted: '' },
  location: '',
  geoData: { latitude: 0, longitude: 0 },
  enrichments: [
    { narrativeEnrichment: { text: 'Day one: over the pass' } },
    { locationEnrichment: { location: [{ name: 'Col du Galibier', description: 'Valloire', latitudeE7: 450641000, longitudeE7: 64078000 }, { name: 'Somewhere', latitudeE7: 0, longitudeE7: 0 }] } },
    { narrativeEnrichment: { text: 'Day two 🌄' } },
    { mapEnrichment: { origin: { name: 'Grenoble' }, destination: { name: 'Briançon' } } },
  ],
};
entries.push({ name: `${ALBUM}/metadata.json`, content: Buffer.from(JSON.stringify(ENRICHED_ALBUM)) });

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('each numbered, cut, emoji and edited photo finds its own sidecar; album enrichments are stored on the album', async () => {
  const user = await createUser(t.lake, 'photos-pairing');
  const zip = path.join(work, 'takeout-pairing.zip');
  await writeYazl(zip, entries);
  const report = await runImport(t.lake.db, { userId: user, inputs: [zip], batchSize: 5, blobs: t.lake.blobs });
  assert.ok(report.files.every((f) => f.status === 'done'), JSON.stringify(report.files.filter((f) => f.status !== 'done')));

  const rows = await t.lake.db.asUser(user, (tx) => tx.query<{ sha256: string; taken_at: Date | null; taken_at_source: string | null }>(
    `SELECT encode(sha256, 'hex') AS sha256, taken_at, taken_at_source FROM user_data.media`));
  const bySha = new Map(rows.rows.map((r) => [r.sha256, r]));
  const wrong: string[] = [];
  for (const c of cases) {
    const row = bySha.get(sha(c.bytes));
    const expected = c.seconds === 0 ? null : c.seconds * 1000;
    const got = row?.taken_at_source === 'sidecar' ? row.taken_at!.getTime() : null;
    if (got !== expected) wrong.push(`${c.why} (${c.name}): ${got === null ? 'no sidecar' : new Date(got).toISOString()}, expected ${expected === null ? 'no sidecar' : new Date(expected).toISOString()}`);
  }
  assert.deepEqual(wrong, []);

  const chosen = await t.lake.db.asUser(user, (tx) => tx.query<{ file_name: string; sidecar_name: string | null }>(
    `SELECT file_name, sidecar_name FROM user_data.media_files WHERE file_name LIKE 'Holiday%' ORDER BY file_name`));
  assert.deepEqual(chosen.rows.map((r) => [r.file_name, r.sidecar_name]), [
    [`${LONG}(1).jpg`, `${LONG.slice(0, 46)}(1).json`],
    [`${LONG}(2).jpg`, `${LONG.slice(0, 46)}(2).json`],
    [`${LONG}.jpg`, `${LONG.slice(0, 46)}.json`],
  ]);

  const album = await t.lake.db.asUser(user, (tx) => tx.query<{ title: string; attributes: { enrichments: unknown } }>(
    `SELECT title, attributes FROM user_data.media_albums WHERE folder = $1`, [ALBUM]));
  assert.equal(album.rows[0]!.title, 'Road trip');
  assert.deepEqual(album.rows[0]!.attributes.enrichments, [
    { type: 'narrative', text: 'Day one: over the pass' },
    { type: 'location', places: [
      { name: 'Col du Galibier', description: 'Valloire', lat: 45.0641, lon: 6.4078 },
      { name: 'Somewhere', description: null, lat: null, lon: null },
    ] },
    { type: 'narrative', text: 'Day two 🌄' },
    { type: 'other', value: { mapEnrichment: { origin: { name: 'Grenoble' }, destination: { name: 'Briançon' } } } },
  ]);
  const inAlbum = await t.lake.db.asUser(user, (tx) => tx.query<{ albums: string[] }>(
    `SELECT albums FROM user_data.media WHERE sha256 = decode($1, 'hex')`, [sha(cases.find((c) => c.name === '1697872351123-edited.jpg')!.bytes)]));
  assert.deepEqual(inAlbum.rows[0]!.albums, ['Road trip']);
});
