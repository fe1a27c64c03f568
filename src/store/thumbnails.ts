// Thumbnails of photos, made once with sharp (libvips) from the blob's bytes and kept in a cache
// directory beside the blob store (<data dir>/thumbnails, next to <data dir>/blobs): one file per
// blob, size and format, `<first two hex digits>/<sha256>-<size>.<jpg|webp>`. A thumbnail is
// derived from content alone, so users holding the same photo share it; who may read it is
// decided before (the API checks the user's blob reference). Deleting the directory costs only
// the time to make them again.
//
// Written to a temporary name and renamed into place, so a reader never sees half a file; two
// requests for the same missing thumbnail in this process wait for one making.
//
// Private to the lake's own OS user, as the blobs are (a thumbnail is a copy of a photo): files
// 0600 in directories 0700, whatever the process umask; the directory made private on the first
// thumbnail written, which also closes thumbnails cached by older versions with wider modes.
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { LakeError } from '../errors.js';
import type { BlobStore } from './blob-store.js';

/** The sizes offered: the longest side, in pixels (smaller images are not enlarged). */
export const THUMBNAIL_SIZES = [256, 1024] as const;
export type ThumbnailSize = (typeof THUMBNAIL_SIZES)[number];
export const THUMBNAIL_FORMATS = ['jpeg', 'webp'] as const;
export type ThumbnailFormat = (typeof THUMBNAIL_FORMATS)[number];

export const THUMBNAIL_CONTENT_TYPES: Record<ThumbnailFormat, string> = { jpeg: 'image/jpeg', webp: 'image/webp' };

/** Still images sharp reads with its prebuilt libvips (HEIC needs a HEVC decoder it does not ship: refused as unsupported). */
export const THUMBNAIL_INPUT_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif', 'image/tiff', 'image/avif'] as const;

export { thumbnailsDirectory } from './blob-settings.js';

export class Thumbnails {
  private readonly making = new Map<string, Promise<Buffer>>();
  /** The directory's own mode has been set to 0700 by this process. */
  private closed = false;

  constructor(
    readonly directory: string,
    private readonly blobs: BlobStore,
  ) {}

  pathFor(sha256: string, size: ThumbnailSize, format: ThumbnailFormat): string {
    return path.join(this.directory, sha256.slice(0, 2), `${sha256}-${size}.${format === 'jpeg' ? 'jpg' : 'webp'}`);
  }

  /** The thumbnail's bytes, from the cache or made now (and cached). UNSUPPORTED_MEDIA_TYPE when sharp cannot read the blob as an image. */
  async get(sha256: string, size: ThumbnailSize, format: ThumbnailFormat): Promise<Buffer> {
    const file = this.pathFor(sha256, size, format);
    try {
      return await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const pending = this.making.get(file);
    if (pending) return pending;
    const made = this.make(sha256, size, format, file).finally(() => this.making.delete(file));
    this.making.set(file, made);
    return made;
  }

  /** When the cached file was written, or null when there is none (tests, diagnostics). */
  async cachedAt(sha256: string, size: ThumbnailSize, format: ThumbnailFormat): Promise<Date | null> {
    try {
      return (await stat(this.pathFor(sha256, size, format))).mtime;
    } catch {
      return null;
    }
  }

  /**
   * Remove every cached thumbnail of a blob (all sizes and formats), for when the blob itself
   * leaves the store (a user erased, the collector): a thumbnail is a copy of the photo.
   */
  async remove(sha256: string): Promise<number> {
    let removed = 0;
    for (const size of THUMBNAIL_SIZES) {
      for (const format of THUMBNAIL_FORMATS) {
        const file = this.pathFor(sha256, size, format);
        try {
          await rm(file);
          removed++;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
    return removed;
  }

  private async make(sha256: string, size: ThumbnailSize, format: ThumbnailFormat, file: string): Promise<Buffer> {
    // rotate(): EXIF orientation applied, so the thumbnail stands as the photo is seen.
    const transform = sharp({ failOn: 'error' }).rotate().resize(size, size, { fit: 'inside', withoutEnlargement: true });
    const encoded = format === 'jpeg' ? transform.jpeg({ quality: 80, mozjpeg: true }) : transform.webp({ quality: 80 });
    let bytes: Buffer;
    try {
      const source = await this.blobs.open(sha256);
      // A blob that fails its check while read (BLOB_CORRUPT) fails the thumbnail with that error.
      let sourceError: Error | null = null;
      source.once('error', (error) => {
        sourceError = error;
        encoded.destroy(error);
      });
      source.pipe(encoded);
      try {
        bytes = await encoded.toBuffer();
      } catch (error) {
        throw sourceError ?? error;
      }
    } catch (error) {
      if (error instanceof LakeError) throw error;
      throw new LakeError('UNSUPPORTED_MEDIA_TYPE', `blob ${sha256} cannot be read as an image for a thumbnail: ${(error as Error).message}`);
    }
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    if (!this.closed) {
      await chmod(this.directory, 0o700);
      this.closed = true;
    }
    const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await writeFile(temporary, bytes, { mode: 0o600 });
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return bytes;
  }
}
