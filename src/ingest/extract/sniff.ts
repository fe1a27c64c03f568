// MIME type from a file's first bytes, compared with what its name suggests (a PNG named
// `.json` is caught). Hand-written rather than the `file-type` package: its current major needs
// Node 22, it is async-only, and it does not recognise the text formats that make up most of a
// Takeout (JSON, HTML, CSV, mbox, iCalendar, vCard), which are the ones we need to tell apart.

export type MimeType =
  | 'application/zip'
  | 'application/gzip'
  | 'application/x-tar'
  | 'application/pdf'
  | 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'
  | 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
  | 'application/vnd.openxmlformats-officedocument.presentationml.presentation'
  | 'image/jpeg'
  | 'image/png'
  | 'image/gif'
  | 'image/webp'
  | 'image/heic'
  | 'image/avif'
  | 'video/mp4'
  | 'video/quicktime'
  | 'audio/mp4'
  | 'audio/mpeg'
  | 'application/json'
  | 'text/html'
  | 'application/xml'
  | 'application/gpx+xml'
  | 'application/vnd.google-earth.kml+xml'
  | 'text/csv'
  | 'text/plain'
  | 'application/mbox'
  | 'text/calendar'
  | 'text/vcard';

export interface SniffResult {
  /** From the content; null when the bytes match nothing known (or the head is empty). */
  detected: MimeType | null;
  /** From the name's extension; null for an unknown extension. */
  expected: MimeType | null;
  /**
   * `match` when both are known and the same or compatible (XML for `.gpx`, MP4 for `.mov`, zip
   * for `.docx` when the head is too short to see inside, plain text for `.csv`); `unknown` when
   * either is null.
   */
  verdict: 'match' | 'mismatch' | 'unknown';
}

const BY_EXTENSION: Readonly<Record<string, MimeType>> = {
  zip: 'application/zip',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  tar: 'application/x-tar',
  pdf: 'application/pdf',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  jfif: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heic',
  avif: 'image/avif',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  '3gp': 'video/mp4',
  mov: 'video/quicktime',
  qt: 'video/quicktime',
  m4a: 'audio/mp4',
  mp3: 'audio/mpeg',
  json: 'application/json',
  html: 'text/html',
  htm: 'text/html',
  xml: 'application/xml',
  gpx: 'application/gpx+xml',
  kml: 'application/vnd.google-earth.kml+xml',
  csv: 'text/csv',
  txt: 'text/plain',
  mbox: 'application/mbox',
  ics: 'text/calendar',
  vcf: 'text/vcard',
};

/** Pairs that are not equal but not suspicious either; each pair works in both directions. */
const COMPATIBLE: ReadonlyArray<readonly [MimeType, MimeType]> = [
  ['application/xml', 'application/gpx+xml'],
  ['application/xml', 'application/vnd.google-earth.kml+xml'],
  ['application/zip', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
  ['application/zip', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
  ['application/zip', 'application/vnd.openxmlformats-officedocument.presentationml.presentation'],
  // Phones write QuickTime-branded files as .mp4 and the reverse; both are ISO base media files.
  ['video/mp4', 'video/quicktime'],
  ['video/mp4', 'audio/mp4'],
  // A one-column CSV, or a CSV whose first lines disagree, sniffs as plain text.
  ['text/plain', 'text/csv'],
];

export function expectedMimeType(name: string): MimeType | null {
  const lower = name.toLowerCase();
  if (lower.endsWith('.tar.gz')) return 'application/gzip';
  const dot = lower.lastIndexOf('.');
  if (dot < 0 || dot < lower.lastIndexOf('/')) return null;
  return BY_EXTENSION[lower.slice(dot + 1)] ?? null;
}

export function sniffMimeType(head: Buffer, name: string): SniffResult {
  const detected = detectMimeType(head);
  const expected = expectedMimeType(name);
  if (detected === null || expected === null) return { detected, expected, verdict: 'unknown' };
  const agree =
    detected === expected || COMPATIBLE.some(([a, b]) => (a === detected && b === expected) || (a === expected && b === detected));
  return { detected, expected, verdict: agree ? 'match' : 'mismatch' };
}

export function detectMimeType(head: Buffer): MimeType | null {
  if (head.length === 0) return null;
  return detectBinary(head) ?? detectText(head);
}

function startsWith(head: Buffer, signature: string | number[], offset = 0): boolean {
  const bytes = typeof signature === 'string' ? Buffer.from(signature, 'latin1') : Buffer.from(signature);
  return head.length >= offset + bytes.length && head.subarray(offset, offset + bytes.length).equals(bytes);
}

function detectBinary(head: Buffer): MimeType | null {
  if (startsWith(head, 'PK\x03\x04')) return detectZipFlavour(head);
  if (startsWith(head, 'PK\x05\x06') || startsWith(head, 'PK\x07\x08')) return 'application/zip';
  if (startsWith(head, [0x1f, 0x8b, 0x08])) return 'application/gzip';
  if (startsWith(head, '%PDF-')) return 'application/pdf';
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(head, 'GIF87a') || startsWith(head, 'GIF89a')) return 'image/gif';
  if (startsWith(head, 'RIFF') && startsWith(head, 'WEBP', 8)) return 'image/webp';
  if (startsWith(head, 'ID3')) return 'audio/mpeg';
  const isoMedia = detectIsoMedia(head);
  if (isoMedia !== null) return isoMedia;
  if (looksLikeTarHeader(head)) return 'application/x-tar';
  return null;
}

/** OOXML documents are zips whose names (within the first local headers) give them away. */
function detectZipFlavour(head: Buffer): MimeType {
  const text = head.toString('latin1');
  if (!text.includes('[Content_Types].xml')) return 'application/zip';
  if (text.includes('word/')) return 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
  if (text.includes('xl/')) return 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
  if (text.includes('ppt/')) return 'application/vnd.openxmlformats-officedocument.presentationml.presentation';
  return 'application/zip';
}

const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);
// Top-level atoms an old QuickTime file (before `ftyp` existed) may start with.
const QUICKTIME_ATOMS = new Set(['moov', 'mdat', 'wide', 'free', 'skip', 'pnot']);

/** ISO base media files (MP4, MOV, HEIC, AVIF): a box whose type at offset 4 is `ftyp`. */
function detectIsoMedia(head: Buffer): MimeType | null {
  if (head.length < 12) return null;
  const boxType = head.toString('latin1', 4, 8);
  if (boxType !== 'ftyp') return QUICKTIME_ATOMS.has(boxType) && head.readUInt32BE(0) >= 8 ? 'video/quicktime' : null;
  const majorBrand = head.toString('latin1', 8, 12);
  const boxSize = Math.min(head.readUInt32BE(0), head.length);
  const compatibleBrands: string[] = [];
  for (let offset = 16; offset + 4 <= boxSize; offset += 4) compatibleBrands.push(head.toString('latin1', offset, offset + 4));
  if (majorBrand === 'avif' || majorBrand === 'avis' || (majorBrand === 'mif1' && compatibleBrands.includes('avif'))) {
    return 'image/avif';
  }
  if (HEIF_BRANDS.has(majorBrand)) return 'image/heic';
  if (majorBrand === 'qt  ') return 'video/quicktime';
  if (majorBrand === 'M4A ' || majorBrand === 'M4B ') return 'audio/mp4';
  return 'video/mp4';
}

/**
 * A POSIX/GNU tar header: `ustar` at 257, or an old v7 header; either way the header checksum
 * (bytes 148-155, octal, computed with that field as spaces) must match.
 */
export function looksLikeTarHeader(head: Buffer): boolean {
  if (head.length < 512) return false;
  const block = head.subarray(0, 512);
  const recorded = parseInt(block.toString('latin1', 148, 156).replace(/[\0 ]+$/, '').trim(), 8);
  if (!Number.isFinite(recorded)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i += 1) sum += i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
  if (sum !== recorded || sum === 8 * 0x20) return false;
  const hasMagic = block.toString('latin1', 257, 262) === 'ustar';
  // v7 tar has no magic: also require a NUL-terminated name so random data is not taken for tar.
  return hasMagic || (block[0] !== 0 && block.indexOf(0) > 0 && block.indexOf(0) < 100);
}

function detectText(head: Buffer): MimeType | null {
  const text = decodeTextHead(head);
  if (text === null) return null;
  const trimmed = text.replace(/^\s+/, '');
  if (trimmed.startsWith('From ')) return 'application/mbox';
  if (/^[{[]/.test(trimmed) && /^(\{\s*("|\}|$)|\[\s*([{["\d\-tfn\]]|$))/.test(trimmed)) return 'application/json';
  const markup = detectMarkup(trimmed);
  if (markup !== null) return markup;
  if (/^BEGIN:VCALENDAR\r?\n/i.test(trimmed)) return 'text/calendar';
  if (/^BEGIN:VCARD\r?\n/i.test(trimmed)) return 'text/vcard';
  if (looksLikeCsv(text)) return 'text/csv';
  return 'text/plain';
}

function detectMarkup(text: string): MimeType | null {
  if (!text.startsWith('<')) return null;
  const start = text.slice(0, 2048).toLowerCase();
  if (/<!doctype html|<html[\s>]|<head[\s>]|<body[\s>]/.test(start)) return 'text/html';
  if (/<gpx[\s>]/.test(start)) return 'application/gpx+xml';
  if (/<kml[\s>]/.test(start)) return 'application/vnd.google-earth.kml+xml';
  if (/^<(\?xml|!--|[a-z_][\w.:-]*[\s/>])/.test(start)) return 'application/xml';
  return null;
}

/** Two or more complete lines with the same non-zero count of one delimiter outside quotes. */
function looksLikeCsv(text: string): boolean {
  const lines = text.split(/\r?\n/);
  // The last piece may be cut off by the end of the head.
  const complete = lines.slice(0, Math.min(lines.length - 1, 6)).filter((line) => line.length > 0);
  if (complete.length < 2) return false;
  return [',', ';', '\t'].some((delimiter) => {
    const counts = complete.map((line) => countOutsideQuotes(line, delimiter));
    return counts[0] !== undefined && counts[0] > 0 && counts.every((count) => count === counts[0]);
  });
}

function countOutsideQuotes(line: string, delimiter: string): number {
  let count = 0;
  let quoted = false;
  for (const char of line) {
    if (char === '"') quoted = !quoted;
    else if (char === delimiter && !quoted) count += 1;
  }
  return count;
}

/**
 * The head as text, or null when it is binary: invalid UTF-8 (allowing a sequence cut by the end
 * of the head), a NUL, or many control characters. UTF-16 with a BOM is decoded as such.
 */
function decodeTextHead(head: Buffer): string | null {
  if (startsWith(head, [0xff, 0xfe])) return new TextDecoder('utf-16le').decode(head.subarray(2));
  if (startsWith(head, [0xfe, 0xff])) return new TextDecoder('utf-16be').decode(head.subarray(2));
  const body = startsWith(head, [0xef, 0xbb, 0xbf]) ? head.subarray(3) : head;
  if (body.includes(0)) return null;
  let text: string | null = null;
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (let cut = 0; cut <= 3 && cut < body.length && text === null; cut += 1) {
    try {
      text = decoder.decode(body.subarray(0, body.length - cut));
    } catch {
      text = null;
    }
  }
  if (text === null) return null;
  const controls = text.match(/[\u0001-\u0008\u000e-\u001a\u001c-\u001f\u007f]/g)?.length ?? 0;
  return controls > text.length / 100 ? null : text;
}
