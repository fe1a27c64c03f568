// Throughput and memory of the MyActivity.html source on a generated file of about 200 MB.
//
//   node --import tsx bench/parse-html.ts [--mb 200] [--keep /tmp/MyActivity-200.html]
//
// Writes the file (searches, visits through Google's redirect, YouTube watches with channel
// lines, removed videos, map searches with locations; about a tenth of the titles non-ASCII),
// then parses it in a fresh child process so that the peak RSS printed (process.resourceUsage()
// .maxRSS) is the parser's alone, not the generator's. The file is deleted unless --keep is given.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RepairCounts } from '../src/ingest/records.js';
import { parseMyActivityHtml } from '../src/ingest/sources/google/my-activity/html.js';

const { values: args } = parseArgs({
  options: { mb: { type: 'string', default: '200' }, keep: { type: 'string' }, parse: { type: 'string' } },
});

if (args.parse !== undefined) {
  await measure(args.parse);
} else {
  const directory = args.keep === undefined ? mkdtempSync(join(tmpdir(), 'lake-bench-html-')) : null;
  const file = args.keep ?? join(directory as string, 'MyActivity.html');
  try {
    const entries = await generate(file, Number(args.mb) * 1_000_000);
    console.log(`generated ${file}: ${(statSync(file).size / 1e6).toFixed(1)} MB, ${entries.toLocaleString('en-US')} entries`);
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--parse', file], { stdio: 'inherit' });
    if (child.status !== 0) process.exitCode = child.status ?? 1;
  } finally {
    if (directory !== null) rmSync(directory, { recursive: true, force: true });
  }
}

async function measure(file: string): Promise<void> {
  const bytes = statSync(file).size;
  const repairs: RepairCounts = { invalidUtf8: 0, nulCharacters: 0 };
  let records = 0;
  let rejections = 0;
  const start = process.hrtime.bigint();
  for await (const event of parseMyActivityHtml(createReadStream(file, { highWaterMark: 64 * 1024 }), { path: file, repairs })) {
    if (event.kind === 'record') records++;
    else rejections++;
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `parsed in ${seconds.toFixed(2)} s: ${(bytes / 1e6 / seconds).toFixed(1)} MB/s, ` +
      `${Math.round((records + rejections) / seconds).toLocaleString('en-US')} entries/s ` +
      `(${records.toLocaleString('en-US')} records, ${rejections} rejections), ` +
      `peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB, Node ${process.version}`,
  );
}

async function generate(file: string, targetBytes: number): Promise<number> {
  let state = 42;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const words = 'river stream parser night market coffee bicycle repair lecture music live review recipe garden train'.split(' ');
  const accented = ['café crème', 'Zürich Hauptbahnhof', '東京 ラーメン', 'Москва погода', 'jalapeño salsa'];
  const phrase = (count: number): string => {
    const chosen: string[] = [];
    for (let i = 0; i < count; i++) chosen.push(words[Math.floor(random() * words.length)] as string);
    if (random() < 0.1) chosen.push(accented[Math.floor(random() * accented.length)] as string);
    return chosen.join(' ');
  };
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const zones = ['PST', 'PDT', 'CET', 'CEST', 'UTC', 'GMT+1'];
  const cell = (classes: string, html: string): string => `<div class="${classes}">${html}</div>`;

  const out = createWriteStream(file);
  const write = async (text: string): Promise<void> => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write('<html><head><title>My Activity History</title><style type="text/css">.outer-cell { margin: 4px; }</style></head><body><div class="mdl-grid">\n');
  let written = 0;
  let entries = 0;
  let buffer = '';
  while (written < targetBytes) {
    const date = `${months[entries % 12]} ${1 + (entries % 28)}, ${2014 + (entries % 11)}, ${1 + (entries % 12)}:${String(entries % 60).padStart(2, '0')}:07 ${entries % 2 === 0 ? 'AM' : 'PM'} ${zones[entries % zones.length]}`;
    const roll = random();
    let product = 'Search';
    let content: string;
    let caption = `<b>Products:</b><br>&emsp;${product}<br>`;
    if (roll < 0.35) {
      const query = phrase(3);
      content = `Searched for&nbsp;<a href="https://www.google.com/search?q=${encodeURIComponent(query)}">${query}</a><br>${date}`;
    } else if (roll < 0.6) {
      content = `Visited&nbsp;<a href="https://www.google.com/url?q=https://example.org/${entries}&amp;usg=AOvVaw${entries}">${phrase(6)} &amp; more</a><br>${date}`;
    } else if (roll < 0.9) {
      product = 'YouTube';
      caption = `<b>Products:</b><br>&emsp;YouTube<br>`;
      content =
        random() < 0.05
          ? `Watched a video that has been removed<br>${date}`
          : `Watched&nbsp;<a href="https://www.youtube.com/watch?v=v${entries}">${phrase(8)}</a><br><a href="https://www.youtube.com/channel/UC${entries % 997}">${phrase(2)}</a><br>${date}`;
    } else {
      product = 'Maps';
      content = `Searched for&nbsp;<a href="https://www.google.com/maps/search/${entries}">${phrase(2)}</a><br>${date}`;
      caption = `<b>Products:</b><br>&emsp;Maps<br><b>Locations:</b><br>&emsp;From your device: <a href="https://www.google.com/maps/@?api=1&amp;map_action=map&amp;center=52.5${entries % 100},13.4&amp;zoom=12">here</a><br>`;
    }
    const entry =
      `<div class="outer-cell mdl-cell mdl-cell--12-col mdl-shadow--2dp"><div class="mdl-grid">` +
      cell('header-cell mdl-cell mdl-cell--12-col', `<p class="mdl-typography--title">${product}<br></p>`) +
      cell('content-cell mdl-cell mdl-cell--6-col mdl-typography--body-1', content) +
      cell('content-cell mdl-cell mdl-cell--6-col mdl-typography--body-1 mdl-typography--text-right', '') +
      cell('content-cell mdl-cell mdl-cell--12-col mdl-typography--caption', caption) +
      '</div></div>\n';
    buffer += entry;
    written += Buffer.byteLength(entry);
    entries++;
    if (buffer.length > 1 << 20) {
      await write(buffer);
      buffer = '';
    }
  }
  await write(`${buffer}</div></body></html>\n`);
  out.end();
  await once(out, 'finish');
  return entries;
}
