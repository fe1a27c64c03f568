// The web console in a real browser: Debian's Chromium driven by playwright-core (never a browser
// of Playwright's own), WebGL through SwiftShader, against a real API server on a lake holding a
// small imported Takeout (location points, a photo, mail). Sign in, the map's points, the time
// slider, a day, search, a photo, a mail, a Takeout uploaded with tus from the import page and
// its job followed to the end, statistics. A screenshot of every page goes to
// test-artifacts/console/<backend>/ (git-ignored). Nothing the page loads may come from anywhere
// but the lake's server, and the Content-Security-Policy must never be violated.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { CONSOLE_CSP, consoleRoutes } from '../src/api/console.js';
import { runImport } from '../src/ingest/runner.js';
import { createApiKey } from '../src/query/api-keys.js';
import { createConsoleLink } from '../src/query/console-links.js';
import { encodeTile, EXTENT, worldPosition } from '../src/geo/mvt.js';
import { startTestServer, type TestServer } from './support/api.js';
import { writeYazl } from './support/archives.js';
import { BACKEND, createUser, openTestLake, type TestLake } from './support/lake.js';
import { rectangleLayer, tileId, writePmtiles, type ArchiveTile } from './support/pmtiles-writer.js';

const CHROMIUM = process.env.LAKE_TEST_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));
const SKIP = !CHROMIUM && !process.env.CI ? 'Chromium is not installed (apt-get install chromium); CI installs it' : false;
const ARTIFACTS = path.join(import.meta.dirname, '..', 'test-artifacts', 'console', BACKEND);
const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const BROWSER_ARGS = ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--disable-dev-shm-usage'];

/** A small Takeout: Records.json (4 points on 2022-06-01 in Berlin), the mbox fixture, one photo with its sidecar. */
async function takeout(file: string) {
  const photo = await sharp({ create: { width: 96, height: 64, channels: 3, background: { r: 200, g: 40, b: 90 } } })
    .composite([{ input: Buffer.from('<svg width="96" height="64"><rect x="10" y="10" width="40" height="30" fill="#2255cc"/></svg>'), top: 0, left: 0 }])
    .jpeg()
    .toBuffer();
  await writeYazl(file, [
    { name: 'Takeout/Location History/Records.json', content: await readFile(path.join(FIXTURES, 'google/location-records/Records.json')) },
    { name: 'Takeout/Mail/All mail Including Spam and Trash.mbox', content: await readFile(path.join(FIXTURES, 'mbox/takeout.mbox')) },
    { name: 'Takeout/Google Photos/Photos from 2023/PXL_20231006_063851485.jpg', content: photo },
    { name: 'Takeout/Google Photos/Photos from 2023/PXL_20231006_063851485.jpg.json', content: await readFile(path.join(FIXTURES, 'photos/sidecar-2024.json')) },
  ]);
}

describe(`the web console (${BACKEND})`, { skip: SKIP }, () => {
  let t: TestLake;
  let server: TestServer;
  let key: string;
  let work: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const foreign: string[] = [];
  const tileKeys: string[] = [];
  const problems: string[] = [];

  const shot = async (name: string) => {
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  };
  const api = async (route: string) => (await fetch(server.url + route, { headers: { authorization: `Bearer ${key}` } })).json() as Promise<any>;
  /** The points the map draws: the points layer's features plus the counts of the cells layer's (each point is in one tile of a zoom). */
  const drawn = () =>
    page.evaluate(() => {
      const map = (globalThis as any).__lake.map;
      const layers = ['points', 'cells'].filter((layer) => map.getLayer(layer));
      const seen = new Set<string>();
      let total = 0;
      for (const f of map.queryRenderedFeatures({ layers })) {
        const id = `${f.layer.id} ${JSON.stringify(f.properties)} ${JSON.stringify(f.geometry)}`;
        if (seen.has(id)) continue;
        seen.add(id);
        total += f.layer.id === 'cells' ? f.properties.count : 1;
      }
      return total;
    });
  const mapReady = () => page.waitForFunction(() => (globalThis as any).__lake.map?.loaded() && (globalThis as any).__lake.map.areTilesLoaded());

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    work = await mkdtemp(path.join(os.tmpdir(), 'lake-console-'));
    t = await openTestLake({ LAKE_API_TIMEOUT_MS: '0' });
    const userId = await createUser(t.lake, 'walker');
    key = (await createApiKey(t.lake.db, 'walker')).key;
    await takeout(path.join(work, 'takeout-001.zip'));
    await runImport(t.lake.db, { userId, inputs: [path.join(work, 'takeout-001.zip')], batchSize: 100, blobs: t.lake.blobs });
    // The upload of the import page: a Takeout split in two parts, Semantic Location History of
    // January 2023 in one, of March 2019 in the other.
    await mkdir(path.join(work, 'upload'));
    for (const [part, month] of [['001', '2023/2023_JANUARY.json'], ['002', '2019/2019_MARCH.json']] as const) {
      await writeYazl(path.join(work, 'upload', `takeout-20240101T000000Z-${part}.zip`), [
        {
          name: `Takeout/Location History/Semantic Location History/${month}`,
          content: await readFile(path.join(FIXTURES, 'google/semantic-location-history', path.basename(month))),
        },
      ]);
    }
    server = await startTestServer(t.lake);
    const { chromium } = await import('playwright-core');
    if (!CHROMIUM) throw new Error('Chromium is missing: CI must install it (apt-get install chromium)');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // WebGL without a GPU: ANGLE over SwiftShader, allowed explicitly since Chromium 1xx.
      args: BROWSER_ARGS,
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: 'UTC', locale: 'en-GB' });
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
    const origin = new URL(server.url).origin;
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith(`${origin}/`) && !url.startsWith('blob:') && !url.startsWith('data:')) foreign.push(url);
      if (url.includes('/v1/tiles/')) tileKeys.push(request.headers().authorization ?? '(none)');
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 40[14]/.test(message.text())) problems.push(`console: ${message.text()} ${JSON.stringify(message.location())}`);
    });
    await context.addInitScript(() => {
      (globalThis as any).document.addEventListener('securitypolicyviolation', (event: any) => console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`));
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await t?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('GET / serves the console with a strict CSP; its files are hashed and cached', async () => {
    const index = await fetch(`${server.url}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('content-type'), 'text/html; charset=utf-8');
    assert.equal(index.headers.get('content-security-policy'), CONSOLE_CSP);
    assert.match(CONSOLE_CSP, /default-src 'self'/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const script = /src="(\/console\/app-[A-Z0-9]+\.js)"/.exec(html)?.[1];
    const style = /href="(\/console\/app-[A-Z0-9]+\.css)"/.exec(html)?.[1];
    assert.ok(script && style, html);
    const js = await fetch(server.url + script);
    assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    // fetch asks for gzip and decodes it: the bundle travels compressed.
    assert.equal(js.headers.get('content-encoding'), 'gzip');
    assert.equal(js.headers.get('vary'), 'accept-encoding');
    const body = Buffer.from(await js.arrayBuffer());
    assert.ok(Number(js.headers.get('content-length')) < body.length / 2, `${js.headers.get('content-length')} bytes sent for ${body.length}`);
    const again = await fetch(server.url + script, { headers: { 'if-none-match': js.headers.get('etag')! } });
    assert.equal(again.status, 304);
    const plain = await fetch(server.url + script, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers.get('content-encoding'), null);
    assert.deepEqual(Buffer.from(await plain.arrayBuffer()), body);
    assert.notEqual(plain.headers.get('etag'), js.headers.get('etag'));
    assert.equal((await fetch(`${server.url}${style}`)).headers.get('content-type'), 'text/css; charset=utf-8');
    assert.equal((await fetch(`${server.url}/console/nothing.js`)).status, 404);
    assert.equal((await fetch(`${server.url}/console/basemap.pmtiles`)).status, 404, 'no street tiles configured');
  });

  test('sign in with a key; the map shows the imported points', async () => {
    await page.goto(`${server.url}/`);
    await page.locator('#key').fill('lake_000000000000_wrong');
    await page.keyboard.press('Enter');
    await page.getByText('That key was refused').waitFor();
    await shot('sign-in');
    await page.locator('#key').fill(key);
    await page.keyboard.press('Enter');
    await page.locator('nav a[aria-current="page"]', { hasText: 'Map' }).waitFor();
    const stored = await api('/v1/locations?limit=1000');
    assert.ok(stored.features.length >= 3, `imported points: ${stored.features.length}`);
    await mapReady();
    // The whole world in view: the first view fits a daily sample of the points, which may leave an outlier out.
    await page.evaluate(() => (globalThis as any).__lake.map.jumpTo({ center: [0, 0], zoom: 0.5 }));
    await mapReady();
    assert.equal(await drawn(), stored.features.length, 'every point is drawn');
    assert.ok(tileKeys.length > 0, 'the map loads vector tiles');
    assert.deepEqual(new Set(tileKeys), new Set([`Bearer ${key}`]), 'every tile request carries the key');
    await shot('map-world');
    await page.evaluate(() => (globalThis as any).__lake.map.jumpTo({ center: [13.402, 52.517], zoom: 16 }));
    await mapReady();
    assert.equal(await page.evaluate(() => (globalThis as any).__lake.map.queryRenderedFeatures({ layers: ['points'] }).length), 3, 'Berlin, point by point');
    await shot('map');
  });

  test('the time slider filters the loaded points without fetching again', async () => {
    let requests = 0;
    const count = () => requests++;
    page.on('request', count);
    const before = await drawn();
    await page.locator('#time-from').focus();
    await page.keyboard.press('End'); // from = the end of the range: nothing left
    await page.waitForTimeout(200);
    await mapReady();
    assert.equal(await drawn(), 0);
    await page.keyboard.press('Home');
    await page.waitForTimeout(200);
    await mapReady();
    assert.equal(await drawn(), before);
    page.off('request', count);
    assert.equal(requests, 0, 'filtering fetched nothing');
    await page.locator('#density').check();
    await page.waitForFunction(() => (globalThis as any).__lake.map.getLayoutProperty('points-heat', 'visibility') === 'visible');
    await mapReady();
    await page.waitForTimeout(300);
    await shot('map-density');
    await page.locator('#density').uncheck();
  });

  test('a day: its path, and what happened', async () => {
    await page.goto(`${server.url}/#/day/2022-06-01`);
    await page.locator('.timeline').waitFor();
    await page.waitForFunction(() => (globalThis as any).__lake.map?.getSource('path') && (globalThis as any).__lake.map.loaded());
    const path = await page.evaluate(() => ((globalThis as any).__lake.map.getSource('path').serialize().data.geometry.coordinates as unknown[]).length);
    assert.ok(path >= 3, `points on the path: ${path}`);
    await page.getByRole('status').filter({ hasText: /\d+ points/ }).waitFor();
    await page.locator('.entry.path', { hasText: '4 points on the map' }).waitFor();
    await page.waitForTimeout(300);
    await shot('day');
    // The photo's day: its thumbnail in the list, linking to the photo.
    await page.goto(`${server.url}/#/day/2023-10-06`);
    const thumb = page.locator('.entry[data-kind="photo"] a.thumb-link img');
    await thumb.waitFor();
    assert.match((await thumb.getAttribute('src'))!, /^blob:/);
    await page.waitForFunction(() => (globalThis as any).__lake.map?.loaded());
    await page.waitForTimeout(300);
    await shot('day-photo');
  });

  test('search finds the mail; the mail opens', async () => {
    await page.locator('nav a', { hasText: 'Search' }).click();
    await page.locator('#q').fill('meeting');
    await page.keyboard.press('Enter');
    const hit = page.locator('.result[data-type="messages"] a.title').first();
    await hit.waitFor();
    assert.match((await hit.textContent())!, /Café meeting/);
    await shot('search');
    await hit.click();
    await page.locator('.reader h2', { hasText: 'Café meeting' }).waitFor();
    assert.ok((await page.locator('.reader .body').textContent())!.length > 20);
    await shot('mail');
  });

  test('the photo grid shows thumbnails fetched with the key; a photo opens and Escape closes it', async () => {
    await page.locator('nav a', { hasText: 'Photos' }).click();
    const img = page.locator('.tile img').first();
    await img.waitFor();
    await page.waitForFunction(() => (globalThis as any).document.querySelector('.tile img')?.naturalWidth === 96);
    assert.match((await img.getAttribute('src'))!, /^blob:/);
    await shot('photos');
    await page.locator('.tile').first().focus();
    await page.keyboard.press('Enter');
    await page.locator('dialog.viewer[open] figure img').waitFor();
    assert.match((await page.locator('dialog.viewer').textContent())!, /La tour, depuis le Trocadéro/);
    await shot('photo');
    await page.keyboard.press('Escape');
    await page.locator('dialog.viewer[open]').waitFor({ state: 'detached' });
  });

  test('a split Takeout uploaded from the import page is imported as one job, followed to the end', async () => {
    const before = (await api('/v1/locations?limit=10000')).features.length;
    await page.locator('nav a', { hasText: 'Import' }).click();
    await page.locator('#file').setInputFiles(['002', '001'].map((part) => path.join(work, 'upload', `takeout-20240101T000000Z-${part}.zip`)));
    await page.locator('#start').click();
    await page.locator('#job-status[data-status="done"]').waitFor({ timeout: 90_000 });
    await page.locator('#job-summary').waitFor();
    const after = (await api('/v1/locations?limit=10000')).features.length;
    assert.ok(after > before, `points before ${before}, after ${after}`);
    const jobs = await api('/v1/jobs');
    assert.equal(jobs.jobs[0].status, 'done');
    const report = await api(`/v1/jobs/${jobs.jobs[0].job_id}/report`);
    assert.deepEqual(report.files.map((f: { path: string }) => path.basename(f.path)).sort(), ['2019_MARCH.json', '2023_JANUARY.json'], 'both parts in one job');
    assert.equal((await page.locator('.report li').count()), 2);
    await shot('import');
  });

  test('statistics: the activity calendar and the counts per month', async () => {
    // By keyboard: Enter on the menu's link, then the focus is on the page, not the menu.
    await page.locator('nav a', { hasText: 'Statistics' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('table.counts').waitFor();
    await page.waitForFunction(() => (globalThis as any).document.activeElement?.id === 'main');
    await page.locator('.calendar').waitFor();
    // The calendar is drawn from /v1/stats/daily: each day's cell says what the day holds.
    const range = { from: await page.locator('.calendar .cell:not([aria-hidden])').first().getAttribute('data-day'), to: null as string | null };
    const last = await page.locator('.calendar .cell:not([aria-hidden])').last().getAttribute('data-day');
    range.to = new Date(Date.parse(`${last}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    const daily = await api(`/v1/stats/daily?from=${range.from}&to=${range.to}&tz=UTC`);
    const days = new Map<string, number>();
    for (const row of daily.days as { day: string; count: number }[]) days.set(row.day, (days.get(row.day) ?? 0) + row.count);
    // The year up to the photo's month (its position is a location point): Semantic Location History of January 2023, the photo.
    assert.deepEqual([...days.keys()].sort(), ['2023-01-05', '2023-10-06'], JSON.stringify(daily));
    assert.equal(await page.locator('.calendar .cell:not([data-level="0"])').count(), days.size, 'a coloured cell for each day with something');
    assert.equal(await page.locator('.calendar .cell[data-day="2023-10-06"]').getAttribute('title'), '2023-10-06: 1 hour with a location, 1 photo');
    assert.equal(await page.locator('.calendar .cell[data-day="2023-01-05"]').getAttribute('title'), '2023-01-05: 1 activity segment, 1 hour with a location');
    assert.equal(await page.locator('.calendar .cell[data-day="2023-01-06"]').getAttribute('title'), '2023-01-06: nothing');
    assert.match((await page.locator('table.counts').textContent())!, /google\.location\.records/);
    await shot('stats');
    // By keyboard: Tab reaches the calendar at its last day with something; arrows move; Enter opens the day.
    await page.keyboard.press('Tab');
    const focused = () => page.evaluate(() => (globalThis as any).document.activeElement?.dataset.day as string | undefined);
    const start = await focused();
    assert.equal(start, [...days.keys()].sort().at(-1));
    await page.keyboard.press('ArrowLeft');
    assert.equal(await focused(), new Date(Date.parse(`${start}T00:00:00Z`) - 7 * 86_400_000).toISOString().slice(0, 10));
    await page.keyboard.press('ArrowDown');
    const chosen = (await focused())!;
    assert.equal(chosen, new Date(Date.parse(`${start}T00:00:00Z`) - 6 * 86_400_000).toISOString().slice(0, 10));
    await shot('stats-keyboard');
    await page.keyboard.press('Enter');
    await page.waitForFunction((day) => (globalThis as any).location.hash === `#/day/${day}`, chosen);
  });

  test('on a phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}/#/mail`);
    await page.locator('.mail-row').first().waitFor();
    await shot('phone-mail');
    await page.goto(`${server.url}/#/map`);
    await mapReady();
    assert.ok((await drawn()) > 0);
    await shot('phone-map');
    await page.goto(`${server.url}/#/day/2023-10-06`);
    await page.locator('.entry[data-kind="photo"] img').waitFor();
    await mapReady();
    await shot('phone-day');
    await page.goto(`${server.url}/#/photos`);
    await page.locator('.tile img').first().waitFor();
    await shot('phone-photos');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test('a one-time link signs in once', async () => {
    const { token } = await createConsoleLink(t.lake.db, 'walker');
    const other = await context.browser()!.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: 'UTC' });
    try {
      const tab = await other.newPage();
      await tab.goto(`${server.url}/#link=${token}`);
      await tab.locator('nav a[aria-current="page"]', { hasText: 'Map' }).waitFor();
      assert.equal(await tab.locator('#who').textContent(), 'walker');
      assert.equal(new URL(tab.url()).hash, '#/map', 'the token is gone from the address');
      const stored = await tab.evaluate(() => (globalThis as any).sessionStorage.getItem('lake.key'));
      assert.match(stored, /^lake_/);
      assert.notEqual(stored, key, 'a key of its own');
      await tab.locator('#sign-out').click();
      await tab.goto(`${server.url}/#link=${token}`);
      await tab.getByText('This sign-in link has expired or was used already').waitFor();
      assert.equal(await tab.evaluate(() => (globalThis as any).sessionStorage.getItem('lake.key')), null);
    } finally {
      await other.close();
    }
  });

  test('nothing left the machine, nothing broke the policy', async () => {
    assert.deepEqual(foreign, []);
    assert.deepEqual(await page.evaluate(() => (globalThis as any).__lake.mapErrors), []);
    assert.deepEqual(problems, []);
  });
});


describe('street tiles (LAKE_CONSOLE_PMTILES) are served with byte ranges', () => {
  test('200 whole, 206 for a range, 416 past the end; 404 without the setting', async () => {
    const work = await mkdtemp(path.join(os.tmpdir(), 'lake-pmtiles-'));
    const file = path.join(work, 'streets.pmtiles');
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    await writeFile(file, bytes);
    const app = Fastify();
    consoleRoutes(app, { pmtiles: file });
    const bare = Fastify();
    consoleRoutes(bare, {});
    try {
      const whole = await app.inject({ url: '/console/basemap.pmtiles' });
      assert.equal(whole.statusCode, 200);
      assert.equal(whole.headers['accept-ranges'], 'bytes');
      assert.equal(whole.headers['content-security-policy'], CONSOLE_CSP);
      assert.deepEqual(whole.rawPayload, bytes);
      const first = await app.inject({ url: '/console/basemap.pmtiles', headers: { range: 'bytes=0-126' } });
      assert.equal(first.statusCode, 206);
      assert.equal(first.headers['content-range'], 'bytes 0-126/1000');
      assert.deepEqual(first.rawPayload, bytes.subarray(0, 127));
      const middle = await app.inject({ url: '/console/basemap.pmtiles', headers: { range: 'bytes=500-' } });
      assert.deepEqual([middle.statusCode, middle.headers['content-range']], [206, 'bytes 500-999/1000']);
      assert.deepEqual(middle.rawPayload, bytes.subarray(500));
      const last = await app.inject({ url: '/console/basemap.pmtiles', headers: { range: 'bytes=-5' } });
      assert.deepEqual(last.rawPayload, bytes.subarray(995));
      const past = await app.inject({ url: '/console/basemap.pmtiles', headers: { range: 'bytes=1000-' } });
      assert.deepEqual([past.statusCode, past.headers['content-range']], [416, 'bytes */1000']);
      assert.equal((await bare.inject({ url: '/console/basemap.pmtiles' })).statusCode, 404);
    } finally {
      await app.close();
      await bare.close();
      await rm(work, { recursive: true, force: true });
    }
  });
});


// Street tiles from a real PMTiles archive: written by test/support/pmtiles-writer.ts, read back
// by the pmtiles library itself, then drawn by MapLibre in the console through the pmtiles://
// protocol, which reads the file by byte ranges from /console/basemap.pmtiles.
const BERLIN: [number, number] = [13.402, 52.517];
/** Points of the archive's `roads` layer (the style draws lines there: found with querySourceFeatures). */
const ROAD_POINTS = [
  { name: 'lake-test-road-1', lon: 13.4, lat: 52.516 },
  { name: 'lake-test-road-2', lon: 13.403, lat: 52.518 },
  { name: 'lake-test-road-3', lon: 13.405, lat: 52.5155 },
];
/** A rectangle of the archive's `water` layer, [west, south, east, north]: drawn by the style's fill layer. */
const WATER: [number, number, number, number] = [13.3955, 52.5135, 13.3995, 52.5162];
const STREET_ZOOMS = [12, 13, 14];

/** The archive's tiles: at each zoom, the tiles around Berlin holding the points and the water. */
function streetTiles(): ArchiveTile[] {
  const tiles: ArchiveTile[] = [];
  for (const z of STREET_ZOOMS) {
    const [west, north] = worldPosition(WATER[3], Math.min(WATER[0], ...ROAD_POINTS.map((p) => p.lon)), z);
    const [east, south] = worldPosition(Math.min(WATER[1], ...ROAD_POINTS.map((p) => p.lat)), Math.max(WATER[2], ...ROAD_POINTS.map((p) => p.lon)), z);
    for (let x = Math.floor(west); x <= Math.floor(east); x++) {
      for (let y = Math.floor(north); y <= Math.floor(south); y++) {
        const local = (lat: number, lon: number) => worldPosition(lat, lon, z).map((v, i) => (v - (i === 0 ? x : y)) * EXTENT) as [number, number];
        const points = ROAD_POINTS.map((p) => ({ ...p, at: local(p.lat, p.lon) })).filter(({ at: [px, py] }) => px >= 0 && px < EXTENT && py >= 0 && py < EXTENT);
        const [x0, y0] = local(WATER[3], WATER[0]);
        const [x1, y1] = local(WATER[1], WATER[2]);
        const clip = (v: number) => Math.max(-64, Math.min(EXTENT + 64, v));
        const water = x1 > 0 && x0 < EXTENT && y1 > 0 && y0 < EXTENT;
        const data = Buffer.concat([
          encodeTile([{ name: 'roads', features: points.map((p) => ({ x: Math.round(p.at[0]), y: Math.round(p.at[1]), properties: { name: p.name, kind: 'test' } })) }]),
          water ? rectangleLayer('water', [[clip(x0), clip(y0), clip(x1), clip(y1)]], { name: 'lake-test-water' }) : Buffer.alloc(0),
        ]);
        tiles.push({ z, x, y, data });
      }
    }
  }
  return tiles;
}

const ARCHIVE_OPTIONS = {
  metadata: {
    name: 'lake test streets',
    vector_layers: [
      { id: 'roads', fields: { name: 'String', kind: 'String' }, minzoom: 12, maxzoom: 14 },
      { id: 'water', fields: { name: 'String' }, minzoom: 12, maxzoom: 14 },
    ],
  },
  bounds: [13.3, 52.45, 13.5, 52.6] as [number, number, number, number],
  center: [BERLIN[0], BERLIN[1], 14] as [number, number, number],
};

describe('the PMTiles test writer', () => {
  test('tile ids follow the spec: the pmtiles library agrees at every tile of zooms 0 to 5 and at Berlin down to zoom 20', async () => {
    const { zxyToTileId } = await import('pmtiles');
    assert.deepEqual([tileId(0, 0, 0), tileId(1, 0, 0), tileId(1, 0, 1), tileId(1, 1, 1), tileId(1, 1, 0), tileId(2, 0, 0)], [0, 1, 2, 3, 4, 5]);
    for (let z = 0; z <= 5; z++) {
      for (let x = 0; x < 2 ** z; x++) for (let y = 0; y < 2 ** z; y++) assert.equal(tileId(z, x, y), zxyToTileId(z, x, y), `${z}/${x}/${y}`);
    }
    for (let z = 6; z <= 20; z++) {
      const [x, y] = worldPosition(BERLIN[1], BERLIN[0], z).map(Math.floor) as [number, number];
      assert.equal(tileId(z, x, y), zxyToTileId(z, x, y), `${z}/${x}/${y}`);
    }
  });

  for (const internalCompression of ['none', 'gzip'] as const) {
    test(`an archive (internal compression ${internalCompression}) reads back with the pmtiles library, tile by tile`, async () => {
      const { PMTiles } = await import('pmtiles');
      const tiles = streetTiles();
      const bytes = writePmtiles(tiles, { ...ARCHIVE_OPTIONS, internalCompression });
      const source = {
        getKey: () => 'memory',
        getBytes: async (offset: number, length: number) => ({ data: bytes.buffer.slice(bytes.byteOffset + offset, bytes.byteOffset + offset + length) as ArrayBuffer }),
      };
      const archive = new PMTiles(source);
      const header = await archive.getHeader();
      assert.equal(header.specVersion, 3);
      assert.equal(header.internalCompression, internalCompression === 'gzip' ? 2 : 1);
      assert.deepEqual([header.tileType, header.tileCompression, header.minZoom, header.maxZoom, header.clustered], [1, 1, 12, 14, true]);
      assert.deepEqual([header.minLon, header.minLat, header.maxLon, header.maxLat], ARCHIVE_OPTIONS.bounds);
      assert.deepEqual([header.centerLon, header.centerLat, header.centerZoom], ARCHIVE_OPTIONS.center);
      assert.deepEqual([header.numAddressedTiles, header.numTileEntries, header.numTileContents], [tiles.length, tiles.length, tiles.length]);
      assert.equal(header.tileDataOffset + (header.tileDataLength ?? Number.NaN), bytes.length);
      assert.deepEqual(await archive.getMetadata(), ARCHIVE_OPTIONS.metadata);
      assert.ok(tiles.length >= 3 && tiles.every((tile) => tile.data.length > 0), `${tiles.length} tiles`);
      for (const tile of tiles) {
        const read = await archive.getZxy(tile.z, tile.x, tile.y);
        assert.deepEqual(Buffer.from(read!.data), Buffer.from(tile.data), `${tile.z}/${tile.x}/${tile.y}`);
      }
      // A tile not in the archive, and a zoom outside it.
      const [x, y] = worldPosition(-33.9, 151.2, 13).map(Math.floor) as [number, number];
      assert.equal(await archive.getZxy(13, x, y), undefined);
      assert.equal(await archive.getZxy(11, 1100, 671), undefined);
    });
  }
});

describe(`street tiles from a PMTiles archive in the console (${BACKEND})`, { skip: SKIP }, () => {
  let t: TestLake;
  let server: TestServer;
  let key: string;
  let work: string;
  let browser: Browser;
  let page: Page;
  let archive: Buffer;
  const ranges: string[] = [];
  const problems: string[] = [];

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    work = await mkdtemp(path.join(os.tmpdir(), 'lake-console-pmtiles-'));
    archive = writePmtiles(streetTiles(), { ...ARCHIVE_OPTIONS, internalCompression: 'gzip' });
    const file = path.join(work, 'streets.pmtiles');
    await writeFile(file, archive);
    t = await openTestLake({ LAKE_API_TIMEOUT_MS: '0', LAKE_CONSOLE_PMTILES: file });
    await createUser(t.lake, 'cartographer');
    key = (await createApiKey(t.lake.db, 'cartographer')).key;
    server = await startTestServer(t.lake);
    const { chromium } = await import('playwright-core');
    if (!CHROMIUM) throw new Error('Chromium is missing: CI must install it (apt-get install chromium)');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: 'UTC', locale: 'en-GB' });
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/console/basemap.pmtiles') ranges.push(request.headers().range ?? '(whole file)');
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 40[14]/.test(message.text())) problems.push(`console: ${message.text()}`);
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await t?.dispose();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('at a close zoom the map reads tiles from the archive by byte ranges and draws their features', async () => {
    await page.goto(`${server.url}/`);
    await page.locator('#key').fill(key);
    await page.keyboard.press('Enter');
    await page.locator('nav a[aria-current="page"]', { hasText: 'Map' }).waitFor();
    await page.waitForFunction(() => (globalThis as any).__lake.map?.getSource('streets'));
    await page.evaluate(([lon, lat]) => (globalThis as any).__lake.map.jumpTo({ center: [lon, lat], zoom: 15 }), BERLIN);
    await page.waitForFunction(() => (globalThis as any).__lake.map.loaded() && (globalThis as any).__lake.map.areTilesLoaded());
    await page.waitForFunction(() => (globalThis as any).__lake.map.querySourceFeatures('streets', { sourceLayer: 'roads' }).length > 0);
    // Every request was for a range; beyond the header and root directory, some were tiles.
    const tileData = Number(archive.readBigUInt64LE(56));
    const starts = ranges.map((range) => Number(/^bytes=(\d+)-\d+$/.exec(range)?.[1] ?? Number.NaN));
    assert.ok(starts.every((start) => Number.isInteger(start)), ranges.join(' '));
    assert.ok(starts.some((start) => start >= tileData), `tile data from byte ${tileData}; ranges asked: ${ranges.join(' ')}`);
    const found = await page.evaluate(() => {
      const map = (globalThis as any).__lake.map;
      const roads = map.querySourceFeatures('streets', { sourceLayer: 'roads' }).map((f: any) => ({ name: f.properties.name, type: f.geometry.type, at: f.geometry.coordinates }));
      const water = map.queryRenderedFeatures({ layers: ['streets-water'] }).map((f: any) => ({ name: f.properties.name, type: f.geometry.type, source: f.source, layer: f.sourceLayer }));
      return { roads, water };
    });
    const roads = new Map<string, { type: string; at: [number, number] }>(found.roads.map((f: { name: string; type: string; at: [number, number] }) => [f.name, f]));
    assert.deepEqual([...roads.keys()].sort(), ROAD_POINTS.map((p) => p.name));
    for (const p of ROAD_POINTS) {
      const road = roads.get(p.name)!;
      assert.equal(road.type, 'Point');
      // At zoom 14 a tile unit is about 2.4 m: the positions come back to within 1e-4 degrees.
      assert.ok(Math.abs(road.at[0] - p.lon) < 1e-4 && Math.abs(road.at[1] - p.lat) < 1e-4, `${p.name} at ${road.at}`);
    }
    assert.ok(found.water.length > 0, 'the water rectangle is drawn');
    assert.deepEqual([...new Set(found.water.map((f: { name: string; type: string; source: string; layer: string }) => `${f.source} ${f.layer} ${f.type} ${f.name}`))], ['streets water Polygon lake-test-water']);
    // The fill is on screen where the rectangle is, and not east of it.
    const [inside, outside] = await page.evaluate(([west, south, east, north]) => {
      const map = (globalThis as any).__lake.map;
      return [[(west + east) / 2, (south + north) / 2], [east + 0.002, (south + north) / 2]].map(
        (lonLat) => map.queryRenderedFeatures(map.project(lonLat), { layers: ['streets-water'] }).length as number,
      );
    }, WATER);
    assert.deepEqual([(inside ?? 0) > 0, outside], [true, 0]);
    assert.deepEqual(await page.evaluate(() => (globalThis as any).__lake.mapErrors), []);
    assert.deepEqual(problems, []);
    await page.screenshot({ path: path.join(ARTIFACTS, 'map-pmtiles.png') });
  });
});
