// The transformation stage (text normalization, language tags) and record validation.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CalendarEventRecord, ContactRecord, ItemRecord, LakeRecord, LocationPointRecord, MessageRecord, RepairCounts } from '../src/ingest/records.js';
import { detectLanguage, tagLanguage } from '../src/ingest/transform/language.js';
import { MAX_ATTRIBUTE_DEPTH, normalizeRecord, normalizeText } from '../src/ingest/transform/normalize.js';
import { TEXT_MAX_BYTES, TITLE_MAX_BYTES, truncateUtf8, validateRecord, type ValidationResult } from '../src/ingest/validate/validate.js';

const NOW = Date.parse('2026-06-01T12:00:00.000Z');
const DAY = 24 * 60 * 60 * 1000;

function repairs(): RepairCounts {
  return { invalidUtf8: 0, nulCharacters: 0 };
}

function item(fields: Partial<ItemRecord> = {}): ItemRecord {
  return { type: 'item', source: 'test.source', key: ['k', 1], kind: 'note', occurredAt: new Date('2024-05-01T10:00:00Z'), ...fields };
}

function point(fields: Partial<LocationPointRecord> = {}): LocationPointRecord {
  return { type: 'location_point', source: 'test.source', key: ['p', 1], recordedAt: new Date('2024-05-01T10:00:00Z'), lat: 52.52, lon: 13.405, ...fields };
}

const SHA = 'a'.repeat(64);

function message(fields: Partial<MessageRecord> = {}): MessageRecord {
  return {
    type: 'message',
    source: 'test.source',
    key: ['m@example.org'],
    messageId: 'm@example.org',
    threadId: '1545668983435175434',
    sentAt: new Date('2024-05-01T10:00:00Z'),
    from: 'Alice <alice@example.org>',
    to: ['Bob <bob@example.org>'],
    cc: [],
    subject: 'Hello',
    body: 'Body',
    labels: ['Inbox'],
    inReplyTo: null,
    attachments: [{ filename: 'a.pdf', contentType: 'application/pdf', size: 10, sha256: SHA }],
    ...fields,
  };
}

function validate(record: unknown): ValidationResult {
  return validateRecord(record as LakeRecord, { now: NOW });
}

function rejectionReason(record: unknown): string {
  const result = validate(record);
  assert.ok(!result.ok, 'expected a rejection');
  assert.equal(result.rejection.category, 'invalid');
  return result.rejection.reason;
}

function accepted(record: unknown): LakeRecord {
  const result = validate(record);
  assert.ok(result.ok, result.ok ? '' : result.rejection.reason);
  return result.record;
}

describe('normalizeText', () => {
  test('clean text is returned as the same string', async (t) => {
    const counts = repairs();
    for (const text of ['', 'plain ASCII', 'Crème brûlée, Ærø, Łódź', 'ɐ ʃ ˈ']) await t.test(JSON.stringify(text), () => assert.equal(normalizeText(text, counts), text));
    assert.deepEqual(counts, repairs());
  });

  test('NFC: decomposed accents compose, already composed text is unchanged', () => {
    assert.equal(normalizeText('Cafe\u0301', null), 'Caf\u00e9');
    assert.equal(normalizeText('\u1100\u1161', null), '\uac00');
    assert.equal(normalizeText('日本語 🚀', null), '日本語 🚀');
  });

  test('NUL removed and counted; lone surrogates replaced and counted; pairs kept', () => {
    const counts = repairs();
    assert.equal(normalizeText('a\u0000b\u0000', counts), 'ab');
    assert.equal(normalizeText('x\ud800y', counts), 'x\ufffdy');
    assert.equal(normalizeText('\udc00', counts), '\ufffd');
    assert.equal(normalizeText('end\ud83d', counts), 'end\ufffd');
    assert.equal(normalizeText('pair \ud83d\ude00 ok', counts), 'pair \ud83d\ude00 ok');
    assert.equal(normalizeText('\ud83d\u0000\ude00', counts), '\ufffd\ufffd');
    assert.equal(normalizeText('e\u0301\u0000', counts), '\u00e9');
    assert.deepEqual(counts, { invalidUtf8: 5, nulCharacters: 4 });
  });
});

describe('normalizeRecord', () => {
  test('top-level strings, key strings and nested attributes (keys too), in place', () => {
    const counts = repairs();
    const date = new Date('2024-01-01T00:00:00Z');
    const record = item({
      key: ['Cafe\u0301\u0000', 7, null],
      title: 'Cafe\u0301 \u0000menu',
      text: 'bad \ud800 half',
      url: 'https://example.org/\u0000',
      attributes: { tags: ['ok', 'n\u0000ul', { 'ke\u0000y': 'Cafe\u0301' }], when: date, count: 3 },
    });
    const originalKey = record.key;
    const result = normalizeRecord(record, counts);
    assert.equal(result, record);
    assert.equal(record.title, 'Caf\u00e9 menu');
    assert.equal(record.text, 'bad \ufffd half');
    assert.equal(record.url, 'https://example.org/');
    assert.deepEqual(record.key, ['Caf\u00e9', 7, null]);
    assert.notEqual(record.key, originalKey, 'the key array is replaced, not written through');
    assert.deepEqual(record.attributes, { tags: ['ok', 'nul', { key: 'Caf\u00e9' }], when: date, count: 3 });
    assert.equal(record.attributes?.when, date);
    // Key repairs repeat the fields' and are not counted: title 1, url 1, attributes 2 NULs.
    assert.deepEqual(counts, { invalidUtf8: 1, nulCharacters: 4 });
  });

  test('a clean record is left exactly as it was', () => {
    const record = item({ title: 'hello', attributes: { a: [1, 'b', { c: 'd' }] } });
    const snapshot = structuredClone(record);
    const key = record.key;
    normalizeRecord(record, repairs());
    assert.deepEqual(record, snapshot);
    assert.equal(record.key, key);
  });

  test('attributes nested deeper than the limit are replaced by null', () => {
    const leaf = { deepest: 'x\u0000' };
    let nested: Record<string, unknown> = leaf;
    for (let depth = 0; depth < MAX_ATTRIBUTE_DEPTH + 5; depth++) nested = { child: nested };
    const record = item({ attributes: nested });
    normalizeRecord(record, repairs());
    let cursor: unknown = record.attributes;
    let levels = 0;
    while (cursor !== null && typeof cursor === 'object') {
      cursor = (cursor as { child?: unknown }).child;
      levels++;
    }
    assert.equal(cursor, null);
    assert.equal(levels, MAX_ATTRIBUTE_DEPTH);
  });

  test('messages: the strings of to, cc, labels and attachments too', () => {
    const counts = repairs();
    const record = normalizeRecord(
      message({
        subject: 'Cafe\u0301\u0000',
        to: ['Zoe\u0308 <z@example.org>', 'ok@example.org'],
        cc: ['x\u0000@example.org'],
        labels: ['E\u0301te\u0301', 'bad \ud800'],
        attachments: [{ filename: 'Cafe\u0301.txt\u0000', contentType: 'text/plain', size: 3, sha256: SHA }],
      }),
      counts,
    );
    assert.equal(record.subject, 'Caf\u00e9');
    assert.deepEqual(record.to, ['Zo\u00eb <z@example.org>', 'ok@example.org']);
    assert.deepEqual(record.cc, ['x@example.org']);
    assert.deepEqual(record.labels, ['\u00c9t\u00e9', 'bad \ufffd']);
    assert.deepEqual(record.attachments, [{ filename: 'Caf\u00e9.txt', contentType: 'text/plain', size: 3, sha256: SHA }]);
    assert.equal(record.sentAt.toISOString(), '2024-05-01T10:00:00.000Z');
    assert.deepEqual(counts, { invalidUtf8: 1, nulCharacters: 3 });
  });

  test('other record types: places and measurements', () => {
    const counts = repairs();
    const place = normalizeRecord({ type: 'place', source: 's', key: ['p'], placeId: 'id\u0000', name: 'Zu\u0308rich', address: 'ok' }, counts);
    assert.equal(place.placeId, 'id');
    assert.equal(place.name, 'Z\u00fcrich');
    const measurement = normalizeRecord({ type: 'measurement', source: 's', key: ['m'], measuredAt: new Date(), metric: 'steps', value: 5, unit: 'count' }, counts);
    assert.equal(measurement.value, 5);
    assert.deepEqual(counts, { invalidUtf8: 0, nulCharacters: 1 });
  });
});

describe('language', () => {
  test('detects several languages from enough text', async (t) => {
    const samples: Array<[string, string]> = [
      ['en', 'How to fix a flat bicycle tire at home without any tools'],
      ['fr', 'Comment réparer un pneu de vélo crevé à la maison sans outils'],
      ['de', 'Wie repariert man einen platten Fahrradreifen zu Hause ohne Werkzeug'],
      ['es', 'Cómo reparar una rueda de bicicleta pinchada en casa sin herramientas'],
      ['ru', 'Как починить проколотую шину велосипеда дома без инструментов'],
      ['ja', '自転車のパンクを自宅で修理する方法'],
    ];
    for (const [language, text] of samples) await t.test(language, () => assert.equal(detectLanguage(text), language, text));
  });

  test('null when the text is too short or only a URL', () => {
    assert.equal(detectLanguage('iPhone 15 Pro Max'), null);
    assert.equal(detectLanguage('Visited Google'), null);
    assert.equal(detectLanguage('https://www.example.org/some/long/path/with/many/words/in/it'), null);
    assert.equal(detectLanguage('12345 67890 12345 67890 !!!'), null);
  });

  test('URLs are ignored around real text', () => {
    assert.equal(detectLanguage('https://www.adobe.com/creativecloud.html Wie repariert man einen platten Fahrradreifen'), 'de');
  });

  test('tagLanguage: items and documents only, an existing tag is kept, title and text both count for items', () => {
    const fromText = item({ title: 'Notiz', text: 'Morgen früh fahren wir mit dem Zug nach Hamburg zu meiner Schwester' });
    tagLanguage(fromText);
    assert.equal(fromText.language, 'de');
    const kept = item({ title: 'How to fix a flat bicycle tire at home without tools', language: 'fr' });
    tagLanguage(kept);
    assert.equal(kept.language, 'fr');
    const short = item({ title: 'cats' });
    tagLanguage(short);
    assert.equal(short.language, undefined);
    const place = { type: 'place' as const, source: 's', key: ['p'], placeId: 'x', name: 'How to fix a flat bicycle tire at home without tools' };
    tagLanguage(place);
    assert.equal('language' in place, false);
    // A document's language is its text's; its title (often a file name) does not count.
    const document = {
      type: 'document' as const, source: 's', key: ['d'], sha256: '00', size: 1, path: 'notes.txt', kind: 'text' as const, mimeType: null,
      mimeFromName: null, title: 'How to fix a flat bicycle tire at home without tools', language: null,
      text: 'Morgen früh fahren wir mit dem Zug nach Hamburg zu meiner Schwester', metadata: {}, pii: null, extraction: 'text' as const,
    };
    tagLanguage(document);
    assert.equal(document.language, 'de');
    const untitled = { ...document, language: null, text: null, title: 'Morgen früh fahren wir mit dem Zug nach Hamburg zu meiner Schwester' };
    tagLanguage(untitled);
    assert.equal(untitled.language, null);
  });
});

describe('validateRecord', () => {
  test('a valid record of each type passes unchanged (same object)', async (t) => {
    const records: LakeRecord[] = [
      point({ accuracyM: 12, altitudeM: -30, velocityMps: 0, headingDeg: 360, activity: 'WALKING', activityConfidence: 100 }),
      item({ title: 'x', url: 'https://example.org', language: 'pt-BR', utcOffsetMinutes: -570, lat: -33.9, lon: 151.2 }),
      { type: 'place', source: 's', key: ['p'], placeId: 'ChIJ', name: 'Home', lat: 90, lon: -180 },
      { type: 'visit', source: 's', key: ['v'], startedAt: new Date('2024-01-01T10:00Z'), endedAt: new Date('2024-01-01T10:00Z'), confidence: 0.5 },
      { type: 'measurement', source: 's', key: ['m'], measuredAt: new Date('2024-01-01T10:00Z'), metric: 'steps', value: 0, unit: 'count' },
    ];
    for (const record of records) await t.test(record.type, () => assert.equal(accepted(record), record));
  });

  test('dates: after the epoch, at most a day ahead, real Dates', () => {
    assert.match(rejectionReason(point({ recordedAt: new Date(0) })), /^recordedAt 1970-01-01T00:00:00\.000Z is not after/);
    assert.match(rejectionReason(point({ recordedAt: new Date(-1000) })), /recordedAt 1969-12-31T23:59:59\.000Z/);
    accepted(point({ recordedAt: new Date(1) }));
    accepted(point({ recordedAt: new Date(NOW + DAY) }));
    assert.match(rejectionReason(point({ recordedAt: new Date(NOW + DAY + 1) })), /recordedAt 2026-06-02T12:00:00\.001Z is more than a day in the future/);
    assert.match(rejectionReason(item({ occurredAt: new Date(Number.NaN) })), /occurredAt is an invalid Date/);
    assert.match(rejectionReason(item({ occurredAt: '2024-01-01' as unknown as Date })), /occurredAt "2024-01-01" is not a Date/);
    assert.match(
      rejectionReason({ type: 'visit', source: 's', key: ['v'], startedAt: new Date('2024-01-02T00:00Z'), endedAt: new Date('2024-01-01T00:00Z') }),
      /endedAt 2024-01-01T00:00:00\.000Z is before startedAt 2024-01-02T00:00:00\.000Z/,
    );
  });

  test('coordinates: ranges, both or neither, finite', () => {
    assert.match(rejectionReason(point({ lat: 90.0001 })), /^lat 90\.0001 is not a number in \[-90, 90\]$/);
    assert.match(rejectionReason(point({ lon: -180.5 })), /^lon -180\.5 is not a number in \[-180, 180\]$/);
    assert.match(rejectionReason(point({ lat: Number.NaN })), /^lat NaN/);
    assert.match(rejectionReason(item({ lat: 10, lon: null })), /one is given without the other/);
    accepted(point({ lat: -90, lon: 180 }));
  });

  test('null island: refused for a location point, cleared (in a copy) for optional coordinates', () => {
    const result = validate(point({ lat: 0, lon: 0 }));
    assert.ok(!result.ok);
    assert.match(result.rejection.reason, /null island/);
    assert.equal(result.rejection.excerpt, '0,0');
    accepted(point({ lat: 0, lon: 10 }));

    const original = item({ lat: 0, lon: 0 });
    const repaired = accepted(original) as ItemRecord;
    assert.notEqual(repaired, original);
    assert.equal(repaired.lat, null);
    assert.equal(repaired.lon, null);
    assert.equal(original.lat, 0, 'the input is not changed');
  });

  test('measures: finite, within their ranges', () => {
    assert.match(rejectionReason(point({ accuracyM: -1 })), /^accuracyM -1 is outside \[0, Infinity\]$/);
    assert.match(rejectionReason(point({ altitudeM: Number.POSITIVE_INFINITY })), /^altitudeM Infinity is not a finite number$/);
    assert.match(rejectionReason(point({ velocityMps: '3' as unknown as number })), /^velocityMps "3" is not a finite number$/);
    assert.match(rejectionReason(point({ headingDeg: 361 })), /^headingDeg 361 is outside \[0, 360\]$/);
    assert.match(rejectionReason(point({ activityConfidence: 101 })), /activityConfidence 101/);
    assert.match(
      rejectionReason({ type: 'measurement', source: 's', key: ['m'], measuredAt: new Date('2024-01-01'), metric: 'hr', value: Number.NaN, unit: 'bpm' }),
      /^value NaN is not a finite number$/,
    );
    assert.match(rejectionReason(item({ utcOffsetMinutes: 15 * 60 })), /utcOffsetMinutes 900/);
    assert.match(rejectionReason(item({ utcOffsetMinutes: 30.5 })), /utcOffsetMinutes 30\.5/);
  });

  test('required fields and identifiers', () => {
    assert.match(rejectionReason(item({ kind: '' })), /^kind "" must be a non-empty string$/);
    assert.match(rejectionReason(item({ source: undefined as unknown as string })), /^source missing must be a non-empty string$/);
    assert.match(rejectionReason(item({ key: [] })), /^key must be a non-empty array$/);
    assert.match(rejectionReason({ type: 'place', source: 's', key: ['p'], placeId: null }), /^placeId null must be a non-empty string$/);
    assert.match(rejectionReason({ type: 'measurement', source: 's', key: ['m'], measuredAt: new Date('2024-01-01'), metric: 'steps', value: 1 }), /^unit missing/);
    assert.match(rejectionReason(item({ kind: 'k'.repeat(2000) })), /^kind is 2000 bytes, over the 1024-byte limit/);
    assert.match(rejectionReason(item({ language: 'english!' })), /^language "english!" is not a BCP 47 tag$/);
    assert.match(rejectionReason({ ...item(), type: 'song' }), /^type "song" is not a record type$/);
    assert.match(rejectionReason(item({ title: 42 as unknown as string })), /^title 42 is not a string$/);
  });

  test('long free text is truncated on a character boundary and flagged', () => {
    const title = 'é'.repeat(5000); // 10,000 bytes
    const original = item({ title, text: 'short', attributes: { keep: true } });
    const repaired = accepted(original) as ItemRecord;
    assert.notEqual(repaired, original);
    assert.equal(repaired.title, 'é'.repeat(TITLE_MAX_BYTES / 2));
    assert.equal(repaired.text, 'short');
    assert.deepEqual(repaired.attributes, { keep: true, truncated: { title: 10_000 } });
    assert.equal(original.title, title);
    assert.deepEqual(original.attributes, { keep: true });

    const text = 'a'.repeat(TEXT_MAX_BYTES + 10);
    const long = accepted(item({ text })) as ItemRecord;
    assert.equal(long.text?.length, TEXT_MAX_BYTES);
    assert.deepEqual(long.attributes, { truncated: { text: TEXT_MAX_BYTES + 10 } });

    const atLimit = item({ title: 'a'.repeat(TITLE_MAX_BYTES) });
    assert.equal(accepted(atLimit), atLimit);
  });

  test('message: a valid one passes unchanged; sentAt required and in range; identifiers bounded', () => {
    const valid = message();
    assert.equal(accepted(valid), valid);
    const bare = message({ messageId: null, threadId: null, from: null, subject: null, body: null, to: [], labels: [], attachments: [] });
    assert.equal(accepted(bare), bare);
    assert.match(rejectionReason(message({ sentAt: undefined as unknown as Date })), /^sentAt missing is not a Date$/);
    assert.match(rejectionReason(message({ sentAt: new Date(0) })), /^sentAt 1970-01-01T00:00:00\.000Z is not after/);
    assert.match(rejectionReason(message({ sentAt: new Date(NOW + 2 * DAY) })), /^sentAt .* is more than a day in the future$/);
    assert.match(rejectionReason(message({ messageId: 'x'.repeat(2000) })), /^messageId is 2000 bytes, over the 1024-byte limit/);
    assert.match(rejectionReason(message({ inReplyTo: '' })), /^inReplyTo "" must be a non-empty string$/);
    assert.match(rejectionReason(message({ threadId: 7 as unknown as string })), /^threadId 7 must be a non-empty string$/);
  });

  test('message: long subject, from and body cut like titles and text; long list entries and names too', () => {
    const subject = 'é'.repeat(5000); // 10,000 bytes
    const original = message({
      subject,
      from: 'f'.repeat(TITLE_MAX_BYTES + 1),
      body: 'b'.repeat(TEXT_MAX_BYTES + 5),
      to: ['ok@example.org', 't'.repeat(TITLE_MAX_BYTES + 2)],
      labels: ['l'.repeat(TITLE_MAX_BYTES + 3)],
      attachments: [
        { filename: null, contentType: 'text/plain', size: 0, sha256: SHA },
        { filename: 'n'.repeat(TITLE_MAX_BYTES + 4), contentType: 'application/pdf', size: 1, sha256: SHA },
      ],
      attributes: { keep: true },
    });
    const repaired = accepted(original) as MessageRecord;
    assert.notEqual(repaired, original);
    assert.equal(repaired.subject, 'é'.repeat(TITLE_MAX_BYTES / 2));
    assert.equal(repaired.from?.length, TITLE_MAX_BYTES);
    assert.equal(repaired.body?.length, TEXT_MAX_BYTES);
    assert.deepEqual(repaired.to, ['ok@example.org', 't'.repeat(TITLE_MAX_BYTES)]);
    assert.deepEqual(repaired.labels, ['l'.repeat(TITLE_MAX_BYTES)]);
    assert.equal(repaired.attachments[0], original.attachments[0]);
    assert.deepEqual(repaired.attachments[1], { filename: 'n'.repeat(TITLE_MAX_BYTES), contentType: 'application/pdf', size: 1, sha256: SHA });
    assert.deepEqual(repaired.attributes, {
      keep: true,
      truncated: {
        subject: 10_000,
        from: TITLE_MAX_BYTES + 1,
        body: TEXT_MAX_BYTES + 5,
        'to[1]': TITLE_MAX_BYTES + 2,
        'labels[0]': TITLE_MAX_BYTES + 3,
        'attachments[1].filename': TITLE_MAX_BYTES + 4,
      },
    });
    assert.equal(original.subject, subject, 'the input is not changed');
    assert.equal(original.to[1]?.length, TITLE_MAX_BYTES + 2);
    assert.deepEqual(original.attributes, { keep: true });
  });

  test('message: lists and attachments of the wrong shape are refused', () => {
    assert.match(rejectionReason(message({ to: 'bob@example.org' as unknown as string[] })), /^to "bob@example\.org" is not an array of strings$/);
    assert.match(rejectionReason(message({ cc: ['a', 3 as unknown as string] })), /^cc\[1\] 3 is not a string$/);
    assert.match(rejectionReason(message({ labels: undefined as unknown as string[] })), /^labels missing is not an array of strings$/);
    assert.match(rejectionReason(message({ attachments: null as unknown as MessageRecord['attachments'] })), /^attachments null is not an array$/);
    const attachment = { filename: 'a', contentType: 'text/plain', size: 1, sha256: SHA };
    const bad = (fields: Record<string, unknown>) => message({ attachments: [{ ...attachment, ...fields } as MessageRecord['attachments'][number]] });
    assert.match(rejectionReason(bad({ sha256: 'ABC' })), /^attachments\[0\]\.sha256 "ABC" is not 64 lower-case hex digits$/);
    assert.match(rejectionReason(bad({ size: -1 })), /^attachments\[0\]\.size -1 is not a whole number >= 0$/);
    assert.match(rejectionReason(bad({ size: 1.5 })), /^attachments\[0\]\.size 1\.5/);
    assert.match(rejectionReason(bad({ contentType: null })), /^attachments\[0\]\.contentType null is not a string$/);
    assert.match(rejectionReason(bad({ filename: 5 })), /^attachments\[0\]\.filename 5 is not a string or null$/);
    assert.match(rejectionReason(message({ attachments: ['x' as unknown as MessageRecord['attachments'][number]] })), /^attachments\[0\] "x" is not an object$/);
  });

  test('truncateUtf8 never splits a character', () => {
    assert.equal(truncateUtf8('ab🚀', 5), 'ab');
    assert.equal(truncateUtf8('ab🚀', 6), 'ab🚀');
    assert.equal(truncateUtf8('日本', 4), '日');
  });

  test('the default clock is now', () => {
    const future = item({ occurredAt: new Date(Date.now() + 2 * DAY) });
    assert.equal(validateRecord(future).ok, false);
    assert.equal(validateRecord(item({ occurredAt: new Date() })).ok, true);
  });
});

function contact(fields: Partial<ContactRecord> = {}): ContactRecord {
  return {
    type: 'contact', source: 'test.source', key: ['uid', 'c1'], uid: 'c1', fullName: 'Ada Lovelace', structuredName: { family: 'Lovelace', given: 'Ada' },
    emails: ['ada@example.org'], phones: ['+44 20 7946 0000'], organization: null, title: null, birthday: '1815-12-10', addresses: [],
    notes: null, photoUri: null, categories: ['myContacts'], ...fields,
  };
}

function calendarEvent(fields: Partial<CalendarEventRecord> = {}): CalendarEventRecord {
  return {
    type: 'calendar_event', source: 'test.source', key: ['e1', '2024-05-01T10:00:00.000Z'], uid: 'e1', startsAt: new Date('2024-05-01T10:00:00Z'),
    endsAt: new Date('2024-05-01T11:00:00Z'), recurrenceId: null, allDay: false, timeZone: null, summary: 'Standup', description: null,
    location: null, status: 'CONFIRMED', organizer: null, attendees: [], rrule: null, calendarName: null, ...fields,
  };
}

describe('contacts and calendar events', () => {
  test('contact: valid passes unchanged; birthday a real day; lists of strings; long names and list entries cut', () => {
    const valid = contact();
    assert.equal(accepted(valid), valid);
    assert.match(rejectionReason(contact({ birthday: '1815-02-30' })), /^birthday "1815-02-30" is not a day \(YYYY-MM-DD\)$/);
    assert.match(rejectionReason(contact({ birthday: '--1210' })), /^birthday "--1210" is not a day/);
    assert.match(rejectionReason(contact({ emails: 'a@b' as unknown as string[] })), /^emails "a@b" is not an array of strings$/);
    assert.match(rejectionReason(contact({ phones: [7 as unknown as string] })), /^phones\[0\] 7 is not a string$/);
    assert.match(rejectionReason(contact({ uid: 'x'.repeat(2000) })), /^uid is 2000 bytes, over the 1024-byte limit/);
    const long = accepted(contact({ fullName: 'n'.repeat(TITLE_MAX_BYTES + 1), categories: ['ok', 'c'.repeat(TITLE_MAX_BYTES + 2)] })) as ContactRecord;
    assert.equal(long.fullName?.length, TITLE_MAX_BYTES);
    assert.equal(long.categories[1]?.length, TITLE_MAX_BYTES);
    assert.deepEqual(long.attributes, { truncated: { fullName: TITLE_MAX_BYTES + 1, 'categories[1]': TITLE_MAX_BYTES + 2 } });
  });

  test('calendar event: future starts allowed; must not end before it starts; dates valid', () => {
    const valid = calendarEvent();
    assert.equal(accepted(valid), valid);
    const future = calendarEvent({ startsAt: new Date(NOW + 365 * DAY), endsAt: null });
    assert.equal(accepted(future), future);
    assert.match(rejectionReason(calendarEvent({ endsAt: new Date('2024-05-01T09:00:00Z') })), /^endsAt 2024-05-01T09:00:00\.000Z is before startsAt/);
    assert.match(rejectionReason(calendarEvent({ startsAt: new Date(Number.NaN) })), /^startsAt is an invalid Date$/);
    assert.match(rejectionReason(calendarEvent({ attendees: null as unknown as [] })), /^attendees null is not an array$/);
    const long = accepted(calendarEvent({ summary: 's'.repeat(TITLE_MAX_BYTES + 3) })) as CalendarEventRecord;
    assert.deepEqual(long.attributes, { truncated: { summary: TITLE_MAX_BYTES + 3 } });
  });

  test('normalize: a contact\'s structured name, lists and addresses are NFC-normalized and NUL-free', () => {
    const counts = repairs();
    const record = normalizeRecord(
      contact({
        structuredName: { family: 'Mu\u0308ller' },
        emails: ['a\u0000@example.org'],
        addresses: [{ types: [], poBox: null, extended: null, street: 'Cafe\u0301', locality: null, region: null, postalCode: null, country: null }],
      }),
      counts,
    );
    assert.deepEqual(record.structuredName, { family: 'Müller' });
    assert.deepEqual(record.emails, ['a@example.org']);
    assert.equal(record.addresses[0]?.street, 'Café');
    assert.equal(counts.nulCharacters, 1);
  });
});
