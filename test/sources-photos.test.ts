// Photos and videos (media.file) and Google Photos' JSON (google.photos.sidecar, google.photos.album):
// pairing names in every variant Google writes, the ISO box reader, each image and video format
// over files built byte by byte (test/support/media.ts), the bad inputs (corrupt EXIF, a `.mp4`
// that is text, a sidecar without its photo, a photo without its sidecar), then whole Takeout zips
// through runImport on the test lake (PGlite, or the server with LAKE_TEST_DATABASE_URL): one
// photo in two albums and a year folder is one blob and one media row with both albums; sidecars
// and photos in two separate imports; importing twice adds nothing; points on the map.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../src/config/config.js';
import { Lake } from '../src/lake.js';
import { loadBatch } from '../src/ingest/load/loader.js';
import type { MediaAlbumRecord, MediaFileRecord, MediaRecord, MediaSidecarRecord, ParseEvent } from '../src/ingest/records.js';
import { runImport } from '../src/ingest/runner.js';
import type { ParseContext } from '../src/ingest/source.js';
import { detectSource } from '../src/ingest/sources/all.js';
import { ALBUM_SOURCE_ID, googlePhotosAlbumSource, googlePhotosSidecarSource, SIDECAR_SOURCE_ID } from '../src/ingest/sources/google/photos/metadata.js';
import { IsoBoxReader } from '../src/ingest/sources/formats/media/iso-boxes.js';
import { exifDate, MEDIA_SOURCE_ID, mediaFileSource } from '../src/ingest/sources/formats/media/media-file.js';
import { folderKind, isAlbumMetadataName, mediaPairName, sidecarPairName } from '../src/ingest/sources/formats/media/names.js';
import { NO_PHOTO_NOTE, NO_SIDECAR_NOTE } from '../src/ingest/sources/formats/media/reconcile.js';
import { normalizeRecord } from '../src/ingest/transform/normalize.js';
import { validateRecord } from '../src/ingest/validate/validate.js';
import { BlobStore } from '../src/store/blob-store.js';
import { writeYazl } from './support/archives.js';
import { cliTestLake, lakeImport } from './support/lake-cli.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';
import { gif, heic, jpeg, mp4, png, webp, type ExifSpec } from './support/media.js';

const FIXTURES = new URL('./fixtures/photos/', import.meta.url);
const REAL = new URL('../../shared/fixtures/real/google-photos-sidecar/', import.meta.url);

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

function context(filePath: string, blobs: BlobStore | null = null): ParseContext {
  return { path: filePath, repairs: { invalidUtf8: 0, nulCharacters: 0 }, blobs };
}

async function parseWith(source: typeof mediaFileSource, filePath: string, bytes: Buffer, options: { chunk?: number; blobs?: BlobStore } = {}): Promise<ParseEvent[]> {
  const events: ParseEvent[] = [];
  for await (const event of source.parse(Readable.from(chunksOf(bytes, options.chunk ?? 64 * 1024)), context(filePath, options.blobs ?? null))) {
    events.push(event);
  }
  return events;
}

function records<T>(events: ParseEvent[], type: string): T[] {
  return events.flatMap((e) => (e.kind === 'record' && e.record.type === type ? [e.record as T] : []));
}

function rejections(events: ParseEvent[]) {
  return events.flatMap((e) => (e.kind === 'reject' ? [e.rejection] : []));
}

const PARIS_EXIF: ExifSpec = {
  make: 'Google',
  model: 'Pixel 7',
  orientation: 6,
  dateTimeOriginal: '2023:10:06 08:38:51',
  offsetTimeOriginal: '+02:00',
  gps: { lat: 48.8584, lon: 2.2945, alt: 35 },
};

/** A sidecar as Google writes it; `overrides` replace top-level members (undefined removes one). */
function sidecar(title: string, overrides: Record<string, unknown> = {}): Buffer {
  const value: Record<string, unknown> = {
    title,
    description: '',
    imageViews: '3',
    creationTime: { timestamp: '1697872351', formatted: '21 Oct 2023, 07:12:31 UTC' },
    photoTakenTime: { timestamp: '1696574331', formatted: '6 Oct 2023, 06:38:51 UTC' },
    geoData: { latitude: 0.0, longitude: 0.0, altitude: 0.0, latitudeSpan: 0.0, longitudeSpan: 0.0 },
    geoDataExif: { latitude: 0.0, longitude: 0.0, altitude: 0.0, latitudeSpan: 0.0, longitudeSpan: 0.0 },
    url: `https://photos.google.com/photo/${encodeURIComponent(title)}`,
    ...overrides,
  };
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return Buffer.from(JSON.stringify(value, null, 2));
}

describe('Google Photos names', () => {
  test('a media file name: (n) and -edited (localized) come off; other names stay', () => {
    assert.deepEqual(mediaPairName('IMG_1234.jpg'), { pairName: 'IMG_1234.jpg', pairDup: 0 });
    assert.deepEqual(mediaPairName('IMG_1234(1).jpg'), { pairName: 'IMG_1234.jpg', pairDup: 1 });
    assert.deepEqual(mediaPairName('IMG_1234-edited.jpg'), { pairName: 'IMG_1234.jpg', pairDup: 0 });
    assert.deepEqual(mediaPairName('IMG_1234-bearbeitet(2).JPG'), { pairName: 'IMG_1234.JPG', pairDup: 2 });
    assert.deepEqual(mediaPairName('Photo (1).jpg'), { pairName: 'Photo .jpg', pairDup: 1 });
    assert.deepEqual(mediaPairName('-edited.jpg'), { pairName: '-edited.jpg', pairDup: 0 });
  });

  test('a sidecar name: old and 2024 naming, (n) variants, every cut of .supplemental-metadata at the 46-character limit', () => {
    assert.deepEqual(sidecarPairName('IMG_1234.jpg.json'), { pairName: 'IMG_1234.jpg', pairDup: 0, truncated: false });
    assert.deepEqual(sidecarPairName('IMG_1234.jpg(1).json'), { pairName: 'IMG_1234.jpg', pairDup: 1, truncated: false });
    assert.deepEqual(sidecarPairName('IMG_1234.jpg.supplemental-metadata.json'), { pairName: 'IMG_1234.jpg', pairDup: 0, truncated: false });
    assert.deepEqual(sidecarPairName('IMG_1234.jpg.supplemental-metadata(1).json'), { pairName: 'IMG_1234.jpg', pairDup: 1, truncated: false });
    assert.equal(sidecarPairName('IMG_1234.jpg'), null);
    // Every photo name from 1 to 60 characters, named the 2024 way and cut as Google cuts.
    for (let length = 5; length <= 60; length++) {
      const media = `${'P'.repeat(length - 4)}.jpg`;
      const stem = `${media}.supplemental-metadata`.slice(0, 46);
      const parsed = sidecarPairName(`${stem}.json`)!;
      assert.ok(media.startsWith(parsed.pairName), `${media}: ${parsed.pairName}`);
      if (media.length <= 45) assert.equal(parsed.pairName, media, `${stem}.json`);
      else assert.equal(parsed.truncated, true);
      const old = sidecarPairName(`${media.slice(0, 46)}.json`)!;
      assert.ok(media.startsWith(old.pairName));
      if (media.length < 46) assert.equal(old.pairName, media);
    }
    assert.deepEqual(sidecarPairName('20230405_101112_Holiday_Panorama.jpg.supplemental-metad.json'), {
      pairName: '20230405_101112_Holiday_Panorama.jpg', pairDup: 0, truncated: true,
    });
  });

  test('album metadata names in several languages; year folders, date folders and the top are no albums', () => {
    for (const name of ['metadata.json', 'métadonnées.json', 'Metadaten.json', 'metadatos.json', 'metadati.json']) assert.ok(isAlbumMetadataName(name), name);
    assert.equal(isAlbumMetadataName('IMG_1.jpg.json'), false);
    assert.equal(folderKind('Takeout/Google Photos/Photos from 2023'), 'year');
    assert.equal(folderKind('Takeout/Google Fotos/Fotos von 2019'), 'year');
    assert.equal(folderKind('Takeout/Google Photos/Photos de 2021'), 'year');
    assert.equal(folderKind('Takeout/Google Photos/2019-05-12 #2'), 'year');
    assert.equal(folderKind('Takeout/Google Photos'), 'root');
    assert.equal(folderKind(''), 'root');
    assert.equal(folderKind('Takeout/Google Photos/Summer 2019'), 'album');
    assert.equal(folderKind('Takeout/Google Photos/Trip to Paris'), 'album');
  });
});

describe('EXIF dates and MP4 boxes', () => {
  test('EXIF date: with an offset to the instant, without to the wall clock (offset unknown), zeros none, nonsense invalid', () => {
    assert.deepEqual(exifDate('2023:10:06 08:38:51', '+02:00'), { date: new Date('2023-10-06T06:38:51Z'), offset: 120 });
    assert.deepEqual(exifDate('2023:10:06 08:38:51', '-0530'), { date: new Date('2023-10-06T14:08:51Z'), offset: -330 });
    assert.deepEqual(exifDate('2023:10:06 08:38:51', null), { date: new Date('2023-10-06T08:38:51Z'), offset: null });
    assert.equal(exifDate('0000:00:00 00:00:00', null), null);
    assert.equal(exifDate('2023:02:30 08:38:51', null), 'invalid');
    assert.equal(exifDate('yesterday', null), 'invalid');
  });

  test('the box reader finds mvhd, tkhd and ©xyz with moov first or last, in 1-byte chunks as in one, versions 0 and 1', () => {
    const createdAt = new Date('2023-07-08T10:10:10Z');
    for (const moovLast of [false, true]) {
      for (const version1 of [false, true]) {
        const bytes = mp4({ createdAt, durationSeconds: 12.5, width: 1920, height: 1080, location: '+48.8584+002.2945+035.000/', moovLast, version1, mdatBytes: 5000 });
        for (const chunk of [1, 7, bytes.length]) {
          const reader = new IsoBoxReader();
          for (const part of chunksOf(bytes, chunk)) reader.push(part);
          assert.deepEqual(reader.end(), {
            createdAt, durationS: 12.5, width: 1920, height: 1080, rotation: 0, location: { lat: 48.8584, lon: 2.2945, alt: 35 }, problem: null,
          }, `moovLast ${moovLast}, v1 ${version1}, chunk ${chunk}`);
        }
      }
    }
  });

  test('the box reader: a cut-off file keeps what was read and says where; a box past its container stops it; non-ISO input is ignored', () => {
    const bytes = mp4({ durationSeconds: 3, width: 640, height: 480, mdatBytes: 1000 });
    const cut = new IsoBoxReader();
    cut.push(bytes.subarray(0, bytes.length - 10));
    const facts = cut.end();
    assert.equal(facts.durationS, 3);
    assert.equal(facts.width, 640);
    assert.match(facts.problem ?? '', /ends inside a box at byte \d+/);
    const lying = Buffer.from(bytes);
    lying.writeUInt32BE(0x7fffffff, bytes.readUInt32BE(0) + 8); // after ftyp, moov's first child (mvhd) declares more than moov holds
    const broken = new IsoBoxReader();
    broken.push(lying);
    assert.match(broken.end().problem ?? '', /box "mvhd" at byte \d+ declares \d+ bytes, past its container/);
    const text = new IsoBoxReader();
    text.push(Buffer.from('this is not a video at all'));
    assert.deepEqual(text.end(), { createdAt: null, durationS: null, width: null, height: null, rotation: null, location: null, problem: null });
  });
});

describe('media.file', () => {
  test('detection by content whatever the name; a media name over other content is claimed (to be quarantined)', () => {
    const probe = (name: string, head: Buffer) => ({ path: name, head, size: head.length });
    assert.equal(detectSource(probe('x/IMG_1.jpg', jpeg({ width: 2, height: 2 })))?.id, MEDIA_SOURCE_ID);
    assert.equal(detectSource(probe('x/IMG_1.heic', jpeg({ width: 2, height: 2 })), undefined, false)?.id, MEDIA_SOURCE_ID);
    assert.equal(detectSource(probe('x/clip.bin', mp4({ durationSeconds: 1, width: 2, height: 2 })), undefined, false)?.id, MEDIA_SOURCE_ID);
    assert.equal(detectSource(probe('x/NOT_A_VIDEO.mp4', Buffer.from('just some text\nand more text\n')), undefined, false)?.id, MEDIA_SOURCE_ID);
    assert.equal(mediaFileSource.detect(probe('notes.txt', Buffer.from('just some text\n'))), null);
  });

  test('a JPEG with EXIF: camera, orientation, taken time with its offset, GPS, dimensions; blob, media and media_file records', async () => {
    const bytes = jpeg({ width: 4032, height: 3024, exif: PARIS_EXIF });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lake-photos-'));
    try {
      const blobs = new BlobStore(dir);
      const events = await parseWith(mediaFileSource, 'Takeout/Google Photos/Trip/PXL_1.jpg', bytes, { chunk: 100, blobs });
      assert.deepEqual(rejections(events), []);
      const [ref] = records<{ sha256: string; size: number; mimeType: string; originalName: string }>(events, 'blob_ref');
      const [media] = records<MediaRecord>(events, 'media');
      const [file] = records<MediaFileRecord>(events, 'media_file');
      assert.equal(ref?.size, bytes.length);
      assert.equal(ref?.originalName, 'Takeout/Google Photos/Trip/PXL_1.jpg');
      assert.ok(await blobs.has(ref!.sha256), 'the file is in the blob store');
      const stored = Buffer.concat(await (await blobs.open(ref!.sha256)).toArray());
      assert.ok(stored.equals(bytes), 'byte for byte');
      assert.deepEqual({ ...media, key: undefined }, {
        type: 'media', source: MEDIA_SOURCE_ID, key: undefined, sha256: ref!.sha256, size: bytes.length, mimeType: 'image/jpeg',
        width: 4032, height: 3024, durationS: null, cameraMake: 'Google', cameraModel: 'Pixel 7', orientation: 6,
        metaTakenAt: new Date('2023-10-06T06:38:51Z'), metaUtcOffsetMinutes: 120,
        metaLat: media!.metaLat, metaLon: media!.metaLon, metaAlt: 35, metaSource: 'exif', originalName: 'PXL_1.jpg', attributes: {},
      });
      assert.ok(Math.abs(media!.metaLat! - 48.8584) < 1e-6 && Math.abs(media!.metaLon! - 2.2945) < 1e-6);
      assert.deepEqual(file, {
        type: 'media_file', source: MEDIA_SOURCE_ID, key: ['Takeout/Google Photos/Trip', 'PXL_1.jpg', ref!.sha256],
        folder: 'Takeout/Google Photos/Trip', fileName: 'PXL_1.jpg', sha256: ref!.sha256, pairName: 'PXL_1.jpg', pairDup: 0, folderKind: 'album',
      });
      for (const record of records<MediaRecord>(events, 'media')) assert.ok(validateRecord(record).ok);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a JPEG with a corrupt EXIF IFD offset: the media row is kept with the problem, a quarantine entry names the file', async () => {
    const bytes = jpeg({ width: 10, height: 20, exif: { make: 'Acme', model: 'Broken', brokenExifPointer: true, gps: { lat: 1.5, lon: 2.5 } } });
    const events = await parseWith(mediaFileSource, 'Photos from 2023/BROKEN_EXIF.jpg', bytes);
    const [media] = records<MediaRecord>(events, 'media');
    assert.equal(media?.width, 10);
    assert.equal(media?.cameraMake, 'Acme', 'what is readable is kept');
    assert.equal(media?.metaLat, 1.5);
    assert.match(String((media!.attributes!.problems as string[])[0]), /^EXIF unreadable \(.+\)$/);
    const [rejection, ...more] = rejections(events);
    assert.deepEqual(more, []);
    assert.equal(rejection?.category, 'malformed');
    assert.match(rejection!.reason, /^Photos from 2023\/BROKEN_EXIF\.jpg: EXIF unreadable \(.+\); the photo is kept without it$/);
  });

  test('PNG (with eXIf), WEBP, GIF: type and dimensions; no EXIF is no problem', async (ctx) => {
    const cases: Array<[string, Buffer, string, number, number]> = [
      ['a.png', png(3, 2, { exif: { make: 'PngCam', gps: { lat: -33.5, lon: -70.25 } } }), 'image/png', 3, 2],
      ['b.webp', webp(300, 200), 'image/webp', 300, 200],
      ['c.gif', gif(5, 6), 'image/gif', 5, 6],
      ['d.jpg', jpeg({ width: 7, height: 8 }), 'image/jpeg', 7, 8],
    ];
    for (const [name, bytes, mime, width, height] of cases) {
      await ctx.test(name, async () => {
        const events = await parseWith(mediaFileSource, name, bytes, { chunk: 3 });
        assert.deepEqual(rejections(events), [], name);
        const [media] = records<MediaRecord>(events, 'media');
        assert.deepEqual([media?.mimeType, media?.width, media?.height, media?.attributes], [mime, width, height, {}], name);
        assert.equal(records(events, 'media_file').length, 1);
        assert.equal(records(events, 'blob_ref').length, 0, 'no blob store, no reference');
      });
    }
    const [pngMedia] = records<MediaRecord>(await parseWith(mediaFileSource, 'a.png', cases[0]![1]), 'media');
    assert.deepEqual([pngMedia?.cameraMake, pngMedia?.metaLat, pngMedia?.metaLon], ['PngCam', -33.5, -70.25]);
  });

  test('HEIC: size from ispe, EXIF from the Exif item (exifr); a HEIC named .jpg is kept by its content, the name noted', async () => {
    const bytes = heic(4032, 3024, { make: 'Apple', model: 'iPhone 15', dateTimeOriginal: '2024:05:01 10:00:00', offsetTimeOriginal: '-07:00', gps: { lat: 37.7749, lon: -122.4194 } });
    const events = await parseWith(mediaFileSource, 'IMG_0001.HEIC', bytes, { chunk: 50 });
    assert.deepEqual(rejections(events), []);
    const [media] = records<MediaRecord>(events, 'media');
    assert.deepEqual(
      [media?.mimeType, media?.width, media?.height, media?.cameraModel, media?.metaTakenAt?.toISOString(), media?.metaUtcOffsetMinutes, media?.metaLat],
      ['image/heic', 4032, 3024, 'iPhone 15', '2024-05-01T17:00:00.000Z', -420, 37.7749],
    );
    const [renamed] = records<MediaRecord>(await parseWith(mediaFileSource, 'IMG_0002.jpg', heic(10, 20)), 'media');
    assert.deepEqual([renamed?.mimeType, renamed?.width, renamed?.attributes], ['image/heic', 10, { nameSays: 'image/jpeg' }]);
  });

  test('MP4 and MOV: duration, creation time (UTC), frame size and ©xyz position with moov at the end; a MOV named .mp4 is fine', async () => {
    const createdAt = new Date('2023-07-08T10:10:10Z');
    const bytes = mp4({ createdAt, durationSeconds: 61.25, width: 1080, height: 1920, location: '-33.4489-070.6693/', moovLast: true, mdatBytes: 300_000 });
    const [media] = records<MediaRecord>(await parseWith(mediaFileSource, 'VID_1.mp4', bytes, { chunk: 4096 }), 'media');
    assert.deepEqual(
      [media?.mimeType, media?.durationS, media?.width, media?.height, media?.metaTakenAt, media?.metaUtcOffsetMinutes, media?.metaLat, media?.metaLon, media?.metaSource],
      ['video/mp4', 61.25, 1080, 1920, createdAt, 0, -33.4489, -70.6693, 'mp4'],
    );
    const mov = mp4({ brand: 'qt  ', durationSeconds: 2, width: 640, height: 480 });
    const events = await parseWith(mediaFileSource, 'clip.mp4', mov);
    assert.deepEqual(rejections(events), []);
    assert.equal(records<MediaRecord>(events, 'media')[0]?.mimeType, 'video/quicktime');
  });

  test('a .mp4 that is really text: no media row, one quarantine entry saying what the content is; the bytes are kept as a blob', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lake-photos-'));
    try {
      const blobs = new BlobStore(dir);
      const events = await parseWith(mediaFileSource, 'Takeout/Google Photos/Photos from 2023/NOT_A_VIDEO.mp4', Buffer.from('this is only text\nsecond line\n'), { blobs });
      assert.equal(records(events, 'media').length, 0);
      assert.equal(records(events, 'media_file').length, 0);
      assert.equal(records(events, 'blob_ref').length, 1);
      assert.deepEqual(rejections(events), [{
        category: 'invalid',
        reason: 'Takeout/Google Photos/Photos from 2023/NOT_A_VIDEO.mp4: the content is text/plain, not the video/mp4 its name says; not read as media (the file is kept in the blob store)',
        byteOffset: 0,
        excerpt: 'this is only text.second line.',
      }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('google.photos.sidecar and google.photos.album', () => {
  test('detection by content: a sidecar, the new and the old album shapes; a localized metadata name alone', () => {
    const sidecarHead = readFileSync(new URL('sidecar-2024.json', FIXTURES));
    const albumHead = readFileSync(new URL('album-metadata-old.json', FIXTURES));
    const probe = (name: string, head: Buffer) => ({ path: name, head, size: head.length });
    assert.equal(detectSource(probe('x/PXL.jpg.supplemental-metadata.json', sidecarHead))?.id, SIDECAR_SOURCE_ID);
    assert.equal(detectSource(probe('x/anything.json', albumHead))?.id, ALBUM_SOURCE_ID);
    const newAlbum = Buffer.from(JSON.stringify({ title: 'Trip', description: '', access: 'protected', date: { timestamp: '1697872351' }, location: '', geoData: {} }));
    assert.equal(detectSource(probe('x/métadonnées.json', newAlbum))?.id, ALBUM_SOURCE_ID);
    assert.equal(googlePhotosAlbumSource.detect(probe('x/Metadaten.json', Buffer.from('{"title": "x"}'))), 'path');
    assert.equal(googlePhotosSidecarSource.detect(probe('x/y.json', albumHead)), null);
  });

  test('a 2024 sidecar: taken and creation times (epoch seconds, the localized text ignored), geoData and geoDataExif, people, description', async () => {
    const events = await parseWith(googlePhotosSidecarSource, 'Takeout/Google Photos/Trip/PXL_20231006_063851485.jpg.supplemental-metadata.json',
      readFileSync(new URL('sidecar-2024.json', FIXTURES)), { chunk: 13 });
    assert.deepEqual(rejections(events), []);
    const [record] = records<MediaSidecarRecord>(events, 'media_sidecar');
    assert.deepEqual(record, {
      type: 'media_sidecar', source: SIDECAR_SOURCE_ID, key: ['Takeout/Google Photos/Trip', 'PXL_20231006_063851485.jpg.supplemental-metadata.json'],
      folder: 'Takeout/Google Photos/Trip', sidecarName: 'PXL_20231006_063851485.jpg.supplemental-metadata.json',
      pairName: 'PXL_20231006_063851485.jpg', pairDup: 0, truncated: false,
      title: 'PXL_20231006_063851485.jpg', description: 'La tour, depuis le Trocadéro',
      takenAt: new Date(1696574331 * 1000), createdAt: new Date(1697872351 * 1000),
      lat: 48.8619, lon: 2.2885, alt: 61, exifLat: 48.8584, exifLon: 2.2945, exifAlt: 35,
      people: ['Alice', 'Bob'], favorited: null, url: 'https://photos.google.com/photo/AF1QipExample',
      attributes: { imageViews: '12', googlePhotosOrigin: { mobileUpload: { deviceFolder: { localFolderName: '' }, deviceType: 'ANDROID_PHONE' } } },
    });
    assert.ok(validateRecord(normalizeRecord(record!, { invalidUtf8: 0, nulCharacters: 0 })).ok);
  });

  test('a sidecar with zeroed geoData has no position; one renamed by hand pairs by its title; a non-object is rejected', async () => {
    const [zeroed] = records<MediaSidecarRecord>(await parseWith(googlePhotosSidecarSource, 'IMG_1.jpg.json', sidecar('IMG_1.jpg')), 'media_sidecar');
    assert.deepEqual([zeroed?.lat, zeroed?.lon, zeroed?.exifLat, zeroed?.folder], [null, null, null, '']);
    const [renamed] = records<MediaSidecarRecord>(await parseWith(googlePhotosSidecarSource, 'notes about IMG_2', sidecar('IMG_2.jpg')), 'media_sidecar');
    assert.deepEqual([renamed?.pairName, renamed?.truncated], ['IMG_2.jpg', false]);
    const events = await parseWith(googlePhotosSidecarSource, 'x.json', Buffer.from('[1, 2]'));
    assert.equal(records(events, 'media_sidecar').length, 0);
    assert.equal(rejections(events).length, 1);
  });

  test('old album metadata (albumData) and the new shape: title, description, access, date; (0, 0) is no place', async () => {
    const [old] = records<MediaAlbumRecord>(await parseWith(googlePhotosAlbumSource, 'G/Best of 2023/metadata.json', readFileSync(new URL('album-metadata-old.json', FIXTURES))), 'media_album');
    assert.deepEqual({ ...old, attributes: undefined }, {
      type: 'media_album', source: ALBUM_SOURCE_ID, key: ['G/Best of 2023'], folder: 'G/Best of 2023', title: 'Best of 2023',
      description: 'The good ones', access: 'protected', albumDate: new Date('2024-01-01T00:00:00Z'), location: null, lat: null, lon: null, attributes: undefined,
    });
    assert.deepEqual(old?.attributes, { metadataFile: 'metadata.json' });
  });

  test('the real samples (immich-go): a French-locale sidecar and a localized album metadata file', { skip: existsSync(REAL) ? false : 'the real export samples (../shared/fixtures/real/) are not in this checkout' }, async () => {
    const sidecarBytes = readFileSync(new URL('immichgo_PXL_20231006_063851485.jpg.json', REAL));
    const albumBytes = readFileSync(new URL('immichgo_album_métadonnées.json', REAL));
    const folder = 'Takeout/Google Photos/Album test 6-10-23';
    assert.equal(detectSource({ path: `${folder}/PXL_20231006_063851485.jpg.json`, head: sidecarBytes, size: sidecarBytes.length })?.id, SIDECAR_SOURCE_ID);
    assert.equal(detectSource({ path: `${folder}/métadonnées.json`, head: albumBytes, size: albumBytes.length })?.id, ALBUM_SOURCE_ID);
    const [real] = records<MediaSidecarRecord>(await parseWith(googlePhotosSidecarSource, `${folder}/PXL_20231006_063851485.jpg.json`, sidecarBytes), 'media_sidecar');
    assert.equal(real?.pairName, 'PXL_20231006_063851485.jpg');
    assert.equal(real?.takenAt?.toISOString(), '2023-10-06T06:38:51.000Z', 'from the timestamp, not the French text');
    assert.equal(real?.favorited, true);
    assert.ok(real?.lat !== null && real?.exifLat !== null && real?.description);
    assert.ok(validateRecord(real!).ok);
    const [album] = records<MediaAlbumRecord>(await parseWith(googlePhotosAlbumSource, `${folder}/métadonnées.json`, albumBytes), 'media_album');
    assert.ok(album?.title);
    assert.deepEqual([album?.lat, album?.lon], [null, null], 'zero geoData is no place');
  });
});

// ------------------------------------------------------------------------------------------------
// Whole imports on the test lake.

let t: TestLake;
let work: string;

before(async () => {
  t = await openTestLake();
  work = await mkdtemp(path.join(os.tmpdir(), 'lake-photos-import-'));
});

after(async () => {
  await t?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

const G = 'Takeout/Google Photos';
const PHOTO_A = jpeg({ width: 4032, height: 3024, exif: PARIS_EXIF, padding: 11 });
const PHOTO_B = jpeg({ width: 100, height: 100, padding: 22 });
const PHOTO_C = jpeg({ width: 200, height: 100, padding: 33 });
const PHOTO_D = jpeg({ width: 200, height: 100, padding: 44 });
const LONG_PNG_NAME = 'Screenshot_20230405-101112_A_Very_Long_Application_Name.png';
const PHOTO_E = png(9, 16);
const WEBP_NAME = '20230101_123456_Holiday_Panorama_Stitched.webp';
const PHOTO_F = webp(8000, 1000);
const VIDEO_V = mp4({ createdAt: new Date('2023-07-08T10:10:10Z'), durationSeconds: 12, width: 1920, height: 1080, location: '+45.7640+004.8357/', moovLast: true, mdatBytes: 200_000 });
const ORPHAN = jpeg({ width: 50, height: 60, exif: { make: 'Canon', model: 'EOS', dateTimeOriginal: '2022:12:24 18:00:00', gps: { lat: 51.5007, lon: -0.1246 } }, padding: 55 });
const BROKEN = jpeg({ width: 10, height: 20, exif: { make: 'Acme', brokenExifPointer: true }, padding: 66 });
const FAKE_VIDEO = Buffer.from('this is only text, not a video\n');

/** A 2024 sidecar name as Google cuts it to 46 characters before `.json`. */
function cut(name: string): string {
  return `${`${name}.supplemental-metadata`.slice(0, 46)}.json`;
}

function takeoutEntries(): Array<{ name: string; content: Buffer }> {
  const year = `${G}/Photos from 2023`;
  return [
    { name: `${G}/Trip to Paris/metadata.json`, content: Buffer.from(JSON.stringify({ title: 'Trip to Paris ✈', description: '', access: 'protected', date: { timestamp: '1697872351' }, location: '', geoData: { latitude: 0, longitude: 0 } })) },
    { name: `${G}/Trip to Paris/PXL_20231006_063851485.jpg`, content: PHOTO_A },
    { name: `${G}/Trip to Paris/PXL_20231006_063851485.jpg.supplemental-metadata.json`, content: readFileSync(new URL('sidecar-2024.json', FIXTURES)) },
    // The same photo in a second album (old naming there, French metadata name) and in its year folder.
    { name: `${G}/Best of 2023/métadonnées.json`, content: readFileSync(new URL('album-metadata-old.json', FIXTURES)) },
    { name: `${G}/Best of 2023/PXL_20231006_063851485.jpg.json`, content: sidecar('PXL_20231006_063851485.jpg', { people: [{ name: 'Carol' }], favorited: true }) },
    { name: `${G}/Best of 2023/PXL_20231006_063851485.jpg`, content: PHOTO_A },
    { name: `${year}/PXL_20231006_063851485.jpg`, content: PHOTO_A },
    { name: `${year}/PXL_20231006_063851485.jpg.supplemental-metadata.json`, content: sidecar('PXL_20231006_063851485.jpg') },
    // A duplicate name, its original and an edited copy sharing the original's sidecar.
    { name: `${year}/IMG_1234(1).jpg`, content: PHOTO_B },
    { name: `${year}/IMG_1234.jpg(1).json`, content: sidecar('IMG_1234.jpg', { photoTakenTime: { timestamp: '1680000000' }, geoData: { latitude: 40.4168, longitude: -3.7038, altitude: 650 } }) },
    { name: `${year}/IMG_1234.jpg`, content: PHOTO_C },
    { name: `${year}/IMG_1234.jpg.json`, content: sidecar('IMG_1234.jpg', { photoTakenTime: { timestamp: '1670000000' }, description: 'the original' }) },
    { name: `${year}/IMG_1234-edited.jpg`, content: PHOTO_D },
    // Names past Google's limit: the old naming cut at 46, the 2024 naming cut inside its suffix.
    { name: `${year}/${LONG_PNG_NAME}`, content: PHOTO_E },
    { name: `${year}/${LONG_PNG_NAME.slice(0, 46)}.json`, content: sidecar(LONG_PNG_NAME, { photoTakenTime: { timestamp: '1680689472' } }) },
    { name: `${year}/${cut(WEBP_NAME)}`, content: sidecar(WEBP_NAME, { photoTakenTime: { timestamp: '1672576496' }, geoDataExif: { latitude: 46.5, longitude: 7.9 } }) },
    { name: `${year}/${WEBP_NAME}`, content: PHOTO_F },
    // A video whose sidecar has no place: the place comes from the video's own ©xyz.
    { name: `${year}/VID_20230708_101010.mp4`, content: VIDEO_V },
    { name: `${year}/VID_20230708_101010.mp4.supplemental-metadata.json`, content: sidecar('VID_20230708_101010.mp4', { photoTakenTime: { timestamp: '1688811010' } }) },
    // The bad ones.
    { name: `${year}/LOST_0001.jpg.supplemental-metadata.json`, content: sidecar('LOST_0001.jpg', { description: 'its photo is missing' }) },
    { name: `${year}/ORPHAN_0002.jpg`, content: ORPHAN },
    { name: `${year}/BROKEN_EXIF.jpg`, content: BROKEN },
    { name: `${year}/NOT_A_VIDEO.mp4`, content: FAKE_VIDEO },
  ];
}

interface MediaRow {
  sha256: string;
  mime_type: string;
  width: number;
  height: number;
  taken_at: Date | null;
  taken_at_source: string | null;
  lat: number | null;
  lon: number | null;
  geo_source: string | null;
  description: string | null;
  people: string[];
  favorited: boolean;
  albums: string[];
}

async function mediaRows(user: string): Promise<Map<string, MediaRow>> {
  const rows = await t.lake.db.asUser(user, (tx) =>
    tx.query<MediaRow>(`SELECT encode(sha256, 'hex') AS sha256, mime_type, width::int, height::int, taken_at, taken_at_source, lat, lon, geo_source,
                               description, people, favorited, albums FROM user_data.media`),
  );
  return new Map(rows.rows.map((r) => [r.sha256, r]));
}

async function count(user: string, sql: string): Promise<number> {
  const r = await t.lake.db.asUser(user, (tx) => tx.query<{ n: number }>(sql));
  return r.rows[0]!.n;
}

function sha(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function tableCounts(user: string) {
  return {
    media: await count(user, 'SELECT count(*)::int AS n FROM user_data.media'),
    files: await count(user, 'SELECT count(*)::int AS n FROM user_data.media_files'),
    sidecars: await count(user, 'SELECT count(*)::int AS n FROM user_data.media_sidecars'),
    albums: await count(user, 'SELECT count(*)::int AS n FROM user_data.media_albums'),
    refs: await count(user, 'SELECT count(*)::int AS n FROM user_data.blob_refs'),
    points: await count(user, `SELECT count(*)::int AS n FROM timeseries.location_points WHERE source = 'google.photos'`),
    quarantine: await count(user, 'SELECT count(*)::int AS n FROM imports.quarantine'),
  };
}

describe('Google Photos Takeout imports', () => {
  test('a Takeout zip with albums, every naming variant and the bad inputs; the second import adds nothing', async () => {
    const user = await createUser(t.lake, 'photos-alice');
    const zip = path.join(work, 'takeout-photos.zip');
    await writeYazl(zip, takeoutEntries());
    const report = await runImport(t.lake.db, { userId: user, inputs: [zip], batchSize: 4, blobs: t.lake.blobs });

    // Every entry of the archive in the report, exactly once.
    assert.deepEqual(report.files.map((f) => f.path).sort(), takeoutEntries().map((e) => e.name).sort());
    const byName = new Map(report.files.map((f) => [f.path.split('/').pop()!, f]));
    assert.equal(byName.get('NOT_A_VIDEO.mp4')?.format, MEDIA_SOURCE_ID);
    assert.deepEqual(byName.get('NOT_A_VIDEO.mp4')?.quarantined, { invalid: 1 });
    assert.deepEqual(byName.get('BROKEN_EXIF.jpg')?.quarantined, { malformed: 1 });
    assert.equal(byName.get('LOST_0001.jpg.supplemental-metadata.json')?.note, NO_PHOTO_NOTE);
    assert.equal(byName.get('ORPHAN_0002.jpg')?.note, NO_SIDECAR_NOTE);
    assert.equal(byName.get('BROKEN_EXIF.jpg')?.note, NO_SIDECAR_NOTE);
    for (const file of report.files) {
      if (/\/(metadata|métadonnées)\.json$/.test(file.path)) assert.equal(file.format, ALBUM_SOURCE_ID, file.path);
      else if (file.path.endsWith('.json')) assert.equal(file.format, SIDECAR_SOURCE_ID, file.path);
      else assert.equal(file.format, MEDIA_SOURCE_ID, file.path);
      assert.equal(file.status, 'done', file.path);
    }
    const notes = await t.lake.db.asUser(user, (tx) => tx.query<{ path: string; note: string }>(
      `SELECT path, note FROM imports.files WHERE note LIKE '%' || $1 || '%' OR note LIKE '%' || $2 || '%' ORDER BY path`, [NO_PHOTO_NOTE, NO_SIDECAR_NOTE]));
    assert.deepEqual(notes.rows.map((r) => r.path.split('/').pop()), ['BROKEN_EXIF.jpg', 'LOST_0001.jpg.supplemental-metadata.json', 'ORPHAN_0002.jpg']);

    const quarantine = await t.lake.db.asUser(user, (tx) => tx.query<{ entry: string; category: string; reason: string }>(`SELECT entry, category, reason FROM imports.quarantine ORDER BY entry`));
    assert.deepEqual(quarantine.rows.map((r) => [r.entry.split('/').pop(), r.category]), [['BROKEN_EXIF.jpg', 'malformed'], ['NOT_A_VIDEO.mp4', 'invalid']]);
    assert.match(quarantine.rows[1]!.reason, /the content is text\/plain, not the video\/mp4 its name says/);

    const rows = await mediaRows(user);
    assert.equal(rows.size, 9, 'A (three copies) is one row; B, C, D, E, F, V, ORPHAN, BROKEN; the text file none');
    const a = rows.get(sha(PHOTO_A))!;
    assert.deepEqual(a.albums, ['Best of 2023', 'Trip to Paris ✈'], 'both albums, not the year folder');
    assert.deepEqual(a.people, ['Alice', 'Bob', 'Carol']);
    assert.equal(a.favorited, true);
    assert.equal(a.description, 'La tour, depuis le Trocadéro');
    assert.deepEqual([a.taken_at?.toISOString(), a.taken_at_source], ['2023-10-06T06:38:51.000Z', 'sidecar']);
    assert.deepEqual([a.lat, a.lon, a.geo_source], [48.8619, 2.2885, 'sidecar'], 'sidecar geoData before EXIF');
    assert.deepEqual([a.width, a.height, a.mime_type], [4032, 3024, 'image/jpeg']);

    const b = rows.get(sha(PHOTO_B))!;
    assert.deepEqual([b.taken_at?.getTime(), b.lat, b.lon], [1680000000_000, 40.4168, -3.7038], 'IMG_1234(1).jpg ↔ IMG_1234.jpg(1).json');
    const c = rows.get(sha(PHOTO_C))!;
    const d = rows.get(sha(PHOTO_D))!;
    assert.deepEqual([c.taken_at?.getTime(), c.description], [1670000000_000, 'the original']);
    assert.deepEqual([d.taken_at?.getTime(), d.description], [1670000000_000, 'the original'], 'the edited copy shares the original sidecar');
    assert.deepEqual(c.albums, []);
    assert.equal(rows.get(sha(PHOTO_E))!.taken_at?.getTime(), 1680689472_000, 'old naming cut at 46 characters');
    const f = rows.get(sha(PHOTO_F))!;
    assert.deepEqual([f.taken_at?.getTime(), f.lat, f.lon, f.geo_source, f.width], [1672576496_000, 46.5, 7.9, 'sidecar_exif', 8000], '2024 naming cut inside .supplemental-metadata');
    const v = rows.get(sha(VIDEO_V))!;
    assert.deepEqual([v.mime_type, v.taken_at?.getTime(), v.lat, v.lon, v.geo_source], ['video/mp4', 1688811010_000, 45.764, 4.8357, 'mp4']);
    const orphan = rows.get(sha(ORPHAN))!;
    assert.deepEqual([orphan.taken_at?.toISOString(), orphan.taken_at_source, orphan.lat, orphan.geo_source],
      ['2022-12-24T18:00:00.000Z', 'exif_wall_clock', orphan.lat, 'exif']);
    assert.ok(Math.abs(orphan.lat! - 51.5007) < 1e-6);
    const broken = rows.get(sha(BROKEN))!;
    assert.deepEqual([broken.width, broken.taken_at], [10, null]);

    const details = await t.lake.db.asUser(user, (tx) => tx.query<{ duration_s: number; camera_make: string; problems: string[] }>(
      `SELECT duration_s, camera_make, attributes->'problems' AS problems FROM user_data.media WHERE sha256 = ANY($1::bytea[]) ORDER BY mime_type`,
      [[Buffer.from(sha(BROKEN), 'hex'), Buffer.from(sha(VIDEO_V), 'hex')]]));
    assert.equal(details.rows[0]!.camera_make, 'Acme');
    assert.match(details.rows[0]!.problems[0]!, /^EXIF unreadable/);
    assert.equal(details.rows[1]!.duration_s, 12);

    // The sidecar whose photo is missing is kept; the lonely one pairs with nothing.
    const lost = await t.lake.db.asUser(user, (tx) => tx.query<{ description: string }>(`SELECT description FROM user_data.media_sidecars WHERE pair_name = 'LOST_0001.jpg'`));
    assert.deepEqual(lost.rows, [{ description: 'its photo is missing' }]);
    const pairs = await t.lake.db.asUser(user, (tx) => tx.query<{ file_name: string; sidecar_name: string | null }>(
      `SELECT file_name, sidecar_name FROM user_data.media_files WHERE folder = $1 ORDER BY file_name`, [`${G}/Photos from 2023`]));
    assert.deepEqual(pairs.rows.map((r) => [r.file_name, r.sidecar_name]), [
      [WEBP_NAME, cut(WEBP_NAME)],
      ['BROKEN_EXIF.jpg', null],
      ['IMG_1234(1).jpg', 'IMG_1234.jpg(1).json'],
      ['IMG_1234-edited.jpg', 'IMG_1234.jpg.json'],
      ['IMG_1234.jpg', 'IMG_1234.jpg.json'],
      ['ORPHAN_0002.jpg', null],
      ['PXL_20231006_063851485.jpg', 'PXL_20231006_063851485.jpg.supplemental-metadata.json'],
      [LONG_PNG_NAME, `${LONG_PNG_NAME.slice(0, 46)}.json`],
      ['VID_20230708_101010.mp4', 'VID_20230708_101010.mp4.supplemental-metadata.json'],
    ]);

    // One blob for the three copies of A; every file's bytes are in the store.
    const refs = await t.lake.db.asUser(user, (tx) => tx.query<{ sha256: string; names: number }>(
      `SELECT encode(sha256, 'hex') AS sha256, count(*)::int AS names FROM user_data.blob_refs GROUP BY sha256`));
    assert.equal(refs.rows.length, 10, '9 media and the text file');
    assert.equal(refs.rows.find((r) => r.sha256 === sha(PHOTO_A))?.names, 3);
    for (const bytes of [PHOTO_A, VIDEO_V, FAKE_VIDEO]) assert.ok(await t.lake.blobs.has(sha(bytes)));

    // On the map: A (sidecar), B (sidecar), F (sidecar geoDataExif), V (©xyz), ORPHAN (EXIF); C, D, E, BROKEN have no place.
    const points = await t.lake.db.asUser(user, (tx) => tx.query<{ media: string; lat: number; recorded_at: Date; geo: string }>(
      `SELECT attributes->>'media_sha256' AS media, lat, recorded_at, attributes->>'geo_source' AS geo FROM timeseries.location_points WHERE source = 'google.photos'`));
    assert.deepEqual(points.rows.map((p) => p.media).sort(), [sha(PHOTO_A), sha(PHOTO_B), sha(PHOTO_F), sha(VIDEO_V), sha(ORPHAN)].sort());
    assert.equal(points.rows.find((p) => p.media === sha(PHOTO_A))?.recorded_at.toISOString(), '2023-10-06T06:38:51.000Z');

    // Import twice: no new rows anywhere, and the merged view is unchanged.
    const before = await tableCounts(user);
    const again = await runImport(t.lake.db, { userId: user, inputs: [zip], batchSize: 4, blobs: t.lake.blobs });
    assert.equal(again.totals.records, 0, 'every record a duplicate');
    assert.deepEqual(await tableCounts(user), before);
    assert.deepEqual(await mediaRows(user), rows);
    assert.deepEqual(before, { media: 9, files: 11, sidecars: 9, albums: 2, refs: 12, points: 5, quarantine: 2 });
  });

  test('sidecars first, photos in a later import (and the other way round): joined all the same, the point moved to the sidecar place', async () => {
    const user = await createUser(t.lake, 'photos-bob');
    const folder = `${G}/Photos from 2021`;
    const photo = jpeg({ width: 30, height: 40, exif: { dateTimeOriginal: '2021:06:01 12:00:00', offsetTimeOriginal: '+00:00', gps: { lat: 10, lon: 20 } }, padding: 77 });
    const other = jpeg({ width: 31, height: 41, exif: { dateTimeOriginal: '2021:06:02 12:00:00', offsetTimeOriginal: '+00:00', gps: { lat: 11, lon: 21 } }, padding: 78 });
    const sidecars = path.join(work, 'sidecars.zip');
    const photos = path.join(work, 'photos.zip');
    await writeYazl(sidecars, [
      { name: `${folder}/IMG_2021.jpg.supplemental-metadata.json`, content: sidecar('IMG_2021.jpg', { photoTakenTime: { timestamp: '1622548800' }, geoData: { latitude: 41.9, longitude: 12.5 }, description: 'Roma' }) },
    ]);
    await writeYazl(photos, [{ name: `${folder}/IMG_2021.jpg`, content: photo }, { name: `${folder}/IMG_LATE.jpg`, content: other }]);

    const first = await runImport(t.lake.db, { userId: user, inputs: [sidecars], batchSize: 100, blobs: t.lake.blobs });
    assert.equal(first.files[0]?.note, NO_PHOTO_NOTE, 'at first, the photo is not there');
    await runImport(t.lake.db, { userId: user, inputs: [photos], batchSize: 100, blobs: t.lake.blobs });
    let rows = await mediaRows(user);
    assert.deepEqual([rows.get(sha(photo))?.description, rows.get(sha(photo))?.lat, rows.get(sha(photo))?.geo_source], ['Roma', 41.9, 'sidecar']);
    assert.deepEqual([rows.get(sha(other))?.lat, rows.get(sha(other))?.geo_source], [11, 'exif']);

    // The late photo's sidecar arrives third: its merged view and its point move.
    const lateSidecar = path.join(work, 'late-sidecar.zip');
    await writeYazl(lateSidecar, [{ name: `${folder}/IMG_LATE.jpg.json`, content: sidecar('IMG_LATE.jpg', { photoTakenTime: { timestamp: '1622700000' }, geoData: { latitude: -12, longitude: -77 } }) }]);
    await runImport(t.lake.db, { userId: user, inputs: [lateSidecar], batchSize: 100, blobs: t.lake.blobs });
    rows = await mediaRows(user);
    assert.deepEqual([rows.get(sha(other))?.lat, rows.get(sha(other))?.taken_at?.getTime(), rows.get(sha(other))?.geo_source], [-12, 1622700000_000, 'sidecar']);
    const points = await t.lake.db.asUser(user, (tx) => tx.query<{ lat: number; recorded_at: Date }>(
      `SELECT lat, recorded_at FROM timeseries.location_points WHERE source = 'google.photos' ORDER BY recorded_at`));
    assert.deepEqual(points.rows.map((p) => [p.lat, p.recorded_at.getTime()]), [[41.9, 1622548800_000], [-12, 1622700000_000]], 'one point per photo, where the merge put it');
    // The map's counts followed the move: the cell and day the EXIF gave are empty in every period,
    // and the finest cells of every period count the points where they are now.
    const tiles = await t.lake.db.asUser(user, (tx) => tx.query<{ period: string; start: number; points: number; here: boolean; exif: boolean }>(
      `SELECT period, date_part('epoch', start) * 1000 AS start, points,
              cell = timeseries.tile_morton(timeseries.tile_x(-77), timeseries.tile_y(-12)) AS here,
              cell = timeseries.tile_morton(timeseries.tile_x(21), timeseries.tile_y(11)) AS exif
         FROM timeseries.location_tiles WHERE level = 20 ORDER BY period, start, here`));
    assert.ok(!tiles.rows.some((r) => r.exif), 'no count is left where the EXIF put the photo');
    const late = (period: string) => tiles.rows.filter((r) => r.here && r.period === period).map((r) => [r.start, r.points]);
    assert.deepEqual(late('day'), [[Date.UTC(2021, 5, 3), 1]]);
    assert.deepEqual(late('month'), [[Date.UTC(2021, 5, 1), 1]]);
    assert.deepEqual(late('year'), [[Date.UTC(2021, 0, 1), 1]]);
    assert.deepEqual(late('all'), [[-Infinity, 1]]);
    assert.deepEqual(['day', 'month', 'year', 'all'].map((period) => tiles.rows.filter((r) => r.period === period).reduce((n, r) => n + r.points, 0)), [2, 2, 2, 2]);

    // Another user sees none of it.
    const carol = await createUser(t.lake, 'photos-carol');
    assert.deepEqual(await tableCounts(carol), { media: 0, files: 0, sidecars: 0, albums: 0, refs: 0, points: 0, quarantine: 0 });
  });

  test('photos decades apart: partitions for the months of their points only, none between', async (ctx) => {
    if (t.lake.profile.features.hypertables.enabled) return ctx.skip('native monthly partitions only (TimescaleDB makes chunks for the rows it gets)');
    const partitions = async () => (await t.lake.db.query<{ part: string }>(
      `SELECT c.relname AS part FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'timeseries.location_points'::regclass ORDER BY 1`)).rows.map((r) => r.part);
    const before = await partitions();
    const user = await createUser(t.lake, 'photos-decades');
    const old = jpeg({ width: 20, height: 20, exif: { dateTimeOriginal: '1971:03:05 12:00:00', offsetTimeOriginal: '+00:00', gps: { lat: 45, lon: 7 } }, padding: 91 });
    const recent = jpeg({ width: 21, height: 21, exif: { dateTimeOriginal: '2025:06:15 12:00:00', offsetTimeOriginal: '+00:00', gps: { lat: 46, lon: 8 } }, padding: 92 });
    const zip = path.join(work, 'decades.zip');
    await writeYazl(zip, [{ name: `${G}/Photos from 1971/old.jpg`, content: old }, { name: `${G}/Photos from 2025/recent.jpg`, content: recent }]);
    await runImport(t.lake.db, { userId: user, inputs: [zip], batchSize: 100, blobs: t.lake.blobs });
    assert.equal(await count(user, `SELECT count(*)::int AS n FROM timeseries.location_points WHERE source = 'google.photos'`), 2);
    const made = (await partitions()).filter((p) => !before.includes(p));
    assert.ok(made.length <= 2 && made.every((p) => /_p(1971_03|2025_06)$/.test(p)), `made ${made.length}: ${made.slice(0, 3).join(', ')}`);
    const stranded = await t.lake.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ONLY timeseries.location_points_default`);
    assert.equal(stranded.rows[0]!.n, 0, 'none left in the default partition');
  });

  test('a single photo given on its own (no folder, no sidecar anywhere)', async () => {
    const user = await createUser(t.lake, 'photos-dave');
    const file = path.join(work, 'lonely.png');
    await writeFile(file, png(4, 4));
    const report = await runImport(t.lake.db, { userId: user, inputs: [file], batchSize: 10, blobs: t.lake.blobs });
    assert.deepEqual(report.files.map((f) => [f.path, f.format, f.status, f.note]), [['lonely.png', MEDIA_SOURCE_ID, 'done', NO_SIDECAR_NOTE]]);
    const rows = [...(await mediaRows(user)).values()];
    assert.deepEqual(rows.map((r) => [r.mime_type, r.albums, r.taken_at]), [['image/png', [], null]]);
  });

  test('blob_ref records round-trip through the loader into user_data.blob_refs (and again as duplicates)', async () => {
    const user = await createUser(t.lake, 'blob-ref-loader');
    const digest = 'ab'.repeat(32);
    const batch = {
      records: [
        { type: 'blob_ref' as const, source: 'test.blobs', key: [digest, 'a/b.jpg'], sha256: digest, size: 1234, mimeType: 'image/jpeg', originalName: 'a/b.jpg' },
        { type: 'blob_ref' as const, source: 'test.blobs', key: [digest, 'c.jpg'], sha256: digest, size: 1234, mimeType: null, originalName: 'c.jpg' },
      ],
    };
    const first = await loadBatch(t.lake.db, { userId: user, jobId: null, fileId: null }, batch);
    assert.deepEqual([first.inserted, first.duplicates], [2, 0]);
    const again = await loadBatch(t.lake.db, { userId: user, jobId: null, fileId: null }, batch);
    assert.deepEqual([again.inserted, again.duplicates], [0, 2]);
    const rows = await t.lake.db.asUser(user, (tx) => tx.query<{ sha256: string; size_bytes: string; mime_type: string | null; original_name: string; source: string }>(
      `SELECT encode(sha256, 'hex') AS sha256, size_bytes::text, mime_type, original_name, source FROM user_data.blob_refs ORDER BY original_name`));
    assert.deepEqual(rows.rows, [
      { sha256: digest, size_bytes: '1234', mime_type: 'image/jpeg', original_name: 'a/b.jpg', source: 'test.blobs' },
      { sha256: digest, size_bytes: '1234', mime_type: null, original_name: 'c.jpg', source: 'test.blobs' },
    ]);
  });
});

describe('resume after a kill', () => {

  /** `lake import ZIP --batch-size 3 --json`; with `killAfter`, SIGKILL once a progress event reports that many records. */
  const importZip = (env: Record<string, string>, zip: string, user: string, killAfter?: number) =>
    lakeImport({ env, inputs: [zip], user, batchSize: 3, killAfterRecords: killAfter });

  test('lake import of a photos Takeout killed mid-way, then run again: the same rows, blobs and points as an uninterrupted import', async () => {
    const cli = await cliTestLake('lake-photos-kill-');
    const { dir, env } = cli;
    try {
      const zip = path.join(dir, 'takeout.zip');
      // Enough files that the kill lands inside the import, not after it.
      const extra = Array.from({ length: 120 }, (_, i) => [
        { name: `${G}/Photos from 2022/IMG_${1000 + i}.jpg`, content: jpeg({ width: 10 + i, height: 10, padding: 100 + i }) },
        { name: `${G}/Photos from 2022/IMG_${1000 + i}.jpg.json`, content: sidecar(`IMG_${1000 + i}.jpg`, { photoTakenTime: { timestamp: String(1650000000 + i * 60) }, geoData: { latitude: 45 + i / 100, longitude: 7 } }) },
      ]).flat();
      await writeYazl(zip, [...takeoutEntries(), ...extra]);
      const killed = await importZip(env, zip, 'resumed', 30);
      assert.equal(killed.signal, 'SIGKILL', `the import finished before it could be killed: ${killed.stdout.slice(0, 200)}`);
      const resumed = await importZip(env, zip, 'resumed');
      assert.equal(resumed.code, 0, resumed.stdout.slice(0, 300));
      const whole = await importZip(env, zip, 'whole');
      assert.equal(whole.code, 0);

      const lake = await Lake.open(loadConfig(env), { migrate: false });
      try {
        const fingerprint = async (name: string) => {
          const user = (await lake.db.query<{ user_id: string }>(`SELECT user_id FROM user_data.users WHERE name = $1`, [name])).rows[0]!.user_id;
          return lake.db.asUser(user, async (tx) => {
            const one = async (sql: string) => (await tx.query<{ v: string }>(sql)).rows[0]!.v;
            return {
              media: await one(`SELECT count(*) || ':' || md5(string_agg(concat_ws('|', encode(sha256, 'hex'), width, taken_at, taken_at_source, lat, lon, geo_source,
                                  description, people::text, favorited, albums::text), ',' ORDER BY sha256)) AS v FROM user_data.media`),
              files: await one(`SELECT count(*) || ':' || md5(string_agg(concat_ws('|', folder, file_name, sidecar_name, reconciled), ',' ORDER BY folder, file_name)) AS v FROM user_data.media_files`),
              sidecars: await one(`SELECT count(*) || ':' || bool_and(reconciled) AS v FROM user_data.media_sidecars`),
              refs: await one(`SELECT count(*) || ':' || md5(string_agg(encode(sha256, 'hex') || original_name, ',' ORDER BY original_name)) AS v FROM user_data.blob_refs`),
              points: await one(`SELECT count(*) || ':' || md5(string_agg(concat_ws('|', encode(content_hash, 'hex'), recorded_at, lat, lon), ',' ORDER BY content_hash)) AS v
                                   FROM timeseries.location_points WHERE source = 'google.photos'`),
              loading: await one(`SELECT count(*)::text AS v FROM imports.files WHERE status = 'loading'`),
            };
          });
        };
        const a = await fingerprint('resumed');
        const b = await fingerprint('whole');
        assert.deepEqual(a, b);
        assert.match(a.media, /^129:/, '9 of the Takeout and 120 more');
        assert.match(a.points, /^125:/);
        assert.equal(a.loading, '0');
      } finally {
        await lake.close();
      }
    } finally {
      await cli.dispose();
    }
  });
});
