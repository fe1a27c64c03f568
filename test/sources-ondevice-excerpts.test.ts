// On-device Timeline: what a refused value's quarantine excerpt says. It shows the value as the
// file wrote it (a wifiScan's device list only as its length or keys: MAC addresses are kept
// nowhere), never a key the file does not have; and a timelinePath point with no time of its
// own is refused with the point as written, not dated by a guess.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { LakeRecord, LocationPointRecord, ParseEvent, Rejection, RepairCounts } from '../src/ingest/records.js';
import { timelineOnDeviceSource } from '../src/ingest/sources/google/location/ondevice.js';

async function parse(json: unknown): Promise<{ records: LakeRecord[]; rejections: Rejection[] }> {
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  const events: ParseEvent[] = [];
  const input = Readable.from([Buffer.from(JSON.stringify(json))]);
  for await (const event of timelineOnDeviceSource.parse(input, { path: 'Timeline.json', repairs })) events.push(event);
  return {
    records: events.flatMap((event) => (event.kind === 'record' ? [event.record] : [])),
    rejections: events.flatMap((event) => (event.kind === 'reject' ? [event.rejection] : [])),
  };
}

const REASON = 'rawSignals wifiScan without a readable deliveryTime or a devicesRecords list';

describe('google.location.ondevice: excerpts of refused values', () => {
  it('an empty wifiScan is quarantined as written, with no key it lacks', async () => {
    const parsed = await parse({ rawSignals: [{ wifiScan: {} }] });
    assert.deepEqual(parsed.records, []);
    assert.deepEqual(
      parsed.rejections.map((r) => [r.category, r.reason, r.excerpt]),
      [['invalid', REASON, '{"wifiScan":{}}']],
    );
  });

  it('a refused wifiScan keeps its other keys as written, its devices only as a count or their keys', async () => {
    const parsed = await parse({
      rawSignals: [
        { wifiScan: { deliveryTime: 'at lunch', devicesRecords: [{ mac: 111111111111111, rawRssi: -50 }], extra: 1 } },
        { wifiScan: { deliveryTime: '2024-06-06T10:44:37.000+01:00', devicesRecords: { mac: 222222222222222, rawRssi: -60 } } },
        { wifiScan: { deliveryTime: 'never', devicesRecords: 'none' } },
      ],
    });
    assert.deepEqual(parsed.records, []);
    assert.deepEqual(
      parsed.rejections.map((r) => r.excerpt),
      [
        '{"wifiScan":{"deliveryTime":"at lunch","devicesRecords":"1 entries","extra":1}}',
        '{"wifiScan":{"deliveryTime":"2024-06-06T10:44:37.000+01:00","devicesRecords":{"mac":"…","rawRssi":"…"}}}',
        '{"wifiScan":{"deliveryTime":"never","devicesRecords":"none"}}',
      ],
    );
    for (const rejection of parsed.rejections) assert.doesNotMatch(rejection.excerpt ?? '', /111111111111111|222222222222222/);
  });

  it('a timelinePath point without a time or an offset is refused as written; the points around it stay', async () => {
    const parsed = await parse([
      {
        startTime: '2024-06-15T10:00:00.000+02:00',
        endTime: '2024-06-15T11:00:00.000+02:00',
        timelinePath: [
          { point: 'geo:48.8606,2.3376', durationMinutesOffsetFromStartTime: '0' },
          { point: 'geo:48.861,2.336' },
          { point: 'geo:48.862,2.335', durationMinutesOffsetFromStartTime: '10' },
        ],
      },
    ]);
    assert.deepEqual(
      (parsed.records as LocationPointRecord[]).map((point) => [point.recordedAt.toISOString(), point.lat, point.lon]),
      [
        ['2024-06-15T08:00:00.000Z', 48.8606, 2.3376],
        ['2024-06-15T08:10:00.000Z', 48.862, 2.335],
      ],
    );
    assert.deepEqual(
      parsed.rejections.map((r) => [r.category, r.reason, r.excerpt]),
      [['invalid', 'timelinePath point without a readable point or time', '{"point":"geo:48.861,2.336"}']],
    );
  });
});
