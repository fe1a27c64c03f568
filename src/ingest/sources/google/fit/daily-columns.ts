// The columns of Google Fit's daily aggregation CSVs (the table at the top of daily-csv.ts): which
// header names are metrics, and which file kind a header row says. Shared by detection
// (entries.ts), which reads the first line of a file's head, and the parser.

/** Known columns, by standardized header name. */
const KNOWN: ReadonlyMap<string, readonly [metric: string, unit: string]> = new Map([
  ['step count', ['steps', 'count']],
  ['distance (m)', ['distance_m', 'm']],
  ['calories (kcal)', ['calories_kcal', 'kcal']],
  ['heart points', ['heart_points', 'points']],
  ['heart minutes', ['heart_minutes', 'min']],
  ['move minutes count', ['move_minutes', 'min']],
  ['average heart rate (bpm)', ['heart_rate_avg_bpm', 'bpm']],
  ['max heart rate (bpm)', ['heart_rate_max_bpm', 'bpm']],
  ['min heart rate (bpm)', ['heart_rate_min_bpm', 'bpm']],
  ['average weight (kg)', ['weight_avg_kg', 'kg']],
  ['max weight (kg)', ['weight_max_kg', 'kg']],
  ['min weight (kg)', ['weight_min_kg', 'kg']],
  ['average speed (m/s)', ['speed_avg_mps', 'm/s']],
  ['max speed (m/s)', ['speed_max_mps', 'm/s']],
  ['min speed (m/s)', ['speed_min_mps', 'm/s']],
  ['low latitude (deg)', ['bbox_lat_low_deg', 'deg']],
  ['high latitude (deg)', ['bbox_lat_high_deg', 'deg']],
  ['low longitude (deg)', ['bbox_lon_low_deg', 'deg']],
  ['high longitude (deg)', ['bbox_lon_high_deg', 'deg']],
]);
const ACTIVITY_DURATION = /^(.+?) duration \(ms\)$/;

export type FileKind = 'daily' | 'interval';

/** How one column becomes records. */
export interface ColumnMetric {
  metric: string;
  unit: string;
  /** Set for columns not in the table: attributes for their records. */
  unknown: { column: string; unitFromHeader: boolean } | null;
}

/** `" Step count\uFEFF"` → `"step count"`. */
export function standardizeHeaderName(name: string): string {
  return name.replace(/\ufeff/g, '').trim().replace(/\s+/g, ' ').toLowerCase();
}

/** `"Treadmill running"` → `"treadmill_running"`. */
export function snakeCase(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** The metric id and unit of a column header (see the table at the top). */
export function columnMetric(header: string): ColumnMetric {
  const name = standardizeHeaderName(header);
  const known = KNOWN.get(name);
  if (known !== undefined) return { metric: known[0], unit: known[1], unknown: null };
  const activity = ACTIVITY_DURATION.exec(name);
  if (activity !== null) return { metric: `activity_duration_ms.${snakeCase(activity[1] as string)}`, unit: 'ms', unknown: null };
  const written = header.replace(/\ufeff/g, '').trim();
  const withUnit = /^(.*?)\s*\(([^()]*)\)\s*$/.exec(written);
  const base = withUnit !== null ? (withUnit[1] as string) : written;
  const unit = withUnit !== null ? (withUnit[2] as string).trim() : '';
  return {
    metric: `column.${snakeCase(base) || 'unnamed'}`,
    unit: unit === '' ? 'unknown' : unit,
    unknown: { column: written, unitFromHeader: unit !== '' },
  };
}

function isKnownMetric(name: string): boolean {
  return KNOWN.has(name) || ACTIVITY_DURATION.test(name);
}

export function fileKindOf(names: readonly string[]): FileKind | null {
  if (!names.some(isKnownMetric)) return null;
  if (names.includes('date')) return 'daily';
  if (names.includes('start time') && names.includes('end time')) return 'interval';
  return null;
}
