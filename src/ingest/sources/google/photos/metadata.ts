// Google Photos' JSON files in a Takeout:
//
// Sidecars (google.photos.sidecar), one per photo or video, named after it (see names.ts):
//   {title, description, imageViews, creationTime: {timestamp, formatted}, photoTakenTime:
//    {timestamp, formatted}, photoLastModifiedTime?, geoData: {latitude, longitude, altitude,
//    latitudeSpan, longitudeSpan}, geoDataExif: {...}, people?: [{name}], favorited?, url,
//    googlePhotosOrigin?: {mobileUpload: {...}} | {fromSharedAlbum: {}} | ..., appSource?, archived?, trashed?}
// `timestamp` is epoch seconds as a string (UTC); `formatted` is the same instant in the account's
// language ("21 oct. 2023, 07:12:31 UTC") and is not read. geoData at exactly (0, 0) means none.
// → one `media_sidecar` record keyed by (folder, sidecar name); its pair name and duplicate number
// come from the sidecar's own file name; what is not mapped to a column stays in attributes.
//
// Album metadata (google.photos.album): `metadata.json` (localized: `métadonnées.json`,
// `Metadaten.json`, `metadatos.json`...), {title, description, access, date: {timestamp}, location,
// geoData, enrichments?}, or the older {albumData: {...the same}} → one `media_album` record keyed
// by folder. `enrichments` are what the owner added between the album's photos, in order:
// {narrativeEnrichment: {text}} and {locationEnrichment: {location: [{name, description,
// latitudeE7, longitudeE7}]}} (others, such as mapEnrichment, kept as they are); they are stored
// read (text; names with degrees) in the album's attributes.enrichments.
//
// Both are small: read as one JSON value with a hard cap (MAX_JSON_BYTES), rejected as too_large
// past it without being held.
import type { MediaAlbumRecord, MediaSidecarRecord, ParseEvent } from '../../../records.js';
import { defineSource, type Source } from '../../../source.js';
import { PHOTOS_ALBUM, PHOTOS_SIDECAR } from './entries.js';
import { emit, parseJsonSource, rejectValue } from '../json-source.js';
import { isObject, numberOf, stringOf } from '../takeout-values.js';
import { sidecarPairName, splitPath } from '../../formats/media/names.js';
import { reconcileMedia } from '../../formats/media/reconcile.js';

export const SIDECAR_SOURCE_ID = PHOTOS_SIDECAR.id;
export const ALBUM_SOURCE_ID = PHOTOS_ALBUM.id;
/** A sidecar is about 1 KiB; an album's metadata with shared-album comments can be larger. */
export const MAX_JSON_BYTES = 4 * 1024 * 1024;

const SIDECAR_MAPPED = new Set(['title', 'description', 'photoTakenTime', 'creationTime', 'geoData', 'geoDataExif', 'people', 'favorited', 'url']);
const ALBUM_MAPPED = new Set(['title', 'description', 'access', 'date', 'location', 'geoData', 'enrichments']);

/** Epoch seconds (`"1696574331"`) in a {timestamp} object; null when absent or 0. */
function epochSecondsOf(holder: unknown): Date | null {
  if (!isObject(holder)) return null;
  const seconds = numberOf(holder.timestamp);
  if (seconds === null || seconds <= 0) return null;
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? null : date;
}

interface Geo {
  lat: number | null;
  lon: number | null;
  alt: number | null;
}

/** geoData as numbers; (0, 0) and out-of-range positions are "none". */
function geoOf(holder: unknown): Geo {
  const none = { lat: null, lon: null, alt: null };
  if (!isObject(holder)) return none;
  const lat = numberOf(holder.latitude);
  const lon = numberOf(holder.longitude);
  if (lat === null || lon === null || (lat === 0 && lon === 0) || Math.abs(lat) > 90 || Math.abs(lon) > 180) return none;
  return { lat, lon, alt: numberOf(holder.altitude) };
}

function unmapped(value: Record<string, unknown>, mapped: ReadonlySet<string>): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const key in value) if (!mapped.has(key)) attributes[key] = value[key];
  return attributes;
}

function sidecarFromObject(value: unknown, offset: number, path: string): ParseEvent {
  if (!isObject(value)) return rejectValue('invalid', `${path}: a Google Photos sidecar that does not hold an object`, offset, value);
  const { folder, name } = splitPath(path);
  const title = stringOf(value.title) || null;
  const fromName = sidecarPairName(name);
  // A sidecar under another name than Google gives (renamed by hand) still pairs by its title.
  const pair = fromName ?? (title ? { pairName: title, pairDup: 0, truncated: false } : null);
  if (!pair) return rejectValue('invalid', `${path}: neither the file name nor "title" says which photo this sidecar describes`, offset, value);
  const geo = geoOf(value.geoData);
  const geoExif = geoOf(value.geoDataExif);
  const people = (Array.isArray(value.people) ? value.people : [])
    .map((person) => (isObject(person) ? stringOf(person.name) : null))
    .filter((person): person is string => person !== null && person.trim() !== '');
  const attributes = unmapped(value, SIDECAR_MAPPED);
  const record: MediaSidecarRecord = {
    type: 'media_sidecar',
    source: SIDECAR_SOURCE_ID,
    key: [folder, name],
    folder,
    sidecarName: name,
    pairName: pair.pairName,
    pairDup: pair.pairDup,
    truncated: pair.truncated,
    title,
    description: stringOf(value.description) || null,
    takenAt: epochSecondsOf(value.photoTakenTime),
    createdAt: epochSecondsOf(value.creationTime),
    lat: geo.lat,
    lon: geo.lon,
    alt: geo.alt,
    exifLat: geoExif.lat,
    exifLon: geoExif.lon,
    exifAlt: geoExif.alt,
    people,
    favorited: typeof value.favorited === 'boolean' ? value.favorited : null,
    url: stringOf(value.url) || null,
    attributes,
  };
  return emit(record, offset);
}

export type AlbumEnrichment =
  | { type: 'narrative'; text: string }
  | { type: 'location'; places: { name: string | null; description: string | null; lat: number | null; lon: number | null }[] }
  | { type: 'other'; value: unknown };

/** A coordinate in 1e-7 degrees (`latitudeE7`), or null when absent or out of range. */
function degreesE7(value: unknown, limit: number): number | null {
  const e7 = numberOf(value);
  if (e7 === null) return null;
  const degrees = e7 / 1e7;
  return Math.abs(degrees) <= limit ? degrees : null;
}

function enrichmentsOf(value: unknown): AlbumEnrichment[] {
  if (!Array.isArray(value)) return [];
  return value.map((item): AlbumEnrichment => {
    if (isObject(item) && isObject(item.narrativeEnrichment)) return { type: 'narrative', text: stringOf(item.narrativeEnrichment.text) ?? '' };
    if (isObject(item) && isObject(item.locationEnrichment) && Array.isArray(item.locationEnrichment.location)) {
      const places = item.locationEnrichment.location.filter(isObject).map((place) => {
        let lat = degreesE7(place.latitudeE7, 90);
        let lon = degreesE7(place.longitudeE7, 180);
        if (lat === null || lon === null || (lat === 0 && lon === 0)) lat = lon = null;
        return { name: stringOf(place.name) || null, description: stringOf(place.description) || null, lat, lon };
      });
      return { type: 'location', places };
    }
    return { type: 'other', value: item };
  });
}

function albumFromObject(value: unknown, offset: number, path: string): ParseEvent {
  if (!isObject(value)) return rejectValue('invalid', `${path}: album metadata that does not hold an object`, offset, value);
  const data = isObject(value.albumData) ? value.albumData : value;
  const { folder, name } = splitPath(path);
  const geo = geoOf(data.geoData);
  const attributes = unmapped(data, ALBUM_MAPPED);
  if (data !== value) Object.assign(attributes, unmapped(value, new Set(['albumData'])));
  attributes.metadataFile = name;
  const enrichments = enrichmentsOf(data.enrichments);
  if (enrichments.length > 0) attributes.enrichments = enrichments;
  const record: MediaAlbumRecord = {
    type: 'media_album',
    source: ALBUM_SOURCE_ID,
    key: [folder],
    folder,
    title: stringOf(data.title) || null,
    description: stringOf(data.description) || null,
    access: stringOf(data.access) || null,
    albumDate: epochSecondsOf(data.date),
    location: stringOf(data.location) || null,
    lat: geo.lat,
    lon: geo.lon,
    attributes,
  };
  return emit(record, offset);
}

export const googlePhotosSidecarSource: Source = defineSource(PHOTOS_SIDECAR, {
  parse(input, context) {
    return parseJsonSource(input, context, {
      targets: [{ path: [], mode: 'value' }],
      expected: 'Google Photos sidecar object',
      maxElementBytes: MAX_JSON_BYTES,
      onElement: (value, at, out) => out.push(sidecarFromObject(value, at.offset, context.path)),
    });
  },
  afterImport: reconcileMedia,
});

export const googlePhotosAlbumSource: Source = defineSource(PHOTOS_ALBUM, {
  parse(input, context) {
    return parseJsonSource(input, context, {
      targets: [{ path: [], mode: 'value' }],
      expected: 'Google Photos album object',
      maxElementBytes: MAX_JSON_BYTES,
      onElement: (value, at, out) => out.push(albumFromObject(value, at.offset, context.path)),
    });
  },
  afterImport: reconcileMedia,
});
