// Quality control of one record, per its type, after normalization. Pure: the record passed in is
// never changed; a record that needs a repair (see below) comes back as a modified copy.
//
// Rules (a failed rule rejects the record with category `invalid` and a reason naming the field
// and the value):
// - Source and key: `source` a non-empty string, `key` a non-empty array.
// - Dates (`recordedAt`, `occurredAt`, `startedAt`, `endedAt`, `measuredAt`, `sentAt`): a valid
//   Date after the Unix epoch and no later than one day after now (a day of slack absorbs clock
//   skew and time-zone mistakes at the source). Exactly 1970-01-01T00:00:00Z is refused too: it
//   is what a zero or missing timestamp turns into, not a moment anyone recorded. A visit must not
//   end before it starts.
// - Coordinates: finite, lat in [-90, 90], lon in [-180, 180], both or neither.
// - Null island: sources write exactly (0, 0) when the position is unknown (Takeout's
//   `latitudeE7: 0`, Photos' zeroed geoData), and no real fix is exactly there. So a location
//   point at exactly (0, 0) is rejected; for the other types, whose coordinates are optional,
//   exactly (0, 0) is read as "unknown" and both are set to null, keeping the record.
// - Measures: accuracy, altitude, velocity, heading and confidences, when present, finite
//   numbers; accuracy and velocity >= 0; heading in [0, 360]; activityConfidence in [0, 100].
//   A measurement's value finite. `utcOffsetMinutes` an integer in [-14 h, +14 h].
// - Required strings: item `kind`, place `placeId`, measurement `metric` and `unit`; identifiers
//   (those, and a message's `messageId`, `threadId`, `inReplyTo`) at most IDENTIFIER_MAX_BYTES
//   (truncating an id could merge distinct things, so too long is rejected). `language`, when
//   present, shaped like a BCP 47 tag.
// - Free text too long is truncated, not rejected (losing a long note is worse than keeping its
//   first megabyte): title/name/address/subject/from at 8 KiB, url at 16 KiB, text/body at 1 MiB,
//   measured in UTF-8 bytes and cut on a character boundary. The cut is recorded as
//   `attributes.truncated = { <field>: <original UTF-8 byte length> }`.
// - A message's lists: `to`, `cc` and `labels` arrays of strings, each string cut at 8 KiB like a
//   title (recorded as `to[3]`); `attachments` an array of { filename: string | null,
//   contentType: string, size: a whole number >= 0, sha256: 64 lower-case hex digits }, filename
//   and contentType cut at 8 KiB (recorded as `attachments[0].filename`).
// - A contact: `uid` at most IDENTIFIER_MAX_BYTES; `birthday`, when present, `YYYY-MM-DD` and a
//   real day; `emails`, `phones` and `categories` arrays of strings, each cut at 8 KiB like a
//   title; fullName/organization/title cut at 8 KiB, photoUri at 16 KiB, notes at 1 MiB.
// - A calendar event: `startsAt` (and `endsAt`, `recurrenceId` when present) valid Dates after the
//   epoch, with no upper bound (calendars hold future events); it must not end before it starts;
//   `uid` at most IDENTIFIER_MAX_BYTES; summary/location/organizer cut at 8 KiB, description at
//   1 MiB; `attendees` an array.
// - A document: `sha256` 64 hex digits, `size` a byte count, `path` non-empty, `kind` and
//   `extraction` from their lists, `metadata` an object; title cut at 8 KiB, text at 1 MiB.
// - Media (photos, videos): `sha256` 64 hex digits, `size` a byte count, dimensions and duration >= 0,
//   orientation 1-8, positions both-or-neither within range; the file's own time (EXIF, MP4) any
//   real date (camera clocks are often wrong, and a wrong date beats a lost photo), a sidecar's
//   no later than a day from now; camera make/model and names cut at 8 KiB, a sidecar's
//   description at 1 MiB, each person's name at 8 KiB.
// Not checked here: the size of `attributes` (walking it would cost as much as normalizing it).
import type { LakeRecord, MessageRecord, Rejection } from '../records.js';

export type ValidationResult = { ok: true; record: LakeRecord } | { ok: false; rejection: Rejection };

export interface ValidationOptions {
  /** The present, in ms since the epoch; defaults to Date.now(). Tests pin it. */
  now?: number;
}

export const TITLE_MAX_BYTES = 8 * 1024;
export const URL_MAX_BYTES = 16 * 1024;
export const TEXT_MAX_BYTES = 1024 * 1024;
export const IDENTIFIER_MAX_BYTES = 1024;
/** How far past now a timestamp may lie. */
export const FUTURE_SLACK_MS = 24 * 60 * 60 * 1000;
const MAX_UTC_OFFSET_MINUTES = 14 * 60;
const EXCERPT_CHARS = 120;
const LANGUAGE_TAG = /^[a-z]{2,3}(?:-[a-z0-9]{1,8})*$/i;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Thrown inside this module only, to leave the checks at the first failure. */
class Invalid {
  constructor(
    readonly reason: string,
    readonly excerpt: string | null,
  ) {}
}

export function validateRecord(record: LakeRecord, options: ValidationOptions = {}): ValidationResult {
  const latest = (options.now ?? Date.now()) + FUTURE_SLACK_MS;
  try {
    requireString(record.source, 'source', IDENTIFIER_MAX_BYTES);
    if (!Array.isArray(record.key) || record.key.length === 0) fail('key must be a non-empty array', record.key);
    if (record.revision != null && (!Number.isSafeInteger(record.revision) || record.revision < 0)) {
      fail(`revision ${describe(record.revision)} is not a whole number ≥ 0`, record.revision);
    }
    switch (record.type) {
      case 'blob_ref': {
        if (typeof record.sha256 !== 'string' || !SHA256_HEX.test(record.sha256)) fail(`sha256 ${describe(record.sha256)} is not 64 hex digits`, record.sha256);
        if (!Number.isSafeInteger(record.size) || record.size < 0) fail(`size ${describe(record.size)} is not a byte count`, record.size);
        requireString(record.originalName, 'originalName', IDENTIFIER_MAX_BYTES * 16);
        optionalString(record.mimeType, 'mimeType', IDENTIFIER_MAX_BYTES);
        return { ok: true, record };
      }
      case 'document': {
        if (typeof record.sha256 !== 'string' || !SHA256_HEX.test(record.sha256)) fail(`sha256 ${describe(record.sha256)} is not 64 hex digits`, record.sha256);
        if (!Number.isSafeInteger(record.size) || record.size < 0) fail(`size ${describe(record.size)} is not a byte count`, record.size);
        requireString(record.path, 'path', IDENTIFIER_MAX_BYTES * 16);
        if (!DOCUMENT_KINDS.includes(record.kind)) fail(`kind ${describe(record.kind)} is not one of ${DOCUMENT_KINDS.join(', ')}`, record.kind);
        if (!DOCUMENT_EXTRACTIONS.includes(record.extraction)) fail(`extraction ${describe(record.extraction)} is not one of ${DOCUMENT_EXTRACTIONS.join(', ')}`, record.extraction);
        optionalString(record.mimeType, 'mimeType', IDENTIFIER_MAX_BYTES);
        optionalString(record.mimeFromName, 'mimeFromName', IDENTIFIER_MAX_BYTES);
        if (record.metadata === null || typeof record.metadata !== 'object' || Array.isArray(record.metadata)) fail(`metadata ${describe(record.metadata)} is not an object`, record.metadata);
        return { ok: true, record: repairText(record, DOCUMENT_TEXT_LIMITS) };
      }
      case 'location_point': {
        requireDate(record.recordedAt, 'recordedAt', latest);
        requireCoordinates(record.lat, record.lon);
        if (record.lat === 0 && record.lon === 0) fail('lat/lon is (0, 0), the null island that marks an unknown position', '0,0');
        optionalNumber(record.accuracyM, 'accuracyM', 0, Infinity);
        optionalNumber(record.altitudeM, 'altitudeM', -Infinity, Infinity);
        optionalNumber(record.velocityMps, 'velocityMps', 0, Infinity);
        optionalNumber(record.headingDeg, 'headingDeg', 0, 360);
        optionalNumber(record.activityConfidence, 'activityConfidence', 0, 100);
        optionalString(record.activity, 'activity', IDENTIFIER_MAX_BYTES);
        optionalString(record.device, 'device', IDENTIFIER_MAX_BYTES);
        return { ok: true, record };
      }
      case 'item': {
        requireString(record.kind, 'kind', IDENTIFIER_MAX_BYTES);
        requireDate(record.occurredAt, 'occurredAt', latest);
        if (record.utcOffsetMinutes != null) {
          const offset = record.utcOffsetMinutes;
          if (!Number.isInteger(offset) || Math.abs(offset) > MAX_UTC_OFFSET_MINUTES) {
            fail(`utcOffsetMinutes ${String(offset)} is not a whole number of minutes within ±14 h`, offset);
          }
        }
        if (record.language != null && (typeof record.language !== 'string' || !LANGUAGE_TAG.test(record.language))) {
          fail(`language ${describe(record.language)} is not a BCP 47 tag`, record.language);
        }
        return { ok: true, record: repairText(repairOptionalCoordinates(record), ITEM_TEXT_LIMITS) };
      }
      case 'place': {
        requireString(record.placeId, 'placeId', IDENTIFIER_MAX_BYTES);
        return { ok: true, record: repairText(repairOptionalCoordinates(record), PLACE_TEXT_LIMITS) };
      }
      case 'visit': {
        requireDate(record.startedAt, 'startedAt', latest);
        requireDate(record.endedAt, 'endedAt', latest);
        if (record.endedAt.getTime() < record.startedAt.getTime()) {
          fail(`endedAt ${record.endedAt.toISOString()} is before startedAt ${record.startedAt.toISOString()}`, null);
        }
        optionalString(record.placeId, 'placeId', IDENTIFIER_MAX_BYTES);
        optionalNumber(record.confidence, 'confidence', -Infinity, Infinity);
        return { ok: true, record: repairOptionalCoordinates(record) };
      }
      case 'measurement': {
        requireDate(record.measuredAt, 'measuredAt', latest);
        requireString(record.metric, 'metric', IDENTIFIER_MAX_BYTES);
        requireString(record.unit, 'unit', IDENTIFIER_MAX_BYTES);
        if (typeof record.value !== 'number' || !Number.isFinite(record.value)) {
          fail(`value ${describe(record.value)} is not a finite number`, record.value);
        }
        return { ok: true, record };
      }
      case 'message': {
        requireDate(record.sentAt, 'sentAt', latest);
        optionalString(record.messageId, 'messageId', IDENTIFIER_MAX_BYTES);
        optionalString(record.threadId, 'threadId', IDENTIFIER_MAX_BYTES);
        optionalString(record.inReplyTo, 'inReplyTo', IDENTIFIER_MAX_BYTES);
        return { ok: true, record: repairMessageLists(repairText(record, MESSAGE_TEXT_LIMITS)) };
      }
      case 'contact': {
        optionalString(record.uid, 'uid', IDENTIFIER_MAX_BYTES);
        if (record.birthday != null) requireDay(record.birthday, 'birthday');
        return { ok: true, record: repairStringLists(repairText(record, CONTACT_TEXT_LIMITS), CONTACT_LISTS) };
      }
      case 'calendar_event': {
        requireDate(record.startsAt, 'startsAt', Infinity);
        if (record.endsAt != null) {
          requireDate(record.endsAt, 'endsAt', Infinity);
          if (record.endsAt.getTime() < record.startsAt.getTime()) {
            fail(`endsAt ${record.endsAt.toISOString()} is before startsAt ${record.startsAt.toISOString()}`, null);
          }
        }
        if (record.recurrenceId != null) requireDate(record.recurrenceId, 'recurrenceId', Infinity);
        optionalString(record.uid, 'uid', IDENTIFIER_MAX_BYTES);
        if (!Array.isArray(record.attendees)) fail(`attendees ${describe(record.attendees)} is not an array`, record.attendees);
        return { ok: true, record: repairText(record, EVENT_TEXT_LIMITS) };
      }
      case 'media': {
        requireSha256(record.sha256);
        if (!Number.isSafeInteger(record.size) || record.size < 0) fail(`size ${describe(record.size)} is not a byte count`, record.size);
        requireString(record.mimeType, 'mimeType', IDENTIFIER_MAX_BYTES);
        optionalNumber(record.width, 'width', 0, Number.MAX_SAFE_INTEGER);
        optionalNumber(record.height, 'height', 0, Number.MAX_SAFE_INTEGER);
        optionalNumber(record.durationS, 'durationS', 0, Infinity);
        optionalNumber(record.orientation, 'orientation', 1, 8);
        optionalNumber(record.metaUtcOffsetMinutes, 'metaUtcOffsetMinutes', -MAX_UTC_OFFSET_MINUTES, MAX_UTC_OFFSET_MINUTES);
        // A camera's clock can be anywhere: only a real date is required, not a plausible one.
        if (record.metaTakenAt != null) requireDate(record.metaTakenAt, 'metaTakenAt', Infinity);
        optionalPosition(record.metaLat, record.metaLon, 'meta');
        return { ok: true, record: repairText(record, MEDIA_TEXT_LIMITS) };
      }
      case 'media_file': {
        if (typeof record.folder !== 'string') fail(`folder ${describe(record.folder)} is not a string`, record.folder);
        requireString(record.fileName, 'fileName', IDENTIFIER_MAX_BYTES * 16);
        requireString(record.pairName, 'pairName', IDENTIFIER_MAX_BYTES * 16);
        requireSha256(record.sha256);
        optionalNumber(record.pairDup, 'pairDup', 0, 9999);
        return { ok: true, record };
      }
      case 'media_sidecar': {
        if (typeof record.folder !== 'string') fail(`folder ${describe(record.folder)} is not a string`, record.folder);
        requireString(record.sidecarName, 'sidecarName', IDENTIFIER_MAX_BYTES * 16);
        requireString(record.pairName, 'pairName', IDENTIFIER_MAX_BYTES * 16);
        optionalNumber(record.pairDup, 'pairDup', 0, 9999);
        if (record.takenAt != null) requireDate(record.takenAt, 'takenAt', latest);
        if (record.createdAt != null) requireDate(record.createdAt, 'createdAt', latest);
        optionalPosition(record.lat, record.lon, '');
        optionalPosition(record.exifLat, record.exifLon, 'exif');
        return { ok: true, record: repairStringLists(repairText(record, MEDIA_SIDECAR_TEXT_LIMITS), ['people']) };
      }
      case 'media_album': {
        if (typeof record.folder !== 'string') fail(`folder ${describe(record.folder)} is not a string`, record.folder);
        if (record.albumDate != null) requireDate(record.albumDate, 'albumDate', latest);
        optionalPosition(record.lat, record.lon, '');
        return { ok: true, record: repairText(record, MEDIA_ALBUM_TEXT_LIMITS) };
      }
      default: {
        const unknown: { type?: unknown } = record;
        fail(`type ${describe(unknown.type)} is not a record type`, unknown.type);
      }
    }
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    return { ok: false, rejection: { category: 'invalid', reason: error.reason, excerpt: error.excerpt } };
  }
}

function fail(reason: string, value: unknown): never {
  throw new Invalid(reason, value === null || value === undefined ? null : excerptOf(value));
}

function requireDate(value: unknown, field: string, latest: number): void {
  if (!(value instanceof Date)) fail(`${field} ${describe(value)} is not a Date`, value);
  const time = value.getTime();
  if (Number.isNaN(time)) fail(`${field} is an invalid Date`, null);
  if (time <= 0) fail(`${field} ${value.toISOString()} is not after 1970-01-01T00:00:00Z`, value.toISOString());
  if (time > latest) fail(`${field} ${value.toISOString()} is more than a day in the future`, value.toISOString());
}

function requireCoordinates(lat: unknown, lon: unknown): void {
  if (typeof lat !== 'number' || !Number.isFinite(lat) || lat < -90 || lat > 90) {
    fail(`lat ${describe(lat)} is not a number in [-90, 90]`, lat);
  }
  if (typeof lon !== 'number' || !Number.isFinite(lon) || lon < -180 || lon > 180) {
    fail(`lon ${describe(lon)} is not a number in [-180, 180]`, lon);
  }
}

function optionalNumber(value: unknown, field: string, min: number, max: number): void {
  if (value === null || value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${field} ${describe(value)} is not a finite number`, value);
  if (value < min || value > max) fail(`${field} ${value} is outside [${min}, ${max}]`, value);
}

function requireString(value: unknown, field: string, maxBytes: number): void {
  if (typeof value !== 'string' || value.length === 0) fail(`${field} ${describe(value)} must be a non-empty string`, value);
  if (value.length * 3 > maxBytes && Buffer.byteLength(value) > maxBytes) {
    fail(`${field} is ${Buffer.byteLength(value)} bytes, over the ${maxBytes}-byte limit for identifiers`, value);
  }
}

function optionalString(value: unknown, field: string, maxBytes: number): void {
  if (value === null || value === undefined) return;
  requireString(value, field, maxBytes);
}

function requireSha256(value: unknown): void {
  if (typeof value !== 'string' || !SHA256_HEX.test(value)) fail(`sha256 ${describe(value)} is not 64 hex digits`, value);
}

/** Optional coordinates (`prefix` names them in messages): both or neither, within range. */
function optionalPosition(lat: unknown, lon: unknown, prefix: string): void {
  const name = (axis: string) => (prefix ? `${prefix}${axis[0]!.toUpperCase()}${axis.slice(1)}` : axis);
  if ((lat == null) !== (lon == null)) fail(`${name('lat')} and ${name('lon')} must both be present or both be absent`, null);
  optionalNumber(lat, name('lat'), -90, 90);
  optionalNumber(lon, name('lon'), -180, 180);
}

type WithOptionalCoordinates = { lat?: number | null; lon?: number | null };

function repairOptionalCoordinates<T extends LakeRecord & WithOptionalCoordinates>(record: T): T {
  const hasLat = record.lat !== null && record.lat !== undefined;
  const hasLon = record.lon !== null && record.lon !== undefined;
  if (!hasLat && !hasLon) return record;
  if (hasLat !== hasLon) fail(`lat ${describe(record.lat)} and lon ${describe(record.lon)}: one is given without the other`, null);
  requireCoordinates(record.lat, record.lon);
  if (record.lat === 0 && record.lon === 0) return { ...record, lat: null, lon: null };
  return record;
}

type TextLimits = ReadonlyArray<readonly [field: string, maxBytes: number]>;
const ITEM_TEXT_LIMITS: TextLimits = [
  ['title', TITLE_MAX_BYTES],
  ['url', URL_MAX_BYTES],
  ['text', TEXT_MAX_BYTES],
];
const PLACE_TEXT_LIMITS: TextLimits = [
  ['name', TITLE_MAX_BYTES],
  ['address', TITLE_MAX_BYTES],
];
const MESSAGE_TEXT_LIMITS: TextLimits = [
  ['from', TITLE_MAX_BYTES],
  ['subject', TITLE_MAX_BYTES],
  ['body', TEXT_MAX_BYTES],
];
const MESSAGE_LISTS = ['to', 'cc', 'labels'] as const;
const CONTACT_TEXT_LIMITS: TextLimits = [
  ['fullName', TITLE_MAX_BYTES],
  ['organization', TITLE_MAX_BYTES],
  ['title', TITLE_MAX_BYTES],
  ['photoUri', URL_MAX_BYTES],
  ['notes', TEXT_MAX_BYTES],
];
const CONTACT_LISTS = ['emails', 'phones', 'categories'] as const;
const EVENT_TEXT_LIMITS: TextLimits = [
  ['summary', TITLE_MAX_BYTES],
  ['location', TITLE_MAX_BYTES],
  ['organizer', TITLE_MAX_BYTES],
  ['description', TEXT_MAX_BYTES],
];
const DOCUMENT_TEXT_LIMITS: TextLimits = [
  ['title', TITLE_MAX_BYTES],
  ['text', TEXT_MAX_BYTES],
];
const DOCUMENT_KINDS: readonly string[] = ['pdf', 'docx', 'csv', 'json', 'text', 'other'];
const DOCUMENT_EXTRACTIONS: readonly string[] = ['text', 'none', 'encrypted', 'malformed', 'too_large'];
const MEDIA_TEXT_LIMITS: TextLimits = [
  ['cameraMake', TITLE_MAX_BYTES],
  ['cameraModel', TITLE_MAX_BYTES],
  ['originalName', TITLE_MAX_BYTES],
];
const MEDIA_SIDECAR_TEXT_LIMITS: TextLimits = [
  ['title', TITLE_MAX_BYTES],
  ['description', TEXT_MAX_BYTES],
  ['url', URL_MAX_BYTES],
];
const MEDIA_ALBUM_TEXT_LIMITS: TextLimits = [
  ['title', TITLE_MAX_BYTES],
  ['description', TEXT_MAX_BYTES],
  ['location', TITLE_MAX_BYTES],
  ['access', TITLE_MAX_BYTES],
];
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

function requireDay(value: unknown, field: string): void {
  const match = typeof value === 'string' ? DAY.exec(value) : null;
  const date = match ? new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]))) : null;
  if (!match || !date || date.getUTCFullYear() !== Number(match[1]) || date.getUTCMonth() !== Number(match[2]) - 1 || date.getUTCDate() !== Number(match[3])) {
    fail(`${field} ${describe(value)} is not a day (YYYY-MM-DD)`, value);
  }
}

/** Checks string-array fields; returns the record, or a copy with strings over 8 KiB cut. */
function repairStringLists<T extends LakeRecord>(record: T, fields: readonly string[]): T {
  const values = record as unknown as Record<string, unknown>;
  let copy: Record<string, unknown> | null = null;
  const truncated: Record<string, number> = {};
  for (const field of fields) {
    const list = values[field];
    if (!Array.isArray(list)) fail(`${field} ${describe(list)} is not an array of strings`, list);
    let repaired: string[] | null = null;
    for (let i = 0; i < list.length; i++) {
      const item: unknown = list[i];
      if (typeof item !== 'string') fail(`${field}[${i}] ${describe(item)} is not a string`, item);
      const bytes = overLimitBytes(item, TITLE_MAX_BYTES);
      if (bytes === null) continue;
      truncated[`${field}[${i}]`] = bytes;
      (repaired ??= [...(list as string[])])[i] = truncateUtf8(item, TITLE_MAX_BYTES);
    }
    if (repaired) (copy ??= { ...values })[field] = repaired;
  }
  if (copy === null) return record;
  return withTruncated(copy, truncated) as unknown as T;
}

/** Checks the optional free-text fields; returns the record, or a copy with long ones truncated. */
function repairText<T extends LakeRecord>(record: T, limits: TextLimits): T {
  const fields = record as unknown as Record<string, unknown>;
  let copy: Record<string, unknown> | null = null;
  let truncated: Record<string, number> | null = null;
  for (const [field, maxBytes] of limits) {
    const value = fields[field];
    if (value === null || value === undefined) continue;
    if (typeof value !== 'string') fail(`${field} ${describe(value)} is not a string`, value);
    const bytes = overLimitBytes(value, maxBytes);
    if (bytes === null) continue;
    copy ??= { ...fields };
    truncated ??= {};
    copy[field] = truncateUtf8(value, maxBytes);
    truncated[field] = bytes;
  }
  if (copy === null || truncated === null) return record;
  return withTruncated(copy, truncated) as unknown as T;
}

/** The UTF-8 length of `value` when it is over `maxBytes`, else null. */
function overLimitBytes(value: string, maxBytes: number): number | null {
  // A UTF-16 unit is at most 3 UTF-8 bytes, so most strings skip the byte count.
  if (value.length * 3 <= maxBytes) return null;
  const bytes = Buffer.byteLength(value);
  return bytes > maxBytes ? bytes : null;
}

/** `copy` with the cuts added to its `attributes.truncated`. */
function withTruncated(copy: Record<string, unknown>, truncated: Record<string, number>): Record<string, unknown> {
  const attributes = (copy.attributes ?? {}) as Record<string, unknown>;
  copy.attributes = { ...attributes, truncated: { ...(attributes.truncated as object | undefined), ...truncated } };
  return copy;
}

/** Checks a message's to/cc/labels and attachments; returns it, or a copy with long strings cut. */
function repairMessageLists(record: MessageRecord): MessageRecord {
  let copy: Record<string, unknown> | null = null;
  const truncated: Record<string, number> = {};
  const cut = (value: string, path: string): string => {
    const bytes = overLimitBytes(value, TITLE_MAX_BYTES);
    if (bytes === null) return value;
    truncated[path] = bytes;
    return truncateUtf8(value, TITLE_MAX_BYTES);
  };
  for (const field of MESSAGE_LISTS) {
    const list: unknown = record[field];
    if (!Array.isArray(list)) fail(`${field} ${describe(list)} is not an array of strings`, list);
    let repaired: string[] | null = null;
    for (let i = 0; i < list.length; i++) {
      const item: unknown = list[i];
      if (typeof item !== 'string') fail(`${field}[${i}] ${describe(item)} is not a string`, item);
      const kept = cut(item, `${field}[${i}]`);
      if (kept !== item) (repaired ??= [...(list as string[])])[i] = kept;
    }
    if (repaired) (copy ??= { ...record })[field] = repaired;
  }
  const attachments: unknown = record.attachments;
  if (!Array.isArray(attachments)) fail(`attachments ${describe(attachments)} is not an array`, attachments);
  let repairedAttachments: MessageRecord['attachments'] | null = null;
  for (let i = 0; i < attachments.length; i++) {
    const attachment: unknown = attachments[i];
    const at = `attachments[${i}]`;
    if (attachment === null || typeof attachment !== 'object' || Array.isArray(attachment)) {
      fail(`${at} ${describe(attachment)} is not an object`, attachment);
    }
    const { filename, contentType, size, sha256 } = attachment as Record<string, unknown>;
    if (filename !== null && typeof filename !== 'string') fail(`${at}.filename ${describe(filename)} is not a string or null`, filename);
    if (typeof contentType !== 'string') fail(`${at}.contentType ${describe(contentType)} is not a string`, contentType);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) fail(`${at}.size ${describe(size)} is not a whole number >= 0`, size);
    if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) fail(`${at}.sha256 ${describe(sha256)} is not 64 lower-case hex digits`, sha256);
    const keptFilename = filename === null ? null : cut(filename, `${at}.filename`);
    const keptContentType = cut(contentType, `${at}.contentType`);
    if (keptFilename !== filename || keptContentType !== contentType) {
      repairedAttachments ??= [...(attachments as MessageRecord['attachments'])];
      repairedAttachments[i] = { ...(attachment as MessageRecord['attachments'][number]), filename: keptFilename, contentType: keptContentType };
    }
  }
  if (repairedAttachments) (copy ??= { ...record }).attachments = repairedAttachments;
  if (copy === null) return record;
  return withTruncated(copy, truncated) as unknown as MessageRecord;
}

const encoder = new TextEncoder();

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8; never splits a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const buffer = new Uint8Array(maxBytes);
  const { read } = encoder.encodeInto(text, buffer);
  return text.slice(0, read);
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > EXCERPT_CHARS ? `${value.slice(0, EXCERPT_CHARS)}…` : value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

function excerptOf(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (value instanceof Date || typeof value !== 'object') text = describe(value);
  else text = JSON.stringify(value) ?? describe(value);
  return text.length > EXCERPT_CHARS ? text.slice(0, EXCERPT_CHARS) : text;
}
