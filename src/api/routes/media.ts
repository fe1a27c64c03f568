// GET /v1/media: the user's photos and videos, newest first, filtered by when they were taken, a
// bounding box, album and camera, paged on (taken_at, sha256); GET /v1/media/{sha256}: one with
// its copies in the export and its sidecar; GET /v1/media/{sha256}/thumbnail: a JPEG or WebP
// thumbnail, made once and then served from the cache beside the blob store (store/thumbnails.ts).
//
// A thumbnail is only for a user who references the blob (user_data.blob_refs): else 404, as if it
// did not exist. A blob the user holds that is not a still image sharp reads (a video, a PDF, a
// HEIC photo: libvips as sharp ships it has no HEVC decoder) is a 415 UNSUPPORTED_MEDIA_TYPE naming
// its type: the client learns to show a placeholder rather than retry.
import { Type, type Static } from 'typebox';
import { LakeError } from '../../errors.js';
import { blobReference, isMediaPosition, mediaBySha256, mediaPage, SHA256_PATTERN, type MediaCopy, type MediaItem, type MediaSidecar } from '../../query/media.js';
import {
  THUMBNAIL_CONTENT_TYPES,
  THUMBNAIL_FORMATS,
  THUMBNAIL_INPUT_TYPES,
  THUMBNAIL_SIZES,
  Thumbnails,
  thumbnailsDirectory,
  type ThumbnailFormat,
  type ThumbnailSize,
} from '../../store/thumbnails.js';
import type { ApiApp, ApiContext } from '../context.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { BboxParam, CursorParam, ErrorBody, EXPECTED, IntegerParam, invalid, Nullable, parseBbox, parseTimeRange, TimeRangeParams } from '../query-params.js';
import { SHA256_DESCRIPTION, SHA256_WORDS, Sha256Param } from './blobs.js';

const MediaQuery = Type.Object(
  {
    ...TimeRangeParams,
    bbox: Type.Optional(BboxParam),
    album: Type.Optional(Type.String({ minLength: 1, maxLength: 500, description: 'only media in this album (its title, as `albums` lists it)' })),
    camera: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'text found in the camera’s make and model, case-insensitive (e.g. pixel)' })),
    limit: Type.Optional(IntegerParam({ minimum: 1, maximum: 1000, default: 100, description: 'items per page' })),
    cursor: Type.Optional(CursorParam),
  },
  { additionalProperties: false },
);

const MediaItemBody = Type.Object({
  sha256: Type.String({ description: 'the file’s SHA-256: its bytes at /v1/blobs/{sha256}' }),
  mime_type: Type.String(),
  size_bytes: Type.Integer(),
  width: Nullable(Type.Integer()),
  height: Nullable(Type.Integer()),
  duration_s: Nullable(Type.Number({ description: 'videos' })),
  camera_make: Nullable(Type.String()),
  camera_model: Nullable(Type.String()),
  taken_at: Nullable(Type.String({ format: 'date-time', description: 'from the sidecar, else the file’s own metadata; null when neither says' })),
  taken_at_source: Nullable(Type.String()),
  utc_offset_minutes: Nullable(Type.Integer({ description: 'the offset the camera stated, when it did' })),
  lat: Nullable(Type.Number()),
  lon: Nullable(Type.Number()),
  geo_source: Nullable(Type.String()),
  title: Nullable(Type.String()),
  description: Nullable(Type.String()),
  people: Type.Array(Type.String()),
  favorited: Type.Boolean(),
  albums: Type.Array(Type.String()),
  original_name: Type.String(),
  source: Type.String(),
});

const MediaPage = Type.Object({
  media: Type.Array(MediaItemBody),
  next_cursor: Nullable(Type.String({ description: 'pass as cursor for the next page; null on the last page' })),
});

const CopyBody = Type.Object({
  folder: Type.String(),
  file_name: Type.String(),
  folder_kind: Type.String({ description: 'album, year or root' }),
  sidecar_name: Nullable(Type.String({ description: 'the sidecar paired with this copy' })),
  source: Type.String(),
});

const SidecarBody = Type.Object({
  folder: Type.String(),
  sidecar_name: Type.String(),
  title: Nullable(Type.String()),
  description: Nullable(Type.String()),
  taken_at: Nullable(Type.String({ format: 'date-time' })),
  created_at: Nullable(Type.String({ format: 'date-time' })),
  lat: Nullable(Type.Number()),
  lon: Nullable(Type.Number()),
  alt: Nullable(Type.Number()),
  people: Type.Array(Type.String()),
  favorited: Nullable(Type.Boolean()),
  url: Nullable(Type.String()),
  truncated: Type.Boolean(),
  source: Type.String(),
});

const MediaDetail = Type.Object({
  item: MediaItemBody,
  copies: Type.Array(CopyBody, { description: 'where the file sits in the export(s): one per folder and name' }),
  sidecar: Nullable(SidecarBody),
});

const ThumbnailQuery = Type.Object(
  {
    size: Type.Optional(
      Type.Integer({
        enum: [...THUMBNAIL_SIZES],
        minimum: THUMBNAIL_SIZES[0],
        maximum: THUMBNAIL_SIZES[THUMBNAIL_SIZES.length - 1],
        default: THUMBNAIL_SIZES[0],
        description: `the longest side in pixels: ${THUMBNAIL_SIZES.join(' or ')}`,
      }),
    ),
    format: Type.Optional(Type.Enum([...THUMBNAIL_FORMATS], { default: 'jpeg', description: 'jpeg or webp' })),
  },
  { additionalProperties: false },
);

function iso(date: Date | null): string | null {
  return date?.toISOString() ?? null;
}

export function toMediaItem(item: MediaItem): Static<typeof MediaItemBody> {
  return { ...item, taken_at: iso(item.taken_at) };
}

function toSidecar(sidecar: MediaSidecar): Static<typeof SidecarBody> {
  return { ...sidecar, taken_at: iso(sidecar.taken_at), created_at: iso(sidecar.created_at) };
}

function toCopy(copy: MediaCopy): Static<typeof CopyBody> {
  return copy;
}

export function mediaRoutes(app: ApiApp, context: ApiContext): void {
  const thumbnails = new Thumbnails(thumbnailsDirectory(context.lake.config.tiers.blobs), context.lake.blobs);

  app.get(
    '/media',
    {
      schema: {
        summary: 'photos and videos: by time taken, place (bounding box), album and camera, paged',
        tags: ['data'],
        security: [{ apiKey: [] }],
        querystring: MediaQuery,
        response: { 200: MediaPage, 400: ErrorBody, 401: ErrorBody },
      },
    },
    async (request) => {
      const query = request.query;
      const range = parseTimeRange(query);
      const bbox = query.bbox === undefined ? null : parseBbox(query.bbox);
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor, isMediaPosition);
      const page = await context.asUser(request, (tx) =>
        mediaPage(tx, { ...range, bbox, album: query.album ?? null, camera: query.camera ?? null }, { after, limit: query.limit ?? 100 }),
      );
      return { media: page.rows.map(toMediaItem), next_cursor: page.next && encodeCursor(page.next) };
    },
  );

  app.get(
    '/media/:sha256',
    {
      schema: {
        summary: 'one photo or video, with its copies in the export and its sidecar',
        tags: ['data'],
        security: [{ apiKey: [] }],
        params: Type.Object({ sha256: Sha256Param }),
        response: { 200: MediaDetail, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const sha256 = request.params.sha256.toLowerCase();
      const found = await context.asUser(request, (tx) => mediaBySha256(tx, sha256));
      if (!found) throw new LakeError('NOT_FOUND', `no photo or video ${sha256}`);
      return { item: toMediaItem(found.item), copies: found.copies.map(toCopy), sidecar: found.sidecar && toSidecar(found.sidecar) };
    },
  );

  app.get(
    '/media/:sha256/thumbnail',
    {
      schema: {
        summary: 'a thumbnail of a photo (JPEG or WebP), made once and cached',
        description:
          `The longest side is \`size\` pixels (${THUMBNAIL_SIZES.join(' or ')}; smaller images are not enlarged), EXIF orientation applied. ` +
          `Made from the original on first request and kept in the thumbnails directory beside the blob store. Images of types ${THUMBNAIL_INPUT_TYPES.join(', ')}; ` +
          'a video or any other file you hold is a 415 UNSUPPORTED_MEDIA_TYPE; a blob you do not reference is a 404.',
        tags: ['data'],
        security: [{ apiKey: [] }],
        // The hash's form is checked in the handler: Fastify checks path parameters before the
        // query, and a wrong size should be named as such whatever the path holds.
        params: Type.Object({ sha256: Type.String({ description: SHA256_DESCRIPTION, [EXPECTED]: SHA256_WORDS }) }),
        querystring: ThumbnailQuery,
        response: {
          200: Type.Unsafe<Buffer>({
            description: 'the thumbnail',
            content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } }, 'image/webp': { schema: { type: 'string', format: 'binary' } } },
          }),
          400: ErrorBody,
          401: ErrorBody,
          404: ErrorBody,
          415: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      if (!new RegExp(SHA256_PATTERN).test(request.params.sha256)) throw invalid('sha256', `must be ${SHA256_WORDS}, not ${JSON.stringify(request.params.sha256)}`);
      const sha256 = request.params.sha256.toLowerCase();
      const size = (request.query.size ?? 256) as ThumbnailSize;
      const format = (request.query.format ?? 'jpeg') as ThumbnailFormat;
      const reference = await context.asUser(request, (tx) => blobReference(tx, sha256));
      if (!reference) throw new LakeError('NOT_FOUND', `no blob ${sha256}`);
      const type = reference.mime_type ?? 'application/octet-stream';
      if (!(THUMBNAIL_INPUT_TYPES as readonly string[]).includes(type)) {
        throw new LakeError('UNSUPPORTED_MEDIA_TYPE', `no thumbnail of ${type}: thumbnails are made of ${THUMBNAIL_INPUT_TYPES.join(', ')}`);
      }
      const bytes = await thumbnails.get(sha256, size, format);
      return reply
        .header('content-type', THUMBNAIL_CONTENT_TYPES[format])
        .header('etag', `"${sha256}-${size}.${format}"`)
        .header('cache-control', 'private, max-age=31536000, immutable')
        .send(bytes);
    },
  );
}
