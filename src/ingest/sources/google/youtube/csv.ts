// YouTube's CSV files in Google Takeout ("YouTube and YouTube Music/"), recognised by their header
// row (names trimmed, BOM removed, compared case-insensitively, so "Comment create timestamp"
// and "Comment Create Timestamp" are one column; columns are found by name, in any order):
//
//   file                      header names (required ones in capitals here)      records
//   subscriptions.csv         CHANNEL ID, CHANNEL URL, CHANNEL TITLE              item `subscription`
//   comments.csv              COMMENT ID, COMMENT CREATE TIMESTAMP, COMMENT TEXT,  item `comment`
//                             Channel ID, Video ID, Post ID, Parent Comment ID,
//                             Top-level Comment ID, Price, Currency Code
//   live chats.csv            LIVE CHAT ID, LIVE CHAT CREATE TIMESTAMP, LIVE     item `live_chat_message`
//                             CHAT TEXT, Channel ID, Video ID, Price (a Super
//                             Chat's amount), Currency Code, Parent Live Chat ID
//   playlists.csv             PLAYLIST ID, PLAYLIST CREATE TIMESTAMP, Playlist      item `playlist`
//                             Title (Original) or Playlist Title, ...Update
//                             Timestamp, ...Visibility, ...Video Order, ...
//   <name>-videos.csv         VIDEO ID, PLAYLIST VIDEO CREATION TIMESTAMP         item `playlist_item`
//   <name>.csv (before 2022)  PLAYLIST ID, ..., TIME CREATED, ..., TITLE; one     item `playlist`, then
//                             row; a blank line; VIDEO ID, TIME ADDED; rows       `playlist_item`s
//
// Header names follow the account's language (a Spanish export's playlist files say "ID del
// video"...), and only the English names are known here. A comments or live chats file with
// other names is recognised by its structure instead: its first row holds, at the places of one
// of the English layouts below, an id, a channel id (UC + 22 characters), an ISO timestamp, a
// price (a number or nothing) and the only text of JSON segments in the row; the columns are
// then read by those places (any after the known ones are not read):
//   live chats  id, channel, timestamp, price, [currency code,] video, text
//   comments    id, channel, timestamp, price, parent, [post,] video, text[, top-level id]
// Where the text is the seventh column, either could be meant: a three-letter currency code
// (EUR) in the fifth says live chat, a parent comment id says comment, and an empty fifth field
// leaves it to the file's path ("chat" in it: live chats; a word for comments: comments).
// Anything else stays an unknown header (`unsupported`): the columns are never guessed.
//
// Comment text: newer exports write JSON segments, `{"text":"Hi "},{"text":"@x","mention":{…}}`
// (comma-separated objects), or before mid-2024 `{"takeoutSegments":[{"text":"…"}]}`; the
// segments' texts are joined. Text that is not such JSON is kept as written (older exports).
//
// Subscriptions carry no date, but an item needs one: occurredAt is the export time
// (`context.exportedAt`: the archive entry's or file's modification time), else the start of this
// import, and attributes.occurredAt says which ('export' or 'import'). The date is part of the
// row's primary key, so the same export imported again adds nothing; a later export lists a
// subscription again at its own date (an observation per export). Only without any export time
// would a re-import add rows, and the report's 'import' flag says so.
//
// Timestamps: ISO 8601 with an offset (takeout-dates.ts), microseconds kept (occurredAtMicros; the
// playlist item key's time stays in milliseconds). Takeout writes them in UTC, so
// utcOffsetMinutes is null unless a non-zero offset is written.
//
// Rejections carry the line where the row starts (1-based; a quoted field may span lines) and
// its byte offset: `malformed` for a row the CSV parser refuses (a quote never closed; a stray
// quote inside a field is kept as text) or with another number of fields than the header (an
// unquoted comma shifts the columns after it), `invalid` for a missing id or unreadable timestamp, and
// `unsupported` for a header this source does not know, neither by its names nor by the
// structure of the row after it (then nothing else is read: the rows would mean nothing).
// Empty lines are skipped, and so are lines of white space only (a trailing "    " line): they hold
// no field. A quoted field of white space (`"   "`) is a value written, and is read as a row.
// Not read: channel.csv, video metadata, music library CSVs.
import type { Readable } from 'node:stream';
import type { ItemRecord, ParseEvent, QuarantineCategory } from '../../../records.js';
import { defineSource, type ParseContext, type Source } from '../../../source.js';
import { YOUTUBE_CSV } from './entries.js';
import { commentText, localizedLayout, standardizeHeaderName, tableKindOf, type TableKind } from './tables.js';
import { parseIsoTimestamp } from '../takeout-dates.js';
import { CsvPositions, csvRowBatches, type CsvRow, type RowPosition } from '../../../parse/csv-rows.js';

export const YOUTUBE_CSV_SOURCE_ID = YOUTUBE_CSV.id;

/** A row larger than this is refused by the CSV parser (a runaway quoted field). */
export const MAX_ROW_BYTES = 8 * 1024 * 1024;
const EXCERPT_CHARS = 200;

export const youtubeCsvSource: Source = defineSource(YOUTUBE_CSV, {
  parse: parseYouTubeCsv,
});

/** Where a row starts. */
export async function* parseYouTubeCsv(input: Readable, context: ParseContext): AsyncIterable<ParseEvent> {
  const exportedAt = context.exportedAt ?? null;
  const subscriptionDate = exportedAt ?? new Date();
  const window = new CsvPositions();
  const raw = new FirstBytes();
  const table = new TableReader(context.path, subscriptionDate, exportedAt !== null);
  const onChunk = (chunk: Buffer) => {
    window.append(chunk);
    raw.append(chunk);
  };
  for await (const rows of csvRowBatches(input, context.path, { maxRowBytes: MAX_ROW_BYTES, onChunk })) {
    yield* table.readAll(rows, window, raw);
    if (table.stopped) return;
  }
  yield* table.finish();
  if (!table.sawHeader) {
    yield { kind: 'reject', rejection: { category: 'malformed', reason: 'empty CSV file: no header row', line: 1, byteOffset: 0 } };
  }
}

/**
 * The file's bytes from the start of the current batch's rows on, to tell a line of white space
 * from a quoted field of it (csv-parse gives both as one field). Chunks wholly before the last
 * row read are dropped: what is held is at most the rows of one chunk, as in CsvPositions.
 */
class FirstBytes {
  private chunks: Buffer[] = [];
  private base = 0;

  append(chunk: Buffer): void {
    if (chunk.length > 0) this.chunks.push(chunk);
  }

  /** The byte at `offset`, or undefined when it was dropped or not read yet. */
  at(offset: number): number | undefined {
    let start = this.base;
    for (const chunk of this.chunks) {
      if (offset < start + chunk.length) return offset >= start ? chunk[offset - start] : undefined;
      start += chunk.length;
    }
    return undefined;
  }

  /** Drops the chunks that end at or before `offset`. */
  release(offset: number): void {
    while (this.chunks.length > 0 && this.base + this.chunks[0]!.length <= offset) this.base += this.chunks.shift()!.length;
  }
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];
const QUOTE = 0x22;

/** A row of one unquoted field of white space: a line of spaces or tabs, no value in it. */
function isBlankLine(fields: readonly string[], rowStart: number, raw: FirstBytes): boolean {
  if (fields.length !== 1 || !/^[ \t\f\v]+$/.test(fields[0]!)) return false;
  let at = rowStart;
  if (at === 0 && UTF8_BOM.every((byte, i) => raw.at(i) === byte)) at = 3;
  // Spaces before a quote make csv-parse keep the quote as text (relax_quotes): only a quote first is a quoted field.
  return raw.at(at) !== QUOTE;
}

function countNewlines(fields: readonly string[]): number {
  let count = 0;
  for (const field of fields) {
    for (let at = field.indexOf('\n'); at !== -1; at = field.indexOf('\n', at + 1)) count++;
  }
  return count;
}

/** Column positions by standardized name. */
class Columns {
  private readonly index = new Map<string, number>();
  readonly count: number;

  constructor(names: readonly string[]) {
    names.forEach((name, i) => {
      if (!this.index.has(name)) this.index.set(name, i);
    });
    this.count = names.length;
  }

  get(fields: readonly string[], ...names: string[]): string {
    for (const name of names) {
      const i = this.index.get(name);
      if (i !== undefined) {
        const value = (fields[i] ?? '').trim();
        if (value !== '') return value;
      }
    }
    return '';
  }
}

class RowRejection {
  constructor(
    readonly category: QuarantineCategory,
    readonly reason: string,
  ) {}
}

/** Turns parsed rows into events, switching on the header it first meets. */
class TableReader {
  sawHeader = false;
  /** Set when the header is unknown: nothing more is read. */
  stopped = false;
  private kind: TableKind | null = null;
  private columns: Columns | null = null;
  /** A header of unknown names, kept until the first row tells whether its structure is known. */
  private unknownHeader: { fields: string[]; position: RowPosition } | null = null;
  private legacyPhase: 'metadata' | 'videoHeader' | 'videos' = 'metadata';
  private legacyPlaylist: { id: string; title: string } | null = null;
  private readonly playlistName: string;
  /** End of the last row the CSV parser read; null after a refused row, whose end is unknown. */
  private previousRowEnd: number | null = 0;

  constructor(
    private readonly path: string,
    private readonly subscriptionDate: Date,
    private readonly dateIsExportTime: boolean,
  ) {
    const fileName = path.slice(path.lastIndexOf('/') + 1);
    this.playlistName = fileName.replace(/\.csv$/i, '').replace(/-videos$/i, '');
  }

  *readAll(rows: CsvRow[], window: CsvPositions, raw: FirstBytes): Iterable<ParseEvent> {
    for (const row of rows) {
      if (this.stopped) return;
      if ('error' in row) {
        // A refused row starts after the previous row; the parser reports where it gave up,
        // which is further on. Its own "at line N" miscounts CRLF inside quotes, so it is cut.
        const position = window.nextContent(this.previousRowEnd ?? row.atByte);
        this.previousRowEnd = null;
        const message = row.error.message.replace(/ at line \d+/, '');
        yield reject('malformed', `CSV row could not be read: ${message}`, position, null);
        continue;
      }
      const position = window.rowStart(row.endByte, countNewlines(row.fields));
      this.previousRowEnd = row.endByte;
      if (isBlankLine(row.fields, position.offset, raw)) continue;
      yield* this.read(row.fields, position);
    }
    if (this.previousRowEnd !== null) raw.release(this.previousRowEnd);
  }

  /** At the end of the file: a header of unknown names with no row after it is refused. */
  *finish(): Iterable<ParseEvent> {
    if (this.unknownHeader !== null) yield* this.refuseUnknownHeader();
  }

  private *refuseUnknownHeader(): Iterable<ParseEvent> {
    const { fields, position } = this.unknownHeader as { fields: string[]; position: RowPosition };
    this.unknownHeader = null;
    this.stopped = true;
    yield reject('unsupported', `header ${JSON.stringify(fields.join(','))} is not a YouTube CSV this source reads`, position, fields.join(','));
  }

  private *read(fields: string[], position: RowPosition): Iterable<ParseEvent> {
    if (!this.sawHeader) {
      this.sawHeader = true;
      this.useHeader(fields);
      if (this.kind === null) this.unknownHeader = { fields, position };
      return;
    }
    if (this.unknownHeader !== null) {
      const layout = localizedLayout(this.unknownHeader.fields, fields, this.path);
      if (layout === null) {
        yield* this.refuseUnknownHeader();
        return;
      }
      this.unknownHeader = null;
      this.kind = layout.kind;
      this.columns = new Columns(layout.names);
    }
    try {
      const record = this.recordOf(fields);
      if (record !== null) yield { kind: 'record', record, offset: position.offset };
    } catch (error) {
      if (!(error instanceof RowRejection)) throw error;
      yield reject(error.category, error.reason, position, fields.join(','));
    }
  }

  private useHeader(fields: readonly string[]): void {
    const names = fields.map(standardizeHeaderName);
    this.kind = tableKindOf(new Set(names));
    this.columns = new Columns(names);
  }

  /** A record for the row, or null for a row that only carries structure (legacy headers). */
  private recordOf(fields: string[]): ItemRecord | null {
    const columns = this.columns as Columns;
    if (this.kind === 'legacyPlaylist' && this.legacyPhase !== 'metadata') return this.legacyVideoRow(fields);
    checkFieldCount(fields, columns.count);
    switch (this.kind) {
      case 'subscriptions':
        return this.subscription(fields, columns);
      case 'comments':
        return this.comment(fields, columns);
      case 'liveChats':
        return this.liveChat(fields, columns);
      case 'playlists':
        return this.playlist(fields, columns);
      case 'playlistVideos':
        return this.playlistItem(fields, columns, this.playlistName, null);
      case 'legacyPlaylist':
        this.legacyPhase = 'videoHeader';
        return this.legacyPlaylistRow(fields, columns);
      default:
        return null;
    }
  }

  private subscription(fields: string[], columns: Columns): ItemRecord {
    const channelId = required(columns.get(fields, 'channel id'), 'Channel Id');
    return {
      type: 'item',
      source: YOUTUBE_CSV_SOURCE_ID,
      key: ['youtube-subscription', channelId],
      kind: 'subscription',
      occurredAt: this.subscriptionDate,
      utcOffsetMinutes: null,
      title: columns.get(fields, 'channel title') || null,
      url: columns.get(fields, 'channel url') || `https://www.youtube.com/channel/${channelId}`,
      attributes: { channelId, occurredAt: this.dateIsExportTime ? 'export' : 'import' },
    };
  }

  private comment(fields: string[], columns: Columns): ItemRecord {
    const commentId = required(columns.get(fields, 'comment id'), 'Comment ID');
    const postId = columns.get(fields, 'post id');
    return messageRecord(fields, columns, {
      kind: 'comment',
      id: ['youtube-comment', 'commentId', commentId],
      created: ['comment create timestamp', 'Comment Create Timestamp'],
      text: 'comment text',
      optional: [
        ['postId', postId],
        ['parentCommentId', columns.get(fields, 'parent comment id')],
        ['topLevelCommentId', columns.get(fields, 'top-level comment id', 'top level comment id')],
      ],
      url(videoId) {
        if (videoId !== '') return `https://www.youtube.com/watch?v=${encodeURIComponent(videoId)}&lc=${encodeURIComponent(commentId)}`;
        return postId !== '' ? `https://www.youtube.com/post/${encodeURIComponent(postId)}` : null;
      },
    });
  }

  private liveChat(fields: string[], columns: Columns): ItemRecord {
    const liveChatId = required(columns.get(fields, 'live chat id'), 'Live Chat ID');
    return messageRecord(fields, columns, {
      kind: 'live_chat_message',
      id: ['youtube-live-chat', 'liveChatId', liveChatId],
      created: ['live chat create timestamp', 'Live Chat Create Timestamp'],
      text: 'live chat text',
      optional: [['parentLiveChatId', columns.get(fields, 'parent live chat id')]],
      // A chat message has no link of its own: the stream it was sent in.
      url: (videoId) => (videoId === '' ? null : `https://www.youtube.com/watch?v=${encodeURIComponent(videoId)}`),
    });
  }

  private playlist(fields: string[], columns: Columns): ItemRecord {
    const playlistId = required(columns.get(fields, 'playlist id'), 'Playlist ID');
    const created = timestamp(columns.get(fields, 'playlist create timestamp'), 'Playlist Create Timestamp');
    const attributes: Record<string, unknown> = { playlistId };
    const updated = columns.get(fields, 'playlist update timestamp');
    if (updated !== '') attributes.updatedAt = timestamp(updated, 'Playlist Update Timestamp').date.toISOString();
    const optional: Array<[string, string]> = [
      ['visibility', columns.get(fields, 'playlist visibility')],
      ['videoOrder', columns.get(fields, 'playlist video order')],
      ['titleLanguage', columns.get(fields, 'playlist title (original) language', 'playlist title language')],
      ['description', columns.get(fields, 'playlist description (original)', 'playlist description')],
    ];
    for (const [name, value] of optional) if (value !== '') attributes[name] = value;
    const addToTop = columns.get(fields, 'add new videos to top', 'add new videos to top of playlist').toLowerCase();
    if (addToTop === 'true' || addToTop === 'false') attributes.addNewVideosToTop = addToTop === 'true';
    return {
      type: 'item',
      source: YOUTUBE_CSV_SOURCE_ID,
      key: ['youtube-playlist', playlistId],
      kind: 'playlist',
      occurredAt: created.date,
      occurredAtMicros: created.micros,
      utcOffsetMinutes: created.utcOffsetMinutes,
      title: columns.get(fields, 'playlist title (original)', 'playlist title') || null,
      url: `https://www.youtube.com/playlist?list=${encodeURIComponent(playlistId)}`,
      attributes,
    };
  }

  private playlistItem(fields: string[], columns: Columns, playlistName: string, playlistId: string | null): ItemRecord {
    const videoId = required(columns.get(fields, 'video id'), 'Video ID');
    const added = timestamp(columns.get(fields, 'playlist video creation timestamp', 'time added'), 'Playlist Video Creation Timestamp');
    const attributes: Record<string, unknown> = { videoId, playlistName };
    if (playlistId !== null) attributes.playlistId = playlistId;
    return {
      type: 'item',
      source: YOUTUBE_CSV_SOURCE_ID,
      key: ['youtube-playlist-item', playlistId ?? playlistName, videoId, added.date.getTime()],
      kind: 'playlist_item',
      occurredAt: added.date,
      occurredAtMicros: added.micros,
      utcOffsetMinutes: added.utcOffsetMinutes,
      title: playlistName,
      url: `https://www.youtube.com/watch?v=${encodeURIComponent(videoId)}`,
      attributes,
    };
  }

  /** The one metadata row of a pre-2022 playlist file. */
  private legacyPlaylistRow(fields: string[], columns: Columns): ItemRecord {
    const playlistId = required(columns.get(fields, 'playlist id'), 'Playlist Id');
    const title = columns.get(fields, 'title') || this.playlistName;
    this.legacyPlaylist = { id: playlistId, title };
    const created = timestamp(columns.get(fields, 'time created'), 'Time Created');
    const attributes: Record<string, unknown> = { playlistId };
    const optional: Array<[string, string]> = [
      ['channelId', columns.get(fields, 'channel id')],
      ['visibility', columns.get(fields, 'visibility')],
      ['description', columns.get(fields, 'description')],
    ];
    for (const [name, value] of optional) if (value !== '') attributes[name] = value;
    const updated = columns.get(fields, 'time updated');
    if (updated !== '') attributes.updatedAt = timestamp(updated, 'Time Updated').date.toISOString();
    return {
      type: 'item',
      source: YOUTUBE_CSV_SOURCE_ID,
      key: ['youtube-playlist', playlistId],
      kind: 'playlist',
      occurredAt: created.date,
      occurredAtMicros: created.micros,
      utcOffsetMinutes: created.utcOffsetMinutes,
      title,
      url: `https://www.youtube.com/playlist?list=${encodeURIComponent(playlistId)}`,
      attributes,
    };
  }

  /** Rows after the metadata row of a pre-2022 playlist file: the video header, then videos. */
  private legacyVideoRow(fields: string[]): ItemRecord | null {
    if (this.legacyPhase === 'videoHeader') {
      const names = fields.map(standardizeHeaderName);
      if (!names.includes('video id')) {
        throw new RowRejection('malformed', `expected the "Video Id,Time Added" header after the playlist row, got ${JSON.stringify(fields.join(','))}`);
      }
      this.columns = new Columns(names);
      this.legacyPhase = 'videos';
      return null;
    }
    const columns = this.columns as Columns;
    checkFieldCount(fields, columns.count);
    const playlist = this.legacyPlaylist ?? { id: null, title: this.playlistName };
    return this.playlistItem(fields, columns, playlist.title, playlist.id);
  }
}

/** How a comment or a live chat message row differs from the other; messageRecord reads the rest. */
interface MessageTable {
  kind: 'comment' | 'live_chat_message';
  /** The key's name, the id's attribute name, and the id. */
  id: [keyName: string, attribute: string, id: string];
  /** The creation timestamp's standardized column and its header as written, for messages. */
  created: [column: string, header: string];
  /** The text's standardized column. */
  text: string;
  /** The table's own optional attributes (kept when not empty), after the channel and video and before the price. */
  optional: Array<[attribute: string, value: string]>;
  url(videoId: string): string | null;
}

/** A comment's or a live chat message's record: what the two tables share. */
function messageRecord(fields: readonly string[], columns: Columns, table: MessageTable): ItemRecord {
  const [keyName, idAttribute, id] = table.id;
  const created = timestamp(columns.get(fields, table.created[0]), table.created[1]);
  const videoId = columns.get(fields, 'video id');
  const { text, mentionedChannelIds } = commentText(columns.get(fields, table.text));
  const attributes: Record<string, unknown> = { [idAttribute]: id };
  const optional: Array<[string, string]> = [
    ['channelId', columns.get(fields, 'channel id')],
    ['videoId', videoId],
    ...table.optional,
    ['price', columns.get(fields, 'price')],
    ['currencyCode', columns.get(fields, 'currency code')],
  ];
  for (const [name, value] of optional) if (value !== '') attributes[name] = value;
  if (mentionedChannelIds.length > 0) attributes.mentionedChannelIds = mentionedChannelIds;
  return {
    type: 'item',
    source: YOUTUBE_CSV_SOURCE_ID,
    key: [keyName, id],
    kind: table.kind,
    occurredAt: created.date,
    occurredAtMicros: created.micros,
    utcOffsetMinutes: created.utcOffsetMinutes,
    text: text === '' ? null : text,
    url: table.url(videoId),
    attributes,
  };
}

function reject(category: QuarantineCategory, reason: string, position: RowPosition, excerpt: string | null): ParseEvent {
  return {
    kind: 'reject',
    rejection: {
      category,
      reason: `line ${position.line}: ${reason}`,
      line: position.line,
      byteOffset: position.offset,
      excerpt: excerpt === null ? null : excerpt.slice(0, EXCERPT_CHARS),
    },
  };
}

function checkFieldCount(fields: readonly string[], expected: number): void {
  // Even an extra empty field is refused: an unquoted comma in the text shifts every column after it.
  if (fields.length === expected) return;
  throw new RowRejection('malformed', `row has ${fields.length} fields, the header has ${expected}`);
}

function required(value: string, column: string): string {
  if (value === '') throw new RowRejection('invalid', `${column} is empty`);
  return value;
}

function timestamp(value: string, column: string): { date: Date; micros: number; utcOffsetMinutes: number | null } {
  if (value === '') throw new RowRejection('invalid', `${column} is empty`);
  const parsed = parseIsoTimestamp(value);
  if (!parsed.ok) throw new RowRejection('invalid', `${column}: ${parsed.reason}`);
  return { date: parsed.date, micros: parsed.micros ?? 0, utcOffsetMinutes: parsed.utcOffsetMinutes === 0 ? null : parsed.utcOffsetMinutes };
}
