// Parses a Records.json with the streaming scanner and the `google.location.records` source, with
// no database involved, and prints throughput and peak memory.
//
//   node --import tsx bench/gen-records.ts --mb 200 --out /tmp/records-200.json
//   node --import tsx bench/parse-records.ts /tmp/records-200.json
// READ_CHUNK_BYTES sets the read stream's chunk size (default 64 KiB, as fs.createReadStream).
import { createReadStream, statSync } from 'node:fs';
import { locationRecordsSource } from '../src/ingest/sources/google/location/records.js';
import type { RepairCounts } from '../src/ingest/records.js';

const file = process.argv[2];
if (!file) {
  console.error('usage: parse-records.ts <Records.json>');
  process.exit(2);
}
const bytes = statSync(file).size;
const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
let points = 0;
let rejected = 0;
const started = performance.now();
const cpuBefore = process.cpuUsage();
for await (const event of locationRecordsSource.parse(createReadStream(file, { highWaterMark: Number(process.env.READ_CHUNK_BYTES ?? 65536) }), { path: file, repairs })) {
  if (event.kind === 'record') points++;
  else rejected++;
}
const seconds = (performance.now() - started) / 1000;
// CPU time of this process: on a shared machine, wall-clock figures move with the neighbours' load.
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const peakRssMb = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
console.log(
  [
    `${file}: ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s`,
    `${(bytes / 1e6 / seconds).toFixed(1)} MB/s wall clock; ${(bytes / 1e6 / cpuSeconds).toFixed(1)} MB/s of CPU time (${cpuSeconds.toFixed(2)} s)`,
    `${points} points (${Math.round(points / seconds)} points/s), ${rejected} rejected`,
    `peak RSS ${peakRssMb.toFixed(0)} MB`,
  ].join('\n'),
);
