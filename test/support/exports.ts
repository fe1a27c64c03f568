// Generated export files for the tests that need many records (an import killed mid-way, a disk
// filled mid-way): each point is distinct, so every one is a row and re-reading one is a duplicate.
import { writeFile } from 'node:fs/promises';

/** A Records.json of `count` points 30 s apart from the start of `year`, wandering from (lat, lon). */
export async function writeRecordsJson(file: string, count: number, start: { year: number; latE7: number; lonE7: number }): Promise<void> {
  const points = Array.from({ length: count }, (_, i) => {
    const ms = Date.UTC(start.year, 0, 1) + i * 30_000;
    return `{"timestampMs":"${ms}","latitudeE7":${start.latE7 + i * 37},"longitudeE7":${start.lonE7 - i * 41},"accuracy":${3 + (i % 40)}}`;
  });
  await writeFile(file, `{"locations":[${points.join(',\n')}]}`);
}
