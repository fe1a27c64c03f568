// Photos and videos (JPEG, PNG, WEBP, HEIC/HEIF, AVIF, GIF, MP4, MOV), recognised by their magic
// bytes whatever their name says. One pass over the file:
//   - every byte goes to the blob store (context.blobs) and through SHA-256;
//   - the first HEAD_BYTES are kept to read EXIF (exifr: taken time and offset, GPS, camera,
//     orientation) and the dimensions (image-size);
//   - MP4/MOV boxes are followed as they pass (iso-boxes.ts): duration, creation time, frame size
//     and ©xyz position, wherever moov is (before or after mdat), in bounded memory.
// Records, all keyed by content: a `blob_ref` (the user's reference to the stored bytes, under the
// file's path), a `media` row per SHA-256 (the same photo in three folders is one row), and a
// `media_file` row for this copy's folder and name, which sidecars pair on after the import.
//
// Bad input: unreadable EXIF keeps the media row (without what could not be read), records the
// problem in attributes.problems and quarantines a note naming the file (`malformed`). A file
// whose NAME says image or video but whose content is something else (a `.mp4` that is text) is
// claimed here on purpose, so that it ends in a clear quarantine entry ("the content is
// text/plain, not the video/mp4 its name says") rather than being read as some other format; its
// bytes are still kept in the blob store, so nothing of the export is lost.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import exifr from 'exifr';
import { imageSize } from 'image-size';
import type { PutResult } from '../../../../store/blob-store.js';
import { detectMimeType, expectedMimeType, type MimeType } from '../../../extract/sniff.js';
import type { MediaRecord, ParseEvent } from '../../../records.js';
import { defineSource, type ParseContext, type Source } from '../../../source.js';
import { MEDIA_FILE, MEDIA_TYPES } from './entries.js';
import { IsoBoxReader } from './iso-boxes.js';
import { folderKind, mediaPairName, splitPath } from './names.js';
import { reconcileMedia } from './reconcile.js';

export const MEDIA_SOURCE_ID = MEDIA_FILE.id;
/** Bytes kept from the start of an image for EXIF and dimensions: EXIF lives in the first 64 KiB of a JPEG; HEIC's can sit further. */
export const HEAD_BYTES = 512 * 1024;

/** The formats exifr reads EXIF from (it does not read WEBP or GIF). */
const EXIF_TYPES: ReadonlySet<MimeType> = new Set(['image/jpeg', 'image/png', 'image/heic', 'image/avif']);
const EXIF_OPTIONS = {
  tiff: true,
  exif: true,
  gps: true,
  ifd1: false,
  interop: false,
  makerNote: false,
  userComment: false,
  xmp: false,
  icc: false,
  iptc: false,
  jfif: false,
  ihdr: false,
  // Raw values: exifr would turn `2023:10:06 08:38:51` into a Date in this process's time zone.
  reviveValues: false,
  translateValues: false,
  translateKeys: true,
  mergeOutput: false,
};

interface StreamedFile {
  sha256: string;
  size: number;
  head: Buffer;
  boxes: IsoBoxReader;
}

/** Reads the whole input once: into the blob store when there is one, through SHA-256, keeping the head. */
async function streamFile(input: Readable, context: ParseContext): Promise<StreamedFile> {
  const hasher = createHash('sha256');
  const boxes = new IsoBoxReader();
  const headChunks: Buffer[] = [];
  let headBytes = 0;
  let size = 0;
  let sink: PassThrough | null = null;
  let put: Promise<PutResult> | null = null;
  if (context.blobs) {
    sink = new PassThrough();
    put = context.blobs.put(sink);
    put.catch(() => {}); // awaited below
  }
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      hasher.update(chunk);
      boxes.push(chunk);
      size += chunk.length;
      if (headBytes < HEAD_BYTES) {
        const kept = chunk.subarray(0, HEAD_BYTES - headBytes);
        headChunks.push(Buffer.from(kept)); // a copy: the stream may reuse its buffers
        headBytes += kept.length;
      }
      if (sink && !sink.write(chunk)) await Promise.race([once(sink, 'drain'), put]);
    }
  } catch (error) {
    sink?.destroy(error as Error);
    throw error;
  }
  sink?.end();
  const sha256 = hasher.digest('hex');
  if (put) {
    const stored = await put;
    if (stored.sha256 !== sha256) throw new Error(`${context.path}: the blob store computed ${stored.sha256}, the reader ${sha256}`);
  }
  return { sha256, size, head: Buffer.concat(headChunks, headBytes), boxes };
}

export async function* parseMediaFile(input: Readable, context: ParseContext): AsyncGenerator<ParseEvent> {
  const { path } = context;
  const file = await streamFile(input, context);
  const detected = detectMimeType(file.head);
  const expected = expectedMimeType(path);
  if (detected === null || !MEDIA_TYPES.has(detected)) {
    if (context.blobs) yield blobRef(file, detected, path);
    const found = detected ?? 'of no known type';
    yield {
      kind: 'reject',
      rejection: {
        category: 'invalid',
        reason: `${path}: the content is ${found}, not the ${expected ?? 'image or video'} its name says; not read as media${context.blobs ? ' (the file is kept in the blob store)' : ''}`,
        byteOffset: 0,
        excerpt: excerpt(file.head),
      },
    };
    return;
  }
  const problems: string[] = [];
  const attributes: Record<string, unknown> = {};
  if (expected !== null && expected !== detected && !(detected.startsWith('video/') && expected.startsWith('video/'))) {
    attributes.nameSays = expected; // a HEIC named .jpg: kept, by what the content is
  }
  const folderPath = splitPath(path);
  const media: MediaRecord = {
    type: 'media',
    source: MEDIA_SOURCE_ID,
    key: [file.sha256],
    sha256: file.sha256,
    size: file.size,
    mimeType: detected,
    width: null,
    height: null,
    durationS: null,
    cameraMake: null,
    cameraModel: null,
    orientation: null,
    metaTakenAt: null,
    metaUtcOffsetMinutes: null,
    metaLat: null,
    metaLon: null,
    metaAlt: null,
    metaSource: null,
    originalName: folderPath.name,
    attributes,
  };
  let exifProblem: string | null = null;
  if (detected === 'video/mp4' || detected === 'video/quicktime') {
    readVideo(media, file.boxes, problems);
  } else {
    readDimensions(media, file.head, problems);
    if (EXIF_TYPES.has(detected)) exifProblem = await readExif(media, file.head);
    if (exifProblem) problems.push(exifProblem);
  }
  if (problems.length > 0) attributes.problems = problems;

  if (context.blobs) yield blobRef(file, detected, path);
  yield { kind: 'record', record: media, offset: 0 };
  const pair = mediaPairName(folderPath.name);
  yield {
    kind: 'record',
    record: {
      type: 'media_file',
      source: MEDIA_SOURCE_ID,
      key: [folderPath.folder, folderPath.name, file.sha256],
      folder: folderPath.folder,
      fileName: folderPath.name,
      sha256: file.sha256,
      pairName: pair.pairName,
      pairDup: pair.pairDup,
      folderKind: folderKind(folderPath.folder),
    },
    offset: 0,
  };
  if (exifProblem) {
    yield {
      kind: 'reject',
      rejection: { category: 'malformed', reason: `${path}: ${exifProblem}; the photo is kept without it`, byteOffset: 0, excerpt: null },
    };
  }
}

function blobRef(file: StreamedFile, mimeType: string | null, path: string): ParseEvent {
  return {
    kind: 'record',
    record: { type: 'blob_ref', source: MEDIA_SOURCE_ID, key: [file.sha256, path], sha256: file.sha256, size: file.size, mimeType, originalName: path },
    offset: 0,
  };
}

function readVideo(media: MediaRecord, boxes: IsoBoxReader, problems: string[]): void {
  const facts = boxes.end();
  media.durationS = facts.durationS;
  media.width = facts.width;
  media.height = facts.height;
  if (facts.rotation) media.attributes!.rotation = facts.rotation;
  if (facts.createdAt) {
    media.metaTakenAt = facts.createdAt;
    media.metaUtcOffsetMinutes = 0; // mvhd times are UTC by the specification
  }
  if (facts.location) {
    media.metaLat = facts.location.lat;
    media.metaLon = facts.location.lon;
    media.metaAlt = facts.location.alt;
  }
  if (facts.createdAt || facts.location) media.metaSource = 'mp4';
  if (facts.durationS === null) problems.push('no movie header (moov/mvhd) found: duration unknown');
  if (facts.problem) problems.push(facts.problem);
}

function readDimensions(media: MediaRecord, head: Buffer, problems: string[]): void {
  try {
    const size = imageSize(head);
    media.width = size.width ?? null;
    media.height = size.height ?? null;
  } catch (error) {
    problems.push(`dimensions not found in the first ${HEAD_BYTES / 1024} KiB: ${(error as Error).message}`);
  }
}

type ExifBlock = Record<string, unknown> | undefined;

/** Fills the media's EXIF fields; returns a problem when the EXIF could not be read (or part of it). */
async function readExif(media: MediaRecord, head: Buffer): Promise<string | null> {
  type Output = { ifd0?: ExifBlock; exif?: ExifBlock; gps?: ExifBlock; errors?: unknown[] } | undefined;
  let output: Output;
  let unreadable: string | null = null;
  try {
    // Strict first: in its lenient mode exifr drops a broken sub-IFD without saying so.
    output = (await exifr.parse(head, { ...EXIF_OPTIONS, silentErrors: false } as typeof EXIF_OPTIONS)) as Output;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // exifr's way of saying there is no EXIF at all is not a problem.
    if (/unknown file format/i.test(message)) return null;
    unreadable = `EXIF unreadable (${message})`;
    // Then lenient, to keep what is readable (IFD0 and GPS when only the Exif sub-IFD is broken).
    output = (await exifr.parse(head, EXIF_OPTIONS).catch(() => undefined)) as Output;
  }
  if (output?.errors && output.errors.length > 0) delete output.errors;
  if (!output) return unreadable;
  const { ifd0 = {}, exif = {}, gps = {} } = output;
  media.cameraMake = cleanString(ifd0.Make);
  media.cameraModel = cleanString(ifd0.Model);
  const orientation = ifd0.Orientation;
  if (typeof orientation === 'number' && orientation >= 1 && orientation <= 8) media.orientation = orientation;
  const attributes = media.attributes!;
  for (const [name, value] of [['lens', exif.LensModel], ['software', ifd0.Software]] as const) {
    const text = cleanString(value);
    if (text) attributes[name] = text;
  }
  const problems: string[] = [];
  const wall = cleanString(exif.DateTimeOriginal) ?? cleanString(exif.CreateDate);
  const offsetText = cleanString(exif.OffsetTimeOriginal) ?? cleanString(exif.OffsetTimeDigitized) ?? cleanString(exif.OffsetTime);
  if (wall) {
    const taken = exifDate(wall, offsetText);
    if (taken === 'invalid') problems.push(`EXIF DateTimeOriginal ${JSON.stringify(wall)} is not a date`);
    else if (taken) {
      media.metaTakenAt = taken.date;
      media.metaUtcOffsetMinutes = taken.offset;
      media.metaSource = 'exif';
    }
  }
  const lat = gps.latitude;
  const lon = gps.longitude;
  if (typeof lat === 'number' && typeof lon === 'number') {
    if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) {
      problems.push(`EXIF GPS position ${lat}, ${lon} is out of range`);
    } else if (!(lat === 0 && lon === 0)) {
      media.metaLat = lat;
      media.metaLon = lon;
      const alt = gps.GPSAltitude;
      if (typeof alt === 'number' && Number.isFinite(alt)) media.metaAlt = gps.GPSAltitudeRef === 1 ? -alt : alt;
      media.metaSource = 'exif';
    }
  }
  if (unreadable) problems.unshift(unreadable);
  return problems.length > 0 ? problems.join('; ') : null;
}

/** `2023:10:06 08:38:51` with `+02:00` → the instant; without an offset, the wall clock read as UTC (offset null). */
export function exifDate(wall: string, offsetText: string | null): { date: Date; offset: number | null } | null | 'invalid' {
  if (/^0000[:-]00[:-]00/.test(wall) || wall.trim() === '') return null;
  const match = /^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(wall);
  if (!match) return 'invalid';
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const utc = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(utc);
  if (hour > 23 || minute > 59 || second > 59 || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return 'invalid';
  const offsetMatch = offsetText ? /^([+-])(\d{2}):?(\d{2})$/.exec(offsetText) : null;
  if (!offsetMatch) return { date: check, offset: null };
  const offset = (offsetMatch[1] === '-' ? -1 : 1) * (Number(offsetMatch[2]) * 60 + Number(offsetMatch[3]));
  if (Math.abs(offset) > 14 * 60) return { date: check, offset: null };
  return { date: new Date(utc - offset * 60_000), offset };
}

function cleanString(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const text = value.replace(/\0+$/, '').trim();
  return text === '' ? null : text;
}

function excerpt(head: Buffer): string {
  return head.subarray(0, 80).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
}

export const mediaFileSource: Source = defineSource(MEDIA_FILE, {
  parse: parseMediaFile,
  afterImport: reconcileMedia,
});
