// The Google Takeout HTML and CSV sources: MyActivity.html (and YouTube's watch/search history in
// the same format) and YouTube's CSV files, over fixtures written from the published shapes, and
// MyActivity.html over the real export sample in ../shared when it is there.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { ParseError } from '../src/errors.js';
import type { ItemRecord, ParseEvent, Rejection, RepairCounts } from '../src/ingest/records.js';
import type { ParseContext, Probe, Source } from '../src/ingest/source.js';
import { googleHtmlCsvSources } from './support/source-groups.js';
import { MAX_ENTRY_BYTES, myActivityHtmlSource } from '../src/ingest/sources/google/my-activity/html.js';
import { activityKind, splitActivityTitle } from '../src/ingest/sources/google/my-activity/kinds.js';
import { parseActivityDate, parseIsoTimestamp } from '../src/ingest/sources/google/takeout-dates.js';
import { youtubeCsvSource } from '../src/ingest/sources/google/youtube/csv.js';
import { commentText, standardizeHeaderName } from '../src/ingest/sources/google/youtube/tables.js';

const HTML_DIR = new URL('./fixtures/google/my-activity-html/', import.meta.url);
const CSV_DIR = new URL('./fixtures/google/youtube-csv/', import.meta.url);
const REAL_HTML_DIR = new URL('../../shared/fixtures/real/google-myactivity-html/', import.meta.url);
const EXPORTED_AT = new Date('2026-03-01T12:00:00.000Z');

interface Run {
  events: ParseEvent[];
  records: ItemRecord[];
  /** Record offsets, in order. */
  offsets: number[];
  rejections: Rejection[];
  repairs: RepairCounts;
}

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

async function run(source: Source, bytes: Buffer, path: string, chunkSize = 64 * 1024, extra: Partial<ParseContext> = {}): Promise<Run> {
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  const context: ParseContext = { path, repairs, ...extra };
  const events: ParseEvent[] = [];
  for await (const event of source.parse(Readable.from(chunksOf(bytes, chunkSize)), context)) events.push(event);
  const records = events.flatMap((event) => (event.kind === 'record' ? [event.record as ItemRecord] : []));
  const offsets = events.flatMap((event) => (event.kind === 'record' ? [event.offset] : []));
  const rejections = events.flatMap((event) => (event.kind === 'reject' ? [event.rejection] : []));
  return { events, records, offsets, rejections, repairs };
}

function readHtml(name: string): Buffer {
  return readFileSync(new URL(name, HTML_DIR));
}

function readCsv(name: string): Buffer {
  return readFileSync(new URL(name, CSV_DIR));
}

/** Byte offsets of every `<div class="outer-cell`, found without the parser. */
function outerCellOffsets(bytes: Buffer): number[] {
  const offsets: number[] = [];
  const needle = Buffer.from('<div class="outer-cell');
  for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + 1)) offsets.push(at);
  return offsets;
}

function probe(bytes: Buffer, path: string): Probe {
  return { path, head: bytes.subarray(0, 64 * 1024), size: bytes.length };
}

describe('takeout dates', () => {
  test('US English with zone abbreviations and offsets', async (t) => {
    const cases: Array<[string, string, number]> = [
      ['Feb 8, 2017, 12:32:36 AM PST', '2017-02-08T08:32:36.000Z', -480],
      ['Jul 4, 2019, 3:05:09 PM PDT', '2019-07-04T22:05:09.000Z', -420],
      ['Jan 15, 2021, 6:54:12 PM BST', '2021-01-15T17:54:12.000Z', 60],
      ['Jun 15, 2023, 8:30:41\u202fPM CEST', '2023-06-15T18:30:41.000Z', 120],
      ['Dec 31, 2021, 11:59:59 PM GMT+1', '2021-12-31T22:59:59.000Z', 60],
      ['Mar 2, 2020, 12:00:00 PM UTC-03:30', '2020-03-02T15:30:00.000Z', -210],
      ['Sept. 9, 2022, 12:05 AM EDT', '2022-09-09T04:05:00.000Z', -240],
      ['8 Feb 2017, 00:32:36 CET', '2017-02-07T23:32:36.000Z', 60],
      ['September 1, 2020, 13:00:00 UTC', '2020-09-01T13:00:00.000Z', 0],
    ];
    for (const [text, iso, offset] of cases) {
      await t.test(text, () => {
        const parsed = parseActivityDate(text);
        assert.ok(parsed.ok, text);
        assert.equal(parsed.date.toISOString(), iso, text);
        assert.equal(parsed.utcOffsetMinutes, offset, text);
        assert.equal(parsed.zoneStated, true, text);
      });
    }
  });

  test('a line without a zone is legacy UTC, flagged as not stated', () => {
    const parsed = parseActivityDate('Jun 23, 2015, 2:43:45 PM');
    assert.ok(parsed.ok);
    assert.equal(parsed.date.toISOString(), '2015-06-23T14:43:45.000Z');
    assert.equal(parsed.zoneStated, false);
  });

  test('other languages and unknown zones are unsupported, impossible dates invalid', async (t) => {
    const unsupported = ['08.02.2017, 00:32:36 MEZ', '8 févr. 2017, 00:32:36 UTC+1', 'Feb 8, 2017, 12:32:36 AM IST', '2017年2月8日 0:32:36 JST'];
    for (const text of unsupported) {
      await t.test(text, () => {
        const parsed = parseActivityDate(text);
        assert.ok(!parsed.ok, text);
        assert.equal(parsed.category, 'unsupported', text);
        assert.match(parsed.reason, /not|unknown/, text);
      });
    }
    for (const text of ['Feb 30, 2017, 1:00:00 PM UTC', 'Feb 8, 2017, 13:00:00 PM UTC', 'Feb 8, 2017, 24:00:00 UTC']) {
      await t.test(text, () => {
        const parsed = parseActivityDate(text);
        assert.ok(!parsed.ok, text);
        assert.equal(parsed.category, 'invalid', text);
      });
    }
  });

  test('ISO timestamps of the CSV files', async (t) => {
    const cases: Array<[string, string, number]> = [
      ['2023-09-19T17:42:53.434647+00:00', '2023-09-19T17:42:53.434Z', 0],
      ['2024-01-01T10:00:00Z', '2024-01-01T10:00:00.000Z', 0],
      ['2021-05-01 12:00:00 UTC', '2021-05-01T12:00:00.000Z', 0],
      ['2025-03-01T08:00:00+01:00', '2025-03-01T07:00:00.000Z', 60],
    ];
    for (const [text, iso, offset] of cases) {
      await t.test(text, () => {
        const parsed = parseIsoTimestamp(text);
        assert.ok(parsed.ok, text);
        assert.equal(parsed.date.toISOString(), iso);
        assert.equal(parsed.utcOffsetMinutes, offset);
      });
    }
    for (const text of ['2024-01-01', '2024-01-01T10:00:00', 'yesterday', '2024-02-30T00:00:00Z']) {
      await t.test(text, () => assert.equal(parseIsoTimestamp(text).ok, false, text));
    }
  });
});

describe('my activity kinds', () => {
  test('verb phrases and products map to kinds', () => {
    assert.deepEqual(splitActivityTitle('Searched for cats'), { action: 'Searched for', object: 'cats' });
    assert.deepEqual(splitActivityTitle('Viewed area around Berlin'), { action: 'Viewed area around', object: 'Berlin' });
    assert.deepEqual(splitActivityTitle('Usedcars for sale'), { action: null, object: 'Usedcars for sale' });
    assert.equal(activityKind('Search', 'Searched for'), 'search');
    assert.equal(activityKind('YouTube', 'Searched for'), 'video_search');
    assert.equal(activityKind('Maps', 'Searched for'), 'map_search');
    assert.equal(activityKind('Maps', 'Viewed'), 'map_view');
    assert.equal(activityKind('News', 'Viewed'), 'page_view');
    assert.equal(activityKind('Chrome', 'Visited'), 'page_visit');
    assert.equal(activityKind('Assistant', 'Said'), 'voice_command');
    assert.equal(activityKind('Search', 'Gesucht nach'), 'activity');
    assert.equal(activityKind('Search', null), 'activity');
  });
});

describe('google.myactivity.html', () => {
  test('detect: content for entries in the head, path for the file name alone, else nothing', () => {
    const search = readHtml('search-MyActivity.html');
    assert.equal(myActivityHtmlSource.detect(probe(search, 'Takeout/Mein Aktivitäten/Suche/MeineAktivitäten.html')), 'content');
    const empty = readHtml('empty-MyActivity.html');
    assert.equal(myActivityHtmlSource.detect(probe(empty, 'Takeout/My Activity/Search/MyActivity.html')), 'path');
    assert.equal(myActivityHtmlSource.detect(probe(empty, 'Takeout/YouTube and YouTube Music/history/watch-history.html')), 'path');
    assert.equal(myActivityHtmlSource.detect(probe(empty, 'Takeout/archive_browser.html')), null);
    assert.equal(myActivityHtmlSource.detect(probe(readCsv('comments.csv'), 'comments.csv')), null);
  });

  test('search history: records, kinds, UTC times, offsets and rejections', async () => {
    const bytes = readHtml('search-MyActivity.html');
    const result = await run(myActivityHtmlSource, bytes, 'Takeout/My Activity/Search/MyActivity.html');
    assert.equal(result.records.length, 8);
    assert.equal(result.rejections.length, 4);
    assert.deepEqual(
      result.records.map((record) => [record.kind, record.occurredAt.toISOString(), record.utcOffsetMinutes, record.title]),
      [
        ['search', '2017-02-08T08:32:36.000Z', -480, 'café crème'],
        ['page_visit', '2019-07-04T22:05:09.000Z', -420, 'Recettes & astuces – Example'],
        ['search', '2020-03-01T09:00:00.000Z', 0, '"node.js" streams <backpressure>'],
        ['search', '2021-12-31T22:59:59.000Z', 60, '日本語 入力'],
        ['search', '2017-02-07T23:32:36.000Z', 60, 'wetter berlin morgen'],
        ['search', '2023-06-15T18:30:41.000Z', 120, 'emoji 🚀 launch'],
        ['app_use', '2018-04-02T12:15:00.000Z', -300, 'Search'],
        ['search', '2018-05-05T17:05:05.000Z', 0, 'bad\ufffdbyte'],
      ],
    );
    for (const record of result.records) {
      assert.equal(record.source, 'google.myactivity.html');
      assert.deepEqual(record.attributes?.products, ['Search']);
    }

    // Offsets are those of the entries' outer-cell tags, found here without the parser.
    const entryOffsets = outerCellOffsets(bytes);
    assert.equal(entryOffsets.length, 12);
    const recordEntries = [0, 1, 2, 3, 4, 5, 10, 11];
    assert.deepEqual(result.offsets, recordEntries.map((i) => entryOffsets[i]));

    const [first, visit] = result.records as [ItemRecord, ItemRecord];
    assert.equal(first.url, 'https://www.google.com/search?q=caf%C3%A9+cr%C3%A8me');
    assert.equal(first.lat, 48.856613);
    assert.equal(first.lon, 2.352222);
    assert.deepEqual(first.attributes?.locations, [
      {
        text: 'At this general area - From your places (Home)',
        url: 'https://www.google.com/maps/@?api=1&map_action=map&center=48.856613,2.352222&zoom=11',
        sourceUrl: 'https://support.google.com/websearch/answer/1696455',
      },
    ]);
    assert.deepEqual(first.key, ['myactivity', 'Search', 'Searched for', 'café crème', first.url, Date.parse('2017-02-08T08:32:36Z')]);
    assert.equal(visit.url, 'https://example.org/recettes?id=1');
    assert.equal(visit.attributes?.redirectUrl, 'https://www.google.com/url?q=https://example.org/recettes%3Fid%3D1&usg=AOvVaw0');
    assert.equal(visit.attributes?.action, 'Visited');

    assert.deepEqual(
      result.rejections.map((rejection) => [rejection.category, rejection.byteOffset, rejection.excerpt]),
      [
        ['unsupported', entryOffsets[6], '08.02.2017, 00:32:36 MEZ'],
        ['unsupported', entryOffsets[7], 'Feb 8, 2017, 12:32:36 AM IST'],
        ['malformed', entryOffsets[8], 'Searched for nodate'],
        ['invalid', entryOffsets[9], 'Feb 30, 2017, 1:00:00 PM UTC'],
      ],
    );
    assert.match(result.rejections[1]?.reason ?? '', /time zone "IST"/);
    assert.deepEqual(result.repairs, { invalidUtf8: 1, nulCharacters: 0 });
  });

  test('YouTube watch history: channels, a removed video, ads, searches', async () => {
    const result = await run(myActivityHtmlSource, readHtml('watch-history.html'), 'Takeout/YouTube and YouTube Music/history/watch-history.html');
    assert.equal(result.rejections.length, 0);
    assert.deepEqual(
      result.records.map((record) => [record.kind, record.occurredAt.toISOString(), record.title, record.url]),
      [
        ['video_watch', '2024-11-03T20:41:07.000Z', 'Rick Astley - Never Gonna Give You Up (Official Music Video)', 'https://www.youtube.com/watch?v=dQw4w9WgXcQ'],
        ['video_watch', '2024-10-30T17:00:00.000Z', null, null],
        ['video_search', '2024-10-29T08:10:10.000Z', 'lofi hip hop', 'https://www.youtube.com/results?search_query=lofi+hip+hop'],
        ['video_watch', '2024-10-28T11:02:03.000Z', 'Spring Sale – 20% off', 'https://www.youtube.com/watch?v=aaaaaaaaaaa'],
        ['video_watch', '2024-10-27T21:00:00.000Z', 'Rick Astley - Never Gonna Give You Up (Official Music Video)', 'https://www.youtube.com/watch?v=dQw4w9WgXcQ'],
      ],
    );
    const [watched, removed, , ad] = result.records as [ItemRecord, ItemRecord, ItemRecord, ItemRecord];
    assert.deepEqual(watched.attributes?.subtitles, [{ name: 'Rick Astley', url: 'https://www.youtube.com/channel/UCuAXFkgsw1L7xaCfnd5JJOw' }]);
    assert.equal(removed.attributes?.removed, true);
    assert.equal(removed.attributes?.action, 'Watched');
    assert.deepEqual(ad.attributes?.details, ['From Google Ads']);
    // The same video watched twice is two events with two keys.
    assert.notDeepEqual(result.records[0]?.key, result.records[4]?.key);
  });

  test('Maps: views, directions, map searches with coordinates, app use', async () => {
    const result = await run(myActivityHtmlSource, readHtml('maps-MyActivity.html'), 'Takeout/My Activity/Maps/MyActivity.html');
    assert.deepEqual(
      result.records.map((record) => [record.kind, record.title, record.lat, record.lon]),
      [
        ['map_view', 'Berlin', null, null],
        ['map_directions', 'Alexanderplatz', null, null],
        ['map_search', 'coffee near me', 52.52, 13.405],
        ['app_use', 'Maps', null, null],
        ['map_view', 'Brandenburger Tor', null, null],
      ],
    );
  });

  test('legacy export without zones: read as UTC, offset null, zoneStated false', async () => {
    const result = await run(myActivityHtmlSource, readHtml('legacy-MyActivity.html'), 'Takeout/My Activity/Chrome/MyActivity.html');
    assert.deepEqual(
      result.records.map((record) => [record.kind, record.occurredAt.toISOString(), record.utcOffsetMinutes, record.attributes?.zoneStated]),
      [
        ['page_visit', '2015-06-23T14:43:45.000Z', null, false],
        ['search', '2015-06-23T14:40:01.000Z', null, false],
      ],
    );
  });

  test('a file without entries is refused as unsupported, not read as empty', async () => {
    const result = await run(myActivityHtmlSource, readHtml('empty-MyActivity.html'), 'MyActivity.html');
    assert.equal(result.records.length, 0);
    assert.deepEqual(result.rejections.map((rejection) => [rejection.category, rejection.byteOffset]), [['unsupported', 0]]);
  });

  test('1-byte, 7-byte and 64 KiB chunks give identical events for every fixture', async () => {
    for (const name of readdirSync(HTML_DIR)) {
      const bytes = readHtml(name);
      const whole = await run(myActivityHtmlSource, bytes, name, 64 * 1024);
      assert.deepEqual(await run(myActivityHtmlSource, bytes, name, 1), whole, name);
      assert.deepEqual(await run(myActivityHtmlSource, bytes, name, 7), whole, name);
    }
  });

  test('an oversized entry is refused as too_large and the next one still read', async () => {
    const template = readHtml('legacy-MyActivity.html').toString('utf8');
    const [firstEntry = ''] = template.match(/<div class="outer-cell[^\n]*\n/) ?? [];
    const huge = firstEntry.replace('HTML: HyperText Markup Language | MDN', 'x'.repeat(MAX_ENTRY_BYTES + 1));
    const bytes = Buffer.from(template.replace(firstEntry, huge + firstEntry));
    const result = await run(myActivityHtmlSource, bytes, 'MyActivity.html');
    assert.deepEqual(result.rejections.map((rejection) => [rejection.category, rejection.byteOffset]), [['too_large', outerCellOffsets(bytes)[0]]]);
    assert.equal(result.records.length, 2);
  });

  test('a read failure becomes a ParseError naming the byte offset reached', async () => {
    const bytes = readHtml('legacy-MyActivity.html');
    const input = new Readable({ read() {} });
    input.push(bytes.subarray(0, 1000));
    setImmediate(() => input.destroy(new Error('disk went away')));
    const events: ParseEvent[] = [];
    await assert.rejects(
      async () => {
        for await (const event of myActivityHtmlSource.parse(input, { path: 'MyActivity.html', repairs: { invalidUtf8: 0, nulCharacters: 0 } })) events.push(event);
      },
      (error: unknown) => error instanceof ParseError && error.byteOffset === 1000 && /MyActivity\.html/.test(error.message),
    );
    assert.equal(events.length, 1, 'the entry completed before the failure was yielded');
  });

  test('the real MyActivity.html sample in ../shared', async (t) => {
    if (!existsSync(REAL_HTML_DIR)) {
      t.skip('../shared/fixtures/real is absent (a fresh clone has no shared folder)');
      return;
    }
    const names = readdirSync(REAL_HTML_DIR).filter((name) => name.endsWith('.html'));
    assert.ok(names.length > 0);
    for (const name of names) {
      const bytes = readFileSync(new URL(name, REAL_HTML_DIR));
      assert.equal(myActivityHtmlSource.detect(probe(bytes, `Takeout/My Activity/Chrome/${name}`)), 'content');
      const result = await run(myActivityHtmlSource, bytes, name);
      if (name === 'purarue_Chrome_MyActivity.html') {
        // Read off the file by hand: three entries, two visits and one search, dates without a
        // zone, one location link with coordinates, unbalanced closing divs.
        assert.equal(result.records.length, 3);
        assert.equal(result.rejections.length, 0);
        assert.deepEqual(result.records.map((record) => record.kind).sort(), ['page_visit', 'page_visit', 'search']);
        assert.equal(result.records.filter((record) => record.lat != null && record.lon != null).length, 1);
        assert.ok(result.records.every((record) => record.attributes?.zoneStated === false && record.utcOffsetMinutes === null));
        assert.ok(result.records.every((record) => record.occurredAt.getUTCFullYear() >= 2017 && record.occurredAt.getUTCFullYear() <= 2018));
      }
      assert.deepEqual(result.offsets, outerCellOffsets(bytes), name);
      assert.deepEqual(await run(myActivityHtmlSource, bytes, name, 1), result, name);
    }
  });
});

describe('google.youtube.csv', () => {
  test('header names are trimmed, freed of the BOM, case-insensitive', () => {
    assert.equal(standardizeHeaderName('\ufeff Comment  Create Timestamp '), 'comment create timestamp');
  });

  test('detect: content from the header row, path for a YouTube file name alone', () => {
    assert.equal(youtubeCsvSource.detect(probe(readCsv('subscriptions.csv'), 'x/subscriptions.csv')), 'content');
    assert.equal(youtubeCsvSource.detect(probe(readCsv('comments.csv'), 'x/comments.csv')), 'content');
    assert.equal(youtubeCsvSource.detect(probe(readCsv('playlists.csv'), 'x/playlists.csv')), 'content');
    assert.equal(youtubeCsvSource.detect(probe(readCsv('Road trip-videos.csv'), 'x/y.csv')), 'content');
    assert.equal(youtubeCsvSource.detect(probe(readCsv('Mix.csv'), 'x/Mix.csv')), 'content');
    const localized = Buffer.from('Kanal-ID,Kanal-URL,Kanaltitel\nUC1,,x\n');
    assert.equal(youtubeCsvSource.detect(probe(localized, 'Takeout/YouTube und YouTube Music/subscriptions/subscriptions.csv')), 'path');
    assert.equal(youtubeCsvSource.detect(probe(readCsv('channel.csv'), 'Takeout/YouTube and YouTube Music/channels/channel.csv')), null);
    assert.equal(youtubeCsvSource.detect(probe(readCsv('comments.csv'), 'Takeout/Fit/Daily activity metrics.csv')), 'content');
  });

  test('subscriptions: BOM and CRLF, quoted comma, built URL, a row without id', async () => {
    const bytes = readCsv('subscriptions.csv');
    const result = await run(youtubeCsvSource, bytes, 'Takeout/YouTube and YouTube Music/subscriptions/subscriptions.csv', 65536, { exportedAt: EXPORTED_AT });
    assert.deepEqual(
      result.records.map((record) => [record.kind, record.title, record.url, record.occurredAt.toISOString()]),
      [
        ['subscription', 'Computerphile', 'http://www.youtube.com/channel/UC9-y-6csu5WGm29I7JiwpnA', EXPORTED_AT.toISOString()],
        ['subscription', 'Technology Connections, Too', 'https://www.youtube.com/channel/UCy0tKL1T7wFoYcxCe0xjN6Q', EXPORTED_AT.toISOString()],
        ['subscription', 'LiveOverflow', 'http://www.youtube.com/channel/UClcE-kVhqyiHCcjYwcpfj9w', EXPORTED_AT.toISOString()],
      ],
    );
    assert.deepEqual(result.records[0]?.key, ['youtube-subscription', 'UC9-y-6csu5WGm29I7JiwpnA']);
    assert.equal(result.records[0]?.attributes?.occurredAt, 'export');
    assert.deepEqual(result.rejections.map((rejection) => [rejection.category, rejection.line, rejection.byteOffset]), [['invalid', 4, bytes.indexOf(',http://www.youtube.com/channel/UCnone')]]);
    assert.match(result.rejections[0]?.reason ?? '', /Channel Id is empty/);
    assert.deepEqual(result.offsets, [bytes.indexOf('UC9-y'), bytes.indexOf('UCy0t'), bytes.indexOf('UClcE')]);
  });

  test('subscriptions without an export time are dated at the import and say so', async () => {
    const before = Date.now();
    const result = await run(youtubeCsvSource, readCsv('subscriptions.csv'), 'subscriptions.csv');
    const date = result.records[0]?.occurredAt.getTime() ?? 0;
    assert.ok(date >= before && date <= Date.now());
    assert.equal(result.records[0]?.attributes?.occurredAt, 'import');
  });

  test('comments: JSON segments, mentions, posts, offsets, broken rows with their lines', async () => {
    const bytes = readCsv('comments.csv');
    const result = await run(youtubeCsvSource, bytes, 'Takeout/YouTube and YouTube Music/comments/comments.csv');
    assert.deepEqual(
      result.records.map((record) => [record.key[1], record.occurredAt.toISOString(), record.utcOffsetMinutes, record.text, record.url]),
      [
        ['Ugw1', '2025-02-11T19:04:00.000Z', null, 'That intro is perfect', 'https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc=Ugw1'],
        ['Ugw1.r1', '2025-02-11T20:15:00.123Z', null, 'agreed, @drummer the drums\nespecially', 'https://www.youtube.com/watch?v=dQw4w9WgXcQ&lc=Ugw1.r1'],
        ['Ugx2', '2025-03-01T07:00:00.000Z', 60, 'Nice post, café au lait pour tout le monde', 'https://www.youtube.com/post/UgkxPost1'],
        ['Ugx5', '2025-03-03T10:00:00.000Z', null, 'a "quoted" word\r\non two lines', 'https://www.youtube.com/watch?v=vid555&lc=Ugx5'],
      ],
    );
    assert.ok(result.records.every((record) => record.kind === 'comment' && record.source === 'google.youtube.csv'));
    assert.deepEqual(result.records[1]?.attributes, {
      commentId: 'Ugw1.r1',
      channelId: 'UCme',
      videoId: 'dQw4w9WgXcQ',
      parentCommentId: 'Ugw1',
      topLevelCommentId: 'Ugw1',
      price: '0',
      mentionedChannelIds: ['UCdrum'],
    });
    assert.deepEqual(result.offsets, ['Ugw1,', 'Ugw1.r1', 'Ugx2', 'Ugx5'].map((id) => bytes.indexOf(id)));
    assert.deepEqual(
      result.rejections.map((rejection) => [rejection.category, rejection.line, rejection.byteOffset]),
      [
        ['malformed', 5, bytes.indexOf('Ugx3')],
        ['invalid', 6, bytes.indexOf('Ugx4')],
      ],
    );
    assert.match(result.rejections[0]?.reason ?? '', /^line 5: row has 10 fields, the header has 9$/);
    assert.match(result.rejections[1]?.reason ?? '', /Comment Create Timestamp: timestamp "yesterday"/);
  });

  test('comments before mid-2024: takeoutSegments, plain text, trailing blank lines', async () => {
    const result = await run(youtubeCsvSource, readCsv('comments-2023.csv'), 'comments.csv');
    assert.equal(result.rejections.length, 0);
    assert.deepEqual(
      result.records.map((record) => [record.key[1], record.text, record.attributes?.parentCommentId]),
      [
        ['UgxOld1', 'the legend', undefined],
        ['UgxOld2', 'line one\nline two', 'UgxOld1'],
        ['UgxOld3', 'plain text from an old export', undefined],
      ],
    );
  });

  test('lines of white space only are skipped like empty ones; a quoted field of spaces is still a row', async () => {
    for (const eol of ['\r\n', '\n']) {
      const header = `Comment ID,Channel ID,Comment create timestamp,Price,Video ID,Comment text${eol}`;
      const row = (id: string) => `${id},UCaaaaaaaaaaaaaaaaaaaaaa,2024-05-01T10:00:00+00:00,,dQw4w9WgXcQ,"{""text"":""hi ${id}""}"${eol}`;
      const bytes = Buffer.from(`${header}${row('Ugw1')}  \t ${eol}${row('Ugw2')}\t${eol}   "   "${eol}"   "${eol}${eol}    `);
      for (const size of [1, 3, 7, 65536]) {
        const result = await run(youtubeCsvSource, bytes, 'Takeout/YouTube and YouTube Music/comments/comments.csv', size);
        const label = `${JSON.stringify(eol)}, chunks of ${size}`;
        assert.deepEqual(result.records.map((record) => record.key[1]), ['Ugw1', 'Ugw2'], label);
        // Spaces then a quote: the quote is text (relaxed quoting), so the line is not blank; a quoted field of spaces is a value.
        assert.deepEqual(
          result.rejections.map((rejection) => [rejection.category, rejection.reason, rejection.line, rejection.byteOffset]),
          [
            ['malformed', 'line 6: row has 1 fields, the header has 6', 6, bytes.indexOf('   "   "')],
            ['malformed', 'line 7: row has 1 fields, the header has 6', 7, bytes.indexOf(`${eol}"   "`) + eol.length],
          ],
          label,
        );
      }
    }
  });

  test('a quote left open to the end of the file: one malformed row at its line', async () => {
    const bytes = readCsv('comments-unclosed.csv');
    const result = await run(youtubeCsvSource, bytes, 'comments.csv');
    assert.deepEqual(result.records.map((record) => record.text), ['fine', 'also fine']);
    assert.deepEqual(result.rejections.map((rejection) => [rejection.category, rejection.line, rejection.byteOffset]), [['malformed', 5, bytes.indexOf('Ugy3')]]);
    assert.match(result.rejections[0]?.reason ?? '', /Quote Not Closed/);
    assert.doesNotMatch(result.rejections[0]?.reason ?? '', /at line \d/);
  });

  test('playlists.csv', async () => {
    const result = await run(youtubeCsvSource, readCsv('playlists.csv'), 'Takeout/YouTube and YouTube Music/playlists/playlists.csv');
    assert.equal(result.rejections.length, 0);
    assert.deepEqual(
      result.records.map((record) => [record.kind, record.title, record.occurredAt.toISOString(), record.url]),
      [
        ['playlist', 'Road trip', '2020-11-20T07:32:24.000Z', 'https://www.youtube.com/playlist?list=PLroadtrip0000000000000000000000001'],
        ['playlist', 'Cuisine du dimanche', '2021-01-05T18:00:00.000Z', 'https://www.youtube.com/playlist?list=PLcooking00000000000000000000000002'],
      ],
    );
    assert.deepEqual(result.records[0]?.attributes, {
      playlistId: 'PLroadtrip0000000000000000000000001',
      updatedAt: '2020-12-20T04:08:54.000Z',
      visibility: 'Private',
      videoOrder: 'Manual',
      titleLanguage: 'en',
      addNewVideosToTop: false,
    });
  });

  test('<name>-videos.csv: the playlist name comes from the file name; last row without a line break', async () => {
    const bytes = readCsv('Road trip-videos.csv');
    const result = await run(youtubeCsvSource, bytes, 'Takeout/YouTube and YouTube Music/playlists/Road trip-videos.csv');
    assert.deepEqual(
      result.records.map((record) => [record.kind, record.title, record.attributes?.videoId, record.occurredAt.toISOString()]),
      [
        ['playlist_item', 'Road trip', 'eY-eyZuW_Uk', '2023-12-07T15:57:57.000Z'],
        ['playlist_item', 'Road trip', '28tZ-S1LFok', '2023-12-07T18:08:55.000Z'],
        ['playlist_item', 'Road trip', 'J9qja4KmPQQ', '2023-12-07T16:49:34.000Z'],
      ],
    );
    assert.deepEqual(result.rejections.map((rejection) => [rejection.category, rejection.line]), [['invalid', 4]]);
    assert.equal(result.offsets[2], bytes.indexOf('J9qja4KmPQQ'));
  });

  test('pre-2022 playlist file: metadata row, blank line, video rows', async () => {
    const result = await run(youtubeCsvSource, readCsv('Mix.csv'), 'Takeout/YouTube and YouTube Music/playlists/Mix.csv');
    assert.equal(result.rejections.length, 0);
    assert.deepEqual(
      result.records.map((record) => [record.kind, record.title, record.occurredAt.toISOString(), record.attributes?.playlistId]),
      [
        ['playlist', 'Mix', '2015-01-01T00:00:00.000Z', 'PLmix'],
        ['playlist_item', 'Mix', '2021-05-01T12:00:00.000Z', 'PLmix'],
        ['playlist_item', 'Mix', '2021-05-02T12:30:00.000Z', 'PLmix'],
      ],
    );
  });

  test('an unknown header is one unsupported rejection and nothing else; the input is released', async () => {
    const result = await run(youtubeCsvSource, readCsv('channel.csv'), 'channel.csv');
    assert.equal(result.events.length, 1);
    assert.deepEqual(result.rejections.map((rejection) => [rejection.category, rejection.line]), [['unsupported', 1]]);
    assert.match(result.rejections[0]?.reason ?? '', /Channel Title \(Original\)/);

    const input = Readable.from(chunksOf(Buffer.concat([readCsv('channel.csv'), Buffer.alloc(200_000, 'x\n')]), 1024));
    for await (const event of youtubeCsvSource.parse(input, { path: 'channel.csv', repairs: { invalidUtf8: 0, nulCharacters: 0 } })) {
      assert.equal(event.kind, 'reject');
    }
    assert.equal(input.destroyed, true);
  });

  test('a read failure becomes a ParseError naming the byte offset reached', async () => {
    const input = new Readable({ read() {} });
    input.push(readCsv('comments-2023.csv').subarray(0, 200));
    setImmediate(() => input.destroy(new Error('disk went away')));
    await assert.rejects(
      async () => {
        for await (const _event of youtubeCsvSource.parse(input, { path: 'comments.csv', repairs: { invalidUtf8: 0, nulCharacters: 0 } })) {
          // drain
        }
      },
      (error: unknown) => error instanceof ParseError && error.byteOffset === 200 && /comments\.csv/.test(error.message),
    );
  });

  test('an empty file is malformed', async () => {
    const result = await run(youtubeCsvSource, Buffer.alloc(0), 'comments.csv');
    assert.deepEqual(result.rejections.map((rejection) => rejection.category), ['malformed']);
  });

  test('1-byte, 7-byte and 64 KiB chunks give identical events for every fixture', async () => {
    for (const name of readdirSync(CSV_DIR)) {
      const bytes = readCsv(name);
      const path = `Takeout/YouTube and YouTube Music/x/${name}`;
      const whole = await run(youtubeCsvSource, bytes, path, 64 * 1024, { exportedAt: EXPORTED_AT });
      assert.ok(whole.events.length > 0, name);
      assert.deepEqual(await run(youtubeCsvSource, bytes, path, 1, { exportedAt: EXPORTED_AT }), whole, name);
      assert.deepEqual(await run(youtubeCsvSource, bytes, path, 7, { exportedAt: EXPORTED_AT }), whole, name);
    }
  });

  test('comment text cells', () => {
    assert.deepEqual(commentText('{"text":"a"},{"text":"b"}'), { text: 'ab', mentionedChannelIds: [] });
    assert.deepEqual(commentText('{"takeoutSegments":[{"text":"x"}]}'), { text: 'x', mentionedChannelIds: [] });
    assert.deepEqual(commentText('{not json} at all'), { text: '{not json} at all', mentionedChannelIds: [] });
    assert.deepEqual(commentText('plain'), { text: 'plain', mentionedChannelIds: [] });
  });
});

test('html-csv-index lists its sources with distinct ids', () => {
  assert.deepEqual(googleHtmlCsvSources.map((source) => source.id), ['google.myactivity.html', 'google.youtube.csv', 'google.youtube.comments.html']);
});
