// Wall time in an IANA zone → UTC (src/ingest/parse/zoned-time.ts), at and around DST changes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKnownTimeZone, offsetAt, wallTimeToUtc } from '../src/ingest/parse/zoned-time.js';

const iso = (ms: number) => new Date(ms).toISOString();

test('ordinary times in winter and summer, both hemispheres, and UTC', () => {
  assert.equal(iso(wallTimeToUtc(2024, 1, 15, 9, 0, 0, 'Europe/Berlin')), '2024-01-15T08:00:00.000Z');
  assert.equal(iso(wallTimeToUtc(2024, 7, 15, 9, 0, 0, 'Europe/Berlin')), '2024-07-15T07:00:00.000Z');
  assert.equal(iso(wallTimeToUtc(2024, 7, 15, 9, 0, 0, 'America/New_York')), '2024-07-15T13:00:00.000Z');
  assert.equal(iso(wallTimeToUtc(2024, 1, 15, 9, 0, 0, 'Australia/Sydney')), '2024-01-14T22:00:00.000Z');
  assert.equal(iso(wallTimeToUtc(2024, 7, 15, 9, 0, 0, 'Australia/Sydney')), '2024-07-14T23:00:00.000Z');
  assert.equal(iso(wallTimeToUtc(2024, 7, 15, 9, 0, 0, 'Asia/Kolkata')), '2024-07-15T03:30:00.000Z');
  assert.equal(iso(wallTimeToUtc(2024, 2, 29, 23, 59, 59, 'UTC')), '2024-02-29T23:59:59.000Z');
});

test('spring forward: times around the gap; a skipped time takes the offset before the gap (RFC 5545)', () => {
  // Berlin, 2024-03-31: 02:00 CET becomes 03:00 CEST (01:00Z).
  assert.equal(iso(wallTimeToUtc(2024, 3, 31, 1, 59, 59, 'Europe/Berlin')), '2024-03-31T00:59:59.000Z');
  assert.equal(iso(wallTimeToUtc(2024, 3, 31, 2, 30, 0, 'Europe/Berlin')), '2024-03-31T01:30:00.000Z'); // = 03:30 CEST
  assert.equal(iso(wallTimeToUtc(2024, 3, 31, 3, 0, 0, 'Europe/Berlin')), '2024-03-31T01:00:00.000Z');
  // New York, 2007-03-11 (RFC 5545's example): 02:30 does not exist, read as 03:30 EDT.
  assert.equal(iso(wallTimeToUtc(2007, 3, 11, 2, 30, 0, 'America/New_York')), '2007-03-11T07:30:00.000Z');
});

test('fall back: a repeated time is the first of the two', () => {
  // Berlin, 2024-10-27: 03:00 CEST becomes 02:00 CET (01:00Z).
  assert.equal(iso(wallTimeToUtc(2024, 10, 27, 2, 30, 0, 'Europe/Berlin')), '2024-10-27T00:30:00.000Z');
  assert.equal(iso(wallTimeToUtc(2024, 10, 27, 3, 0, 0, 'Europe/Berlin')), '2024-10-27T02:00:00.000Z');
  assert.equal(iso(wallTimeToUtc(2024, 10, 27, 1, 59, 0, 'Europe/Berlin')), '2024-10-26T23:59:00.000Z');
  assert.equal(iso(wallTimeToUtc(2024, 11, 3, 1, 30, 0, 'America/New_York')), '2024-11-03T05:30:00.000Z');
});

test('offsets and zone names', () => {
  assert.equal(offsetAt(Date.parse('2024-07-01T00:00:00Z'), 'Europe/London'), 60 * 60 * 1000);
  assert.equal(offsetAt(Date.parse('2024-01-01T00:00:00.500Z'), 'America/St_Johns'), -(3 * 60 + 30) * 60 * 1000);
  assert.equal(isKnownTimeZone('Europe/Berlin'), true);
  assert.equal(isKnownTimeZone('W. Europe Standard Time'), false);
  assert.throws(() => wallTimeToUtc(2024, 1, 1, 0, 0, 0, 'Not/AZone'), RangeError);
});
