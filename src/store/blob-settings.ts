// The blob store's names and defaults, in a module of their own: the command line shows them in
// its help and checks options against them without loading the store and its WebAssembly codecs.
import path from 'node:path';

export const BLOB_TIERS = ['hot', 'warm', 'cold'] as const;
export type BlobTier = (typeof BLOB_TIERS)[number];

export function isBlobTier(value: string): value is BlobTier {
  return (BLOB_TIERS as readonly string[]).includes(value);
}

/** `lake blobs gc` keeps blobs stored or put again this recently (an import may be about to reference them). */
export const DEFAULT_GRACE_HOURS = 24;

/** Where thumbnails of the blobs under `blobRoot` are cached (store/thumbnails.ts makes them; erasure removes them). */
export function thumbnailsDirectory(blobRoot: string): string {
  return path.join(path.dirname(blobRoot), 'thumbnails');
}
