// Photos and videos, and Google Photos' JSON beside them, for the detection registry.
import type { Source } from '../../../source.js';
import { googlePhotosAlbumSource, googlePhotosSidecarSource } from '../../google/photos/metadata.js';
import { mediaFileSource } from './media-file.js';

export const mediaSources: readonly Source[] = [googlePhotosSidecarSource, googlePhotosAlbumSource, mediaFileSource];

export { googlePhotosAlbumSource, googlePhotosSidecarSource, mediaFileSource };
