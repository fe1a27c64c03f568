// YouTube comments and live chat messages as older Google Takeout exports wrote them, in HTML:
// `YouTube and YouTube Music/my-comments/my-comments.html` and
// `.../my-live-chat-messages/my-live-chat-messages.html` (folder and file names are localized:
// "Meine Kommentare", "meine-live-chat-nachrichten"). Newer exports write CSV instead
// (csv.ts). Each entry is one `<li>` of a list: a line saying what was done, with links
// and an ISO date, then `<br>` and the text, further `<br>`s being line breaks of the text:
//
//   <li>You added a <a href="http://www.youtube.com/watch?v=VID&amp;lc=CID">comment</a> on
//       <a href="http://www.youtube.com/watch?v=VID">a video</a> at 2020-05-24 20:10:05 UTC.<br/>text</li>
//   <li>You <a href="…&amp;lc=PARENT.REPLY">replied</a> to … at 2019-04-09 22:51:42 UTC.<br/>text</li>
//   <li>Sent at 2019-08-24 12:43:19 UTC while watching <a href="…watch?v=VID">a video</a>.<br/>text</li>
//
// The words are in the account's language; nothing here reads them. What is read is structure:
//   date   the first `YYYY-MM-DD HH:MM:SS` (or `T`-separated, as before 2019) in the first line,
//          with its zone: `UTC`, `GMT`, `Z` or an offset. Without a zone, or without such a date
//          at all, the entry is `unsupported` (the date is never guessed); an impossible date
//          (Feb 30) is `invalid`. Either way the quarantined excerpt holds the line and the text.
//   kind   an entry with a link carrying `lc=` (a comment's permalink) is a `comment`: its id is
//          that parameter, and an id of the form `parent.reply` is a reply (parentCommentId).
//          Live chat messages have no permalink: an entry without one is a
//          `live_chat_message`, unless the file's path names comments (then a `comment`
//          without an id).
//   video  the `v` parameter of a watch link (or a youtu.be link); `/post/ID` and
//          `/channel/ID` links give postId and channelId.
// The first line as written is kept in attributes.description (it is all the file says about
// the entry besides the links), so nothing is lost for not being understood.
//
// Keys: a comment with an id is ['youtube-comment', id], as in the CSV; without one, and for
// chat messages (which have no id), the video, the instant and the text: two identical messages
// sent to the same stream in the same second are one.
//
// Times are UTC in these files; utcOffsetMinutes is null unless a non-zero offset is written.
//
// Streaming as in ../my-activity/html.ts: htmlparser2 is fed chunk by chunk, the bytes decoded as
// Latin-1 so that the parser's indices are byte offsets (the rejections' byteOffset is where the
// entry's `<li` starts), and each entry's text is re-decoded from UTF-8 (invalid sequences
// become U+FFFD, counted in repairs.invalidUtf8) with its HTML entities (../takeout-html.ts).
// HTML's white space runs are single spaces. An entry longer than MAX_ENTRY_BYTES is refused as
// `too_large`; a file without any entry is `unsupported`.
import type { Readable } from 'node:stream';
import { Parser, type Handler } from 'htmlparser2';
import type { ItemRecord, ParseEvent, QuarantineCategory, RepairCounts } from '../../../records.js';
import { defineSource, type ParseContext, type Source } from '../../../source.js';
import { DATE_IN_LINE, YOUTUBE_COMMENTS_HTML } from './entries.js';
import { parseIsoTimestamp } from '../takeout-dates.js';
import { byteChunks } from '../../../parse/byte-chunks.js';
import { decodeHref, decodeHtmlText } from '../takeout-html.js';

export const YOUTUBE_COMMENTS_HTML_SOURCE_ID = YOUTUBE_COMMENTS_HTML.id;

/** Text bytes one entry may hold; YouTube comments are at most 10,000 characters. */
export const MAX_ENTRY_BYTES = 1024 * 1024;
/** A refused entry's excerpt: its first line and text, up to this many characters. */
const EXCERPT_CHARS = 2000;

const CHAT_IN_PATH = /chat/i;
/** "comments" in the languages Takeout names its folders in (Kommentare, commentaires, comentarios, komentarze...). */
const COMMENTS_IN_PATH = /comment|komment|koment|coment/i;

export const youtubeCommentsHtmlSource: Source = defineSource(YOUTUBE_COMMENTS_HTML, {
  parse: parseYouTubeCommentsHtml,
});

export async function* parseYouTubeCommentsHtml(input: Readable, context: ParseContext): AsyncIterable<ParseEvent> {
  const reader = new EntryReader(context.path, context.repairs);
  const parser = new Parser(reader, { decodeEntities: false, lowerCaseTags: true, lowerCaseAttributeNames: true });
  reader.parser = parser;
  let bytesRead = 0;
  for await (const chunk of byteChunks(input, context.path)) {
    parser.write(chunk.toString('latin1'));
    bytesRead += chunk.length;
    if (reader.events.length > 0) yield* reader.takeEvents();
  }
  parser.end();
  yield* reader.takeEvents();
  if (reader.entriesSeen === 0) {
    yield { kind: 'reject', rejection: { category: 'unsupported', reason: `no YouTube comment or chat entries (<li>) in ${bytesRead} bytes`, byteOffset: 0 } };
  }
}

/** A `<br>`-separated line of an entry, as raw Latin-1 text (see the module comment). */
interface RawLine {
  raw: string;
  /** The text outside links, where the date is looked for first (a video's title may hold one too). */
  outsideLinks: string;
  links: Array<{ href: string | null; raw: string }>;
}

const emptyLine = (): RawLine => ({ raw: '', outsideLinks: '', links: [] });

interface EntryDraft {
  startByte: number;
  lines: RawLine[];
  textBytes: number;
}

/** Receives htmlparser2's events and assembles entries; completed ones wait in `events`. */
class EntryReader implements Partial<Handler> {
  parser: Parser | null = null;
  events: ParseEvent[] = [];
  entriesSeen = 0;
  private entry: EntryDraft | null = null;
  private link: RawLine['links'][number] | null = null;

  constructor(
    private readonly path: string,
    private readonly repairs: RepairCounts,
  ) {}

  takeEvents(): ParseEvent[] {
    const events = this.events;
    this.events = [];
    return events;
  }

  onopentag(name: string, attributes: Record<string, string>): void {
    if (name === 'li') {
      // An `<li>` inside an entry (not written by Takeout) ends it, as `</li>` may be left out.
      this.finishEntry();
      this.entry = { startByte: this.parser?.startIndex ?? 0, lines: [emptyLine()], textBytes: 0 };
    } else if (!this.entry) {
      return;
    } else if (name === 'br') {
      this.entry.lines.push(emptyLine());
      this.link = null;
    } else if (name === 'a') {
      this.link = { href: attributes.href ?? null, raw: '' };
      this.currentLine()?.links.push(this.link);
    }
  }

  onclosetag(name: string): void {
    if (name === 'li' || name === 'ul' || name === 'ol' || name === 'body') this.finishEntry();
    else if (name === 'a') this.link = null;
  }

  ontext(text: string): void {
    const entry = this.entry;
    if (!entry) return;
    entry.textBytes += text.length;
    if (entry.textBytes > MAX_ENTRY_BYTES) return;
    const line = this.currentLine();
    if (!line) return;
    line.raw += text;
    if (this.link) this.link.raw += text;
    else line.outsideLinks += text;
  }

  onend(): void {
    this.finishEntry();
  }

  private currentLine(): RawLine | null {
    return this.entry?.lines[this.entry.lines.length - 1] ?? null;
  }

  private finishEntry(): void {
    const entry = this.entry;
    if (!entry) return;
    this.entry = null;
    this.link = null;
    this.entriesSeen++;
    this.events.push(buildEvent(entry, this.path, this.repairs));
  }
}

function buildEvent(entry: EntryDraft, path: string, repairs: RepairCounts): ParseEvent {
  const firstLine = entry.lines[0] as RawLine;
  const description = decodeText(firstLine.raw, repairs);
  const textLines = entry.lines.slice(1).map((line) => decodeText(line.raw, repairs));
  while (textLines.length > 0 && textLines[textLines.length - 1] === '') textLines.pop();
  while (textLines.length > 0 && textLines[0] === '') textLines.shift();
  const text = textLines.join('\n');
  const reject = (category: QuarantineCategory, reason: string): ParseEvent => ({
    kind: 'reject',
    rejection: { category, reason, byteOffset: entry.startByte, excerpt: `${description}\n${text}`.trim().slice(0, EXCERPT_CHARS) },
  });
  if (entry.textBytes > MAX_ENTRY_BYTES) {
    return { kind: 'reject', rejection: { category: 'too_large', reason: `entry holds ${entry.textBytes} bytes of text, over the ${MAX_ENTRY_BYTES}-byte limit`, byteOffset: entry.startByte } };
  }

  const date = DATE_IN_LINE.exec(decodeText(firstLine.outsideLinks, null)) ?? DATE_IN_LINE.exec(description);
  if (!date) return reject('unsupported', `no date (YYYY-MM-DD HH:MM:SS and a zone) in the entry's first line ${JSON.stringify(description.slice(0, 200))}`);
  const [written, day, time, zone] = date;
  if (zone === undefined) return reject('unsupported', `date ${JSON.stringify(written)} states no time zone`);
  const parsed = parseIsoTimestamp(`${day}T${time}${zone === 'GMT' ? 'Z' : zone}`);
  if (!parsed.ok) return reject('invalid', `date ${JSON.stringify(written)} does not exist`);

  const links = firstLine.links.map((link) => ({ text: decodeText(link.raw, null), url: link.href === null ? null : decodeHref(link.href) }));
  const ids = idsInLinks(links.map((link) => link.url));
  const isComment = ids.commentId !== null || (!CHAT_IN_PATH.test(path) && COMMENTS_IN_PATH.test(path));
  const attributes: Record<string, unknown> = { description };
  if (ids.commentId !== null) {
    attributes.commentId = ids.commentId;
    const dot = ids.commentId.indexOf('.');
    if (dot > 0) attributes.parentCommentId = ids.commentId.slice(0, dot);
  }
  if (ids.videoId !== null) attributes.videoId = ids.videoId;
  if (ids.postId !== null) attributes.postId = ids.postId;
  if (ids.channelId !== null) attributes.channelId = ids.channelId;
  if (links.length > 0) attributes.links = links;

  const url = ids.commentUrl ?? ids.contentUrl;
  const instant = parsed.date.getTime() * 1000 + (parsed.micros ?? 0);
  const record: ItemRecord = {
    type: 'item',
    source: YOUTUBE_COMMENTS_HTML_SOURCE_ID,
    key: isComment
      ? ids.commentId !== null ? ['youtube-comment', ids.commentId] : ['youtube-comment-html', ids.videoId ?? ids.postId ?? url, instant, text]
      : ['youtube-live-chat-html', ids.videoId ?? url, instant, text],
    kind: isComment ? 'comment' : 'live_chat_message',
    occurredAt: parsed.date,
    occurredAtMicros: parsed.micros ?? 0,
    utcOffsetMinutes: parsed.utcOffsetMinutes === 0 ? null : parsed.utcOffsetMinutes,
    text: text === '' ? null : text,
    url,
    attributes,
  };
  return { kind: 'record', record, offset: entry.startByte };
}

interface LinkIds {
  commentId: string | null;
  /** The link carrying the comment id. */
  commentUrl: string | null;
  videoId: string | null;
  postId: string | null;
  channelId: string | null;
  /** The first link to what was commented on or chatted in (a video, a post). */
  contentUrl: string | null;
}

/** What the links of an entry's first line point at. */
function idsInLinks(urls: ReadonlyArray<string | null>): LinkIds {
  const ids: LinkIds = { commentId: null, commentUrl: null, videoId: null, postId: null, channelId: null, contentUrl: null };
  for (const href of urls) {
    if (href === null) continue;
    let url: URL;
    try {
      url = new URL(href);
    } catch {
      continue; // not a link this source reads; it stays in attributes.links
    }
    const comment = url.searchParams.get('lc');
    if (comment && ids.commentId === null) {
      ids.commentId = comment;
      ids.commentUrl = href;
    }
    const host = url.hostname.replace(/^(?:www|m)\./, '');
    const video = host === 'youtu.be' ? url.pathname.slice(1).split('/')[0] || null : url.searchParams.get('v');
    const post = /^\/post\/([^/]+)/.exec(url.pathname)?.[1] ?? null;
    const channel = /^\/channel\/([^/]+)/.exec(url.pathname)?.[1] ?? null;
    if (video && ids.videoId === null) ids.videoId = video;
    if (post && ids.postId === null) ids.postId = post;
    if (channel && ids.channelId === null) ids.channelId = channel;
    if ((video || post) && ids.contentUrl === null && !comment) ids.contentUrl = href;
  }
  ids.contentUrl ??= ids.commentUrl;
  return ids;
}

/** Raw Latin-1 text to clean text (../takeout-html.ts): an encoded line break or no-break space is text. */
function decodeText(raw: string, repairs: RepairCounts | null): string {
  return decodeHtmlText(raw, repairs, 'markup');
}
