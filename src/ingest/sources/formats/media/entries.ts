// Photos and videos, whatever exported them, as the registry (../../registry.ts) knows them.
// (Google Photos' JSON beside them: ../../google/photos/.) Detection only: nothing here imports
// a parser.
import { detectMimeType, expectedMimeType, type MimeType } from '../../../extract/sniff.js';
import { parserAt, type Confidence, type Probe, type SourceEntry } from '../../../source.js';

export const MEDIA_TYPES: ReadonlySet<MimeType> = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/heic', 'image/avif', 'video/mp4', 'video/quicktime']);

export const MEDIA_FILE: SourceEntry = {
  id: 'media.file',
  description: 'photos and videos (JPEG, PNG, WEBP, HEIC, AVIF, GIF, MP4, MOV): metadata, and the file in the blob store',
  detect(probe: Probe): Confidence | null {
    const detected = detectMimeType(probe.head);
    if (detected !== null && MEDIA_TYPES.has(detected)) return 'content';
    // Claimed so it is quarantined with the reason (see media-file.ts), not read as text.
    const expected = expectedMimeType(probe.path);
    if (expected !== null && MEDIA_TYPES.has(expected)) return 'content';
    return null;
  },
  // Its parser puts the file into the blob store; photos are joined to their sidecars after the import.
  standalone: false,
  parser: parserAt(import.meta.url, './media-file.js', 'mediaFileSource'),
};
