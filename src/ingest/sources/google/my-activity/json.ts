// Google Takeout "My Activity" in its JSON format, for every product: `My Activity/<Product>/
// My Activity.json` (older: `MyActivity.json`), and YouTube's `history/watch-history.json` and
// `search-history.json`, which are the same shape: a top-level array of
//   {header, title, titleUrl?, subtitles?[{name, url}], description?, details?[{name}], time,
//    products?[], locationInfos?[{name, url, source, sourceUrl}], activityControls?[]}
//
// Each entry becomes one ItemRecord, following the HTML format's source (html.ts) so
// that both spellings of an export read alike:
//   kind       from header + the verb opening the title, per the table in kinds.ts
//              ("Searched for" + YouTube → video_search, "Visited" → page_visit, "Watched" →
//              video_watch, "Viewed area around" → map_view, "Used" → app_use...); titles in
//              other languages ("Has buscado gatos", "Katzen angesehen") through the HTML
//              source's tables (locales.ts), the phrase as written in attributes.action
//   title      the title without its verb ("Searched for cats" → "cats"); null for YouTube's
//              "Watched a video that has been removed" (attributes.removed = true)
//   url        titleUrl, with Google's redirect wrapper (google.com/url?q=…) unwrapped and the
//              wrapper kept in attributes.redirectUrl
//   occurredAt `time` (ISO); utcOffsetMinutes when the string has an offset (Takeout writes Z)
//   lat/lon    the first locationInfos URL carrying coordinates (`center=lat,lng`, `@lat,lng`)
//   attributes header, action, subtitles, description, details, products, locations,
//              activityControls, videoId (YouTube), and any other member as is
//   key        ['myactivity', header, action, title, url, occurredAt in ms] — the same video
//              watched at two times gives two records. Action and title as the English split
//              gives them (for other languages: null and the whole title), as before localized
//              titles were read, so that entries stored then are met again.
// Entries without a readable `time` are rejected as `invalid`.
import type { ItemRecord, ParseEvent } from '../../../records.js';
import { defineSource, type Source } from '../../../source.js';
import { MY_ACTIVITY_JSON } from './entries.js';
import { emit, parseJsonSource, rejectValue } from '../json-source.js';
import { activityKind, canonicalAction, coordinatesInUrl, REMOVED_OBJECT, splitActivityTitle, unwrapGoogleRedirect } from './kinds.js';
import { splitLocalizedTitle } from './locales.js';
import { arrayOf, isObject, parseIsoInstant, stringOf, type LatLon } from '../takeout-values.js';

export const MY_ACTIVITY_JSON_SOURCE_ID = MY_ACTIVITY_JSON.id;

/** Members read into columns or reshaped; any other member is kept in attributes as is. */
const MAPPED = new Set(['header', 'title', 'titleUrl', 'time', 'subtitles', 'details', 'locationInfos']);

export function itemFromActivity(value: unknown, offset: number): ParseEvent {
  if (!isObject(value)) return rejectValue('invalid', 'a My Activity entry that is not an object', offset, value);
  const instant = parseIsoInstant(value.time);
  if (!instant) return rejectValue('invalid', `My Activity entry without a readable time (${JSON.stringify(value.time) ?? 'missing'})`, offset, value);
  const header = stringOf(value.header) ?? '';
  const fullTitle = stringOf(value.title) ?? '';
  const { action, object } = splitActivityTitle(fullTitle);
  let title: string | null = object === '' ? null : object;
  const keyTitle = title !== null && REMOVED_OBJECT.test(title) ? null : title;
  const attributes: Record<string, unknown> = { header, action };
  let englishAction = action;
  const localized = action === null ? splitLocalizedTitle(fullTitle) : null;
  if (localized) {
    attributes.action = localized.written;
    if (localized.action.languages.length === 1) attributes.displayLanguage = localized.action.languages[0];
    englishAction = canonicalAction(header, localized.action.canonical);
    title = localized.object === '' ? null : localized.object;
  }
  if (title !== null && REMOVED_OBJECT.test(title)) {
    title = null;
    attributes.removed = true;
  }
  let url = stringOf(value.titleUrl);
  const redirectTarget = url === null ? null : unwrapGoogleRedirect(url);
  if (redirectTarget !== null) {
    attributes.redirectUrl = url;
    url = redirectTarget;
  }
  const videoId = url === null ? null : youTubeVideoId(url);
  if (videoId !== null) attributes.videoId = videoId;
  const subtitles = arrayOf(value.subtitles)
    .filter(isObject)
    .map((subtitle) => ({ name: stringOf(subtitle.name), url: stringOf(subtitle.url) }));
  if (subtitles.length > 0) attributes.subtitles = subtitles;
  const details = arrayOf(value.details)
    .filter(isObject)
    .map((detail) => stringOf(detail.name))
    .filter((name): name is string => name !== null);
  if (details.length > 0) attributes.details = details;
  const locations = arrayOf(value.locationInfos)
    .filter(isObject)
    .map((location) => ({ text: stringOf(location.name), url: stringOf(location.url), source: stringOf(location.source), sourceUrl: stringOf(location.sourceUrl) }));
  if (locations.length > 0) attributes.locations = locations;
  for (const key in value) if (!MAPPED.has(key)) attributes[key] = value[key];
  let coordinates: LatLon | null = null;
  for (const location of locations) if ((coordinates = coordinatesInUrl(location.url)) !== null) break;

  const record: ItemRecord = {
    type: 'item',
    source: MY_ACTIVITY_JSON_SOURCE_ID,
    key: ['myactivity', header, action, keyTitle, url, instant.date.getTime()],
    kind: activityKind(header, englishAction),
    occurredAt: instant.date,
    utcOffsetMinutes: instant.utcOffsetMinutes,
    title,
    url,
    lat: coordinates?.lat ?? null,
    lon: coordinates?.lon ?? null,
    attributes,
  };
  return emit(record, offset);
}


function youTubeVideoId(url: string): string | null {
  const match = /^https?:\/\/(?:www\.|m\.|music\.)?youtube\.com\/watch\?(?:.*&)?v=([\w-]{6,})/.exec(url) ?? /^https?:\/\/youtu\.be\/([\w-]{6,})/.exec(url);
  return match?.[1] ?? null;
}


export const myActivityJsonSource: Source = defineSource(MY_ACTIVITY_JSON, {
  parse(input, context) {
    return parseJsonSource(input, context, {
      targets: [{ path: [] }],
      expected: 'top-level array of My Activity entries',
      onElement: (value, at, out) => out.push(itemFromActivity(value, at.offset)),
    });
  },
});
