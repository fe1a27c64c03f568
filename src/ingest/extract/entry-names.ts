// Entry names: which are safe, what they normalise to, and how duplicates are told apart.
// Nothing is ever written to disk under these names, but downstream stores and messages use them,
// so a name that would escape an extraction root is refused outright (Z1), and the rest are
// normalised once here.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { RefusalCategory } from './types.js';

export type NameCheck =
  | { ok: true; path: string; isDirectory: boolean }
  | { ok: false; category: Extract<RefusalCategory, 'unsafe' | 'invalid'>; reason: string };

// C0 controls and DEL: they cannot go to Postgres (NUL) or into log lines unescaped.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
const DRIVE_LETTER = /^[A-Za-z]:/;

/** The name with control characters escaped, safe to show in messages and store in refusals. */
export function displayName(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

// CP437, the zip specification's default, for bytes 0x80-0xFF; below that it is ASCII (the control
// bytes stay controls, so such names are refused rather than shown as CP437's ☺ and ♥).
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';
const ZIP_UTF8_FLAG = 0x800;
const INFO_ZIP_UNICODE_PATH = 0x7075;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The name of a zip entry from its raw bytes. In order:
 *   - the Info-ZIP Unicode Path extra field (0x7075, version 1), when the CRC-32 it carries is that
 *     of the raw name (otherwise the name was changed after the field was written) and it is UTF-8;
 *   - general purpose bit 11 set: UTF-8 (invalid sequences replaced by U+FFFD);
 *   - no flag: UTF-8 when the bytes are valid UTF-8, as current unzip and 7-Zip decide (Info-ZIP on
 *     Linux and macOS's archiver write UTF-8 names without the flag), CP437 otherwise.
 */
export function decodeZipEntryName(raw: Buffer, generalPurposeBitFlag: number, extraFields: ReadonlyArray<{ id: number; data: Buffer }>): string {
  for (const field of extraFields) {
    if (field.id !== INFO_ZIP_UNICODE_PATH || field.data.length < 5 || field.data[0] !== 1) continue;
    if (field.data.readUInt32LE(1) !== crc32(raw)) continue;
    const unicode = decodeStrictUtf8(field.data.subarray(5));
    if (unicode !== null) return unicode;
  }
  if ((generalPurposeBitFlag & ZIP_UTF8_FLAG) !== 0) return raw.toString('utf8');
  return decodeStrictUtf8(raw) ?? decodeCp437(raw);
}

function decodeStrictUtf8(bytes: Buffer): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

function decodeCp437(bytes: Buffer): string {
  let text = '';
  for (const byte of bytes) text += byte < 0x80 ? String.fromCharCode(byte) : CP437_HIGH[byte - 0x80];
  return text;
}

/**
 * Checks a name read from an archive (zip or tar). Backslashes count as separators: old Windows
 * zippers write them, and `a\..\b` must not slip past a '/'-only check. '.' and empty segments
 * are dropped (GNU tar writes `./Takeout/...`).
 */
export function checkArchiveEntryName(name: string): NameCheck {
  const shown = displayName(name);
  if (CONTROL_CHARACTER.test(name)) {
    return { ok: false, category: 'invalid', reason: `entry name "${shown}" contains a control character` };
  }
  if (DRIVE_LETTER.test(name)) {
    return { ok: false, category: 'unsafe', reason: `entry name "${shown}" starts with a drive letter` };
  }
  if (name.startsWith('/') || name.startsWith('\\')) {
    return { ok: false, category: 'unsafe', reason: `entry name "${shown}" is an absolute path` };
  }
  const segments = name.split(/[/\\]/);
  if (segments.includes('..')) {
    return { ok: false, category: 'unsafe', reason: `entry name "${shown}" has a ".." segment` };
  }
  const isDirectory = name.endsWith('/') || name.endsWith('\\');
  return checkPathSegments(segments, shown, isDirectory);
}

/** Checks the segments of a path found by walking a folder (raw '\' is a legal Linux name byte there). */
export function checkFolderEntrySegments(segments: string[]): NameCheck {
  const shown = displayName(segments.join('/'));
  if (segments.some((segment) => CONTROL_CHARACTER.test(segment))) {
    return { ok: false, category: 'invalid', reason: `file name "${shown}" contains a control character` };
  }
  return checkPathSegments(segments, shown, false);
}

function checkPathSegments(segments: string[], shown: string, isDirectory: boolean): NameCheck {
  const kept = segments.filter((segment) => segment !== '' && segment !== '.');
  if (kept.length === 0) {
    return { ok: false, category: 'invalid', reason: `entry name "${shown}" is empty` };
  }
  return { ok: true, path: kept.join('/').normalize('NFC'), isDirectory };
}

/**
 * The duplicate policy (Z10): keep every entry, in archive order. The first entry with a given path
 * keeps it; a later entry whose path equals an earlier one ignoring case gets `~2`, `~3`... before
 * its extension (`Takeout/a/Photo.jpg`, then `Takeout/a/photo~2.jpg`), the lowest number not yet
 * taken. Case-insensitive so the names stay distinct on macOS and Windows file systems and in
 * case-insensitive lookups. Deterministic for the same inputs in the same order.
 *
 * Remembers a 96-bit hash of each case-folded path rather than the path, so a million entries
 * take a fraction of the memory their paths would.
 */
export class EntryNamer {
  private readonly taken = new Set<string>();

  claim(path: string): string {
    if (this.tryClaim(path)) return path;
    const { stem, extension } = splitExtension(path);
    for (let copy = 2; ; copy += 1) {
      const candidate = `${stem}~${copy}${extension}`;
      if (this.tryClaim(candidate)) return candidate;
    }
  }

  private tryClaim(path: string): boolean {
    const key = createHash('sha256').update(path.toLowerCase()).digest('base64').slice(0, 16);
    if (this.taken.has(key)) return false;
    this.taken.add(key);
    return true;
  }
}

function splitExtension(path: string): { stem: string; extension: string } {
  const nameStart = path.lastIndexOf('/') + 1;
  const dot = path.lastIndexOf('.');
  // A leading dot is a hidden file's name, not an extension.
  if (dot <= nameStart) return { stem: path, extension: '' };
  return { stem: path.slice(0, dot), extension: path.slice(dot) };
}
