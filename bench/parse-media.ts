// The media source (media.file) over a large video and many photos, no database: each file streams
// into a blob store (hot tier, on disk) while its metadata is read. Prints MB/s, files/s and peak
// RSS, to show that a video's size does not reach memory (its moov is read after a large mdat).
//
//   node --max-old-space-size=128 --import tsx bench/parse-media.ts --video-mb 500 --photos 2000 [--no-blobs]
// Files are generated into a temporary folder (removed afterwards): one MP4 with `--video-mb` of
// mdat before its moov, and `--photos` JPEGs of about 200 KB with EXIF and GPS.
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { MediaRecord } from '../src/ingest/records.js';
import { mediaFileSource } from '../src/ingest/sources/formats/media/media-file.js';
import { BlobStore } from '../src/store/blob-store.js';
import { jpeg, mp4 } from '../test/support/media.js';

const { values } = parseArgs({ options: { 'video-mb': { type: 'string', default: '500' }, photos: { type: 'string', default: '2000' }, 'no-blobs': { type: 'boolean', default: false } } });
const videoMb = Number(values['video-mb']);
const photos = Number(values.photos);

const dir = await mkdtemp(path.join(os.tmpdir(), 'lake-bench-media-'));
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
try {
  // The video: ftyp, an mdat of videoMb MiB of pseudo-random bytes, then moov (as cameras write it).
  const small = mp4({ createdAt: new Date('2024-06-01T12:00:00Z'), durationSeconds: 600, width: 3840, height: 2160, location: '+46.0207+007.7491/', moovLast: true, mdatBytes: 0 });
  const ftypLength = small.readUInt32BE(0);
  const moov = small.subarray(ftypLength + 8);
  const videoPath = path.join(dir, 'VID_big.mp4');
  const handle = await open(videoPath, 'w');
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((Math.imul(i, 2654435761) ^ 0x9e3779b9) >>> 0, i);
  const mdatHeader = Buffer.alloc(8);
  mdatHeader.writeUInt32BE(8 + videoMb * block.length, 0);
  mdatHeader.write('mdat', 4, 'latin1');
  await handle.write(Buffer.concat([small.subarray(0, ftypLength), mdatHeader]));
  for (let i = 0; i < videoMb; i++) {
    block.writeUInt32LE(i, 0); // every MiB differs
    await handle.write(block);
  }
  await handle.write(moov);
  await handle.close();

  const photoPaths: string[] = [];
  for (let i = 0; i < photos; i++) {
    const file = path.join(dir, `IMG_${i}.jpg`);
    const bytes = jpeg({ width: 4000, height: 3000, padding: 200_000 + i, exif: { make: 'Bench', model: 'Cam', dateTimeOriginal: '2024:06:01 12:00:00', offsetTimeOriginal: '+02:00', gps: { lat: 46 + i / 1e4, lon: 7.7 } } });
    await writeFile(file, bytes);
    photoPaths.push(file);
  }

  // --no-blobs: metadata and SHA-256 only, to tell the reading from the store's writes and fsyncs.
  const blobs = values['no-blobs'] ? null : new BlobStore(path.join(dir, 'blobs'));
  const run = async (files: string[]) => {
    const started = performance.now();
    let bytes = 0;
    let media: MediaRecord | null = null;
    for (const file of files) {
      bytes += (await stat(file)).size;
      const context = { path: path.basename(file), repairs: { invalidUtf8: 0, nulCharacters: 0 }, blobs };
      for await (const event of mediaFileSource.parse(createReadStream(file), context)) {
        if (event.kind === 'record' && event.record.type === 'media') media = event.record;
        if (event.kind === 'reject') throw new Error(`${file}: ${event.rejection.reason}`);
      }
    }
    return { seconds: (performance.now() - started) / 1000, bytes, media };
  };
  const video = await run([videoPath]);
  console.log(`video: ${(video.bytes / 2 ** 20).toFixed(0)} MiB in ${video.seconds.toFixed(2)} s = ${(video.bytes / 2 ** 20 / video.seconds).toFixed(1)} MB/s ` +
    `(duration ${video.media?.durationS} s, ${video.media?.width}x${video.media?.height}, at ${video.media?.metaLat},${video.media?.metaLon})`);
  const stills = await run(photoPaths);
  console.log(`photos: ${photos} files, ${(stills.bytes / 2 ** 20).toFixed(0)} MiB in ${stills.seconds.toFixed(2)} s = ${(photos / stills.seconds).toFixed(0)} files/s, ` +
    `${(stills.bytes / 2 ** 20 / stills.seconds).toFixed(1)} MB/s`);
  console.log(`peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB`);
} finally {
  clearInterval(sampler);
  await rm(dir, { recursive: true, force: true });
}
