// Google Fit raw data points from Takeout: `Fit/All Data/<stream>.json`, one file per data stream:
//   {"Data Source": "raw:com.google.step_count.delta:…", "Data Points": [{dataTypeName,
//    startTimeNanos, endTimeNanos, fitValue: [{value: {intVal | fpVal | stringVal | mapVal}}],
//    originDataSourceId, modifiedTimeMillis, rawTimestampNanos}]}
// Files reach hundreds of MB (a phone's step stream over years): the points are streamed.
//
// Each point becomes records at measuredAt = startTime (nanoseconds since the epoch, numbers or
// strings; read to the millisecond):
//   com.google.location.sample    a location_point (fields: lat, lng, accuracy, altitude)
//   a known single-value type     a measurement with the lake's metric id and unit (DATA_TYPES)
//   anything else                 a measurement per numeric field: `fit.<dataTypeName>` (field 0)
//                                 or `fit.<dataTypeName>.<i>`, unit `unknown`, flagged
// Attributes: endedAt when the interval has a length, dataSource (the file's stream),
// originDataSourceId. Key: ['google-fit-raw', dataTypeName, startNanos, endNanos, origin, field],
// so the same point in two exports, or in the derived and raw streams of one, is kept once per
// stream origin.
//
// Rejections: `invalid` for a point without a readable start time or data type, or with no
// numeric value; the rest of the file carries on.
import type { LakeRecord, ParseEvent } from '../../../records.js';
import { defineSource, type Source } from '../../../source.js';
import { FIT_RAW } from './entries.js';
import { emit, parseJsonSource, rejectValue } from '../json-source.js';
import { arrayOf, isObject, numberOf, stringOf } from '../takeout-values.js';

export const FIT_RAW_SOURCE_ID = FIT_RAW.id;

/** Single-value data types and their metric ids and units (the same ids as the daily CSVs and sessions). */
const DATA_TYPES: ReadonlyMap<string, readonly [metric: string, unit: string]> = new Map([
  ['com.google.step_count.delta', ['steps', 'count']],
  ['com.google.step_count.cumulative', ['steps_cumulative', 'count']],
  ['com.google.distance.delta', ['distance_m', 'm']],
  ['com.google.calories.expended', ['calories_kcal', 'kcal']],
  ['com.google.calories.bmr', ['calories_bmr_kcal_per_day', 'kcal/day']],
  ['com.google.heart_rate.bpm', ['heart_rate_bpm', 'bpm']],
  ['com.google.heart_minutes', ['heart_minutes', 'min']],
  ['com.google.active_minutes', ['move_minutes', 'min']],
  ['com.google.speed', ['speed_mps', 'm/s']],
  ['com.google.weight', ['weight_kg', 'kg']],
  ['com.google.height', ['height_m', 'm']],
  ['com.google.body.fat.percentage', ['body_fat_percent', '%']],
  ['com.google.activity.segment', ['activity_type', 'code']],
  ['com.google.sleep.segment', ['sleep_stage', 'code']],
  ['com.google.hydration', ['hydration_l', 'l']],
  ['com.google.oxygen_saturation', ['oxygen_saturation_percent', '%']],
]);

const LOCATION_SAMPLE = 'com.google.location.sample';
const NANOS_PER_MS = 1_000_000;

/** The numbers of a point's fitValue list, in field order (null for a field without one). */
function fieldValues(point: Record<string, unknown>): (number | null)[] {
  return arrayOf(point.fitValue).map((field) => {
    const value = isObject(field) && isObject(field.value) ? field.value : null;
    return value === null ? null : (numberOf(value.fpVal) ?? numberOf(value.intVal));
  });
}

function pointEvents(point: unknown, dataSource: string | null, offset: number, out: ParseEvent[]): void {
  if (!isObject(point)) {
    out.push(rejectValue('invalid', 'a Fit data point that is not an object', offset, point));
    return;
  }
  const type = stringOf(point.dataTypeName);
  const startNanos = numberOf(point.startTimeNanos);
  if (!type || startNanos === null) {
    out.push(rejectValue('invalid', 'Fit data point without a dataTypeName or a readable startTimeNanos', offset, point));
    return;
  }
  const endNanos = numberOf(point.endTimeNanos) ?? startNanos;
  const measuredAt = new Date(Math.floor(startNanos / NANOS_PER_MS));
  const endedAt = new Date(Math.floor(endNanos / NANOS_PER_MS));
  if (Number.isNaN(endedAt.getTime())) {
    // A start out of range is refused by validation; the end only goes to attributes, so here.
    out.push(rejectValue('invalid', `Fit data point of ${type} with an endTimeNanos out of range`, offset, point));
    return;
  }
  const origin = stringOf(point.originDataSourceId) ?? dataSource ?? '';
  const values = fieldValues(point);
  if (!values.some((v) => v !== null)) {
    out.push(rejectValue('invalid', `Fit data point of ${type} has no numeric value`, offset, point));
    return;
  }
  const attributes: Record<string, unknown> = { originDataSourceId: origin };
  if (dataSource) attributes.dataSource = dataSource;
  if (endNanos > startNanos) attributes.endedAt = endedAt.toISOString();
  const key = (field: number) => ['google-fit-raw', type, startNanos, endNanos, origin, field];

  if (type === LOCATION_SAMPLE) {
    const [lat, lon, accuracy, altitude] = values;
    if (lat == null || lon == null) {
      out.push(rejectValue('invalid', 'Fit location sample without latitude and longitude', offset, point));
      return;
    }
    out.push(emit({ type: 'location_point', source: FIT_RAW_SOURCE_ID, key: key(0), recordedAt: measuredAt, lat, lon,
      accuracyM: accuracy ?? null, altitudeM: altitude ?? null, attributes }, offset));
    return;
  }
  const known = DATA_TYPES.get(type);
  values.forEach((value, field) => {
    if (value === null) return;
    const record: LakeRecord = known && field === 0
      ? { type: 'measurement', source: FIT_RAW_SOURCE_ID, key: key(field), measuredAt, metric: known[0], value, unit: known[1], attributes }
      : {
          type: 'measurement', source: FIT_RAW_SOURCE_ID, key: key(field), measuredAt, metric: field === 0 ? `fit.${type}` : `fit.${type}.${field}`,
          value, unit: 'unknown', attributes: { ...attributes, metricFromName: true },
        };
    out.push(emit(record, offset));
  });
}

export const fitRawSource: Source = defineSource(FIT_RAW, {
  parse(input, context) {
    let dataSource: string | null = null;
    return parseJsonSource(input, context, {
      targets: [{ path: ['Data Source'], mode: 'value', optional: true }, { path: ['Data Points'] }],
      expected: '"Data Points" array',
      onElement: (value, at, out) => {
        if (at.target === 0) dataSource = stringOf(value);
        else pointEvents(value, dataSource, at.offset, out);
      },
    });
  },
});
