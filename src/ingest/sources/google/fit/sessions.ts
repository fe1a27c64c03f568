// Google Fit sessions from Takeout: `Fit/All Sessions/<start>_<ACTIVITY>.json`, one JSON object
// per session:
//   {fitnessActivity, startTime, endTime, duration: "674.186s", segment?[{fitnessActivity,
//    startTime, endTime}], aggregate?[{metricName, floatValue | intValue}]}
//
// Each session becomes `measurement` records, all at measuredAt = startTime:
//   session_duration_s (unit `s`)   `duration` ("674.186s"), or endTime − startTime without it
//   one per aggregate, by metricName:
//     com.google.step_count.delta       steps            count
//     com.google.distance.delta         distance_m       m
//     com.google.calories.expended      calories_kcal    kcal
//     com.google.heart_minutes.summary  heart_minutes    min
//     com.google.active_minutes         move_minutes     min
//     com.google.speed.summary          speed_avg_mps    m/s
//     anything else                     aggregate.<metricName>  `unknown` (attributes.metricFromName)
//   value: floatValue, else intValue (numbers or numeric strings).
// Every record's attributes: activity (fitnessActivity), endedAt (ISO), metricName for
// aggregates, utcOffsetMinutes when startTime states a non-zero offset. Segments are not read.
// Key: ['google-fit-session', startTime ISO, activity, metric].
//
// Rejections: `invalid` for a session without a readable startTime (ISO with a zone; the whole
// file) or an aggregate without a numeric value (that aggregate only; the others are kept).
// Sessions are small, but the file is still streamed with a hard cap (MAX_SESSION_BYTES): a
// larger file is `too_large` without being held in memory.
import type { MeasurementRecord, ParseEvent } from '../../../records.js';
import { defineSource, type Source } from '../../../source.js';
import { FIT_SESSIONS } from './entries.js';
import { emit, parseJsonSource, rejectValue } from '../json-source.js';
import { arrayOf, isObject, numberOf, parseIsoInstant, stringOf } from '../takeout-values.js';

export const FIT_SESSIONS_SOURCE_ID = FIT_SESSIONS.id;
/** A session file holds a few aggregates and segments; 4 MiB is far above any real one. */
export const MAX_SESSION_BYTES = 4 * 1024 * 1024;

const AGGREGATES: ReadonlyMap<string, readonly [metric: string, unit: string]> = new Map([
  ['com.google.step_count.delta', ['steps', 'count']],
  ['com.google.distance.delta', ['distance_m', 'm']],
  ['com.google.calories.expended', ['calories_kcal', 'kcal']],
  ['com.google.heart_minutes.summary', ['heart_minutes', 'min']],
  ['com.google.active_minutes', ['move_minutes', 'min']],
  ['com.google.speed.summary', ['speed_avg_mps', 'm/s']],
]);

const DURATION = /^\s*(\d+(?:\.\d+)?)s\s*$/;

/** The metric id and unit of an aggregate's metricName. */
export function aggregateMetric(metricName: string): { metric: string; unit: string; known: boolean } {
  const known = AGGREGATES.get(metricName);
  if (known !== undefined) return { metric: known[0], unit: known[1], known: true };
  return { metric: `aggregate.${metricName}`, unit: 'unknown', known: false };
}

function sessionEvents(value: unknown, offset: number, out: ParseEvent[]): void {
  if (!isObject(value)) {
    out.push(rejectValue('invalid', 'a Fit session file that does not hold an object', offset, value));
    return;
  }
  const start = parseIsoInstant(value.startTime);
  if (start === null) {
    out.push(rejectValue('invalid', `Fit session without a readable startTime (${JSON.stringify(value.startTime ?? null)})`, offset, value));
    return;
  }
  const end = parseIsoInstant(value.endTime);
  const activity = stringOf(value.fitnessActivity) ?? 'unknown';
  const startIso = start.date.toISOString();
  const base: Record<string, unknown> = { activity };
  if (end !== null) base.endedAt = end.date.toISOString();
  if (start.utcOffsetMinutes !== null && start.utcOffsetMinutes !== 0) base.utcOffsetMinutes = start.utcOffsetMinutes;
  const record = (metric: string, measured: number, unit: string, attributes: Record<string, unknown>): MeasurementRecord => ({
    type: 'measurement',
    source: FIT_SESSIONS_SOURCE_ID,
    key: ['google-fit-session', startIso, activity, metric],
    measuredAt: start.date,
    metric,
    value: measured,
    unit,
    attributes,
  });

  const written = typeof value.duration === 'string' ? DURATION.exec(value.duration) : null;
  const seconds = written !== null ? Number(written[1]) : end !== null ? (end.date.getTime() - start.date.getTime()) / 1000 : null;
  if (seconds !== null && seconds >= 0) {
    out.push(emit(record('session_duration_s', seconds, 's', { ...base, durationFrom: written !== null ? 'duration' : 'endTime' }), offset));
  }

  for (const aggregate of arrayOf(value.aggregate)) {
    const metricName = isObject(aggregate) ? stringOf(aggregate.metricName) : null;
    if (!isObject(aggregate) || metricName === null || metricName === '') {
      out.push(rejectValue('invalid', 'Fit session aggregate without a metricName', offset, aggregate));
      continue;
    }
    const measured = numberOf(aggregate.floatValue) ?? numberOf(aggregate.intValue);
    if (measured === null) {
      out.push(rejectValue('invalid', `Fit session aggregate ${JSON.stringify(metricName)} has no numeric floatValue or intValue`, offset, aggregate));
      continue;
    }
    const { metric, unit, known } = aggregateMetric(metricName);
    const attributes: Record<string, unknown> = { ...base, metricName };
    if (!known) attributes.metricFromName = true;
    out.push(emit(record(metric, measured, unit, attributes), offset));
  }
}

export const fitSessionsSource: Source = defineSource(FIT_SESSIONS, {
  parse(input, context) {
    return parseJsonSource(input, context, {
      targets: [{ path: [], mode: 'value' }],
      expected: 'Fit session object',
      maxElementBytes: MAX_SESSION_BYTES,
      onElement: (value, at, out) => sessionEvents(value, at.offset, out),
    });
  },
});
