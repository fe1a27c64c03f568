// Every source the importer knows, once, in the order detection tries them; and detection:
// content shape first, path second (Takeout's names are localized, so a file is recognised by
// what it holds before what it is called). Each entry is declared by the entries.ts of its folder
// (google/<product>/, formats/<format>/), which holds its detection and imports no parser: the
// runner detects with every entry and loads a parser when a file of its comes, and a parse
// worker loads only the one it runs (the runner tells it where the parser is). A source is registered by adding its entry here; the
// contract suite (test/source-contract.test.ts) then runs it over its fixtures, and fails until
// it has some (test/support/source-fixtures.ts).
import { loadParser, type Confidence, type ParserModule, type Probe, type Source, type SourceEntry } from '../source.js';
import { CHROME_HISTORY, GMAIL_MBOX, KEEP, PLAY_STORE } from './google/entries.js';
import { FIT_ACTIVITIES, FIT_DAILY, FIT_RAW, FIT_SESSIONS } from './google/fit/entries.js';
import { LOCATION_EDITS, LOCATION_KML, LOCATION_ONDEVICE, LOCATION_RECORDS, LOCATION_SEMANTIC, LOCATION_SETTINGS } from './google/location/entries.js';
import { MY_ACTIVITY_HTML, MY_ACTIVITY_JSON } from './google/my-activity/entries.js';
import { PHOTOS_ALBUM, PHOTOS_SIDECAR } from './google/photos/entries.js';
import { YOUTUBE_COMMENTS_HTML, YOUTUBE_CSV, YOUTUBE_PLAYLIST_ITEMS } from './google/youtube/entries.js';
import { ANY_FILE, CSV, DOCX, JSON_DOCUMENT, PDF } from './formats/documents/entries.js';
import { ICALENDAR, VCARD } from './formats/entries.js';
import { MEDIA_FILE } from './formats/media/entries.js';

export const REGISTRY: readonly SourceEntry[] = [
  // Google Takeout's JSON files
  LOCATION_RECORDS,
  LOCATION_SEMANTIC,
  LOCATION_ONDEVICE,
  LOCATION_EDITS,
  LOCATION_SETTINGS,
  MY_ACTIVITY_JSON,
  YOUTUBE_PLAYLIST_ITEMS,
  CHROME_HISTORY,
  PLAY_STORE,
  KEEP,
  // Google Takeout's HTML and CSV files
  MY_ACTIVITY_HTML,
  YOUTUBE_CSV,
  YOUTUBE_COMMENTS_HTML,
  GMAIL_MBOX,
  LOCATION_KML,
  FIT_DAILY,
  FIT_SESSIONS,
  FIT_RAW,
  FIT_ACTIVITIES,
  // Contacts and calendars
  VCARD,
  ICALENDAR,
  // Photos and videos, and Google Photos' JSON beside them
  PHOTOS_SIDECAR,
  PHOTOS_ALBUM,
  MEDIA_FILE,
  // Last, and below every other source whatever their confidence (they return `fallback`).
  PDF,
  DOCX,
  CSV,
  JSON_DOCUMENT,
  ANY_FILE,
];

const BY_ID: ReadonlyMap<string, SourceEntry> = new Map(REGISTRY.map((entry) => [entry.id, entry]));

/**
 * The candidate a file belongs to: registry entries (the runner), or loaded sources (tests that
 * pass their own list). A match on the name alone is accepted only when `trustName` (the runner
 * passes false when the content is of another type than the name says: a PNG named .json).
 */
export function detectSource<T extends { detect(probe: Probe): Confidence | null }>(probe: Probe, candidates: readonly T[], trustName = true): T | null {
  let byPath: T | null = null;
  let fallback: T | null = null;
  for (const candidate of candidates) {
    const confidence = candidate.detect(probe);
    if (confidence === 'content') return candidate;
    if (confidence === 'path' && trustName) byPath ??= candidate;
    if (confidence === 'fallback') fallback ??= candidate;
  }
  return byPath ?? fallback;
}

/** The registered source of this id, with its parser (imported on first use). */
export async function loadSource(sourceId: string): Promise<Source> {
  const entry = BY_ID.get(sourceId);
  if (!entry) throw new Error(`no source ${sourceId}`);
  return loadParser(entry.parser);
}

/** Whether files of this source may be parsed in a worker thread (SourceEntry.standalone). */
export function isStandalone(sourceId: string): boolean {
  return BY_ID.get(sourceId)?.standalone === true;
}

/** Where the parser of a standalone source is, for a parse worker to load it alone; null for any other source. */
export function standaloneParser(sourceId: string): ParserModule | null {
  const entry = BY_ID.get(sourceId);
  return entry?.standalone ? entry.parser : null;
}

/** The source, with only the modules it needs (what a parse worker loads). */
export async function loadStandaloneSource(sourceId: string): Promise<Source> {
  const parser = standaloneParser(sourceId);
  if (!parser) throw new Error(`no standalone source ${sourceId}`);
  return loadParser(parser);
}
