// Google Photos' JSON files (sidecars and album metadata) as the registry (../../registry.ts)
// knows them. The photos and videos themselves are a generic format: ../../formats/media/.
// Detection only: nothing here imports a parser.
import { baseName, describeJsonHead } from '../../../parse/json-head.js';
import { parserAt, type Confidence, type Probe, type SourceEntry } from '../../../source.js';
import { isAlbumMetadataName } from '../../formats/media/names.js';

export const PHOTOS_SIDECAR: SourceEntry = {
  id: 'google.photos.sidecar',
  description: 'Google Photos JSON sidecars (taken time, place, description, people of one photo or video)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root !== 'object' || shape.keys.has('albumData')) return null;
    const keys = shape.keys;
    if (keys.has('photoTakenTime')) return 'content';
    if (keys.has('title') && keys.has('creationTime') && (keys.has('geoData') || keys.has('geoDataExif') || keys.has('imageViews'))) return 'content';
    return null;
  },
  // Joined to their photos after the import (afterImport).
  standalone: false,
  parser: parserAt(import.meta.url, './metadata.js', 'googlePhotosSidecarSource'),
};

export const PHOTOS_ALBUM: SourceEntry = {
  id: 'google.photos.album',
  description: 'Google Photos album metadata (metadata.json and its localized names)',
  detect(probe: Probe): Confidence | null {
    const shape = describeJsonHead(probe.head);
    if (shape.root !== 'object') return null;
    const keys = shape.keys;
    if (keys.has('albumData')) return 'content';
    if (keys.has('title') && keys.has('access') && keys.has('date') && !keys.has('photoTakenTime')) return 'content';
    return isAlbumMetadataName(baseName(probe.path)) ? 'path' : null;
  },
  standalone: false,
  parser: parserAt(import.meta.url, './metadata.js', 'googlePhotosAlbumSource'),
};
