// Writes a synthetic Google Takeout Records.json of a requested size, streaming to disk.
//
//   node --import tsx bench/gen-records.ts --mb 200 --out /tmp/records-200.json [--seed 42] [--style modern|jackson]
//
// The shape follows real exports: older points carry `timestampMs` (string), newer ones an ISO
// `timestamp` (with or without fractional seconds) plus source/deviceTag/platformType; about 10%
// carry nested activity arrays; accuracy/altitude/velocity/heading vary. Same seed, same bytes.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { makeRandom } from './support/random.js';

const { values: args } = parseArgs({
  options: {
    mb: { type: 'string', default: '200' },
    out: { type: 'string' },
    seed: { type: 'string', default: '42' },
    style: { type: 'string', default: 'modern' },
  },
});
if (!args.out) {
  console.error('usage: gen-records.ts --mb <size in MB> --out <file> [--seed n] [--style modern|jackson]');
  process.exit(2);
}
const targetBytes = Math.round(Number(args.mb) * 1_000_000);
if (!Number.isFinite(targetBytes) || targetBytes <= 0) {
  console.error(`--mb must be a positive number, got ${args.mb}`);
  process.exit(2);
}
// Jackson (older exports) writes `"key" : value`; newer exports `"key": value`.
const colon = args.style === 'jackson' ? ' : ' : ': ';

const random = makeRandom(Number(args.seed));
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const SOURCES = ['WIFI', 'GPS', 'CELL', 'UNKNOWN'] as const;
const DEVICE_TAGS = [1184882232, -577680260, 2014523981, 93021577] as const;
const ACTIVITY_TYPES = ['STILL', 'ON_FOOT', 'WALKING', 'IN_VEHICLE', 'ON_BICYCLE', 'UNKNOWN', 'TILTING', 'RUNNING'] as const;

// A random walk around Hamburg, one fix every ~1-120 s, starting in 2013.
let latE7 = 535_511_000;
let lngE7 = 99_937_000;
let timeMs = Date.UTC(2013, 2, 1, 5, 17, 39, 849);
// About one point a minute, as a phone logs, but never past 2025: a big file packs its points
// closer so that every timestamp stays in the past (the importer refuses future ones).
const BYTES_PER_POINT = 230;
const meanStepMs = Math.min(60_000, (Date.UTC(2025, 0, 1) - timeMs) / (targetBytes / BYTES_PER_POINT));

function member(indent: string, key: string, value: string | number, last = false): string {
  return `${indent}"${key}"${colon}${typeof value === 'string' ? JSON.stringify(value) : value}${last ? '' : ','}\n`;
}

function activityBlock(indent: string, atMs: number, iso: boolean): string {
  const count = 1 + Math.floor(random() * 4);
  let confidence = 100;
  const entries: string[] = [];
  for (let k = 0; k < count; k++) {
    const share = k === count - 1 ? confidence : Math.floor(random() * confidence);
    confidence -= share;
    entries.push(
      `${indent}    {\n${member(`${indent}      `, 'type', pick(ACTIVITY_TYPES))}${member(`${indent}      `, 'confidence', share, true)}${indent}    }`,
    );
  }
  const stamp = iso ? member(`${indent}  `, 'timestamp', new Date(atMs).toISOString()) : member(`${indent}  `, 'timestampMs', String(atMs));
  return `${indent}"activity"${colon}[ {\n${stamp}${indent}  "activity"${colon}[\n${entries.join(',\n')}\n${indent}  ]\n${indent}} ],\n`;
}

function point(progress: number): string {
  latE7 += Math.round((random() - 0.5) * 2000);
  lngE7 += Math.round((random() - 0.5) * 3000);
  timeMs += Math.floor(meanStepMs * (0.02 + random() * 1.96));
  // The first 40% of the file is the old era (timestampMs only), the rest the newer schema.
  const modernEra = progress > 0.4;
  const indent = '    ';
  let text = `  {\n${member(indent, 'latitudeE7', latE7)}${member(indent, 'longitudeE7', lngE7)}`;
  text += member(indent, 'accuracy', 3 + Math.floor(random() * (random() < 0.1 ? 2000 : 40)));
  if (random() < 0.3) text += member(indent, 'velocity', Math.floor(random() * 30));
  if (random() < 0.3) text += member(indent, 'heading', Math.floor(random() * 360));
  if (random() < 0.5) text += member(indent, 'altitude', Math.floor(random() * 300) - 20);
  if (random() < 0.4) text += member(indent, 'verticalAccuracy', 1 + Math.floor(random() * 30));
  if (random() < 0.1) text += activityBlock(indent, timeMs - Math.floor(random() * 5000), modernEra);
  if (modernEra) {
    text += member(indent, 'source', pick(SOURCES));
    text += member(indent, 'deviceTag', pick(DEVICE_TAGS));
    text += member(indent, 'platformType', 'ANDROID');
    const iso = new Date(timeMs).toISOString();
    // Some exports drop the fractional part when it is zero; emulate both spellings.
    text += member(indent, 'timestamp', random() < 0.2 ? iso.replace(/\.\d{3}Z$/, 'Z') : iso, true);
  } else {
    text += member(indent, 'timestampMs', String(timeMs), true);
  }
  return `${text}  }`;
}

async function main(out: string): Promise<void> {
  const stream = createWriteStream(out);
  const opening = `{\n  "locations"${colon}[`;
  const closing = '\n  ]\n}\n';
  let written = 0;
  let points = 0;
  const write = async (text: string): Promise<void> => {
    written += Buffer.byteLength(text);
    if (!stream.write(text)) await once(stream, 'drain');
  };
  await write(opening);
  while (written + closing.length < targetBytes) {
    let batch = '';
    for (let k = 0; k < 1000 && written + batch.length + closing.length < targetBytes; k++) {
      batch += `${points === 0 ? '' : ','}\n${point(written / targetBytes)}`;
      points++;
    }
    await write(batch);
  }
  await write(closing);
  stream.end();
  await once(stream, 'finish');
  console.log(`wrote ${out}: ${(written / 1e6).toFixed(1)} MB, ${points} points`);
}

await main(args.out);
