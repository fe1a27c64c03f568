// vCard contacts (google.contacts.vcf) over fixtures written from the published shapes: a Google
// Contacts export (vCard 3.0, CRLF, grouped properties with X-ABLabel, a folded line, escapes),
// a vCard 2.1 card with quoted-printable values, soft line breaks and CHARSET parameters, and a
// vCard 4.0 card (RFC 6350's example) with an invalid line, followed by a card never closed, a
// good card and stray text. Then a loader round trip on the test lake (PGlite or the server).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadBatch } from '../src/ingest/load/loader.js';
import type { ContactRecord, ParseEvent, Rejection } from '../src/ingest/records.js';
import { detectSource } from '../src/ingest/sources/index.js';
import { decodeQuotedPrintable, parseBirthday, splitEscaped, vcardSource, VCARD_SOURCE_ID } from '../src/ingest/sources/google/vcard.js';
import { normalizeRecord } from '../src/ingest/transform/normalize.js';
import { validateRecord } from '../src/ingest/validate/validate.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const CONTACTS = new URL('./fixtures/contacts/', import.meta.url);

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

async function run(name: string, chunkSize = 64 * 1024): Promise<{ events: ParseEvent[]; records: ContactRecord[]; rejections: Rejection[] }> {
  const bytes = readFileSync(new URL(name, CONTACTS));
  const events: ParseEvent[] = [];
  for await (const event of vcardSource.parse(Readable.from(chunksOf(bytes, chunkSize)), { path: name, repairs: { invalidUtf8: 0, nulCharacters: 0 } })) {
    events.push(event);
  }
  const records = events.flatMap((e) => (e.kind === 'record' ? [e.record as ContactRecord] : []));
  const rejections = events.flatMap((e) => (e.kind === 'reject' ? [e.rejection] : []));
  return { events, records, rejections };
}

const FILES = ['google-export.vcf', 'v21-quoted-printable.vcf', 'v40-and-broken.vcf'];

describe('google.contacts.vcf', () => {
  test('detection: BEGIN:VCARD content, or a .vcf name', () => {
    const head = readFileSync(new URL('google-export.vcf', CONTACTS));
    assert.equal(detectSource({ path: 'Takeout/Contacts/All Contacts/All Contacts.vcf', head, size: head.length })?.id, VCARD_SOURCE_ID);
    assert.equal(vcardSource.detect({ path: 'x.txt', head: Buffer.from('\ufeffbegin:vcard\nVERSION:3.0\n'), size: 30 }), 'content');
    assert.equal(vcardSource.detect({ path: 'Contacts/x.vcf', head: Buffer.from('garbage'), size: 7 }), 'path');
    assert.equal(vcardSource.detect({ path: 'x.json', head: Buffer.from('{}'), size: 2 }), null);
  });

  test('a Google export (3.0): names, grouped properties and labels, escapes, folded lines, birthday with and without year', async () => {
    const { records, rejections, events } = await run('google-export.vcf');
    assert.equal(records.length, 2);
    assert.deepEqual(rejections, []);
    const [ada, charles] = records;
    assert.deepEqual({ ...ada, key: undefined }, {
      type: 'contact', source: VCARD_SOURCE_ID, key: undefined, uid: null, fullName: 'Ada Lovelace',
      structuredName: { family: 'Lovelace', given: 'Ada', additional: 'Augusta', prefix: 'Lady' },
      emails: ['ada@example.org', 'countess@example.net'], phones: ['+44 20 7946 0000', '+44 20 7946 0001'],
      organization: 'Analytical Engine Ltd., Research', title: 'Mathematician', birthday: '1815-12-10',
      addresses: [{ types: ['home'], poBox: null, extended: null, street: '12 St James, Square', locality: 'London', region: null, postalCode: 'SW1Y 4JH', country: 'United Kingdom' }],
      notes: 'First line\nsecond line; with semicolon, and comma', photoUri: 'https://lh3.googleusercontent.com/contacts/photo-ada',
      categories: ['myContacts', 'Starred'],
      attributes: {
        version: '3.0', emailTypes: [['home'], []], phoneTypes: [['cell'], []], labels: { 'item1.TEL': 'Lab' },
        properties: { NICKNAME: ['Ada'], URL: ['https://example.org/ada'] },
      },
    });
    assert.equal(ada?.key[0], 'card');
    assert.equal(charles?.fullName, 'Charles Babbage with a very long name that Google folds over a second line');
    assert.equal(charles?.birthday, null);
    assert.deepEqual(charles?.attributes, { version: '3.0', birthdayWithoutYear: '--12-26' });
    assert.deepEqual(events.map((e) => (e.kind === 'record' ? e.offset : -1)), [0, 592]);
  });

  test('vCard 2.1: quoted-printable with soft line breaks, UTF-8 and ISO-8859-1 charsets, bare TYPE params', async () => {
    const { records, rejections } = await run('v21-quoted-printable.vcf');
    assert.deepEqual(rejections, []);
    assert.equal(records.length, 1);
    const [card] = records;
    assert.equal(card?.fullName, 'Jürgen Müller');
    assert.deepEqual(card?.structuredName, { family: 'Müller', given: 'Jürgen' });
    assert.equal(card?.notes, 'Straße und Café, eine lange Notiz die über zwei Zeilen geht');
    assert.equal(card?.addresses[0]?.street, 'Königstraße 1');
    assert.equal(card?.addresses[0]?.locality, 'München');
    assert.deepEqual(card?.phones, ['+49 30 123456']);
    assert.deepEqual(card?.attributes, { version: '2.1', phoneTypes: [['work', 'voice']] });
  });

  test('vCard 4.0 with an invalid line kept and noted; an unclosed card and stray text rejected with their lines; the next card carries on', async () => {
    const { records, rejections } = await run('v40-and-broken.vcf');
    assert.deepEqual(records.map((r) => r.fullName), ['Simon Perreault', 'After The Broken One']);
    const [simon, after] = records;
    assert.deepEqual(simon?.key, ['uid', 'urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1']);
    assert.deepEqual(simon?.phones, ['+1-418-656-9254;ext=102']);
    assert.deepEqual(simon?.attributes?.problems, [{ line: 9, problem: 'not a property line: this line is not a property' }]);
    assert.equal(simon?.attributes?.birthdayWithoutYear, '--02-03');
    assert.deepEqual(after?.emails, ['after@example.org']);
    assert.deepEqual(rejections, [
      { category: 'malformed', reason: 'vCard begun on line 12 has no END:VCARD before the next BEGIN:VCARD on line 15', line: 12, byteOffset: 301,
        excerpt: 'VERSION:3.0\nFN:Never Closed' },
      { category: 'malformed', reason: 'text outside any BEGIN:VCARD … END:VCARD', line: 20, byteOffset: 423, excerpt: 'stray text between cards' },
    ]);
  });

  test('1-byte and 64 KiB chunks give identical output', async () => {
    for (const name of FILES) {
      const whole = await run(name);
      const bytewise = await run(name, 1);
      assert.deepEqual(bytewise.events, whole.events, name);
    }
  });

  test('every record passes validation; the same card twice has the same key', async () => {
    for (const name of FILES) {
      for (const record of (await run(name)).records) assert.ok(validateRecord(record).ok, `${name}: ${record.fullName}`);
    }
    const again = await run('google-export.vcf');
    assert.deepEqual(again.records.map((r) => r.key), (await run('google-export.vcf')).records.map((r) => r.key));
  });

  test('helpers: quoted-printable, escaped splitting, birthdays', () => {
    assert.equal(decodeQuotedPrintable(Buffer.from('Caf=C3=A9 =ZZ =3')).toString('utf8'), 'Café =ZZ =3');
    assert.deepEqual(splitEscaped('a\\;b;c\\,d;e\\nf', ';'), ['a;b', 'c,d', 'e\nf']);
    assert.deepEqual(parseBirthday('19850412'), { day: '1985-04-12' });
    assert.deepEqual(parseBirthday('1985-04-12T00:00:00Z'), { day: '1985-04-12' });
    assert.deepEqual(parseBirthday('--04-12'), { withoutYear: '--04-12' });
    assert.deepEqual(parseBirthday('1985-02-30'), {});
    assert.deepEqual(parseBirthday('someday'), {});
  });
});

describe('loader round trip', () => {
  let t: TestLake;
  let user: string;
  const FILE = '00000000-0000-4000-8000-0000000c0a7c';
  before(async () => {
    t = await openTestLake();
    user = await createUser(t.lake, 'contacts');
    await t.lake.db.asUser(user, async (tx) => {
      await tx.query(`INSERT INTO imports.jobs (user_id, job_id) VALUES ($1, $2)`, [user, FILE]);
      await tx.query(`INSERT INTO imports.files (user_id, file_id, job_id, path) VALUES ($1, $2, $2, 'Takeout/Contacts/All Contacts.vcf')`, [user, FILE]);
    });
  });
  after(() => t.dispose());

  test('contacts load once, with arrays, dates and JSON intact; loading again adds nothing', async () => {
    const records = [];
    for (const name of FILES) {
      for (const record of (await run(name)).records) {
        const result = validateRecord(normalizeRecord(record, { invalidUtf8: 0, nulCharacters: 0 }));
        assert.ok(result.ok);
        records.push(result.record);
      }
    }
    const target = { userId: user, jobId: FILE, fileId: FILE };
    assert.deepEqual(await loadBatch(t.lake.db, target, { records, checkpoint: { recordsDone: records.length, byteOffset: 1 } }),
      { received: 5, inserted: 5, duplicates: 0 });
    assert.deepEqual(await loadBatch(t.lake.db, target, { records, checkpoint: { recordsDone: records.length, byteOffset: 2 } }),
      { received: 5, inserted: 0, duplicates: 5 });
    const rows = await t.lake.db.asUser(user, (tx) =>
      tx.query<Record<string, unknown>>(
        `SELECT full_name, structured_name, emails, phones, organization, birthday::text AS birthday, addresses, notes, categories, uid, import_file_id
           FROM user_data.contacts ORDER BY full_name`,
      ),
    );
    assert.equal(rows.rows.length, 5);
    assert.deepEqual(rows.rows[0], {
      full_name: 'Ada Lovelace', structured_name: { family: 'Lovelace', given: 'Ada', additional: 'Augusta', prefix: 'Lady' },
      emails: ['ada@example.org', 'countess@example.net'], phones: ['+44 20 7946 0000', '+44 20 7946 0001'],
      organization: 'Analytical Engine Ltd., Research', birthday: '1815-12-10',
      addresses: [{ types: ['home'], poBox: null, extended: null, street: '12 St James, Square', locality: 'London', region: null, postalCode: 'SW1Y 4JH', country: 'United Kingdom' }],
      notes: 'First line\nsecond line; with semicolon, and comma', categories: ['myContacts', 'Starred'], uid: null, import_file_id: FILE,
    });
    const simon = rows.rows.find((r) => r.full_name === 'Simon Perreault');
    assert.equal(simon?.uid, 'urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1');
  });
});
