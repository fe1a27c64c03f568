// A grid of 0.01° × 0.01° cells (about 1.1 km × 1.1 km at the equator, narrower towards the
// poles) that indexes location points by a btree on (user_id, cell), for radius queries. A GiST
// index on the geography column served them before, but cost most of the time of loading a point
// (several times what the btree costs, in PGlite and on a server), and a personal track needs no
// more than a coarse cell to find the few cells near a place.
// A query turns its circle into ranges of cell numbers (one per row of cells it crosses); the
// exact distance is still checked on the rows those ranges find.

/** Cells per degree. */
const PER_DEGREE = 100;
/** Columns of one row of cells: longitudes -180..180 inclusive. */
const COLUMNS = 360 * PER_DEGREE + 1;
/**
 * Metres per degree of latitude, rounded down from the shortest on the WGS 84 ellipsoid (110,574
 * at the equator), and of longitude at the equator (111,320): a circle's degrees are over-estimated,
 * never under.
 */
const METRES_PER_DEGREE = 110_500;
/** Over this many rows of cells (a radius of about 440 km), a scan is cheaper than the ranges. */
const MAX_ROWS = 400;

const rowOf = (lat: number): number => Math.floor((lat + 90) * PER_DEGREE);
const columnOf = (lon: number): number => Math.floor((lon + 180) * PER_DEGREE);

/** A point's cell: the arithmetic of the `cell` column of timeseries.location_points (migration 0015). */
export function cellOf(lat: number, lon: number): number {
  return rowOf(lat) * COLUMNS + columnOf(lon);
}

/** Inclusive ranges of cell numbers [low, high]. */
export type CellRange = readonly [number, number];

/**
 * The cells holding every point within `radiusM` metres of (lat, lon), as few inclusive ranges;
 * null when the circle spans so many rows of cells that the filter would not pay.
 */
export function cellRangesAround(lat: number, lon: number, radiusM: number): CellRange[] | null {
  // A radius that is not a finite number leaves the decision to the distance condition.
  if (![lat, lon, radiusM].every(Number.isFinite)) return null;
  const degrees = radiusM / METRES_PER_DEGREE;
  const south = Math.max(-90, lat - degrees);
  const north = Math.min(90, lat + degrees);
  const firstRow = rowOf(south);
  const lastRow = rowOf(north);
  if (lastRow - firstRow + 1 > MAX_ROWS) return null;
  // The widest the circle gets in longitude is where it comes nearest a pole.
  const poleward = Math.max(Math.abs(south), Math.abs(north));
  const cos = Math.cos((poleward * Math.PI) / 180);
  const spanLon = cos > 1e-9 ? degrees / cos : Infinity;
  if (spanLon >= 180) return [[firstRow * COLUMNS, lastRow * COLUMNS + COLUMNS - 1]]; // whole rows are one range
  const columns = columnRanges(lon - spanLon, lon + spanLon);
  const ranges: CellRange[] = [];
  for (let row = firstRow; row <= lastRow; row++) {
    for (const [low, high] of columns) ranges.push([row * COLUMNS + low, row * COLUMNS + high]);
  }
  return ranges;
}

/** Column ranges for longitudes west..east, split where they cross the antimeridian. */
function columnRanges(west: number, east: number): CellRange[] {
  if (west < -180) return [[0, columnOf(east)], [columnOf(west + 360), COLUMNS - 1]];
  if (east > 180) return [[0, columnOf(east - 360)], [columnOf(west), COLUMNS - 1]];
  return [[columnOf(west), columnOf(east)]];
}

/**
 * The ranges as an SQL condition on `cell`, or null for no condition. Every number is bound
 * (`bind` returns its placeholder), never written into the text: one OR of ranges, which the
 * planner turns into one index scan per range as it did for literals.
 */
export function cellCondition(ranges: readonly CellRange[] | null, bind: (cell: number) => string): string | null {
  if (!ranges) return null;
  return `(${ranges.map(([low, high]) => (low === high ? `cell = ${bind(low)}::bigint` : `cell BETWEEN ${bind(low)}::bigint AND ${bind(high)}::bigint`)).join(' OR ')})`;
}
