// GET /v1/tiles/{z}/{x}/{y}.mvt: the user's map as Mapbox Vector Tiles (query/tiles.ts), for
// MapLibre and the like: layers `points` (zoom 16 and over), `cells` (zoom 15 and under), `visits`
// (zoom 10 and over) and `places`, filtered by time with from and to. The ETag is a hash of the
// tile's bytes: a client that has them gets a 304 (the database still makes the tile, the bytes
// are not sent again).
import { hash } from 'node:crypto';
import { Type } from 'typebox';
import { layersAt, makeTile, MAX_ZOOM, TILE_LAYERS, type TileLayer } from '../../query/tiles.js';
import type { ApiApp, ApiContext } from '../context.js';
import { ErrorBody, IntegerParam, invalid, ListParam, parseList, parseTimeRange, TimeRangeParams } from '../query-params.js';

export const TILE_CONTENT_TYPE = 'application/vnd.mapbox-vector-tile';

const TilesQuery = Type.Object(
  {
    ...TimeRangeParams,
    layers: Type.Optional(ListParam(`the layers: ${TILE_LAYERS.join(', ')} (default: those drawn at the tile's zoom)`)),
  },
  { additionalProperties: false },
);

const TileParams = Type.Object({
  z: IntegerParam({ minimum: 0, maximum: MAX_ZOOM, description: 'zoom' }),
  x: IntegerParam({ minimum: 0, maximum: 2 ** MAX_ZOOM - 1, description: 'column, 0 at 180° west, below 2^z' }),
  y: IntegerParam({ minimum: 0, maximum: 2 ** MAX_ZOOM - 1, description: 'row, 0 at the north edge, below 2^z' }),
});

/** An If-None-Match header names this ETag (a list, weak forms, or *). */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

export function tileRoutes(app: ApiApp, context: ApiContext): void {
  app.get(
    '/tiles/:z/:x/:y.mvt',
    {
      schema: {
        summary: 'a Mapbox Vector Tile of the location points (or their counts per cell), visits and places',
        tags: ['data'],
        security: [{ apiKey: [] }],
        params: TileParams,
        querystring: TilesQuery,
        response: {
          200: { description: `${TILE_CONTENT_TYPE}: the tile (zero bytes when it holds nothing)`, content: { [TILE_CONTENT_TYPE]: { schema: { type: 'string', format: 'binary' } } } },
          304: { description: 'the tile is the one the If-None-Match ETag names', type: 'null' },
          400: ErrorBody,
          401: ErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { z, x, y } = request.params;
      const size = 2 ** z;
      if (x >= size) throw invalid('x', `must be from 0 to ${size - 1} at zoom ${z}, not ${x}`);
      if (y >= size) throw invalid('y', `must be from 0 to ${size - 1} at zoom ${z}, not ${y}`);
      const range = parseTimeRange(request.query);
      const listed = parseList(request.query.layers);
      const unknown = listed?.find((name) => !(TILE_LAYERS as readonly string[]).includes(name));
      if (unknown !== undefined) throw invalid('layers', `has an unknown layer ${JSON.stringify(unknown)} (the layers: ${TILE_LAYERS.join(', ')})`);
      const layers = (listed as TileLayer[] | null) ?? layersAt(z);
      const tile = await context.asUser(request, (tx) => makeTile(tx, { z, x, y, layers, range }));
      const etag = `"${hash('sha256', tile, 'base64url').slice(0, 27)}"`;
      reply.header('etag', etag).header('cache-control', 'private, no-cache').header('vary', 'authorization');
      if (matches(request.headers['if-none-match'], etag)) return reply.code(304).send(null as never);
      return reply.type(TILE_CONTENT_TYPE).send(tile as never);
    },
  );
}
