// Google Fit's daily aggregation CSVs from Takeout (google.fit.daily), over fixtures written from
// the published shapes (the old "Daily Summaries.csv" header set, the newer "Daily activity
// metrics.csv" set with a BOM, CRLF, a non-numeric cell, unknown columns, and per-day 15-minute
// files), and over the two real exports in ../shared when they are there; and the session JSON
// files (google.fit.sessions).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import type { MeasurementRecord, ParseEvent, Rejection } from '../src/ingest/records.js';
import type { ParseContext, Source } from '../src/ingest/source.js';
import { detectSource } from '../src/ingest/sources/all.js';
import { columnMetric } from '../src/ingest/sources/google/fit/daily-columns.js';
import { fitDailyCsvSource, FIT_DAILY_CSV_SOURCE_ID } from '../src/ingest/sources/google/fit/daily-csv.js';
import { fitRawSource, FIT_RAW_SOURCE_ID } from '../src/ingest/sources/google/fit/raw.js';
import { aggregateMetric, fitSessionsSource, FIT_SESSIONS_SOURCE_ID, MAX_SESSION_BYTES } from '../src/ingest/sources/google/fit/sessions.js';
import { youtubeCsvSource } from '../src/ingest/sources/google/youtube/csv.js';
import { validateRecord } from '../src/ingest/validate/validate.js';

const FIT_DIR = new URL('./fixtures/google/fit/', import.meta.url);
const REAL_DIR = new URL('../../shared/fixtures/real/google-fit-csv/', import.meta.url);

const FIXTURES = {
  summaries: 'Daily Summaries.csv',
  metrics: 'Daily activity metrics.csv',
  day: 'Daily activity metrics/2021-02-01.csv',
  dayWithOffset: 'Daily activity metrics/2021-02-02.csv',
} as const;

interface Run {
  events: ParseEvent[];
  records: MeasurementRecord[];
  offsets: number[];
  rejections: Rejection[];
}

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

async function run(bytes: Buffer, path: string, chunkSize = 64 * 1024, source: Source = fitDailyCsvSource): Promise<Run> {
  const context: ParseContext = { path, repairs: { invalidUtf8: 0, nulCharacters: 0 } };
  const events: ParseEvent[] = [];
  for await (const event of source.parse(Readable.from(chunksOf(bytes, chunkSize)), context)) events.push(event);
  return {
    events,
    records: events.flatMap((event) => (event.kind === 'record' ? [event.record as MeasurementRecord] : [])),
    offsets: events.flatMap((event) => (event.kind === 'record' ? [event.offset] : [])),
    rejections: events.flatMap((event) => (event.kind === 'reject' ? [event.rejection] : [])),
  };
}

function fixture(name: string): Buffer {
  return readFileSync(new URL(name, FIT_DIR));
}

async function runFixture(name: string, chunkSize?: number): Promise<Run> {
  return run(fixture(name), `Takeout/Fit/${name}`, chunkSize);
}

/** Byte offset of the line that starts with `prefix`, found without the parser. */
function lineOffset(bytes: Buffer, prefix: string): number {
  const at = bytes.indexOf(Buffer.from(`\n${prefix}`));
  assert.notEqual(at, -1, prefix);
  return at + 1;
}

/** `metric=value unit` for the records of one day or interval start, in file order. */
function cells(records: MeasurementRecord[], iso: string): string[] {
  return records.filter((record) => record.measuredAt.toISOString() === iso).map((record) => `${record.metric}=${record.value} ${record.unit}`);
}

function probe(path: string, head: string | Buffer) {
  const bytes = typeof head === 'string' ? Buffer.from(head) : head;
  return { path, head: bytes, size: bytes.length };
}

describe('google.fit.daily: detection', () => {
  test('recognises every fixture by its header, wherever it lies, and the registry picks it', () => {
    for (const name of Object.values(FIXTURES)) {
      assert.equal(fitDailyCsvSource.detect(probe('export/whatever.csv', fixture(name))), 'content', name);
      assert.equal(detectSource(probe('export/whatever.csv', fixture(name))), fitDailyCsvSource, name);
    }
  });

  test('localized or odd headers fall back on the path; other CSVs are not claimed', () => {
    assert.equal(fitDailyCsvSource.detect(probe('Takeout/Fit/Daily activity metrics/2021-02-01.csv', 'Heure de début,Heure de fin,Nombre de pas\n')), 'path');
    assert.equal(fitDailyCsvSource.detect(probe('Takeout/Fit/Daily Summaries.csv', 'x\n')), 'path');
    assert.equal(fitDailyCsvSource.detect(probe('Takeout/Fit/notes.csv', 'x\n')), null);
    assert.equal(fitDailyCsvSource.detect(probe('a.csv', 'Date,Title,Comment\n2021-01-01,a,b\n')), null, 'a Date column alone is not Fit');
    assert.equal(fitDailyCsvSource.detect(probe('a.csv', 'Channel Id,Channel Url,Channel Title\n')), null);
    assert.equal(youtubeCsvSource.detect(probe('a.csv', fixture(FIXTURES.metrics))), null);
  });
});

describe('google.fit.daily: metric ids', () => {
  test('the table, activity durations and unknown columns', () => {
    assert.deepEqual(columnMetric('Step count'), { metric: 'steps', unit: 'count', unknown: null });
    assert.deepEqual(columnMetric(' Move Minutes count '), { metric: 'move_minutes', unit: 'min', unknown: null });
    assert.deepEqual(columnMetric('Average heart rate (bpm)'), { metric: 'heart_rate_avg_bpm', unit: 'bpm', unknown: null });
    assert.deepEqual(columnMetric('Treadmill running duration (ms)'), { metric: 'activity_duration_ms.treadmill_running', unit: 'ms', unknown: null });
    assert.deepEqual(columnMetric('Floors climbed (floors)'), {
      metric: 'column.floors_climbed',
      unit: 'floors',
      unknown: { column: 'Floors climbed (floors)', unitFromHeader: true },
    });
    assert.deepEqual(columnMetric('Hydration'), { metric: 'column.hydration', unit: 'unknown', unknown: { column: 'Hydration', unitFromHeader: false } });
  });
});

describe('google.fit.daily: daily files', () => {
  test('old "Daily Summaries.csv": one record per non-empty cell, keyed by day and metric', async () => {
    const bytes = fixture(FIXTURES.summaries);
    const { records, offsets, rejections } = await runFixture(FIXTURES.summaries);
    assert.deepEqual(rejections, []);
    assert.equal(records.length, 22); // 1 + 15 + 0 + 6
    assert.deepEqual(cells(records, '2016-01-04T00:00:00.000Z'), ['calories_kcal=1650.5 kcal']);
    assert.deepEqual(cells(records, '2016-01-05T00:00:00.000Z'), [
      'calories_kcal=1812.25 kcal',
      'distance_m=4210.75 m',
      'bbox_lat_low_deg=51.5 deg',
      'bbox_lon_low_deg=-0.13 deg',
      'bbox_lat_high_deg=51.52 deg',
      'bbox_lon_high_deg=-0.1 deg',
      'speed_avg_mps=1.3 m/s',
      'speed_max_mps=3.5 m/s',
      'speed_min_mps=0.4 m/s',
      'steps=6120 count',
      'weight_avg_kg=70.5 kg',
      'weight_max_kg=70.5 kg',
      'weight_min_kg=70.5 kg',
      'activity_duration_ms.inactive=72000000 ms',
      'activity_duration_ms.walking=3600000 ms',
    ]);
    assert.deepEqual(cells(records, '2016-01-06T00:00:00.000Z'), []);
    assert.deepEqual(cells(records, '2016-01-07T00:00:00.000Z'), [
      'calories_kcal=1700 kcal',
      'distance_m=5000.5 m',
      'steps=7001 count',
      'activity_duration_ms.biking=600000 ms',
      'activity_duration_ms.walking=2400000 ms',
      'activity_duration_ms.running=900000 ms',
    ]);
    const steps = records.find((record) => record.metric === 'steps')!;
    assert.deepEqual(steps, {
      type: 'measurement',
      source: FIT_DAILY_CSV_SOURCE_ID,
      key: ['google-fit-daily', '2016-01-05', 'steps'],
      measuredAt: new Date('2016-01-05T00:00:00.000Z'),
      metric: 'steps',
      value: 6120,
      unit: 'count',
      revision: null, // no export time given: a later export cannot replace it
      attributes: { period: 'day', zoneStated: false },
    });
    assert.equal(offsets[0], lineOffset(bytes, '2016-01-04,'));
    assert.equal(offsets[1], lineOffset(bytes, '2016-01-05,'));
    assert.equal(offsets.at(-1), lineOffset(bytes, '2016-01-07,'));
    assert.equal(new Set(records.map((record) => JSON.stringify(record.key))).size, records.length, 'keys are distinct');
    for (const record of records) assert.ok(validateRecord(record).ok);
  });

  test('newer "Daily activity metrics.csv" with a BOM and CRLF: rejections with lines, unknown columns kept', async () => {
    const bytes = fixture(FIXTURES.metrics);
    assert.equal(bytes.subarray(0, 3).toString('hex'), 'efbbbf');
    const { records, rejections } = await runFixture(FIXTURES.metrics);
    assert.equal(records.length, 25); // 12 + 4 + 0 + 0 + 9
    assert.deepEqual(cells(records, '2021-02-01T00:00:00.000Z'), [
      'calories_kcal=1500.5 kcal',
      'heart_points=12 points',
      'heart_minutes=10 min',
      'heart_rate_avg_bpm=72.5 bpm',
      'heart_rate_max_bpm=130 bpm',
      'heart_rate_min_bpm=55 bpm',
      'steps=8000 count',
      'distance_m=5600.25 m',
      'move_minutes=75 min',
      'activity_duration_ms.walking=3600000 ms',
      'column.floors_climbed=3 floors',
      'column.hydration=1.5 unknown',
    ]);
    // The non-numeric Calories cell is refused; the row's other cells are kept.
    assert.deepEqual(cells(records, '2021-02-02T00:00:00.000Z'), ['weight_avg_kg=68.2 kg', 'weight_max_kg=68.2 kg', 'weight_min_kg=68.2 kg', 'steps=4000 count']);
    assert.deepEqual(cells(records, '2021-02-04T00:00:00.000Z'), [
      'bbox_lat_low_deg=48.1 deg',
      'bbox_lon_low_deg=11.5 deg',
      'bbox_lat_high_deg=48.2 deg',
      'bbox_lon_high_deg=11.6 deg',
      'speed_avg_mps=1.2 m/s',
      'speed_max_mps=2.5 m/s',
      'speed_min_mps=0.3 m/s',
      'activity_duration_ms.treadmill_running=1200000 ms',
      'activity_duration_ms.yoga=1800000 ms',
    ]);
    const floors = records.find((record) => record.metric === 'column.floors_climbed')!;
    assert.deepEqual(floors.attributes, { period: 'day', zoneStated: false, column: 'Floors climbed (floors)', metricFromHeader: true, unitFromHeader: true });
    const hydration = records.find((record) => record.metric === 'column.hydration')!;
    assert.deepEqual(hydration.attributes, { period: 'day', zoneStated: false, column: 'Hydration', metricFromHeader: true, unitFromHeader: false });

    assert.deepEqual(
      rejections.map((rejection) => [rejection.category, rejection.line, rejection.byteOffset]),
      [
        ['invalid', 3, lineOffset(bytes, '2021-02-02,')],
        ['invalid', 5, lineOffset(bytes, '2021-02-30,')],
        ['malformed', 7, lineOffset(bytes, '2021-02-05,')],
      ],
    );
    assert.equal(rejections[0]!.reason, 'line 3: column "Calories (kcal)": "n/a" is not a number');
    assert.equal(rejections[0]!.excerpt, 'n/a');
    assert.match(rejections[1]!.reason, /^line 5: Date "2021-02-30" is not a YYYY-MM-DD date$/);
    assert.equal(rejections[2]!.reason, 'line 7: row has 3 fields, the header has 30');
    for (const record of records) assert.ok(validateRecord(record).ok);
  });
});

describe('google.fit.daily: per-day 15-minute files', () => {
  test('intervals without a zone are read as UTC on the date in the file name, flagged zoneStated false', async () => {
    const bytes = fixture(FIXTURES.day);
    const { records, offsets, rejections } = await runFixture(FIXTURES.day);
    assert.deepEqual(rejections, []);
    assert.equal(records.length, 13); // 1 + 10 + 2
    assert.deepEqual(cells(records, '2021-02-01T00:00:00.000Z'), ['calories_kcal=15.5 kcal']);
    assert.deepEqual(cells(records, '2021-02-01T07:15:00.000Z'), [
      'move_minutes=5 min',
      'calories_kcal=20.25 kcal',
      'distance_m=450.5 m',
      'heart_points=2 points',
      'heart_minutes=2 min',
      'heart_rate_avg_bpm=95 bpm',
      'heart_rate_max_bpm=110 bpm',
      'heart_rate_min_bpm=80 bpm',
      'steps=600 count',
      'activity_duration_ms.walking=300000 ms',
    ]);
    assert.deepEqual(cells(records, '2021-02-01T23:45:00.000Z'), ['calories_kcal=15.5 kcal', 'steps=12 count']);
    const late = records.at(-1)!;
    assert.deepEqual(late.key, ['google-fit-interval', '2021-02-01T23:45:00.000Z', 'steps']);
    assert.deepEqual(late.attributes, { period: 'interval', endedAt: '2021-02-02T00:00:00.000Z', zoneStated: false });
    assert.deepEqual(records[0]!.attributes, { period: 'interval', endedAt: '2021-02-01T00:15:00.000Z', zoneStated: false });
    assert.equal(offsets[0], lineOffset(bytes, '00:00:00.000,'));
    assert.equal(offsets.at(-1), lineOffset(bytes, '23:45:00.000,'));
    for (const record of records) assert.ok(validateRecord(record).ok);
  });

  test('a written offset is applied and recorded; an impossible time is refused with its line', async () => {
    const { records, rejections } = await runFixture(FIXTURES.dayWithOffset);
    assert.deepEqual(
      records.map((record) => [record.measuredAt.toISOString(), record.metric, record.value, record.unit]),
      [
        ['2021-02-02T01:30:00.000Z', 'steps', 400, 'count'],
        ['2021-02-02T01:30:00.000Z', 'calories_kcal', 10.5, 'kcal'],
      ],
    );
    assert.deepEqual(records[0]!.attributes, { period: 'interval', endedAt: '2021-02-02T01:45:00.000Z', zoneStated: true, utcOffsetMinutes: 330 });
    assert.equal(rejections.length, 1);
    assert.equal(rejections[0]!.category, 'invalid');
    assert.equal(rejections[0]!.line, 3);
    assert.match(rejections[0]!.reason, /^line 3: Start time "25:00:00\.000\+05:30" is not a time of day$/);
  });

  test('an interval file whose name holds no date is refused as a whole', async () => {
    const { records, rejections } = await run(fixture(FIXTURES.day), 'Takeout/Fit/somewhere/quarter-hours.csv');
    assert.equal(records.length, 0);
    assert.equal(rejections.length, 1);
    assert.equal(rejections[0]!.category, 'invalid');
    assert.equal(rejections[0]!.line, 1);
  });
});

describe('google.fit.daily: edges', () => {
  test('an unknown header is unsupported and nothing more is read; an empty file is malformed', async () => {
    const unknown = await run(Buffer.from('Heure de début,Heure de fin,Nombre de pas\n00:00,00:15,3\n'), 'Takeout/Fit/Daily activity metrics/2021-02-01.csv');
    assert.deepEqual(
      unknown.events.map((event) => (event.kind === 'reject' ? [event.rejection.category, event.rejection.line] : 'record')),
      [['unsupported', 1]],
    );
    const empty = await run(Buffer.alloc(0), 'Takeout/Fit/Daily Summaries.csv');
    assert.deepEqual(empty.rejections.map((rejection) => rejection.category), ['malformed']);
  });

  test('1-byte and 64 KiB chunks give identical output', async () => {
    for (const name of Object.values(FIXTURES)) {
      const whole = await runFixture(name, 64 * 1024);
      const bytewise = await runFixture(name, 1);
      assert.deepEqual(bytewise.events, whole.events, name);
      assert.ok(whole.events.length > 0, name);
    }
  });
});

describe('google.fit.daily: real exports', () => {
  const present = existsSync(REAL_DIR);
  const skip = present ? false : `real export samples absent (${REAL_DIR.pathname}): only in the shared workspace and CI`;

  // Counts worked out independently (Python's csv module): non-empty cells other than Date, all
  // numeric; rows with a Steps value and with a Calories value.
  const cases = [
    { file: 'ganesh1238_2018_Daily Summaries.csv', rows: 549, records: 4596, steps: 518, calories: 549 },
    { file: 'kaustubhgupta_Daily activity metrics.csv', rows: 1053, records: 12105, steps: 1029, calories: 1051 },
  ];
  for (const expected of cases) {
    test(`${expected.file}: every non-empty cell is one valid record`, { skip }, async () => {
      const bytes = readFileSync(new URL(encodeURIComponent(expected.file), REAL_DIR));
      assert.equal(fitDailyCsvSource.detect(probe(`Takeout/Fit/${expected.file}`, bytes.subarray(0, 64 * 1024))), 'content');
      const { records, rejections } = await run(bytes, `Takeout/Fit/${expected.file}`);
      assert.deepEqual(rejections, []);
      assert.equal(records.length, expected.records);
      assert.equal(records.filter((record) => record.metric === 'steps').length, expected.steps);
      assert.equal(records.filter((record) => record.metric === 'calories_kcal').length, expected.calories);
      assert.equal(new Set(records.map((record) => record.measuredAt.getTime())).size <= expected.rows, true);
      assert.ok(records.every((record) => !record.metric.startsWith('column.')), 'every real column is in the table');
      assert.equal(new Set(records.map((record) => JSON.stringify(record.key))).size, records.length, 'keys are distinct');
      for (const record of records) assert.ok(validateRecord(record).ok, `${record.metric} ${record.measuredAt.toISOString()}`);
      const small = await run(bytes, `Takeout/Fit/${expected.file}`, 97);
      assert.deepEqual(small.events.length, records.length);
    });
  }
});

const SESSIONS = {
  running: 'All Sessions/2021-04-19T22_57_39.686+02_00_RUNNING.json',
  walking: 'All Sessions/2021-05-01T08_00_00.000+02_00_WALKING.json',
  noStart: 'All Sessions/2021-05-02T09_00_00.000Z_BIKING.json',
} as const;

async function runSession(name: string, chunkSize?: number): Promise<Run> {
  return run(fixture(name), `Takeout/Fit/${name}`, chunkSize, fitSessionsSource);
}

describe('google.fit.sessions', () => {
  test('detection: by content, by path for a session without startTime; not the daily CSVs', () => {
    assert.equal(fitSessionsSource.detect(probe('x.json', fixture(SESSIONS.running))), 'content');
    assert.equal(fitSessionsSource.detect(probe('x.json', fixture(SESSIONS.walking))), 'content', 'with a BOM');
    assert.equal(detectSource(probe('x.json', fixture(SESSIONS.running))), fitSessionsSource);
    assert.equal(fitSessionsSource.detect(probe('x.json', fixture(SESSIONS.noStart))), null);
    assert.equal(fitSessionsSource.detect(probe(`Takeout/Fit/${SESSIONS.noStart}`, fixture(SESSIONS.noStart))), 'path');
    assert.equal(fitSessionsSource.detect(probe('Takeout/Fit/Daily Summaries.csv', fixture(FIXTURES.summaries))), null);
    assert.deepEqual(aggregateMetric('com.google.step_count.delta'), { metric: 'steps', unit: 'count', known: true });
    assert.deepEqual(aggregateMetric('com.google.power.summary'), { metric: 'aggregate.com.google.power.summary', unit: 'unknown', known: false });
  });

  test('a session: its duration and one measurement per aggregate, at the start time', async () => {
    const { records, rejections, offsets } = await runSession(SESSIONS.running);
    assert.deepEqual(rejections, []);
    assert.deepEqual(
      records.map((record) => `${record.metric}=${record.value} ${record.unit}`),
      [
        'session_duration_s=674.186 s',
        'heart_minutes=21 min',
        'calories_kcal=150.25 kcal',
        'steps=1620 count',
        'distance_m=1600.5 m',
        'speed_avg_mps=2.375 m/s',
        'move_minutes=11 min',
        'aggregate.com.google.power.summary=180.5 unknown',
      ],
    );
    assert.ok(records.every((record) => record.measuredAt.toISOString() === '2021-04-19T20:57:39.686Z' && record.source === FIT_SESSIONS_SOURCE_ID));
    assert.deepEqual(offsets, records.map(() => 0));
    assert.deepEqual(records[3]!.key, ['google-fit-session', '2021-04-19T20:57:39.686Z', 'running', 'steps']);
    assert.deepEqual(records[0]!.attributes, { activity: 'running', endedAt: '2021-04-19T21:08:53.872Z', durationFrom: 'duration' });
    assert.deepEqual(records[7]!.attributes, { activity: 'running', endedAt: '2021-04-19T21:08:53.872Z', metricName: 'com.google.power.summary', metricFromName: true });
    for (const record of records) assert.ok(validateRecord(record).ok);
  });

  test('offsets applied, duration from the end time, string values read, a valueless aggregate refused alone', async () => {
    const { records, rejections } = await runSession(SESSIONS.walking);
    assert.deepEqual(
      records.map((record) => [record.measuredAt.toISOString(), record.metric, record.value, record.unit]),
      [
        ['2021-05-01T06:00:00.000Z', 'session_duration_s', 1800, 's'],
        ['2021-05-01T06:00:00.000Z', 'steps', 2400, 'count'],
        ['2021-05-01T06:00:00.000Z', 'distance_m', 1800, 'm'],
      ],
    );
    assert.deepEqual(records[0]!.attributes, { activity: 'walking', endedAt: '2021-05-01T06:30:00.000Z', utcOffsetMinutes: 120, durationFrom: 'endTime' });
    assert.equal(rejections.length, 1);
    assert.equal(rejections[0]!.category, 'invalid');
    assert.match(rejections[0]!.reason, /"com\.google\.calories\.expended" has no numeric/);
  });

  test('a session without a start time is refused as a whole', async () => {
    const { records, rejections } = await runSession(SESSIONS.noStart);
    assert.equal(records.length, 0);
    assert.deepEqual(rejections.map((rejection) => rejection.category), ['invalid']);
    assert.match(rejections[0]!.reason, /without a readable startTime/);
  });

  test('a file over the cap is too_large; 1-byte and 64 KiB chunks give identical output', async () => {
    const huge = Buffer.from(`{"fitnessActivity":"walking","startTime":"2021-05-01T08:00:00.000Z","pad":"${'a'.repeat(MAX_SESSION_BYTES)}"}`);
    const big = await run(huge, 'Takeout/Fit/All Sessions/big.json', 64 * 1024, fitSessionsSource);
    assert.deepEqual(big.records, []);
    assert.deepEqual(big.rejections.map((rejection) => rejection.category), ['too_large']);
    for (const name of Object.values(SESSIONS)) {
      const whole = await runSession(name, 64 * 1024);
      const bytewise = await runSession(name, 1);
      assert.deepEqual(bytewise.events, whole.events, name);
    }
  });
});

describe('google.fit.raw', () => {
  const RAW = 'All Data/raw_com.google.step_count.delta_com.google.android.gms_estimated_steps.json';
  const path = `Takeout/Fit/${RAW}`;

  test('detection by content (the "Data Points" object) and the registry picks it over the sessions source', () => {
    assert.equal(fitRawSource.detect(probe('x.json', fixture(RAW))), 'content');
    assert.equal(detectSource(probe('x.json', fixture(RAW))), fitRawSource);
    assert.equal(fitRawSource.detect(probe('x.json', fixture(SESSIONS.running))), null);
  });

  test('points become measurements with metric ids and units, locations become points, unknown types keep every numeric field', async () => {
    const whole = await run(fixture(RAW), path, 64 * 1024, fitRawSource);
    const records = whole.events.flatMap((e) => (e.kind === 'record' ? [e.record] : []));
    const summary = records.map((r) =>
      r.type === 'measurement' ? `${r.measuredAt.toISOString()} ${r.metric}=${r.value} ${r.unit}` : r.type === 'location_point' ? `${r.recordedAt.toISOString()} point ${r.lat},${r.lon} ±${r.accuracyM} ${r.altitudeM}m` : r.type,
    );
    assert.deepEqual(summary, [
      '2019-11-12T20:22:00.000Z steps=15 count',
      '2019-11-12T20:23:00.000Z steps=42 count',
      '2019-11-12T20:25:00.000Z heart_rate_bpm=71.5 bpm',
      '2019-11-12T20:26:00.000Z point 52.52,13.405 ±12 34.5m',
      '2019-11-12T20:27:00.000Z fit.com.google.blood_pressure=120 unknown',
      '2019-11-12T20:27:00.000Z fit.com.google.blood_pressure.1=80 unknown',
    ]);
    assert.ok(records.every((r) => r.source === FIT_RAW_SOURCE_ID));
    const steps = records[0]!;
    assert.deepEqual(steps.attributes, {
      originDataSourceId: 'raw:com.google.step_count.cumulative:Google:Pixel 4a:abc123:Step Counter',
      dataSource: 'derived:com.google.step_count.delta:com.google.android.gms:estimated_steps',
      endedAt: '2019-11-12T20:23:00.000Z',
    });
    // A point without a start, and one with no numeric value: quarantined with where they start.
    assert.deepEqual(whole.rejections.map((r) => [r.category, r.reason]), [
      ['invalid', 'Fit data point without a dataTypeName or a readable startTimeNanos'],
      ['invalid', 'Fit data point of com.google.nutrition has no numeric value'],
    ]);
    const bytes = fixture(RAW);
    assert.equal(whole.rejections[0]!.byteOffset, bytes.indexOf('{\n      "fitValue": [{ "value": { "intVal": 7 } }]'));
    for (const record of records) assert.ok(validateRecord(record).ok, JSON.stringify(record));
    assert.equal(new Set(records.map((r) => JSON.stringify(r.key))).size, records.length, 'keys are distinct');
    // Chunk boundaries anywhere give the same events.
    assert.deepEqual(await run(bytes, path, 7, fitRawSource), whole);
  });
});
