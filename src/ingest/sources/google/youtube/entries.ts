// The YouTube sources as the registry (../../registry.ts) knows them: the CSV tables, the older
// HTML comments and live chats, the Data API's playlist items. (YouTube's watch and search
// history are My Activity files: ../my-activity/.) Detection only: nothing here imports a parser.
import { describeJsonHead } from '../../../parse/json-head.js';
import { parserAt, type Confidence, type Probe, type SourceEntry } from '../../../source.js';
import { leadingCsvRecords, localizedLayout, standardizeHeaderName, tableKindOf } from './tables.js';

const CSV_PATH_NAMES = /(?:^|\/)(?:subscriptions|comments|live[ _-]?chats|playlists|[^/]+-videos)\.csv$/i;

export const YOUTUBE_CSV: SourceEntry = {
  id: 'google.youtube.csv',
  description: 'Google Takeout YouTube CSV files: subscriptions, comments, live chats, playlists and their videos',
  detect(probe: Probe): Confidence | null {
    const text = probe.head.toString('utf8');
    const end = text.search(/\r?\n/);
    const firstLine = end === -1 ? text : text.slice(0, end);
    const names = new Set(firstLine.split(',').map((name) => standardizeHeaderName(name.replace(/^\s*"|"\s*$/g, ''))));
    if (tableKindOf(names) !== null) return 'content';
    const [header, firstRow] = leadingCsvRecords(text.replace(/^\ufeff/, ''), 2);
    if (header && firstRow && localizedLayout(header, firstRow, probe.path) !== null) return 'content';
    return CSV_PATH_NAMES.test(probe.path) && /youtube/i.test(probe.path) ? 'path' : null;
  },
  standalone: false,
  parser: parserAt(import.meta.url, './csv.js', 'youtubeCsvSource'),
};

const COMMENTS_HTML_PATH_NAMES = /(?:^|\/)(?:my-comments|my-live-chat-messages)(?:\/[^/]*)?\.html$/i;
/** A date as these files write it, with its zone when there is one. */
export const DATE_IN_LINE = /(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?)(?: ?(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)(?![A-Za-z0-9]))?/;
const YOUTUBE_LINK = /href\s*=\s*["']?https?:\/\/(?:[a-z]+\.)?(?:youtube\.com|youtu\.be)\//i;
const HTML_WHITESPACE = /[ \t\n\r\f]+/g;

export const YOUTUBE_COMMENTS_HTML: SourceEntry = {
  id: 'google.youtube.comments.html',
  description: 'Google Takeout YouTube comments and live chat messages (HTML, older exports)',
  detect(probe: Probe): Confidence | null {
    if (headHasEntry(probe.head.toString('latin1'))) return 'content';
    return COMMENTS_HTML_PATH_NAMES.test(probe.path) ? 'path' : null;
  },
  standalone: true,
  parser: parserAt(import.meta.url, './comments-html.js', 'youtubeCommentsHtmlSource'),
};

/** Whether one of the first `<li>`s of the head opens with a YouTube link and a dated line. */
function headHasEntry(head: string): boolean {
  const items = /<li[\s>]/gi;
  for (let seen = 0; seen < 3; seen++) {
    const match = items.exec(head);
    if (!match) return false;
    const rest = head.slice(match.index, match.index + 4000);
    const end = rest.search(/<br|<\/li/i);
    const firstLine = end === -1 ? rest : rest.slice(0, end);
    if (YOUTUBE_LINK.test(firstLine) && DATE_IN_LINE.test(firstLine.replace(/<[^>]*>/g, ' ').replace(HTML_WHITESPACE, ' '))) return true;
  }
  return false;
}

const PLAYLIST_ITEM_MARKER = Buffer.from('"youtube#playlistItem"');

export const YOUTUBE_PLAYLIST_ITEMS: SourceEntry = {
  id: 'google.youtube.playlistitem',
  description: 'YouTube history as YouTube Data API playlistItem arrays (Takeout 2016-2017)',
  detect(probe: Probe): Confidence | null {
    // Content only: `watch-history.json` is also the name of the My Activity shape, which claims the path.
    const shape = describeJsonHead(probe.head);
    if (shape.root === 'array' && shape.keys.has('[].snippet') && probe.head.includes(PLAYLIST_ITEM_MARKER)) return 'content';
    return null;
  },
  standalone: false,
  parser: parserAt(import.meta.url, './playlist-items.js', 'youtubePlaylistItemSource'),
};
