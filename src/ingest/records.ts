// The records that parsers emit and the loader writes. One variant per destination table; every
// record carries its natural key, from which the loader derives the content hash that makes
// re-imports add nothing (unique per user).

/** Parts of a record's identity: source-specific ids, timestamps, coordinates, payload. */
export type NaturalKey = ReadonlyArray<string | number | boolean | null>;

interface RecordBase {
  /** Source module id, e.g. `google.location.records` (see src/ingest/sources). */
  source: string;
  key: NaturalKey;
  /**
   * Items and measurements only: a version of the same fact (same key), such as a note's edit
   * time. A stored row with a lower or no revision is replaced by this one; without a revision
   * the first row stays and later ones count as duplicates.
   */
  revision?: number | null;
}

/** A GPS fix → `timeseries.location_points`. Coordinates in degrees (WGS 84). */
export interface LocationPointRecord extends RecordBase {
  type: 'location_point';
  recordedAt: Date;
  lat: number;
  lon: number;
  accuracyM?: number | null;
  altitudeM?: number | null;
  velocityMps?: number | null;
  headingDeg?: number | null;
  /** Most likely activity (`WALKING`, `IN_VEHICLE`, ...) and its confidence 0..100. */
  activity?: string | null;
  activityConfidence?: number | null;
  device?: string | null;
  attributes?: Record<string, unknown>;
}

/** A timeline entry → `user_data.items`: a search, a page visit, a video watched, a note... */
export interface ItemRecord extends RecordBase {
  type: 'item';
  /** What happened: `search`, `page_visit`, `video_watch`, `note`, `app_install`, ... */
  kind: string;
  occurredAt: Date;
  /**
   * Microseconds past occurredAt's millisecond (0-999), where the source states them (Chrome's
   * time_usec, ISO times with six fraction digits): a Date holds milliseconds, timestamptz holds
   * microseconds. Not part of the key, so records hash as they did before it was kept.
   */
  occurredAtMicros?: number | null;
  /** Original UTC offset in minutes where the source states one (null: source gives UTC only). */
  utcOffsetMinutes?: number | null;
  title?: string | null;
  text?: string | null;
  url?: string | null;
  /** BCP 47 language tag of title/text when detected. */
  language?: string | null;
  lat?: number | null;
  lon?: number | null;
  attributes?: Record<string, unknown>;
}

/** A named place → `user_data.places`; keyed by the provider's place id when there is one. */
export interface PlaceRecord extends RecordBase {
  type: 'place';
  placeId: string;
  name?: string | null;
  address?: string | null;
  lat?: number | null;
  lon?: number | null;
  attributes?: Record<string, unknown>;
}

/** Time spent at a place → `user_data.visits`. */
export interface VisitRecord extends RecordBase {
  type: 'visit';
  placeId?: string | null;
  startedAt: Date;
  endedAt: Date;
  lat?: number | null;
  lon?: number | null;
  confidence?: number | null;
  attributes?: Record<string, unknown>;
}

/** A numeric sample (steps, heart rate, ms played...) → `timeseries.measurements`. */
export interface MeasurementRecord extends RecordBase {
  type: 'measurement';
  measuredAt: Date;
  metric: string;
  value: number;
  unit: string;
  attributes?: Record<string, unknown>;
}

/** An email → `user_data.messages` (issue 4; not loaded yet). Bodies are plain text (HTML converted). */
export interface MessageRecord extends RecordBase {
  type: 'message';
  /** RFC 5322 Message-ID without angle brackets, or null when the message has none. */
  messageId: string | null;
  /** Gmail thread id (X-GM-THRID) when present. */
  threadId: string | null;
  sentAt: Date;
  from: string | null;
  to: string[];
  cc: string[];
  subject: string | null;
  /** Plain-text body (HTML converted to text), bounded in size. */
  body: string | null;
  labels: string[];
  inReplyTo: string | null;
  attachments: { filename: string | null; contentType: string; size: number; sha256: string }[];
  attributes?: Record<string, unknown>;
}

/** A postal address of a contact (vCard ADR): the seven parts, empty ones null. */
export interface ContactAddress {
  types: string[];
  poBox: string | null;
  extended: string | null;
  street: string | null;
  locality: string | null;
  region: string | null;
  postalCode: string | null;
  country: string | null;
}

/** A contact (one vCard) → `user_data.contacts`. */
export interface ContactRecord extends RecordBase {
  type: 'contact';
  /** vCard UID when present. */
  uid: string | null;
  fullName: string | null;
  /** vCard N: family, given, additional, prefixes, suffixes (null parts omitted). */
  structuredName: { family?: string; given?: string; additional?: string; prefix?: string; suffix?: string } | null;
  emails: string[];
  phones: string[];
  organization: string | null;
  title: string | null;
  /** `YYYY-MM-DD` (a birthday without a year is kept in attributes instead). */
  birthday: string | null;
  addresses: ContactAddress[];
  notes: string | null;
  photoUri: string | null;
  categories: string[];
  attributes?: Record<string, unknown>;
}

/** One occurrence of a calendar event (iCalendar VEVENT) → `user_data.calendar_events`. */
export interface CalendarEventRecord extends RecordBase {
  type: 'calendar_event';
  uid: string | null;
  startsAt: Date;
  endsAt: Date | null;
  /** For an occurrence of a series: the start the rule gave it (an override's RECURRENCE-ID). */
  recurrenceId: Date | null;
  allDay: boolean;
  /** The IANA or VTIMEZONE id the times were written in; null for UTC or floating times. */
  timeZone: string | null;
  summary: string | null;
  description: string | null;
  location: string | null;
  status: string | null;
  organizer: string | null;
  attendees: { address: string; name: string | null; status: string | null; role: string | null }[];
  rrule: string | null;
  calendarName: string | null;
  attributes?: Record<string, unknown>;
}

/**
 * A file kept as it is in the blob store (a photo, an attachment, a document) → `user_data.blob_refs`.
 * The source puts the content into the store first (content-addressed, idempotent); this record is
 * the user's reference to it, loaded with the batch so it commits with the file's checkpoint.
 */
export interface BlobRefRecord extends RecordBase {
  type: 'blob_ref';
  /** SHA-256 of the content, hex. */
  sha256: string;
  size: number;
  mimeType: string | null;
  /** The file's path in the export. */
  originalName: string;
  attributes?: undefined;
}

/** What became of a document's text: extracted, none to extract, or why not. */
export type DocumentExtraction = 'text' | 'none' | 'encrypted' | 'malformed' | 'too_large';

/**
 * A file kept as a document (PDF, DOCX, CSV, JSON, text, anything no dedicated source reads) →
 * `user_data.documents`; its bytes are in the blob store (a `blob_ref` record comes with it).
 */
export interface DocumentRecord extends RecordBase {
  type: 'document';
  /** SHA-256 of the content, hex. */
  sha256: string;
  size: number;
  /** The file's path in the export. */
  path: string;
  kind: 'pdf' | 'docx' | 'csv' | 'json' | 'text' | 'other';
  /** From the content (sniffed) and from the name's extension. */
  mimeType: string | null;
  mimeFromName: string | null;
  title: string | null;
  /** Extracted text, at most TEXT_MAX_BYTES (the cut recorded in attributes.truncated). */
  text: string | null;
  language?: string | null;
  /** Per kind: PDF info dict and pages, DOCX core properties, CSV headers and rows, JSON shape. */
  metadata: Record<string, unknown>;
  /** scanPii counts over the text, only the kinds found; null when there was no text to scan. */
  pii: Record<string, number> | null;
  extraction: DocumentExtraction;
  attributes?: Record<string, unknown>;
}

/**
 * A photo or video → `user_data.media`, one row per content (SHA-256): what the file itself says.
 * The same bytes in several folders (albums, year folders) are one media row; where each copy
 * was is a `media_file` record. The merged view (taken time, place, description, people, albums)
 * is filled in after the import from the sidecars (sources/formats/media/reconcile.ts).
 */
export interface MediaRecord extends RecordBase {
  type: 'media';
  sha256: string;
  size: number;
  /** From the content (magic bytes). */
  mimeType: string;
  width: number | null;
  height: number | null;
  /** Videos: seconds (mvhd duration / timescale). */
  durationS: number | null;
  cameraMake: string | null;
  cameraModel: string | null;
  /** EXIF orientation 1-8. */
  orientation: number | null;
  /** When the file says it was taken: EXIF DateTimeOriginal, or a video's mvhd creation time. */
  metaTakenAt: Date | null;
  /** The offset EXIF states (OffsetTimeOriginal); null when it states none: metaTakenAt is then the wall clock read as UTC. */
  metaUtcOffsetMinutes: number | null;
  metaLat: number | null;
  metaLon: number | null;
  metaAlt: number | null;
  /** Where the meta* values came from: `exif`, `mp4`, or null when the file gave none. */
  metaSource: string | null;
  /** The file's name where it was first seen. */
  originalName: string;
  /** Lens, software, rotation, and `problems` (unreadable EXIF...) */
  attributes?: Record<string, unknown>;
}

/** Where a copy of a media file sits in an export → `user_data.media_files`; the key sidecars pair on. */
export interface MediaFileRecord extends RecordBase {
  type: 'media_file';
  /** The folder inside the export (`Takeout/Google Photos/Trip`), '' at the top. */
  folder: string;
  fileName: string;
  sha256: string;
  /** The name a sidecar describes: `(n)` and `-edited` taken off (`IMG_1(1).jpg` → `IMG_1.jpg`). */
  pairName: string;
  /** The `(n)` of a duplicate name, 0 without. */
  pairDup: number;
  /** `album`, `year` (Google's `Photos from 2023`, date folders) or `root`. */
  folderKind: 'album' | 'year' | 'root';
  attributes?: undefined;
}

/** A Google Photos JSON sidecar → `user_data.media_sidecars`, joined to its media after the import. */
export interface MediaSidecarRecord extends RecordBase {
  type: 'media_sidecar';
  folder: string;
  sidecarName: string;
  /** The media name the sidecar's name gives (maybe cut short by Google's 46-character limit). */
  pairName: string;
  pairDup: number;
  /** The sidecar's name reached Google's length limit: pairName may be a prefix of the media name. */
  truncated: boolean;
  title: string | null;
  description: string | null;
  takenAt: Date | null;
  createdAt: Date | null;
  lat: number | null;
  lon: number | null;
  alt: number | null;
  exifLat: number | null;
  exifLon: number | null;
  exifAlt: number | null;
  people: string[];
  favorited: boolean | null;
  url: string | null;
  attributes?: Record<string, unknown>;
}

/** A Google Photos album's metadata file (`metadata.json`, localized) → `user_data.media_albums`. */
export interface MediaAlbumRecord extends RecordBase {
  type: 'media_album';
  folder: string;
  title: string | null;
  description: string | null;
  access: string | null;
  albumDate: Date | null;
  location: string | null;
  lat: number | null;
  lon: number | null;
  attributes?: Record<string, unknown>;
}

export type LakeRecord =
  | BlobRefRecord
  | DocumentRecord
  | LocationPointRecord
  | ItemRecord
  | PlaceRecord
  | VisitRecord
  | MeasurementRecord
  | MessageRecord
  | ContactRecord
  | CalendarEventRecord
  | MediaRecord
  | MediaFileRecord
  | MediaSidecarRecord
  | MediaAlbumRecord;

/** Why a piece of input was refused; stored in `imports.quarantine`. */
export type QuarantineCategory =
  | 'malformed' // not parseable (bad JSON, broken HTML/CSV row, truncated)
  | 'invalid' // parsed but fails validation (coordinates out of range, no timestamp...)
  | 'unsupported' // recognised but a variant we do not read
  | 'encrypted'
  | 'unsafe' // refused for safety: path traversal, links, bombs
  | 'too_large';

export interface Rejection {
  category: QuarantineCategory;
  reason: string;
  /** Where in the file: byte offset of the offending value, line number, or both. */
  byteOffset?: number | null;
  line?: number | null;
  /** A bounded excerpt of the offending input (never the whole of a large value). */
  excerpt?: string | null;
}

/**
 * What a parser yields: a record, or a rejection that the runner quarantines while the rest of
 * the file carries on. `offset` is the byte offset in the file where the value starts.
 */
export type ParseEvent =
  /**
   * `asciiOnly`: every string in the record is plain ASCII (made from input bytes that were all
   * ASCII with no escape sequence, and the source's own ASCII constants), so normalization would
   * change nothing and is skipped. Only a source that knows where each string came from sets it.
   */
  | { kind: 'record'; record: LakeRecord; offset: number; asciiOnly?: boolean }
  | { kind: 'reject'; rejection: Rejection };

/** Counters of repairs made while normalizing text (invalid UTF-8, NUL characters). */
export interface RepairCounts {
  invalidUtf8: number;
  nulCharacters: number;
}
