// The OLD (2016-2017) YouTube Takeout history files: `watch-history.json` (also likes,
// favorites and playlists) as a top-level array of YouTube Data API `youtube#playlistItem`
// resources, not the later My Activity shape:
//   {kind, etag, id, snippet: {publishedAt, channelId, title, description, thumbnails,
//    channelTitle, playlistId, position, resourceId: {kind, videoId}}, contentDetails: {videoId},
//    status: {privacyStatus}}
//
// Each item becomes an ItemRecord:
//   kind       from the file name: watch-history → video_watch, likes → video_like,
//              favorites → video_favorite, anything else → playlist_item
//   occurredAt snippet.publishedAt: when the video was added to the list (for the watch history,
//              when it was watched)
//   title/url  snippet.title; https://www.youtube.com/watch?v=<videoId>
//   text       snippet.description (the video's description)
//   attributes videoId, playlistId, position, privacyStatus, playlistOwner (snippet.channelTitle:
//              the list's owner, not the video's channel), removed (for "Deleted video" /
//              "Private video" placeholders)
//   key        the playlist item id (unique per list entry), else [playlistId, position, videoId]
// Not kept: thumbnails (derivable from the video id) and etags.
import { baseName } from '../../../parse/json-head.js';
import type { ParseEvent } from '../../../records.js';
import { defineSource, type Source } from '../../../source.js';
import { YOUTUBE_PLAYLIST_ITEMS } from './entries.js';
import { emit, parseJsonSource, rejectValue } from '../json-source.js';
import { isObject, numberOf, parseIsoInstant, stringOf } from '../takeout-values.js';

export const YOUTUBE_PLAYLISTITEM_SOURCE_ID = YOUTUBE_PLAYLIST_ITEMS.id;

/** Titles the Data API gives entries whose video is gone. */
const PLACEHOLDER_TITLES = new Set(['Deleted video', 'Private video']);

function kindForFile(path: string): string {
  const name = baseName(path).toLowerCase();
  if (name.startsWith('watch-history')) return 'video_watch';
  if (name.startsWith('likes')) return 'video_like';
  if (name.startsWith('favorites')) return 'video_favorite';
  return 'playlist_item';
}

function itemFromPlaylistItem(value: unknown, kind: string, offset: number): ParseEvent {
  if (!isObject(value) || !isObject(value.snippet)) return rejectValue('invalid', 'a playlist item without a snippet', offset, value);
  if (value.kind !== undefined && value.kind !== 'youtube#playlistItem') {
    return rejectValue('unsupported', `a ${JSON.stringify(value.kind)} resource where youtube#playlistItem was expected`, offset, value);
  }
  const snippet = value.snippet;
  const instant = parseIsoInstant(snippet.publishedAt);
  if (!instant) return rejectValue('invalid', `playlist item without a readable snippet.publishedAt (${JSON.stringify(snippet.publishedAt) ?? 'missing'})`, offset, value);
  const resourceId = isObject(snippet.resourceId) ? snippet.resourceId : {};
  const contentDetails = isObject(value.contentDetails) ? value.contentDetails : {};
  const videoId = stringOf(resourceId.videoId) ?? stringOf(contentDetails.videoId);
  const title = stringOf(snippet.title);
  const playlistId = stringOf(snippet.playlistId);
  const position = numberOf(snippet.position);
  const attributes: Record<string, unknown> = { videoId, playlistId, position };
  if (isObject(value.status) && value.status.privacyStatus !== undefined) attributes.privacyStatus = value.status.privacyStatus;
  if (snippet.channelTitle !== undefined) attributes.playlistOwner = snippet.channelTitle;
  if (title !== null && PLACEHOLDER_TITLES.has(title)) attributes.removed = true;
  const id = stringOf(value.id);
  return emit(
    {
      type: 'item',
      source: YOUTUBE_PLAYLISTITEM_SOURCE_ID,
      key: id !== null ? [kind, id] : [kind, playlistId, position, videoId, instant.date.getTime()],
      kind,
      occurredAt: instant.date,
      utcOffsetMinutes: instant.utcOffsetMinutes,
      title,
      text: stringOf(snippet.description),
      url: videoId === null ? null : `https://www.youtube.com/watch?v=${videoId}`,
      attributes,
    },
    offset,
  );
}

export const youtubePlaylistItemSource: Source = defineSource(YOUTUBE_PLAYLIST_ITEMS, {
  parse(input, context) {
    const kind = kindForFile(context.path);
    return parseJsonSource(input, context, {
      targets: [{ path: [] }],
      expected: 'top-level array of youtube#playlistItem resources',
      onElement: (value, at, out) => out.push(itemFromPlaylistItem(value, kind, at.offset)),
    });
  },
});
