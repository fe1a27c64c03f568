// Map tiles (GET /v1/tiles/{z}/{x}/{y}.mvt): the user's location points, their counts per cell,
// visits and places, as the layers of a Mapbox Vector Tile. The layers are found by queries under
// row-level security (cells, points, and visits with places together) and written by geo/mvt.ts
// (ST_AsMVT is not in the embedded database's PostGIS).
//
//   cells   zoom 0-15: 32 × 32 cells per tile (16 pixels of a 512-pixel tile; at zoom 15 about
//           20 m in Berlin), counted from timeseries.location_tiles (migration 0024) at the next
//           stored level at or above z + 5. No time range: the all-time rows (migration 0026), one
//           per cell. A range: its whole years, months and days, one run of the index over the
//           tile's cells for each, and the points of the days its ends cut; exact for any range,
//           a bounded number of rows a tile.
//   points  zoom 16-22: each point, found by an index-only scan of its 0.01° grid cell and
//           position (migration 0027), at most MAX_TILE_POINTS per tile.
//   visits  zoom 10-22, at most MAX_TILE_FEATURES (the latest); places at every zoom, at most
//           MAX_TILE_FEATURES (the most visited).
//
// A feature belongs to the tile its position falls in (west and north edges inclusive), so each
// appears in exactly one tile of a zoom: no buffer around the tile.
import type { Queryable } from '../db/database.js';
import { cellOf } from '../geo/cells.js';
import { EXTENT, encodeTile, tileLatitude, tileLongitude, worldPosition, type Layer, type PointFeature } from '../geo/mvt.js';
import { SqlParams, type TimeRange } from './sql.js';

export const TILE_LAYERS = ['points', 'cells', 'visits', 'places'] as const;
export type TileLayer = (typeof TILE_LAYERS)[number];
export const MAX_ZOOM = 22;

/** The zooms each layer is drawn at (inclusive). */
export const LAYER_ZOOMS: Record<TileLayer, readonly [number, number]> = {
  cells: [0, 15],
  points: [16, MAX_ZOOM],
  visits: [10, MAX_ZOOM],
  places: [0, MAX_ZOOM],
};

/** Points in one tile at most (a street tile of a place visited daily for years holds more). */
export const MAX_TILE_POINTS = 20_000;
/** Visits or places in one tile at most. */
export const MAX_TILE_FEATURES = 10_000;

/**
 * Cells per tile side: 2^CELL_BITS (32: 128 tile units each). 64 × 64 drew no more on a map and
 * made tiles four times larger and slower (4,096 features: 150 KB, the p95 of zooms 9 to 14 at 10
 * million points 70-95 ms under 8 clients on 2 cores).
 */
export const CELL_BITS = 5;
/** The levels of timeseries.location_tiles (migration 0024); its codes are computed at the finest. */
const LEVELS = [8, 10, 12, 14, 16, 18, 20] as const;
const FINEST = 20;

export function layersAt(z: number): TileLayer[] {
  return TILE_LAYERS.filter((layer) => z >= LAYER_ZOOMS[layer][0] && z <= LAYER_ZOOMS[layer][1]);
}

/** The Morton code of (x, y), each below 2^16: x in the even bits, y in the odd ones. */
export function morton(x: number, y: number): number {
  let code = 0;
  for (let bit = 0; bit < 16; bit++) code += (((x >> bit) & 1) + ((y >> bit) & 1) * 2) * 4 ** bit;
  return code;
}

/** (x, y) of a Morton code below 2^30 (a cell's place within its tile: 12 bits). */
function unmorton(code: number): [number, number] {
  let x = 0;
  let y = 0;
  for (let bit = 0; bit < 15; bit++) {
    x |= ((code >> (2 * bit)) & 1) << bit;
    y |= ((code >> (2 * bit + 1)) & 1) << bit;
  }
  return [x, y];
}

type Period = 'all' | 'year' | 'month' | 'day';
const PERIODS: readonly Exclude<Period, 'all'>[] = ['year', 'month', 'day'];

/**
 * Midnight UTC of a day. Not Date.UTC, which takes the years 0 to 99 for 1900 to 1999: a range may
 * start in any year from 0001 (api/query-params.ts); it ends before 9999, so a period's end
 * (at most a year later) is still a four-digit year, as PostgreSQL reads the text of a Date.
 */
function utcDay(year: number, month: number, day: number): Date {
  return new Date(new Date(0).setUTCFullYear(year, month, day));
}

function floorTo(period: Exclude<Period, 'all'>, at: Date): Date {
  const y = at.getUTCFullYear();
  if (period === 'year') return utcDay(y, 0, 1);
  if (period === 'month') return utcDay(y, at.getUTCMonth(), 1);
  return utcDay(y, at.getUTCMonth(), at.getUTCDate());
}

function ceilTo(period: Exclude<Period, 'all'>, at: Date): Date {
  const floor = floorTo(period, at);
  if (floor.getTime() === at.getTime()) return floor;
  if (period === 'year') return utcDay(floor.getUTCFullYear() + 1, 0, 1);
  if (period === 'month') return utcDay(floor.getUTCFullYear(), floor.getUTCMonth() + 1, 1);
  return new Date(floor.getTime() + 86_400_000);
}

/** Rows of one period of location_tiles whose start is in [from, to); null leaves an end open. */
export interface PeriodSpan {
  period: Period;
  from: Date | null;
  to: Date | null;
}

/**
 * A time range as whole years, then whole months and whole days at its ends, then the points of
 * the days its ends cut: at most one span of years, two of months and days, two of points. No
 * range at all is the all-time rows (migration 0026).
 */
export function splitRange(range: TimeRange): { spans: PeriodSpan[]; points: TimeRange[] } {
  if (!range.from && !range.to) return { spans: [{ period: 'all', from: null, to: null }], points: [] };
  const spans: PeriodSpan[] = [];
  const points: TimeRange[] = [];
  const split = (from: Date | null, to: Date | null, level: number): void => {
    if (level === PERIODS.length) {
      points.push({ from, to });
      return;
    }
    const period = PERIODS[level]!;
    const a = from && ceilTo(period, from);
    const b = to && floorTo(period, to);
    if (a && b && a.getTime() >= b.getTime()) {
      split(from, to, level + 1);
      return;
    }
    spans.push({ period, from: a, to: b });
    if (from && a && from.getTime() < a.getTime()) split(from, a, level + 1);
    if (to && b && b.getTime() < to.getTime()) split(b, to, level + 1);
  };
  split(range.from, range.to, 0);
  return { spans, points };
}

/** The starts of a span's rows: from its first to its last, an open end at the first or last year. */
function startsOf(span: PeriodSpan, years: { first: Date | null; last: Date | null } | null): Date[] {
  const period = span.period as Exclude<Period, 'all'>;
  const first = span.from ?? years?.first;
  const end = span.to ?? (years?.last ? ceilTo('year', new Date(years.last.getTime() + 1)) : null);
  const starts: Date[] = [];
  if (!first || !end) return starts;
  for (let at = first; at.getTime() < end.getTime(); at = ceilTo(period, new Date(at.getTime() + 1))) starts.push(at);
  return starts;
}

export interface TileRequest {
  z: number;
  x: number;
  y: number;
  layers: readonly TileLayer[];
  range: TimeRange;
}

const time = (column: string, range: TimeRange, params: SqlParams): string[] =>
  [
    range.from ? `${column} >= ${params.add(range.from)}::timestamptz` : null,
    range.to ? `${column} < ${params.add(range.to)}::timestamptz` : null,
  ].filter((c): c is string => c !== null);

/**
 * The statements' texts vary only with the layers and the number of time spans, a few dozen
 * shapes: prepared per server connection (planning took as long as running a small tile). Not
 * those that read points in a time range (see pointsLayer).
 */
const PREPARED = { prepare: true };

// date_part, not extract: extract returns numeric, whose arithmetic took most of a tile's aggregation.
const seconds = (column: string) => `floor(date_part('epoch', ${column}))`;

/** The cells layer: 32 × 32 cells of the tile, each with its points' count and first and last times. */
async function cellsLayer(tx: Queryable, { z, x, y, range }: TileRequest): Promise<PointFeature[]> {
  const wanted = z + CELL_BITS;
  const level = LEVELS.find((l) => l >= wanted)!;
  const params = new SqlParams();
  // The tile's cells at the stored level: one range of codes.
  const tileCode = morton(x, y);
  const low = tileCode * 4 ** (level - z);
  const high = (tileCode + 1) * 4 ** (level - z) - 1;
  const lo = `${params.add(low)}::bigint`;
  const hi = `${params.add(high)}::bigint`;
  const { spans, points } = splitRange(range);
  // A span open at one end (a range with only from or only to) ends at the user's first or last year.
  const open = spans.some((span) => span.period !== 'all' && (!span.from || !span.to));
  const years = open
    ? (await tx.query<{ first: Date | null; last: Date | null }>(`SELECT min(start) AS first, max(start) AS last FROM timeseries.location_tiles WHERE period = 'year'`, [], PREPARED)).rows[0]!
    : null;
  const parts: string[] = [];
  let rowsPerCell = 0;
  for (const span of spans) {
    // The index's order is (level, period, start, cell): one run over the tile's cells per start.
    const starts = span.period === 'all' ? ['-infinity'] : startsOf(span, years).map((d) => d.toISOString());
    if (starts.length === 0) continue;
    rowsPerCell += starts.length;
    const at = params.add(starts);
    parts.push(`SELECT cell, points, first_at, last_at FROM timeseries.location_tiles
                 WHERE level = ${params.add(level)}::smallint AND period = ${params.add(span.period)} AND start = ANY (${at}::timestamptz[])
                   AND cell BETWEEN ${lo} AND ${hi}`);
  }
  for (const part of points) {
    // The points of a cut day, grouped by their level-20 cell before its code is taken (tile_morton is inlined on columns).
    parts.push(`SELECT cell, points, first_at, last_at
                  FROM (SELECT timeseries.tile_morton(x, y) >> ${params.add(2 * (FINEST - level))}::integer AS cell, points, first_at, last_at
                          FROM (SELECT timeseries.tile_x(lon) AS x, timeseries.tile_y(lat) AS y, count(*)::integer AS points,
                                       min(recorded_at) AS first_at, max(recorded_at) AS last_at
                                  FROM timeseries.location_points WHERE ${time('recorded_at', part, params).join(' AND ')}
                                 GROUP BY 1, 2) AS grouped) AS edge
                 WHERE cell BETWEEN ${lo} AND ${hi}`);
  }
  if (parts.length === 0) return [];
  // One start at the level wanted (no time range at an odd zoom from 3 to 15): a row per cell already.
  const single = rowsPerCell === 1 && points.length === 0 && level === wanted;
  const result = await tx.query<{ code: number; n: number; first: number; last: number }>(
    single
      ? `SELECT cell::float8 AS code, points::float8 AS n, ${seconds('first_at')} AS first, ${seconds('last_at')} AS last FROM (${parts[0]}) AS counted`
      : `SELECT (cell >> ${params.add(2 * (level - wanted))}::integer)::float8 AS code, sum(points)::float8 AS n,
                ${seconds('min(first_at)')} AS first, ${seconds('max(last_at)')} AS last
           FROM (${parts.join(' UNION ALL ')}) AS counted (cell, points, first_at, last_at)
          GROUP BY 1`,
    params.values,
    points.length > 0 ? undefined : PREPARED,
  );
  const base = tileCode * 4 ** CELL_BITS;
  const size = EXTENT / 2 ** CELL_BITS;
  return result.rows.map((row) => {
    const [cx, cy] = unmorton(row.code - base);
    return { x: (cx + 0.5) * size, y: (cy + 0.5) * size, properties: { count: row.n, first: row.first, last: row.last } };
  });
}

/** Latitude and longitude bounds of the tile, a hair wider (the exact test is on the position: inTile). */
function bounds({ z, x, y }: TileRequest): { south: number; north: number; west: number; east: number } {
  const margin = 1e-9;
  const last = 2 ** z - 1;
  return {
    // The top and bottom rows reach the poles: positions beyond Mercator's limit are drawn at the edge.
    north: y === 0 ? 90 : tileLatitude(y, z) + margin,
    south: y === last ? -90 : tileLatitude(y + 1, z) - margin,
    west: tileLongitude(x, z) - margin,
    east: tileLongitude(x + 1, z) + margin,
  };
}

/** The position in tile units, or null when it falls in another tile. */
function inTile(lat: number, lon: number, { z, x, y }: TileRequest): [number, number] | null {
  const [wx, wy] = worldPosition(lat, lon, z);
  const size = 2 ** z;
  const tx = Math.min(Math.floor(wx), size - 1);
  const ty = Math.min(Math.floor(wy), size - 1);
  if (tx !== x || ty !== y) return null;
  return [Math.min((wx - x) * EXTENT, EXTENT - 1), Math.min((wy - y) * EXTENT, EXTENT - 1)];
}

/** The 0.01° grid cells (geo/cells.ts) under the tile: from zoom 16 at most two a side. */
function gridCells(box: { south: number; north: number; west: number; east: number }): number[] {
  const firstRow = Math.floor((Math.max(box.south, -90) + 90) * 100);
  const lastRow = Math.floor((Math.min(box.north, 90) + 90) * 100);
  const cells: number[] = [];
  for (let row = firstRow; row <= lastRow; row++) {
    const lat = (row + 0.5) / 100 - 90; // within the row
    for (let cell = cellOf(lat, Math.max(box.west, -180)); cell <= cellOf(lat, Math.min(box.east, 180)); cell++) cells.push(cell);
  }
  return cells;
}

async function pointsLayer(tx: Queryable, request: TileRequest): Promise<PointFeature[]> {
  const box = bounds(request);
  const params = new SqlParams();
  // The cells as one array, the position in the index after them (migration 0027): an index-only
  // scan that reads only the tile's own points, by one statement text whatever the tile.
  const where = [
    `cell = ANY (${params.add(gridCells(box))}::bigint[])`,
    `lat BETWEEN ${params.add(box.south)}::float8 AND ${params.add(box.north)}::float8`,
    `lon BETWEEN ${params.add(box.west)}::float8 AND ${params.add(box.east)}::float8`,
    ...time('recorded_at', request.range, params),
  ];
  const result = await tx.query<{ lat: number; lon: number; t: number; accuracy: number | null }>(
    `SELECT lat, lon, ${seconds('recorded_at')} AS t, accuracy_m::float8 AS accuracy
       FROM timeseries.location_points WHERE ${where.join(' AND ')}
      LIMIT ${params.add(MAX_TILE_POINTS)}`,
    params.values,
    // With a time range not prepared: the points are in monthly partitions (TimescaleDB chunks on
    // a server), and a generic plan, chosen after five runs, cannot leave out the months the range
    // excludes (a tile of a few weeks went from 9 to 90 ms). Without one every month is read, and
    // planning for each of them each time took as long as the reading.
    request.range.from || request.range.to ? undefined : PREPARED,
  );
  const features: PointFeature[] = [];
  for (const row of result.rows) {
    const at = inTile(row.lat, row.lon, request);
    if (at) features.push({ x: at[0], y: at[1], properties: { t: row.t, accuracy: row.accuracy ?? undefined } });
  }
  return features;
}

type PlaceLayer = 'visits' | 'places';

/** The SELECT of the visits in the tile: the latest MAX_TILE_FEATURES, as /v1/visits filters them. */
function visitsQuery(request: TileRequest, params: SqlParams): string {
  const box = bounds(request);
  const lat = 'coalesce(v.lat, p.lat)';
  const lon = 'coalesce(v.lon, p.lon)';
  const where = [
    `${lat} BETWEEN ${params.add(box.south)}::float8 AND ${params.add(box.north)}::float8`,
    `${lon} BETWEEN ${params.add(box.west)}::float8 AND ${params.add(box.east)}::float8`,
  ];
  // A visit belongs to a range when the two overlap, as in /v1/visits.
  if (request.range.from) where.push(`v.ended_at >= ${params.add(request.range.from)}::timestamptz`);
  if (request.range.to) where.push(`v.started_at < ${params.add(request.range.to)}::timestamptz`);
  const order = 'v.started_at DESC, v.content_hash';
  return `SELECT 'visits' AS layer, row_number() OVER (ORDER BY ${order}) AS n, encode(v.content_hash, 'hex') AS id, p.name,
                 ${lat} AS lat, ${lon} AS lon, ${seconds('v.started_at')} AS a, ${seconds('v.ended_at')} AS b
            FROM user_data.visits v LEFT JOIN user_data.places p ON p.user_id = v.user_id AND p.place_id = v.place_id
           WHERE ${where.join(' AND ')}
           ORDER BY ${order} LIMIT ${params.add(MAX_TILE_FEATURES)}`;
}

/** The SELECT of the places in the tile, the most visited first; with a time range, those visited in it. */
function placesQuery(request: TileRequest, params: SqlParams): string {
  const box = bounds(request);
  const overlap: string[] = [];
  if (request.range.from) overlap.push(`v.ended_at >= ${params.add(request.range.from)}::timestamptz`);
  if (request.range.to) overlap.push(`v.started_at < ${params.add(request.range.to)}::timestamptz`);
  const order = 'count(v.place_id) DESC, p.place_id';
  return `SELECT 'places' AS layer, row_number() OVER (ORDER BY ${order}) AS n, p.place_id AS id, p.name, p.lat, p.lon,
                 count(v.place_id)::float8 AS a, NULL::float8 AS b
            FROM user_data.places p
            LEFT JOIN user_data.visits v ON v.user_id = p.user_id AND v.place_id = p.place_id ${overlap.map((c) => `AND ${c}`).join(' ')}
           WHERE p.lat BETWEEN ${params.add(box.south)}::float8 AND ${params.add(box.north)}::float8
             AND p.lon BETWEEN ${params.add(box.west)}::float8 AND ${params.add(box.east)}::float8
           GROUP BY p.place_id, p.name, p.lat, p.lon
           ${overlap.length > 0 ? 'HAVING count(v.place_id) > 0' : ''}
           ORDER BY ${order} LIMIT ${params.add(MAX_TILE_FEATURES)}`;
}

/** The visits and places layers by one statement (a round trip less for every tile). */
async function placeLayers(tx: Queryable, request: TileRequest, wanted: readonly PlaceLayer[]): Promise<Record<PlaceLayer, PointFeature[]>> {
  const params = new SqlParams();
  const parts = wanted.map((layer) => `(${layer === 'visits' ? visitsQuery(request, params) : placesQuery(request, params)})`);
  const result = await tx.query<{ layer: PlaceLayer; n: string; id: string; name: string | null; lat: number; lon: number; a: number; b: number | null }>(
    parts.join(' UNION ALL '),
    params.values,
    PREPARED,
  );
  const rows = { visits: [] as typeof result.rows, places: [] as typeof result.rows };
  for (const row of result.rows) rows[row.layer].push(row);
  const features = { visits: [] as PointFeature[], places: [] as PointFeature[] };
  // Visits oldest first, places most visited first.
  const rank = (row: (typeof result.rows)[number]) => Number(row.n);
  rows.visits.sort((x, y) => rank(y) - rank(x));
  rows.places.sort((x, y) => rank(x) - rank(y));
  for (const row of rows.visits) {
    const at = inTile(row.lat, row.lon, request);
    if (at) features.visits.push({ x: at[0], y: at[1], properties: { id: row.id, place: row.name ?? undefined, start: row.a, end: row.b ?? undefined } });
  }
  for (const row of rows.places) {
    const at = inTile(row.lat, row.lon, request);
    if (at) features.places.push({ x: at[0], y: at[1], properties: { id: row.id, name: row.name ?? undefined, visits: row.a } });
  }
  return features;
}

/**
 * The tile's bytes: the requested layers drawn at its zoom, those without features left out (a
 * tile without any is zero bytes). Layers asked for outside their zooms are left out too.
 */
export async function makeTile(tx: Queryable, request: TileRequest): Promise<Buffer> {
  // Days whose points changed since they were counted (an import still running, points posted to
  // /v1/ingest) are counted again first: the cells are exact whenever they are read.
  if (request.layers.includes('cells') && request.z >= LAYER_ZOOMS.cells[0] && request.z <= LAYER_ZOOMS.cells[1]) {
    const stale = await tx.query(`SELECT 1 FROM timeseries.location_tiles_stale LIMIT 1`, [], PREPARED);
    if (stale.rows.length > 0) await tx.query(`SELECT timeseries.refresh_stale_location_tiles()`);
  }
  const drawn = request.layers.filter((name) => request.z >= LAYER_ZOOMS[name][0] && request.z <= LAYER_ZOOMS[name][1]);
  const places = drawn.filter((name): name is PlaceLayer => name === 'visits' || name === 'places');
  const placed = places.length > 0 ? await placeLayers(tx, request, places) : null;
  const layers: Layer[] = [];
  for (const name of drawn) {
    const features = name === 'cells' ? await cellsLayer(tx, request) : name === 'points' ? await pointsLayer(tx, request) : placed![name];
    layers.push({ name, features });
  }
  return encodeTile(layers);
}
