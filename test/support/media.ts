// Tiny image and video files for tests, written byte by byte from the formats' specifications, so
// each test states exactly what metadata a file holds (no binary fixtures of unknown origin):
//   JPEG  SOI, an APP1 Exif segment (TIFF, CIPA DC-008), SOF0 with the dimensions, EOI
//   PNG   signature, IHDR, IEND (with their CRCs)
//   WEBP  RIFF/WEBP with a VP8X chunk (canvas size)
//   GIF   GIF89a logical screen descriptor
//   MP4   ftyp, moov (mvhd, trak/tkhd, udta/©xyz), mdat; moov first or last
//   HEIC  ftyp, meta (hdlr, iinf/infe Exif item, iloc, iprp/ipco/ispe), mdat holding the Exif item
// None of these decodes to pixels; the lake reads metadata only.
import zlib from 'node:zlib';

type IfdValue =
  | { tag: number; type: 'ascii'; value: string }
  | { tag: number; type: 'short'; value: number }
  | { tag: number; type: 'long'; value: number }
  | { tag: number; type: 'rational'; value: Array<[number, number]> };

const TYPE_CODES = { ascii: 2, short: 3, long: 4, rational: 5 } as const;

/** One IFD at `offset` (relative to the TIFF header) plus its out-of-line data; big-endian. */
function ifd(entries: IfdValue[], offset: number, next = 0): Buffer {
  const sorted = [...entries].sort((a, b) => a.tag - b.tag);
  const headerSize = 2 + sorted.length * 12 + 4;
  const extra: Buffer[] = [];
  let extraOffset = offset + headerSize;
  const table = Buffer.alloc(headerSize);
  table.writeUInt16BE(sorted.length, 0);
  sorted.forEach((entry, i) => {
    const at = 2 + i * 12;
    table.writeUInt16BE(entry.tag, at);
    table.writeUInt16BE(TYPE_CODES[entry.type], at + 2);
    let data: Buffer;
    let count: number;
    switch (entry.type) {
      case 'ascii':
        data = Buffer.from(`${entry.value}\0`, 'latin1');
        count = data.length;
        break;
      case 'short':
        data = Buffer.alloc(4);
        data.writeUInt16BE(entry.value, 0);
        count = 1;
        break;
      case 'long':
        data = Buffer.alloc(4);
        data.writeUInt32BE(entry.value, 0);
        count = 1;
        break;
      case 'rational':
        data = Buffer.alloc(entry.value.length * 8);
        entry.value.forEach(([n, d], j) => {
          data.writeUInt32BE(n, j * 8);
          data.writeUInt32BE(d, j * 8 + 4);
        });
        count = entry.value.length;
        break;
    }
    table.writeUInt32BE(count, at + 4);
    if (data.length <= 4) {
      data.copy(table, at + 8);
    } else {
      table.writeUInt32BE(extraOffset, at + 8);
      if (data.length % 2) data = Buffer.concat([data, Buffer.alloc(1)]);
      extra.push(data);
      extraOffset += data.length;
    }
  });
  table.writeUInt32BE(next, headerSize - 4);
  return Buffer.concat([table, ...extra]);
}

export interface ExifSpec {
  make?: string;
  model?: string;
  orientation?: number;
  /** `YYYY:MM:DD HH:MM:SS` */
  dateTimeOriginal?: string;
  /** `+02:00` */
  offsetTimeOriginal?: string;
  gps?: { lat: number; lon: number; alt?: number };
  /** Point the Exif sub-IFD far past the end of the segment (a corrupt IFD offset). */
  brokenExifPointer?: boolean;
}

function dms(value: number): Array<[number, number]> {
  const abs = Math.abs(value);
  const degrees = Math.floor(abs);
  const minutes = Math.floor((abs - degrees) * 60);
  const seconds = Math.round(((abs - degrees) * 60 - minutes) * 60 * 10000);
  return [[degrees, 1], [minutes, 1], [seconds, 10000]];
}

/** A TIFF structure (`MM\0*`) with IFD0, the Exif sub-IFD and the GPS IFD as asked. */
export function tiff(spec: ExifSpec): Buffer {
  const header = Buffer.from([0x4d, 0x4d, 0x00, 0x2a, 0, 0, 0, 8]);
  const ifd0Entries: IfdValue[] = [];
  if (spec.make) ifd0Entries.push({ tag: 0x010f, type: 'ascii', value: spec.make });
  if (spec.model) ifd0Entries.push({ tag: 0x0110, type: 'ascii', value: spec.model });
  if (spec.orientation) ifd0Entries.push({ tag: 0x0112, type: 'short', value: spec.orientation });
  const exifEntries: IfdValue[] = [];
  if (spec.dateTimeOriginal) exifEntries.push({ tag: 0x9003, type: 'ascii', value: spec.dateTimeOriginal });
  if (spec.offsetTimeOriginal) exifEntries.push({ tag: 0x9011, type: 'ascii', value: spec.offsetTimeOriginal });
  const gpsEntries: IfdValue[] = [];
  if (spec.gps) {
    gpsEntries.push({ tag: 0x0001, type: 'ascii', value: spec.gps.lat >= 0 ? 'N' : 'S' });
    gpsEntries.push({ tag: 0x0002, type: 'rational', value: dms(spec.gps.lat) });
    gpsEntries.push({ tag: 0x0003, type: 'ascii', value: spec.gps.lon >= 0 ? 'E' : 'W' });
    gpsEntries.push({ tag: 0x0004, type: 'rational', value: dms(spec.gps.lon) });
    if (spec.gps.alt !== undefined) gpsEntries.push({ tag: 0x0006, type: 'rational', value: [[Math.round(spec.gps.alt * 100), 100]] });
  }
  // Pointers are placeholders first, so IFD0's size is known; then written with real offsets.
  const pointers = (exifAt: number, gpsAt: number): IfdValue[] => [
    ...(exifEntries.length > 0 || spec.brokenExifPointer ? [{ tag: 0x8769, type: 'long' as const, value: exifAt }] : []),
    ...(gpsEntries.length > 0 ? [{ tag: 0x8825, type: 'long' as const, value: gpsAt }] : []),
  ];
  const ifd0Size = ifd([...ifd0Entries, ...pointers(0, 0)], 8).length;
  const exifAt = 8 + ifd0Size;
  const exifBlock = exifEntries.length > 0 ? ifd(exifEntries, exifAt) : Buffer.alloc(0);
  const gpsAt = exifAt + exifBlock.length;
  const gpsBlock = gpsEntries.length > 0 ? ifd(gpsEntries, gpsAt) : Buffer.alloc(0);
  const ifd0Block = ifd([...ifd0Entries, ...pointers(spec.brokenExifPointer ? 0x7ffffff0 : exifAt, gpsAt)], 8);
  return Buffer.concat([header, ifd0Block, exifBlock, gpsBlock]);
}

function segment(marker: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(0xff00 | marker, 0);
  head.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([head, payload]);
}

/** A JPEG of `width` x `height` (SOF0, no scan data worth decoding), with EXIF when given. */
export function jpeg(options: { width: number; height: number; exif?: ExifSpec; rawApp1?: Buffer; padding?: number }): Buffer {
  const parts: Buffer[] = [Buffer.from([0xff, 0xd8])];
  if (options.exif) parts.push(segment(0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff(options.exif)])));
  if (options.rawApp1) parts.push(segment(0xe1, options.rawApp1));
  // Without EXIF, the JFIF APP0 segment that encoders write (readers skip the first segment).
  if (!options.exif && !options.rawApp1) parts.push(segment(0xe0, Buffer.from([0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0])));
  const sof = Buffer.alloc(15);
  sof.writeUInt8(8, 0); // precision
  sof.writeUInt16BE(options.height, 1);
  sof.writeUInt16BE(options.width, 3);
  sof.writeUInt8(3, 5); // components
  for (let c = 0; c < 3; c++) sof.set([c + 1, 0x11, 0], 6 + c * 3);
  parts.push(segment(0xc0, sof));
  // Entropy-coded bytes stand-in, so files differ in size and content when asked.
  if (options.padding) parts.push(Buffer.alloc(options.padding, 0x55));
  parts.push(Buffer.from([0xff, 0xd9]));
  return Buffer.concat(parts);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length, 0);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body), 0);
  return Buffer.concat([length, body, crc]);
}

export function png(width: number, height: number, options: { exif?: ExifSpec } = {}): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    ...(options.exif ? [pngChunk('eXIf', tiff(options.exif))] : []),
    pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(height * (1 + width * 3)))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

export function webp(width: number, height: number): Buffer {
  const vp8x = Buffer.alloc(10);
  vp8x.writeUIntLE(width - 1, 4, 3);
  vp8x.writeUIntLE(height - 1, 7, 3);
  const chunk = Buffer.concat([Buffer.from('VP8X', 'latin1'), u32le(vp8x.length), vp8x]);
  return Buffer.concat([Buffer.from('RIFF', 'latin1'), u32le(4 + chunk.length), Buffer.from('WEBP', 'latin1'), chunk]);
}

export function gif(width: number, height: number): Buffer {
  const screen = Buffer.alloc(7);
  screen.writeUInt16LE(width, 0);
  screen.writeUInt16LE(height, 2);
  return Buffer.concat([Buffer.from('GIF89a', 'latin1'), screen, Buffer.from([0x3b])]);
}

function u32le(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value, 0);
  return b;
}

function box(type: string | Buffer, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length + 8, 0);
  (typeof type === 'string' ? Buffer.from(type, 'latin1') : type).copy(head, 4);
  return Buffer.concat([head, body]);
}

/** Seconds between 1904-01-01 (the ISO base media epoch) and 1970-01-01. */
const MAC_EPOCH_OFFSET = 2_082_844_800;

export interface Mp4Spec {
  brand?: string;
  /** UTC; written as seconds since 1904. */
  createdAt?: Date;
  durationSeconds: number;
  width: number;
  height: number;
  /** ISO 6709 string for udta/©xyz, e.g. `+48.8584+002.2945/`. */
  location?: string;
  /** moov after mdat (as cameras write it) instead of before (fast start). */
  moovLast?: boolean;
  mdatBytes?: number;
  /** mvhd version 1 (64-bit times). */
  version1?: boolean;
}

export function mp4(spec: Mp4Spec): Buffer {
  const timescale = 1000;
  const created = spec.createdAt ? Math.floor(spec.createdAt.getTime() / 1000) + MAC_EPOCH_OFFSET : 0;
  const duration = Math.round(spec.durationSeconds * timescale);
  let mvhd: Buffer;
  if (spec.version1) {
    mvhd = Buffer.alloc(4 + 8 + 8 + 4 + 8 + 80);
    mvhd.writeUInt8(1, 0);
    mvhd.writeBigUInt64BE(BigInt(created), 4);
    mvhd.writeBigUInt64BE(BigInt(created), 12);
    mvhd.writeUInt32BE(timescale, 20);
    mvhd.writeBigUInt64BE(BigInt(duration), 24);
  } else {
    mvhd = Buffer.alloc(4 + 4 + 4 + 4 + 4 + 80);
    mvhd.writeUInt32BE(created, 4);
    mvhd.writeUInt32BE(created, 8);
    mvhd.writeUInt32BE(timescale, 12);
    mvhd.writeUInt32BE(duration, 16);
  }
  const tkhd = Buffer.alloc(84);
  tkhd.writeUInt32BE(7, 0); // version 0, flags enabled|in movie|in preview
  tkhd.writeUInt32BE(created, 4);
  tkhd.writeUInt32BE(created, 8);
  tkhd.writeUInt32BE(1, 12); // track id
  tkhd.writeUInt32BE(duration, 20);
  tkhd.writeUInt32BE(0x00010000, 40); // matrix a = 1.0
  tkhd.writeUInt32BE(0x00010000, 56); // matrix d = 1.0
  tkhd.writeUInt32BE(0x40000000, 72); // matrix w = 1.0 (2.30)
  tkhd.writeUInt32BE(spec.width * 65536, 76);
  tkhd.writeUInt32BE(spec.height * 65536, 80);
  const hdlr = Buffer.concat([Buffer.alloc(8), Buffer.from('vide', 'latin1'), Buffer.alloc(12), Buffer.from('VideoHandler\0', 'latin1')]);
  const udta: Buffer[] = [];
  if (spec.location) {
    const text = Buffer.from(spec.location, 'latin1');
    const head = Buffer.alloc(4);
    head.writeUInt16BE(text.length, 0);
    head.writeUInt16BE(0x15c7, 2); // language code
    udta.push(box('udta', box(Buffer.from([0xa9, 0x78, 0x79, 0x7a]), head, text)));
  }
  const moov = box('moov', box('mvhd', mvhd), box('trak', box('tkhd', tkhd), box('mdia', box('hdlr', hdlr))), ...udta);
  const brand = spec.brand ?? 'isom';
  const ftyp = box('ftyp', Buffer.from(brand, 'latin1'), Buffer.from([0, 0, 2, 0]), Buffer.from(`${brand}mp41`, 'latin1'));
  const mdat = box('mdat', Buffer.alloc(spec.mdatBytes ?? 64, 0xab));
  return Buffer.concat(spec.moovLast ? [ftyp, mdat, moov] : [ftyp, moov, mdat]);
}

function fullBox(type: string, version: number, ...payload: Buffer[]): Buffer {
  return box(type, Buffer.from([version, 0, 0, 0]), ...payload);
}

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value, 0);
  return b;
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value, 0);
  return b;
}

/** A HEIC (ISO/IEC 23008-12) with one image's size (ispe) and, when given, an Exif item in mdat. */
export function heic(width: number, height: number, exif?: ExifSpec): Buffer {
  const ftyp = box('ftyp', Buffer.from('heic', 'latin1'), u32(0), Buffer.from('mif1heic', 'latin1'));
  const exifPayload = exif ? Buffer.concat([u32(6), Buffer.from('Exif\0\0', 'latin1'), tiff(exif)]) : null;
  const build = (mdatOffset: number): Buffer => {
    const hdlr = fullBox('hdlr', 0, u32(0), Buffer.from('pict', 'latin1'), Buffer.alloc(12), Buffer.from('\0', 'latin1'));
    const items: Buffer[] = [];
    if (exifPayload) items.push(fullBox('infe', 2, u16(1), u16(0), Buffer.from('Exif', 'latin1'), Buffer.from('\0', 'latin1')));
    const iinf = fullBox('iinf', 0, u16(items.length), ...items);
    // iloc version 0: offset_size 4, length_size 4, base_offset_size 0.
    const iloc = exifPayload
      ? fullBox('iloc', 0, Buffer.from([0x44, 0x00]), u16(1), u16(1), u16(0), u16(1), u32(mdatOffset + 8), u32(exifPayload.length))
      : fullBox('iloc', 0, Buffer.from([0x44, 0x00]), u16(0));
    const ispe = fullBox('ispe', 0, u32(width), u32(height));
    const iprp = box('iprp', box('ipco', ispe));
    return fullBox('meta', 0, hdlr, iinf, iloc, iprp);
  };
  const metaSize = build(0).length;
  const meta = build(ftyp.length + metaSize);
  const mdat = box('mdat', exifPayload ?? Buffer.alloc(16));
  return Buffer.concat([ftyp, meta, mdat]);
}
