// What an input to `lake import` is, told by its magic bytes rather than its extension.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { LakeError } from '../../errors.js';
import { readHead } from './read-head.js';
import { detectMimeType, looksLikeTarHeader } from './sniff.js';

export type InputKind = 'zip' | 'tar' | 'tar.gz' | 'file' | 'folder';

/**
 * A zip, a tar, a gzip holding a tar, a folder, or else a plain file. A .docx/.xlsx/.pptx given
 * alone is a document, not an archive to open (sniff names it as such, not as zip); a gzip that
 * does not hold a tar is a plain file too.
 */
export async function detectInputKind(input: string): Promise<InputKind> {
  const stats = await stat(input).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new LakeError('NOT_FOUND', `${input}: no such file or folder`, { cause: error, details: { input } });
    throw error;
  });
  if (stats.isDirectory()) return 'folder';
  if (!stats.isFile()) throw new LakeError('USAGE', `${input}: not a regular file or a folder`, { details: { input } });

  const head = await readHead(createReadStream(input), 512);
  const type = detectMimeType(head);
  if (type === 'application/zip') return 'zip';
  if (type === 'application/x-tar') return 'tar';
  if (type === 'application/gzip') return (await gzipHoldsTar(input)) ? 'tar.gz' : 'file';
  return 'file';
}

async function gzipHoldsTar(input: string): Promise<boolean> {
  const inflated = pipeline(createReadStream(input), createGunzip(), () => {
    // Destroyed on purpose once the head is read; a real decoding error is reported by readHead.
  });
  try {
    return looksLikeTarHeader(await readHead(inflated, 512));
  } catch (error) {
    throw new LakeError('ARCHIVE_INVALID', `${input}: gzip data is corrupt: ${(error as Error).message}`, {
      cause: error,
      details: { archive: input, byteOffset: 0 },
    });
  }
}
