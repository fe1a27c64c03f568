// YouTube comments and live chat messages (issue 13, defect 7): the live chats CSV of newer
// Takeouts (google.youtube.csv), comments and live chats CSVs whose header is in another
// language (recognised by structure), and the my-comments.html / my-live-chat-messages.html of
// older ones (google.youtube.comments.html), over fixtures written from the published shapes
// (google_takeout_parser's parsers and tests, other readers' fixtures). Then the real import
// path on the test lake (PGlite, or the server with LAKE_TEST_DATABASE_URL).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ParseError } from '../src/errors.js';
import type { ItemRecord, ParseEvent, Rejection, RepairCounts } from '../src/ingest/records.js';
import { runImport } from '../src/ingest/runner.js';
import type { ParseContext, Probe, Source } from '../src/ingest/source.js';
import { myActivityHtmlSource } from '../src/ingest/sources/google/my-activity/html.js';
import { MAX_ENTRY_BYTES, youtubeCommentsHtmlSource } from '../src/ingest/sources/google/youtube/comments-html.js';
import { youtubeCsvSource } from '../src/ingest/sources/google/youtube/csv.js';
import { leadingCsvRecords, localizedLayout } from '../src/ingest/sources/google/youtube/tables.js';
import { detectSource, SOURCES } from '../src/ingest/sources/all.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const DIR = new URL('./fixtures/youtube-comments/', import.meta.url);
const MY_ACTIVITY_DIR = new URL('./fixtures/google/my-activity-html/', import.meta.url);
const YT = 'Takeout/YouTube and YouTube Music';
const ME = 'UCmeMeMeMeMeMeMeMeMeMe01';
/** The registry with this HTML source, whether or not it is registered yet. */
const WITH_HTML_SOURCE: readonly Source[] = SOURCES.some((source) => source.id === youtubeCommentsHtmlSource.id) ? SOURCES : [...SOURCES, youtubeCommentsHtmlSource];

interface Run {
  events: ParseEvent[];
  records: ItemRecord[];
  offsets: number[];
  rejections: Rejection[];
  repairs: RepairCounts;
}

function read(name: string): Buffer {
  return readFileSync(new URL(name, DIR));
}

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

async function run(source: Source, bytes: Buffer, filePath: string, chunkSize = 64 * 1024, extra: Partial<ParseContext> = {}): Promise<Run> {
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  const events: ParseEvent[] = [];
  for await (const event of source.parse(Readable.from(chunksOf(bytes, chunkSize)), { path: filePath, repairs, ...extra })) events.push(event);
  return {
    events,
    records: events.flatMap((event) => (event.kind === 'record' ? [event.record as ItemRecord] : [])),
    offsets: events.flatMap((event) => (event.kind === 'record' ? [event.offset] : [])),
    rejections: events.flatMap((event) => (event.kind === 'reject' ? [event.rejection] : [])),
    repairs,
  };
}

function probe(bytes: Buffer, filePath: string): Probe {
  return { path: filePath, head: bytes.subarray(0, 64 * 1024), size: bytes.length };
}

/** Byte offsets of every `<li`, found without the parser. */
function itemOffsets(bytes: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = bytes.indexOf('<li'); at !== -1; at = bytes.indexOf('<li', at + 1)) offsets.push(at);
  return offsets;
}

const summary = (record: ItemRecord) => [record.kind, record.occurredAt.toISOString(), record.occurredAtMicros ?? 0, record.text, record.url];

describe('google.youtube.csv: live chats, and comments or live chats with localized headers', () => {
  test('detect: the English live chats header anywhere; a localized one by its structure; the name alone gives path', () => {
    assert.equal(youtubeCsvSource.detect(probe(read('live chats.csv'), 'x/y.csv')), 'content');
    assert.equal(youtubeCsvSource.detect(probe(read('live chats-currency.csv'), 'x/y.csv')), 'content');
    assert.equal(youtubeCsvSource.detect(probe(read('Livechats.csv'), 'x/y.csv')), 'content');
    // Seven columns with an empty fifth field: comments or a live chat; only a path naming comments tells.
    assert.equal(youtubeCsvSource.detect(probe(read('Kommentare.csv'), 'x/y.csv')), null);
    assert.equal(youtubeCsvSource.detect(probe(read('Kommentare.csv'), 'Takeout/YouTube und YouTube Music/Kommentare/Kommentare.csv')), 'content');
    assert.equal(youtubeCsvSource.detect(probe(Buffer.alloc(0), `${YT}/live chats/live chats.csv`)), 'path');
    // Through the registry (detection is content first): the live chats file is this source's, not a document.
    assert.equal(detectSource(probe(read('live chats.csv'), `${YT}/live chats/live chats.csv`))?.id, 'google.youtube.csv');
    assert.equal(detectSource(probe(read('Livechats.csv'), 'Takeout/YouTube und YouTube Music/Livechats/Livechats.csv'))?.id, 'google.youtube.csv');
  });

  test('live chats.csv: JSON segments joined, mentions, microseconds, CRLF, a bad timestamp at its line', async () => {
    const bytes = read('live chats.csv');
    const result = await run(youtubeCsvSource, bytes, `${YT}/live chats/live chats.csv`);
    assert.deepEqual(result.records.map(summary), [
      ['live_chat_message', '2018-09-02T05:16:35.510Z', 381, '"think the right thing" jeez', 'https://www.youtube.com/watch?v=0vGCh85obuI'],
      ['live_chat_message', '2024-03-01T10:00:00.000Z', 1, 'hi @host 👋', 'https://www.youtube.com/watch?v=liveVideo01'],
      ['live_chat_message', '2024-03-01T10:05:00.000Z', 0, 'two\nlines, grüße', 'https://www.youtube.com/watch?v=liveVideo01'],
      ['live_chat_message', '2024-03-01T10:06:00.000Z', 0, 'no video', null],
    ]);
    assert.ok(result.records.every((record) => record.source === 'google.youtube.csv' && record.utcOffsetMinutes === null));
    assert.deepEqual(result.records[0]?.key, ['youtube-live-chat', 'UgwsChat0001AaABDqgB']);
    assert.deepEqual(result.records[1]?.attributes, {
      liveChatId: 'ChwKGkNKchat0002', channelId: ME, videoId: 'liveVideo01', price: '0', mentionedChannelIds: ['UChostHostHostHostHost00'],
    });
    assert.deepEqual(result.records[3]?.attributes, { liveChatId: 'ChwKGkNKchat0005', channelId: ME, price: '0' });
    // Each record's offset is where its line starts.
    const lineStarts = bytes.toString('latin1').split('\r\n').slice(0, -1).map((_, i, lines) => lines.slice(0, i).reduce((sum, line) => sum + line.length + 2, 0));
    assert.deepEqual(result.offsets, [lineStarts[1], lineStarts[2], lineStarts[3], lineStarts[5]]);
    assert.deepEqual(result.rejections.map((rejection) => [rejection.category, rejection.line, rejection.byteOffset]), [['invalid', 5, lineStarts[4]]]);
    assert.match(result.rejections[0]?.reason ?? '', /Live Chat Create Timestamp: timestamp "not a time"/);
    assert.match(result.rejections[0]?.excerpt ?? '', /when was this\?/);
  });

  test('the newer layout with Currency code: a Super Chat keeps its price and currency', async () => {
    const result = await run(youtubeCsvSource, read('live chats-currency.csv'), `${YT}/live chats/live chats.csv`);
    assert.deepEqual(result.records.map(summary), [
      ['live_chat_message', '2025-06-01T20:00:00.250Z', 0, 'thanks for the stream!', 'https://www.youtube.com/watch?v=liveVideo02'],
      ['live_chat_message', '2025-06-01T20:01:00.000Z', 0, 'gg', 'https://www.youtube.com/watch?v=liveVideo02'],
    ]);
    assert.deepEqual(result.records[0]?.attributes, { liveChatId: 'ChwKGkNKchat0101', channelId: ME, videoId: 'liveVideo02', price: '4.99', currencyCode: 'EUR' });
    assert.equal(result.rejections.length, 0);
  });

  test('localized headers: live chats and comments read by column place', async () => {
    const chats = await run(youtubeCsvSource, read('Livechats.csv'), 'Takeout/YouTube und YouTube Music/Livechats/Livechats.csv');
    assert.deepEqual(chats.records.map(summary), [['live_chat_message', '2023-05-05T05:05:05.123Z', 456, 'servus', 'https://www.youtube.com/watch?v=deStream002']]);
    assert.deepEqual(chats.records[0]?.attributes, { liveChatId: 'ChwKGkNKchat0201', channelId: ME, videoId: 'deStream002', price: '0' });

    const comments = await run(youtubeCsvSource, read('Kommentare.csv'), 'Takeout/YouTube und YouTube Music/Kommentare/Kommentare.csv');
    assert.deepEqual(comments.records.map(summary), [
      ['comment', '2023-06-06T06:06:06.000Z', 0, 'Toll!', 'https://www.youtube.com/watch?v=deVideo0002&lc=UgwGermanCsv09AaABAg'],
      ['comment', '2023-06-06T07:00:00.000Z', 0, 'Danke', 'https://www.youtube.com/watch?v=deVideo0002&lc=UgwGermanCsv09AaABAg.reply10'],
    ]);
    assert.deepEqual(comments.records[1]?.key, ['youtube-comment', 'UgwGermanCsv09AaABAg.reply10']);
    assert.equal(comments.records[1]?.attributes?.parentCommentId, 'UgwGermanCsv09AaABAg');
    assert.equal(comments.rejections.length, 0);
  });

  test('a localized header that fits no layout is one unsupported rejection at line 1, and nothing else', async () => {
    // The same file where the path names neither comments nor chats: which it is cannot be told.
    const ambiguous = await run(youtubeCsvSource, read('Kommentare.csv'), 'Takeout/YouTube und YouTube Music/x/daten.csv');
    assert.equal(ambiguous.events.length, 1);
    assert.deepEqual(ambiguous.rejections.map((rejection) => [rejection.category, rejection.line, rejection.byteOffset]), [['unsupported', 1, 0]]);
    assert.match(ambiguous.rejections[0]?.reason ?? '', /Kommentar-ID/);
    // Plain text where the JSON segments should be: not recognised either.
    const plain = Buffer.from(`ID,Kanal,Zeit,Preis,Video,Text\nChat1,${ME},2024-01-01T00:00:00Z,0,vid,hello there\n`);
    const refused = await run(youtubeCsvSource, plain, 'x/Livechats.csv');
    assert.deepEqual(refused.rejections.map((rejection) => [rejection.category, rejection.line]), [['unsupported', 1]]);
    assert.equal(refused.records.length, 0);
    // A header of unknown names with no row after it.
    const headerOnly = await run(youtubeCsvSource, Buffer.from('ID,Kanal,Zeit,Preis,Video,Text\r\n'), 'x/Livechats.csv');
    assert.deepEqual(headerOnly.rejections.map((rejection) => [rejection.category, rejection.line]), [['unsupported', 1]]);
  });

  test('localizedLayout: the places of the known layouts, from the first row', () => {
    const header = (n: number) => Array.from({ length: n }, (_, i) => `c${i}`);
    const text = '{"text":"x"}';
    assert.deepEqual(localizedLayout(header(7), ['L1', ME, '2024-01-01T00:00:00Z', '1.5', 'USD', 'v', text], 'x.csv')?.names,
      ['live chat id', 'channel id', 'live chat create timestamp', 'price', 'currency code', 'video id', 'live chat text']);
    assert.deepEqual(localizedLayout(header(9), ['C1', ME, '2024-01-01T00:00:00Z', '0', '', 'post', '', text, 'C0'], 'x.csv')?.names,
      ['comment id', 'channel id', 'comment create timestamp', 'price', 'parent comment id', 'post id', 'video id', 'comment text', 'top-level comment id']);
    assert.equal(localizedLayout(header(7), ['C1', ME, '2024-01-01T00:00:00Z', '0', 'C0', 'v', text], 'x.csv')?.kind, 'comments');
    assert.equal(localizedLayout(header(7), ['C1', ME, '2024-01-01T00:00:00Z', '0', '', 'v', text], 'a/Chats en direct/b.csv')?.kind, 'liveChats');
    // Not a channel id, not a timestamp, not a price, two text columns: nothing.
    assert.equal(localizedLayout(header(6), ['L1', 'me', '2024-01-01T00:00:00Z', '0', 'v', text], 'x.csv'), null);
    assert.equal(localizedLayout(header(6), ['L1', ME, '2024-01-01', '0', 'v', text], 'x.csv'), null);
    assert.equal(localizedLayout(header(6), ['L1', ME, '2024-01-01T00:00:00Z', 'free', 'v', text], 'x.csv'), null);
    assert.equal(localizedLayout(header(7), ['L1', ME, '2024-01-01T00:00:00Z', '0', 'v', text, text], 'x.csv'), null);
    assert.deepEqual(leadingCsvRecords('a,"b ""q"",\r\nc"\r\nd,e\nf', 3), [['a', 'b "q",\r\nc'], ['d', 'e']]);
  });

  test('1-byte, 7-byte and 64 KiB chunks give identical events for every CSV fixture', async () => {
    for (const name of readdirSync(DIR).filter((file) => file.endsWith('.csv'))) {
      const bytes = read(name);
      const filePath = `Takeout/YouTube und YouTube Music/Kommentare/${name}`;
      const whole = await run(youtubeCsvSource, bytes, filePath);
      assert.ok(whole.records.length > 0, name);
      assert.deepEqual(await run(youtubeCsvSource, bytes, filePath, 1), whole, name);
      assert.deepEqual(await run(youtubeCsvSource, bytes, filePath, 7), whole, name);
    }
  });
});

describe('google.youtube.comments.html', () => {
  const HTML_FILES = ['my-comments.html', 'my-live-chat-messages.html', 'Meine Kommentare.html', 'meine-live-chat-nachrichten.html'];

  test('detect: content for entries in the head, whatever the name; path for the name alone; nothing for other HTML', () => {
    for (const name of HTML_FILES) assert.equal(youtubeCommentsHtmlSource.detect(probe(read(name), 'x/y.html')), 'content', name);
    assert.equal(youtubeCommentsHtmlSource.detect(probe(Buffer.alloc(0), `${YT}/my-comments/my-comments.html`)), 'path');
    assert.equal(youtubeCommentsHtmlSource.detect(probe(Buffer.alloc(0), `${YT}/my-live-chat-messages/my-live-chat-messages.html`)), 'path');
    assert.equal(youtubeCommentsHtmlSource.detect(probe(Buffer.alloc(0), `${YT}/history/watch-history.html`)), null);
    for (const name of readdirSync(MY_ACTIVITY_DIR)) {
      assert.equal(youtubeCommentsHtmlSource.detect(probe(readFileSync(new URL(name, MY_ACTIVITY_DIR)), 'x/y.html')), null, name);
    }
    const otherList = Buffer.from('<ul><li>Visit <a href="https://www.youtube.com/watch?v=x">this</a></li><li>Updated 2024-01-01 10:00:00 UTC</li></ul>');
    assert.equal(youtubeCommentsHtmlSource.detect(probe(otherList, 'x/y.html')), null);
    // My Activity's source does not take these files, and the registry with this source does.
    for (const name of HTML_FILES) {
      assert.equal(myActivityHtmlSource.detect(probe(read(name), 'x/y.html')), null, name);
      assert.equal(detectSource(probe(read(name), `${YT}/my-comments/${name}`), WITH_HTML_SOURCE)?.id, 'google.youtube.comments.html', name);
    }
    assert.equal(detectSource(probe(readFileSync(new URL('watch-history.html', MY_ACTIVITY_DIR)), `${YT}/history/watch-history.html`), WITH_HTML_SOURCE)?.id, 'google.myactivity.html');
  });

  test('my-comments.html: comments and replies, posts, old dates, links in the text; unreadable dates quarantined with their text', async () => {
    const bytes = read('my-comments.html');
    const result = await run(youtubeCommentsHtmlSource, bytes, `${YT}/my-comments/my-comments.html`);
    assert.deepEqual(result.records.map(summary), [
      ['comment', '2020-05-24T20:10:05.000Z', 0, 'Charge your phone first :/', 'http://www.youtube.com/watch?v=qZI91fucyQ8&lc=UgwTopLevelComment01AaABAg'],
      ['comment', '2019-04-09T22:51:42.000Z', 0, "So it cost you about 800 & some?\nSee 1:02 'there'", 'http://www.youtube.com/watch?v=facmiPgeMNM&lc=UgwParentComment02AaABAg.9reply00001'],
      ['comment', '2021-01-02T03:04:05.000Z', 0, 'Café au lait, 日本語, 🎉 — merci', 'https://www.youtube.com/post/UgkxPost00001?lc=UgzPostComment03AaABAg'],
      ['comment', '2016-06-15T08:50:49.000Z', 0, 'first!', 'http://www.youtube.com/watch?v=oldVideo001&lc=z12oldcommentid'],
      ['comment', '2022-07-08T09:10:11.000Z', 0, 'great replay', 'http://www.youtube.com/watch?v=titleDate01&lc=UgwTitleDate05AaABAg'],
      ['comment', '2018-01-01T10:00:00.000Z', 0, 'orphan text', null],
    ]);
    assert.ok(result.records.every((record) => record.source === 'google.youtube.comments.html' && record.utcOffsetMinutes === null));
    assert.deepEqual(result.records.map((record) => record.key), [
      ['youtube-comment', 'UgwTopLevelComment01AaABAg'],
      ['youtube-comment', 'UgwParentComment02AaABAg.9reply00001'],
      ['youtube-comment', 'UgzPostComment03AaABAg'],
      ['youtube-comment', 'z12oldcommentid'],
      ['youtube-comment', 'UgwTitleDate05AaABAg'],
      ['youtube-comment-html', null, Date.parse('2018-01-01T10:00:00Z') * 1000, 'orphan text'],
    ]);
    // A reply: its id is parent.reply; a top-level comment has no parent.
    assert.equal(result.records[1]?.attributes?.parentCommentId, 'UgwParentComment02AaABAg');
    assert.equal(result.records[0]?.attributes?.parentCommentId, undefined);
    assert.equal(result.records[2]?.attributes?.postId, 'UgkxPost00001');
    assert.equal(result.records[2]?.attributes?.videoId, undefined);
    assert.deepEqual(result.records[0]?.attributes, {
      description: 'You added a comment on a video at 2020-05-24 20:10:05 UTC.',
      commentId: 'UgwTopLevelComment01AaABAg',
      videoId: 'qZI91fucyQ8',
      links: [
        { text: 'comment', url: 'http://www.youtube.com/watch?v=qZI91fucyQ8&lc=UgwTopLevelComment01AaABAg' },
        { text: 'a video', url: 'http://www.youtube.com/watch?v=qZI91fucyQ8' },
      ],
    });

    const items = itemOffsets(bytes);
    assert.equal(items.length, 9);
    assert.deepEqual(result.offsets, [items[0], items[1], items[2], items[3], items[4], items[8]]);
    assert.deepEqual(result.rejections.map((rejection) => [rejection.category, rejection.byteOffset, rejection.excerpt]), [
      ['unsupported', items[5], 'You added a comment on a video on May 24, 2020.\nthis text is kept in the quarantine'],
      ['unsupported', items[6], 'You added a comment on a video at 2020-05-24 20:10:05.\nno zone here'],
      ['invalid', items[7], 'You added a comment on a video at 2019-02-30 10:00:00 UTC.\nleap?'],
    ]);
    assert.match(result.rejections[1]?.reason ?? '', /states no time zone/);
    assert.match(result.rejections[2]?.reason ?? '', /"2019-02-30 10:00:00 UTC" does not exist/);
    assert.deepEqual(result.repairs, { invalidUtf8: 0, nulCharacters: 0 });
  });

  test('my-live-chat-messages.html: chat messages with and without a video link, multiline, non-ASCII', async () => {
    const bytes = read('my-live-chat-messages.html');
    const result = await run(youtubeCommentsHtmlSource, bytes, `${YT}/my-live-chat-messages/my-live-chat-messages.html`);
    assert.deepEqual(result.records.map(summary), [
      ['live_chat_message', '2019-08-24T12:43:19.000Z', 0, 'Rest in peace', 'http://www.youtube.com/watch?v=VPcsiYYubi0'],
      ['live_chat_message', '2020-04-27T23:18:23.000Z', 0, 'first line\nsecond line', 'https://youtu.be/liveStream2'],
      ['live_chat_message', '2020-04-27T23:18:24.000Z', 0, 'Grüße aus Köln <3 ❤️', 'http://www.youtube.com/watch?v=liveStream2'],
      ['live_chat_message', '2021-03-03T03:03:03.000Z', 0, 'stream gone', null],
    ]);
    assert.deepEqual(result.records[1]?.key, ['youtube-live-chat-html', 'liveStream2', Date.parse('2020-04-27T23:18:23Z') * 1000, 'first line\nsecond line']);
    assert.deepEqual(result.records[1]?.attributes?.videoId, 'liveStream2');
    assert.equal(result.records[3]?.attributes?.videoId, undefined);
    const items = itemOffsets(bytes);
    assert.deepEqual(result.offsets, items.slice(0, 4));
    assert.deepEqual(result.rejections.map((rejection) => [rejection.category, rejection.byteOffset, rejection.excerpt]), [
      ['unsupported', items[4], 'Sent at yesterday while watching a video.\nlost in time'],
    ]);
  });

  test('German exports: recognised by structure, the kind from the permalink or the path; indentation and CRLF are white space', async () => {
    const comments = await run(youtubeCommentsHtmlSource, read('Meine Kommentare.html'), 'Takeout/YouTube und YouTube Music/Meine Kommentare/Meine Kommentare.html');
    assert.deepEqual(comments.records.map(summary), [
      ['comment', '2021-12-24T18:00:00.000Z', 0, 'Frohe Weihnachten!', 'http://www.youtube.com/watch?v=deVideo0001&lc=UgwGerman08AaABAg'],
    ]);
    assert.equal(comments.records[0]?.attributes?.description, 'Du hast einen Kommentar zu einem Video hinzugefügt: 2021-12-24 18:00:00 UTC.');
    const chats = await run(youtubeCommentsHtmlSource, read('meine-live-chat-nachrichten.html'), 'Takeout/YouTube und YouTube Music/meine-live-chat-nachrichten/x.html');
    assert.deepEqual(chats.records.map(summary), [['live_chat_message', '2022-02-02T20:22:02.000Z', 0, 'Hallo zusammen', 'http://www.youtube.com/watch?v=deStream001']]);
    // Without a permalink, a path naming comments makes a comment; the same entry elsewhere is a chat message.
    const entry = Buffer.from('<ul><li>Sent at 2020-01-01 00:00:00 UTC <a href="https://www.youtube.com/watch?v=v1">a video</a><br>hi</li></ul>');
    assert.equal((await run(youtubeCommentsHtmlSource, entry, 'Takeout/YouTube/Meine Kommentare/Meine Kommentare.html')).records[0]?.kind, 'comment');
    assert.equal((await run(youtubeCommentsHtmlSource, entry, 'Takeout/YouTube/x/y.html')).records[0]?.kind, 'live_chat_message');
  });

  test('zones: GMT and offsets read, a non-zero offset kept; fractions of a second kept to the microsecond', async () => {
    const bytes = Buffer.from(
      '<ul><li>at 2020-01-01 10:00:00 GMT <a href="https://www.youtube.com/watch?v=a">v</a><br>one</li>' +
        '<li>at 2020-01-01T10:00:00.123456+02:00 <a href="https://www.youtube.com/watch?v=b">v</a><br>two</li></ul>',
    );
    const result = await run(youtubeCommentsHtmlSource, bytes, 'x/chat.html');
    assert.deepEqual(result.records.map((record) => [record.occurredAt.toISOString(), record.occurredAtMicros, record.utcOffsetMinutes]), [
      ['2020-01-01T10:00:00.000Z', 0, null],
      ['2020-01-01T08:00:00.123Z', 456, 120],
    ]);
  });

  test('invalid UTF-8 is counted and replaced; an oversized entry is too_large and the next one still read', async () => {
    const broken = Buffer.concat([Buffer.from('<ul><li>at 2020-01-01 10:00:00 UTC <a href="https://youtu.be/a">v</a><br>bad '), Buffer.from([0xff]), Buffer.from(' byte</li></ul>')]);
    const repaired = await run(youtubeCommentsHtmlSource, broken, 'x/chat.html');
    assert.equal(repaired.records[0]?.text, 'bad \ufffd byte');
    assert.equal(repaired.repairs.invalidUtf8, 1);

    const big = Buffer.from(
      `<ul><li>at 2020-01-01 10:00:00 UTC <a href="https://youtu.be/a">v</a><br>${'x'.repeat(MAX_ENTRY_BYTES + 10)}</li>` +
        '<li>at 2020-01-02 10:00:00 UTC <a href="https://youtu.be/b">v</a><br>small</li></ul>',
    );
    const result = await run(youtubeCommentsHtmlSource, big, 'x/chat.html');
    assert.deepEqual(result.rejections.map((rejection) => [rejection.category, rejection.byteOffset]), [['too_large', 4]]);
    assert.deepEqual(result.records.map((record) => record.text), ['small']);
  });

  test('a file without entries is unsupported; a read failure is a ParseError at the byte reached', async () => {
    const empty = await run(youtubeCommentsHtmlSource, Buffer.from('<html><body><h1>My comments</h1></body></html>'), `${YT}/my-comments/my-comments.html`);
    assert.deepEqual(empty.rejections.map((rejection) => rejection.category), ['unsupported']);
    assert.equal(empty.records.length, 0);

    const input = new Readable({ read() {} });
    input.push(read('my-comments.html').subarray(0, 300));
    setImmediate(() => input.destroy(new Error('disk went away')));
    await assert.rejects(
      async () => {
        for await (const _event of youtubeCommentsHtmlSource.parse(input, { path: 'my-comments.html', repairs: { invalidUtf8: 0, nulCharacters: 0 } })) {
          // drain
        }
      },
      (error: unknown) => error instanceof ParseError && error.byteOffset === 300 && /my-comments\.html/.test(error.message),
    );
  });

  test('1-byte, 7-byte and 64 KiB chunks give identical events for every HTML fixture', async () => {
    for (const name of HTML_FILES) {
      const bytes = read(name);
      const filePath = `${YT}/my-comments/${name}`;
      const whole = await run(youtubeCommentsHtmlSource, bytes, filePath);
      assert.ok(whole.records.length > 0, name);
      assert.deepEqual(await run(youtubeCommentsHtmlSource, bytes, filePath, 1), whole, name);
      assert.deepEqual(await run(youtubeCommentsHtmlSource, bytes, filePath, 7), whole, name);
    }
  });
});

describe('through the import', () => {
  let t: TestLake;
  let dir: string;
  let user: string;
  const FILES: Record<string, string> = {
    [`${YT}/live chats/live chats.csv`]: 'live chats.csv',
    [`${YT}/my-comments/my-comments.html`]: 'my-comments.html',
    [`${YT}/my-live-chat-messages/my-live-chat-messages.html`]: 'my-live-chat-messages.html',
    'Takeout/YouTube und YouTube Music/Livechats/Livechats.csv': 'Livechats.csv',
    'Takeout/YouTube und YouTube Music/Meine Kommentare/Meine Kommentare.html': 'Meine Kommentare.html',
  };
  const importAll = () => runImport(t.lake.db, { userId: user, inputs: [path.join(dir, 'Takeout')], batchSize: 100, sources: WITH_HTML_SOURCE });
  const rows = async <T>(sql: string): Promise<T[]> => (await t.lake.db.asUser(user, (tx) => tx.query<T & object>(sql))).rows as T[];

  before(async () => {
    t = await openTestLake();
    user = await createUser(t.lake, 'youtube-comments');
    dir = await mkdtemp(path.join(os.tmpdir(), 'lake-youtube-comments-'));
    for (const [name, fixture] of Object.entries(FILES)) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await writeFile(path.join(dir, name), read(fixture));
    }
  });
  after(async () => {
    await t?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test('every file is read by its source, not kept as a document; items, microseconds and quarantine as parsed', async () => {
    const report = await importAll();
    // The report names files from the input folder on: matched on their last two parts.
    const byPath = Object.fromEntries(report.files.map((file) => [file.path.split('/').slice(-2).join('/'), file]));
    assert.equal(report.files.length, 5);
    const expected: Record<string, [string, number, Record<string, number>]> = {
      'live chats/live chats.csv': ['google.youtube.csv', 4, { invalid: 1 }],
      'my-comments/my-comments.html': ['google.youtube.comments.html', 6, { unsupported: 2, invalid: 1 }],
      'my-live-chat-messages/my-live-chat-messages.html': ['google.youtube.comments.html', 4, { unsupported: 1 }],
      'Livechats/Livechats.csv': ['google.youtube.csv', 1, {}],
      'Meine Kommentare/Meine Kommentare.html': ['google.youtube.comments.html', 1, {}],
    };
    for (const [name, [format, records, quarantined]] of Object.entries(expected)) {
      const file = byPath[name];
      assert.ok(file, `${name} in ${report.files.map((f) => f.path).join(', ')}`);
      assert.deepEqual([file.format, file.records, file.counts, file.quarantined], [format, records, { activityItems: records }, quarantined], name);
    }
    assert.equal(report.totals.records, 16);

    const counts = await rows<{ source: string; kind: string; n: string }>(
      `SELECT source, kind, count(*) AS n FROM user_data.items GROUP BY source, kind ORDER BY source, kind`,
    );
    assert.deepEqual(counts.map((row) => [row.source, row.kind, Number(row.n)]), [
      ['google.youtube.comments.html', 'comment', 7],
      ['google.youtube.comments.html', 'live_chat_message', 4],
      ['google.youtube.csv', 'live_chat_message', 5],
    ]);
    const [chat] = await rows<{ at: string; body: string; url: string; attributes: Record<string, unknown> }>(
      `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at, body, url, attributes
         FROM user_data.items WHERE attributes->>'liveChatId' = 'UgwsChat0001AaABDqgB'`,
    );
    assert.deepEqual(chat, {
      at: '2018-09-02T05:16:35.510381',
      body: '"think the right thing" jeez',
      url: 'https://www.youtube.com/watch?v=0vGCh85obuI',
      attributes: { liveChatId: 'UgwsChat0001AaABDqgB', channelId: ME, videoId: '0vGCh85obuI', price: '0' },
    });
    const [reply] = await rows<{ at: string; body: string; parent: string }>(
      `SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') AS at, body, attributes->>'parentCommentId' AS parent
         FROM user_data.items WHERE attributes->>'commentId' = 'UgwParentComment02AaABAg.9reply00001'`,
    );
    assert.deepEqual(reply, { at: '2019-04-09T22:51:42', body: "So it cost you about 800 & some?\nSee 1:02 'there'", parent: 'UgwParentComment02AaABAg' });
    const [german] = await rows<{ body: string }>(`SELECT body FROM user_data.items WHERE attributes->>'commentId' = 'UgwGerman08AaABAg'`);
    assert.equal(german?.body, 'Frohe Weihnachten!');

    const quarantined = await rows<{ entry: string; category: string; excerpt: string }>(
      `SELECT entry, category, excerpt FROM imports.quarantine ORDER BY entry, byte_offset`,
    );
    assert.deepEqual(quarantined.map((row) => [row.entry.slice(row.entry.lastIndexOf('/') + 1), row.category, row.excerpt.split('\n').at(-1)]), [
      ['live chats.csv', 'invalid', `ChwKGkNKchat0004,${ME},not a time,0,liveVideo01,{"text":"when was this?"}`],
      ['my-comments.html', 'unsupported', 'this text is kept in the quarantine'],
      ['my-comments.html', 'unsupported', 'no zone here'],
      ['my-comments.html', 'invalid', 'leap?'],
      ['my-live-chat-messages.html', 'unsupported', 'lost in time'],
    ]);
    const documents = await rows<{ n: string }>(`SELECT count(*) AS n FROM user_data.documents`);
    assert.equal(Number(documents[0]?.n), 0);
  });

  test('importing the same export again adds nothing', async () => {
    const again = await importAll();
    assert.equal(again.status, 'done');
    assert.equal(again.totals.records, 0);
    assert.equal(again.totals.duplicates, 16);
    const [count] = await rows<{ n: string }>(`SELECT count(*) AS n FROM user_data.items`);
    assert.equal(Number(count?.n), 16);
  });
});
