// Google Fit's daily aggregation CSVs in Google Takeout ("Fit/"), as `measurement` records:
//
//   file                                   header                                   one row per
//   Daily Summaries.csv (oldest, ~2018)    Date, <metric columns>                    day
//   Daily activity metrics.csv (later)     Date, <metric columns>                    day
//   Daily activity metrics/YYYY-MM-DD.csv  Start time, End time, <metric columns>    15-minute interval
//
// Recognised by the header row (names trimmed, BOM removed, compared case-insensitively): `Date`,
// or `Start time` and `End time`, plus at least one known metric column; the path only when the
// header says nothing (then `path` confidence). One record per non-empty cell, so the daily
// files' many empty cells produce nothing.
//
// Metric ids (stable, snake_case) and units, by header:
//
//   header                              metric                        unit
//   Step count                          steps                         count
//   Distance (m)                        distance_m                    m
//   Calories (kcal)                     calories_kcal                 kcal
//   Heart Points                        heart_points                  points
//   Heart Minutes                       heart_minutes                 min
//   Move Minutes count                  move_minutes                  min
//   Average heart rate (bpm)            heart_rate_avg_bpm            bpm
//   Max heart rate (bpm)                heart_rate_max_bpm            bpm
//   Min heart rate (bpm)                heart_rate_min_bpm            bpm
//   Average weight (kg)                 weight_avg_kg                 kg
//   Max weight (kg)                     weight_max_kg                 kg
//   Min weight (kg)                     weight_min_kg                 kg
//   Average speed (m/s)                 speed_avg_mps                 m/s
//   Max speed (m/s)                     speed_max_mps                 m/s
//   Min speed (m/s)                     speed_min_mps                 m/s
//   Low latitude (deg)                  bbox_lat_low_deg              deg
//   High latitude (deg)                 bbox_lat_high_deg             deg
//   Low longitude (deg)                 bbox_lon_low_deg              deg
//   High longitude (deg)                bbox_lon_high_deg             deg
//   <Activity> duration (ms)            activity_duration_ms.<activity, snake_case>   ms
//                                       (Walking → activity_duration_ms.walking,
//                                        Treadmill running → activity_duration_ms.treadmill_running)
//   anything else, "<Name> (<unit>)"    column.<name, snake_case>     <unit> as written, else `unknown`
//
// Unknown columns are kept, never dropped: their records carry attributes.column (the header as
// written), attributes.metricFromHeader = true and attributes.unitFromHeader (whether the unit
// came from parentheses in the header).
//
// Time: the export writes local dates and times without a zone. A daily row's measuredAt is UTC
// midnight of its Date; an interval row's is its Start time on the date in the file's name
// (YYYY-MM-DD.csv), both read as UTC and flagged attributes.zoneStated = false, as the HTML My
// Activity source does. A Start time that does carry an offset (`00:15:00.000+01:00`) is applied
// and flagged zoneStated = true with attributes.utcOffsetMinutes. Interval rows also carry
// attributes.endedAt (the End time; 00:00 after 23:45 is the next day).
//
// Keys: ['google-fit-daily', 'YYYY-MM-DD', metric] and ['google-fit-interval', start ISO, metric],
// so the old and new daily file names of one day are one set of records.
//
// Rejections carry the line (1-based) and byte offset where the row starts: `invalid` for a cell
// that is not a number (with its column name; the row's other cells are still read), an
// unreadable Date or Start time (the whole row), or an interval file whose name holds no date;
// `malformed` for a row with another number of fields than the header or refused by the CSV
// parser; `unsupported` for a header with neither Date nor Start/End time (nothing else is read).
import type { Readable } from 'node:stream';
import type { MeasurementRecord, ParseEvent, QuarantineCategory } from '../../../records.js';
import { defineSource, type ParseContext, type Source } from '../../../source.js';
import { FIT_DAILY } from './entries.js';
import { columnMetric, fileKindOf, standardizeHeaderName, type ColumnMetric, type FileKind } from './daily-columns.js';
import { CsvPositions, csvRowBatches, type CsvRow, type RowPosition } from '../../../parse/csv-rows.js';

export const FIT_DAILY_CSV_SOURCE_ID = FIT_DAILY.id;

/** A row larger than this is refused by the CSV parser. */
export const MAX_ROW_BYTES = 1024 * 1024;
const EXCERPT_CHARS = 200;
const DAY_MS = 24 * 60 * 60 * 1000;

const FILE_DATE = /(?:^|\/)(\d{4})-(\d{2})-(\d{2})\.csv$/i;

export const fitDailyCsvSource: Source = defineSource(FIT_DAILY, {
  parse: parseFitDailyCsv,
});

export async function* parseFitDailyCsv(input: Readable, context: ParseContext): AsyncIterable<ParseEvent> {
  const lines = new CsvPositions();
  const table = new TableReader(context.path, context.exportedAt ?? null);
  for await (const rows of csvRowBatches(input, context.path, { maxRowBytes: MAX_ROW_BYTES, onChunk: (chunk) => lines.append(chunk) })) {
    yield* table.readAll(rows, lines);
    if (table.stopped) return;
  }
  if (!table.sawHeader) {
    yield { kind: 'reject', rejection: { category: 'malformed', reason: 'empty CSV file: no header row', line: 1, byteOffset: 0 } };
  }
}

class RowRejection extends Error {
  constructor(
    readonly category: QuarantineCategory,
    readonly reason: string,
  ) {
    super(reason);
  }
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/** UTC midnight of `YYYY-MM-DD`, or null when that is not a calendar date. */
function utcDay(text: string): number | null {
  const match = DATE.exec(text);
  if (match === null) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const time = Date.UTC(year, month - 1, day);
  const check = new Date(time);
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return null;
  return time;
}

/** Milliseconds after midnight, and the offset when one is written; null when unreadable. */
function timeOfDay(text: string): { ms: number; offsetMinutes: number | null } | null {
  const match = TIME.exec(text);
  if (match === null) return null;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  const seconds = match[3] === undefined ? 0 : Number(match[3]);
  const millis = match[4] === undefined ? 0 : Math.floor(Number(`0.${match[4]}`) * 1000);
  if (hours > 24 || minutes > 59 || seconds > 59 || (hours === 24 && (minutes > 0 || seconds > 0 || millis > 0))) return null;
  let offsetMinutes: number | null = null;
  const zone = match[5];
  if (zone !== undefined) {
    if (zone.toUpperCase() === 'Z') offsetMinutes = 0;
    else {
      const digits = zone.replace(':', '');
      const sign = digits.startsWith('-') ? -1 : 1;
      const zoneHours = Number(digits.slice(1, 3));
      const zoneMinutes = Number(digits.slice(3, 5));
      if (zoneHours > 14 || zoneMinutes > 59) return null;
      offsetMinutes = sign * (zoneHours * 60 + zoneMinutes);
    }
  }
  return { ms: ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis, offsetMinutes };
}

/** Turns parsed rows into events, reading the header first. */
class TableReader {
  sawHeader = false;
  stopped = false;
  private kind: FileKind | null = null;
  private metrics: Array<ColumnMetric | null> = [];
  private headerNames: string[] = [];
  private fieldCount = 0;
  private dateColumn = -1;
  private startColumn = -1;
  private endColumn = -1;
  private readonly fileDay: number | null;
  private previousRowEnd = 0;

  constructor(
    private readonly path: string,
    /** A later export's totals for a day replace an earlier export's (late syncs change them). */
    private readonly exportedAt: Date | null,
  ) {
    const match = FILE_DATE.exec(path);
    this.fileDay = match === null ? null : utcDay(`${match[1]}-${match[2]}-${match[3]}`);
  }

  *readAll(rows: CsvRow[], lines: CsvPositions): Iterable<ParseEvent> {
    for (const row of rows) {
      if (this.stopped) return;
      if ('error' in row) {
        const position = lines.nextContent(this.previousRowEnd, { skipBom: true });
        this.previousRowEnd = Math.max(this.previousRowEnd, row.atByte);
        const message = row.error.message.replace(/ at line \d+/, '');
        yield reject('malformed', `CSV row could not be read: ${message}`, position, null);
        continue;
      }
      const position = lines.nextContent(this.previousRowEnd, { skipBom: true });
      this.previousRowEnd = row.endByte;
      yield* this.read(row.fields, position);
    }
  }

  private *read(fields: string[], position: RowPosition): Iterable<ParseEvent> {
    if (!this.sawHeader) {
      this.sawHeader = true;
      this.useHeader(fields);
      if (this.kind === null) {
        this.stopped = true;
        yield reject('unsupported', `header ${JSON.stringify(fields.join(','))} is not a Google Fit daily CSV this source reads`, position, fields.join(','));
      } else if (this.kind === 'interval' && this.fileDay === null) {
        this.stopped = true;
        yield reject('invalid', `a 15-minute Fit file needs its date in its name (YYYY-MM-DD.csv), got ${JSON.stringify(this.path)}`, position, null);
      }
      return;
    }
    if (fields.length !== this.fieldCount) {
      yield reject('malformed', `row has ${fields.length} fields, the header has ${this.fieldCount}`, position, fields.join(','));
      return;
    }
    let when: { measuredAt: Date; keyTime: string; attributes: Record<string, unknown> };
    try {
      when = this.kind === 'daily' ? this.dailyTime(fields) : this.intervalTime(fields);
    } catch (error) {
      if (!(error instanceof RowRejection)) throw error;
      yield reject(error.category, error.reason, position, fields.join(','));
      return;
    }
    for (let i = 0; i < fields.length; i++) {
      const metric = this.metrics[i];
      if (metric === null || metric === undefined) continue;
      const cell = (fields[i] as string).trim();
      if (cell === '') continue;
      if (!NUMBER.test(cell)) {
        yield reject('invalid', `column ${JSON.stringify(this.headerNames[i])}: ${JSON.stringify(cell.slice(0, 40))} is not a number`, position, cell);
        continue;
      }
      const value = Number(cell);
      if (!Number.isFinite(value)) {
        yield reject('invalid', `column ${JSON.stringify(this.headerNames[i])}: ${JSON.stringify(cell.slice(0, 40))} is out of range`, position, cell);
        continue;
      }
      const attributes: Record<string, unknown> = { ...when.attributes };
      if (metric.unknown !== null) {
        attributes.column = metric.unknown.column;
        attributes.metricFromHeader = true;
        attributes.unitFromHeader = metric.unknown.unitFromHeader;
      }
      const record: MeasurementRecord = {
        type: 'measurement',
        source: FIT_DAILY_CSV_SOURCE_ID,
        key: [this.kind === 'daily' ? 'google-fit-daily' : 'google-fit-interval', when.keyTime, metric.metric],
        measuredAt: when.measuredAt,
        metric: metric.metric,
        value,
        unit: metric.unit,
        revision: this.exportedAt?.getTime() ?? null,
        attributes,
      };
      yield { kind: 'record', record, offset: position.offset };
    }
  }

  private useHeader(fields: readonly string[]): void {
    const names = fields.map(standardizeHeaderName);
    this.kind = fileKindOf(names);
    this.fieldCount = fields.length;
    this.headerNames = fields.map((field) => field.replace(/\ufeff/g, '').trim());
    this.dateColumn = names.indexOf('date');
    this.startColumn = names.indexOf('start time');
    this.endColumn = names.indexOf('end time');
    const timeColumns = this.kind === 'daily' ? [this.dateColumn] : [this.startColumn, this.endColumn];
    this.metrics = fields.map((field, i) => (timeColumns.includes(i) ? null : columnMetric(field)));
  }

  private dailyTime(fields: readonly string[]): { measuredAt: Date; keyTime: string; attributes: Record<string, unknown> } {
    const text = (fields[this.dateColumn] as string).trim();
    const day = utcDay(text);
    if (day === null) throw new RowRejection('invalid', `Date ${JSON.stringify(text.slice(0, 40))} is not a YYYY-MM-DD date`);
    return { measuredAt: new Date(day), keyTime: text, attributes: { period: 'day', zoneStated: false } };
  }

  private intervalTime(fields: readonly string[]): { measuredAt: Date; keyTime: string; attributes: Record<string, unknown> } {
    const day = this.fileDay as number;
    const startText = (fields[this.startColumn] as string).trim();
    const endText = (fields[this.endColumn] as string).trim();
    const start = timeOfDay(startText);
    if (start === null) throw new RowRejection('invalid', `Start time ${JSON.stringify(startText.slice(0, 40))} is not a time of day`);
    const end = timeOfDay(endText);
    if (end === null) throw new RowRejection('invalid', `End time ${JSON.stringify(endText.slice(0, 40))} is not a time of day`);
    const startAt = day + start.ms - (start.offsetMinutes ?? 0) * 60_000;
    let endAt = day + end.ms - (end.offsetMinutes ?? 0) * 60_000;
    if (endAt <= startAt) endAt += DAY_MS; // 23:45 → 00:00 ends on the next day
    const measuredAt = new Date(startAt);
    const attributes: Record<string, unknown> = { period: 'interval', endedAt: new Date(endAt).toISOString(), zoneStated: start.offsetMinutes !== null };
    if (start.offsetMinutes !== null) attributes.utcOffsetMinutes = start.offsetMinutes;
    return { measuredAt, keyTime: measuredAt.toISOString(), attributes };
  }
}

function reject(category: QuarantineCategory, reason: string, position: RowPosition, excerpt: string | null): ParseEvent {
  return {
    kind: 'reject',
    rejection: {
      category,
      reason: `line ${position.line}: ${reason}`,
      line: position.line,
      byteOffset: position.offset,
      excerpt: excerpt === null ? null : excerpt.slice(0, EXCERPT_CHARS),
    },
  };
}
