// The shapes of YouTube's CSV tables (see csv.ts for the files): which table a header names, the
// layout of a comments or live chats table whose header is in another language, and the JSON
// segments of comment text cells. Shared by detection (entries.ts), which sees only a file's
// head, and the parser.
import { parseIsoTimestamp } from '../takeout-dates.js';

export type TableKind = 'subscriptions' | 'comments' | 'liveChats' | 'playlists' | 'playlistVideos' | 'legacyPlaylist';

/** `" Comment create timestamp\uFEFF"` → `"comment create timestamp"`. */
export function standardizeHeaderName(name: string): string {
  return name.replace(/\ufeff/g, '').trim().replace(/\s+/g, ' ').toLowerCase();
}

export function tableKindOf(names: ReadonlySet<string>): TableKind | null {
  if (names.has('channel id') && names.has('channel url') && names.has('channel title')) return 'subscriptions';
  if (names.has('comment id') && names.has('comment text')) return 'comments';
  if (names.has('live chat id') && names.has('live chat text')) return 'liveChats';
  if (names.has('playlist id') && names.has('time created')) return 'legacyPlaylist';
  if (names.has('playlist id') && names.has('playlist create timestamp')) return 'playlists';
  if (names.has('video id') && (names.has('playlist video creation timestamp') || names.has('time added'))) return 'playlistVideos';
  return null;
}

/** A comments or live chats table whose header names are not English, read by column places. */
export interface LocalizedLayout {
  kind: 'comments' | 'liveChats';
  /** The English names of the columns, by place ('' for a column not read). */
  names: string[];
}

const CHANNEL_ID = /^UC[\w-]{22}$/;
const PRICE = /^(?:\d+(?:[.,]\d+)?)?$/;
const CURRENCY_CODE = /^[A-Z]{3}$/;
const CHAT_IN_PATH = /chat/i;
/** "comments" in the languages Takeout names its folders in (Kommentare, commentaires, comentarios, komentarze...). */
const COMMENTS_IN_PATH = /comment|komment|koment|coment/i;

/**
 * The layout of a comments or live chats table with a header in another language, from the
 * values of its first row (see the module comment); null when they fit no known layout.
 */
export function localizedLayout(header: readonly string[], row: readonly string[], path: string): LocalizedLayout | null {
  if (header.length < 6 || row.length !== header.length) return null;
  const [id = '', channel = '', created = '', price = '', fifth = ''] = row.map((field) => field.trim());
  if (id === '' || /\s/.test(id) || !CHANNEL_ID.test(channel) || !PRICE.test(price) || !parseIsoTimestamp(created).ok) return null;
  const textPlaces = row.flatMap((field, place) => (place >= 5 && isSegmentsJson(field) ? [place] : []));
  if (textPlaces.length !== 1) return null;
  const textAt = textPlaces[0] as number;
  const rest = (names: string[]) => [...names, ...new Array<string>(header.length - names.length).fill('')];
  const liveChats = (withCurrency: boolean): LocalizedLayout => ({
    kind: 'liveChats',
    names: rest(['live chat id', 'channel id', 'live chat create timestamp', 'price', ...(withCurrency ? ['currency code'] : []), 'video id', 'live chat text']),
  });
  const comments = (withPost: boolean): LocalizedLayout => ({
    kind: 'comments',
    names: rest([
      'comment id', 'channel id', 'comment create timestamp', 'price', 'parent comment id', ...(withPost ? ['post id'] : []), 'video id', 'comment text',
      ...(header.length > textAt + 1 ? ['top-level comment id'] : []),
    ]),
  });
  if (textAt === 5) return liveChats(false);
  if (textAt === 6) {
    if (CURRENCY_CODE.test(fifth)) return liveChats(true);
    if (fifth !== '') return comments(false);
    if (CHAT_IN_PATH.test(path)) return liveChats(true);
    return COMMENTS_IN_PATH.test(path) ? comments(false) : null;
  }
  if (textAt === 7 && !CHAT_IN_PATH.test(path) && !CURRENCY_CODE.test(fifth)) return comments(true);
  return null;
}

/** Whether a cell is comment text written as JSON segments (not plain text that starts with a brace). */
function isSegmentsJson(cell: string): boolean {
  const trimmed = cell.trim();
  return trimmed.startsWith('{"') && segmentsOf(trimmed) !== null;
}

/**
 * The first `count` complete records of CSV text (quoted fields may hold commas, doubled quotes
 * and line breaks): for detection, which sees only the head of a file. A record cut off by the
 * end of the head is not returned.
 */
export function leadingCsvRecords(text: string, count: number): string[][] {
  const records: string[][] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let at = 0;
  while (at < text.length && records.length < count) {
    const c = text[at] as string;
    if (quoted) {
      if (c === '"') {
        if (text[at + 1] === '"') {
          field += '"';
          at++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[at + 1] === '\n') at++;
      fields.push(field);
      field = '';
      if (fields.length > 1 || fields[0] !== '') records.push(fields);
      fields = [];
    } else field += c;
    at++;
  }
  return records;
}

/** `a,b` as the JSON array `[a,b]`; retried with raw control characters escaped; null if not JSON. */
function parseJsonList(text: string): unknown {
  try {
    return JSON.parse(`[${text}]`);
  } catch {
    // Raw line breaks inside the strings (hand-edited files) are not JSON; escaped, they are.
  }
  try {
    return JSON.parse(`[${text.replace(/[\u0000-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}]`);
  } catch {
    return null; // plain text that happens to start with a brace
  }
}

type Segment = { text?: unknown; mention?: { externalChannelId?: unknown } };

/** The segments of a JSON text cell (`{…},{…}` or `{"takeoutSegments":[…]}`), or null when it is not one. */
function segmentsOf(trimmed: string): Segment[] | null {
  const parsed = parseJsonList(trimmed);
  if (!Array.isArray(parsed)) return null;
  const only: unknown = parsed.length === 1 ? parsed[0] : null;
  const segments: unknown[] =
    only !== null && typeof only === 'object' && Array.isArray((only as { takeoutSegments?: unknown }).takeoutSegments)
      ? ((only as { takeoutSegments: unknown[] }).takeoutSegments)
      : parsed;
  return segments.every((segment) => segment !== null && typeof segment === 'object') ? (segments as Segment[]) : null;
}

/** The text of a comment or chat cell: joined JSON segments, or the cell as written (see the module comment). */
export function commentText(cell: string): { text: string; mentionedChannelIds: string[] } {
  const trimmed = cell.trim();
  const segments = trimmed.startsWith('{') ? segmentsOf(trimmed) : null;
  if (segments === null) return { text: cell, mentionedChannelIds: [] };
  let text = '';
  const mentionedChannelIds: string[] = [];
  for (const segment of segments) {
    if (typeof segment.text === 'string') text += segment.text;
    const channel = segment.mention?.externalChannelId;
    if (typeof channel === 'string') mentionedChannelIds.push(channel);
  }
  return { text, mentionedChannelIds };
}
