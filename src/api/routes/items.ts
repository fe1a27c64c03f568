// GET /v1/items/:id: one timeline item with its provenance, the imports.files row it was loaded
// from (which import job, which file of which archive, its checksum and format). Another user's
// item is simply not there under row-level security: the same 404 as an id that never existed.
// The id is the item's random UUID; a number is the id an item had before migration 0018 (a shared
// sequence then), still answered for the rows that have one, so that ids kept by clients still work.
import { Type } from 'typebox';
import { LakeError } from '../../errors.js';
import { UUID_ANY_CASE } from '../../query/ids.js';
import { itemWithProvenance, LEGACY_ITEM_ID } from '../../query/items.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody, EXPECTED, Nullable } from '../query-params.js';
import { TimelineItemBody, toTimelineItem } from './timeline.js';

const ImportFile = Type.Object({
  file_id: Type.String({ format: 'uuid' }),
  job_id: Type.String({ format: 'uuid' }),
  path: Type.String({ description: 'the file inside its export' }),
  archive: Nullable(Type.String({ description: 'the archive it was read from' })),
  sha256: Nullable(Type.String()),
  size_bytes: Nullable(Type.Integer()),
  mime_type: Nullable(Type.String()),
  detected_format: Nullable(Type.String()),
  status: Type.String(),
  started_at: Nullable(Type.String({ format: 'date-time' })),
  finished_at: Nullable(Type.String({ format: 'date-time' })),
});

const ItemWithProvenance = Type.Object({
  item: TimelineItemBody,
  provenance: Type.Object({ file: Nullable(ImportFile) }, { description: 'where the item came from; file is null for items not loaded from a file' }),
});

export function itemRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/items/:id',
    {
      schema: {
        summary: 'one timeline item and the import file it came from',
        tags: ['data'],
        security: [{ apiKey: [] }],
        params: Type.Object({
          id: Type.String({
            pattern: `^(?:${UUID_ANY_CASE}|${LEGACY_ITEM_ID})$`,
            description: 'the item_id (a UUID); or the number an item had as its id before ids became UUIDs',
            [EXPECTED]: 'an item_id, a UUID like 0b0e6a4c-27a1-4d4e-9c51-3f1c2a7f9e10 (or the number an item loaded before ids became UUIDs had then)',
          }),
        }),
        response: { 200: ItemWithProvenance, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => {
      const itemId = request.params.id;
      const found = await context.asUser(request, (tx) => itemWithProvenance(tx, itemId));
      if (!found) throw new LakeError('NOT_FOUND', `no item ${itemId}`);
      const { file } = found;
      return {
        item: toTimelineItem(found.item),
        provenance: {
          file: file && {
            ...file,
            started_at: file.started_at?.toISOString() ?? null,
            finished_at: file.finished_at?.toISOString() ?? null,
          },
        },
      };
    },
  );
}
