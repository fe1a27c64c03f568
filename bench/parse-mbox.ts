// Parses an mbox with the `google.gmail.mbox` source (or only splits it, with --split-only), no
// database involved, and prints throughput and peak memory.
//
//   node --import tsx bench/gen-mbox.ts --mb 500 --out /tmp/x.mbox
//   node --import tsx bench/parse-mbox.ts /tmp/x.mbox [--split-only]
// READ_CHUNK_BYTES sets the read stream's chunk size (default 64 KiB, as fs.createReadStream).
import { createReadStream, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { splitMbox } from '../src/ingest/parse/mbox.js';
import type { RepairCounts } from '../src/ingest/records.js';
import { gmailMboxSource } from '../src/ingest/sources/google/gmail-mbox.js';

const { values, positionals } = parseArgs({ options: { 'split-only': { type: 'boolean', default: false } }, allowPositionals: true });
const file = positionals[0];
if (!file) {
  console.error('usage: parse-mbox.ts <file.mbox> [--split-only]');
  process.exit(2);
}
const bytes = statSync(file).size;
const input = createReadStream(file, { highWaterMark: Number(process.env.READ_CHUNK_BYTES ?? 65536) });
let messages = 0;
let attachments = 0;
const rejected: Record<string, number> = {};
const started = performance.now();
const cpuBefore = process.cpuUsage();
if (values['split-only']) {
  for await (const event of splitMbox(input)) {
    if (event.kind === 'message') messages++;
    else rejected[event.kind] = (rejected[event.kind] ?? 0) + 1;
  }
} else {
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  for await (const event of gmailMboxSource.parse(input, { path: file, repairs })) {
    if (event.kind === 'record') {
      messages++;
      if (event.record.type === 'message') attachments += event.record.attachments.length;
    } else rejected[event.rejection.category] = (rejected[event.rejection.category] ?? 0) + 1;
  }
}
const seconds = (performance.now() - started) / 1000;
// CPU time of this process: on a shared machine, wall-clock figures move with the neighbours' load.
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const peakRssMb = process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
console.log(
  [
    `${file} (${values['split-only'] ? 'split only' : 'split and parse'}): ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s`,
    `${(bytes / 1e6 / seconds).toFixed(1)} MB/s wall clock; ${(bytes / 1e6 / cpuSeconds).toFixed(1)} MB/s of CPU time (${cpuSeconds.toFixed(2)} s)`,
    `${messages} messages (${Math.round(messages / seconds)} messages/s), ${attachments} attachments, rejected ${JSON.stringify(rejected)}`,
    `peak RSS ${peakRssMb.toFixed(0)} MB`,
  ].join('\n'),
);
