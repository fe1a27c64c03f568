// `lake import` end to end on real archives and files, on both backends: every entry reported
// once, bad input refused with where and why, nothing accepted lost, re-imports adding nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runImport } from '../src/ingest/runner.js';
import type { ImportReport } from '../src/ingest/report.js';
import { buildZip, TAR_END, tarFile, writeYazl } from './support/archives.js';
import { createUser, openTestLake, SERVER_URL, type TestLake } from './support/lake.js';

let t: TestLake;
let dir: string;

before(async () => {
  t = await openTestLake();
  dir = await mkdtemp(path.join(os.tmpdir(), 'lake-import-'));
});
after(async () => {
  await t.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** A Records.json of `count` points, one a minute from 2020-03-01, alternating timestamp styles. */
function recordsJson(count: number, start = 0): string {
  const points = Array.from({ length: count }, (_, i) => {
    const n = start + i;
    const ms = Date.UTC(2020, 2, 1) + n * 60_000;
    const time = n % 2 === 0 ? `"timestampMs": "${ms}"` : `"timestamp": "${new Date(ms).toISOString()}"`;
    return `{ ${time}, "latitudeE7": ${485000000 + n * 100}, "longitudeE7": ${23000000 + n * 100}, "accuracy": ${5 + (n % 20)} }`;
  });
  return `{ "locations": [\n${points.join(',\n')}\n] }\n`;
}

const searchActivity = (query: string, time: string) => ({
  header: 'Search',
  title: `Searched for ${query}`,
  titleUrl: `https://www.google.com/search?q=${encodeURIComponent(query)}`,
  time,
  products: ['Search'],
});

function myActivityJson(): string {
  return JSON.stringify([
    searchActivity('lake district walks', '2021-05-01T10:00:00.000Z'),
    searchActivity('postgres row level security', '2021-05-02T10:00:00.000Z'),
    searchActivity('café près de moi', '2021-05-03T10:00:00.000Z'),
  ]);
}

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');

async function importAs(user: string, inputs: string[], batchSize = 1000): Promise<ImportReport> {
  return runImport(t.lake.db, { userId: user, inputs, batchSize });
}

async function countRows(user: string, table: string): Promise<number> {
  const r = await t.lake.db.asUser(user, (tx) => tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`));
  return r.rows[0]!.n;
}

function file(report: ImportReport, suffix: string) {
  const found = report.files.filter((f) => f.path.endsWith(suffix));
  assert.equal(found.length, 1, `exactly one report line for ${suffix}: ${report.files.map((f) => f.path).join(', ')}`);
  return found[0]!;
}

describe('a Takeout zip', () => {
  let user: string;
  let zip: string;
  let first: ImportReport;

  before(async () => {
    user = await createUser(t.lake, 'takeout');
    zip = path.join(dir, 'takeout-20240101T000000Z-001.zip');
    await writeYazl(zip, [
      { name: 'Takeout/Location History/Records.json', content: Buffer.from(recordsJson(250)) },
      { name: 'Takeout/My Activity/Search/My Activity.json', content: Buffer.from(myActivityJson()) },
      { name: 'Takeout/Google Photos/photo.png', content: PNG },
      { name: 'Takeout/archive_browser.html', content: Buffer.from('<html><body>index</body></html>') },
    ]);
    first = await importAs(user, [zip], 100);
  });

  test('every entry appears in the report exactly once, recognised or not', () => {
    assert.deepEqual(first.files.map((f) => f.path).sort(), [
      'Takeout/Google Photos/photo.png',
      'Takeout/Location History/Records.json',
      'Takeout/My Activity/Search/My Activity.json',
      'Takeout/archive_browser.html',
    ]);
    assert.equal(first.status, 'done');
    assert.equal(first.error, null);
  });

  test('each file has its format, counts, size and checksum', () => {
    const records = file(first, 'Records.json');
    assert.equal(records.format, 'google.location.records');
    assert.equal(records.records, 250);
    assert.equal(records.duplicates, 0);
    assert.equal(records.status, 'done');
    assert.equal(records.bytes, Buffer.byteLength(recordsJson(250)));
    assert.match(records.sha256 ?? '', /^[0-9a-f]{64}$/);
    const activity = file(first, 'My Activity.json');
    assert.equal(activity.format, 'google.myactivity.json');
    assert.equal(activity.records, 3);
    // No file is skipped any more: what no dedicated source reads is kept as a document.
    const photo = file(first, 'photo.png');
    assert.equal(photo.status, 'done');
    assert.equal(photo.mimeType, 'image/png');
    assert.equal(file(first, 'archive_browser.html').format, 'document.file');
  });

  test('the rows are in the lake, with their provenance in the import ledger', async () => {
    assert.equal(await countRows(user, 'timeseries.location_points'), 250);
    assert.equal(await countRows(user, 'user_data.items'), 3);
    const files = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ path: string; status: string; records_loaded: number; detected_format: string | null }>(
        `SELECT path, status, records_loaded, detected_format FROM imports.files WHERE job_id = $1 ORDER BY path`,
        [first.jobId],
      ),
    );
    assert.equal(files.rows.length, 4);
    assert.deepEqual(
      files.rows.find((f) => f.path.endsWith('Records.json')),
      { path: 'Takeout/Location History/Records.json', status: 'done', records_loaded: 250, detected_format: 'google.location.records' },
    );
    const provenance = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM timeseries.location_points p JOIN imports.files f ON f.file_id = p.import_file_id AND f.user_id = p.user_id
          WHERE f.path = 'Takeout/Location History/Records.json'`,
      ),
    );
    assert.equal(provenance.rows[0]!.n, 250);
  });

  test('importing the same Takeout again adds zero rows and counts them all as duplicates', async () => {
    const hashes = () =>
      t.lake.db.asUser(user, (tx) =>
        tx.query<{ h: string }>(`SELECT md5(string_agg(encode(content_hash, 'hex'), ',' ORDER BY content_hash)) AS h FROM timeseries.location_points`),
      );
    const before = (await hashes()).rows[0]!.h;
    const again = await importAs(user, [zip], 100);
    assert.equal(again.totals.records, 0);
    assert.ok(first.totals.records >= 253); // 250 points, 3 searches, and the other files as documents
    assert.equal(again.totals.duplicates, first.totals.records);
    assert.equal(await countRows(user, 'timeseries.location_points'), 250);
    assert.equal(await countRows(user, 'user_data.items'), 3);
    assert.equal((await hashes()).rows[0]!.h, before);
  });
});

describe('bad input', () => {
  let user: string;
  before(async () => {
    user = await createUser(t.lake, 'badinput');
  });

  test('JSON cut off mid-array keeps every complete point and quarantines the rest with its byte offset', async () => {
    const full = recordsJson(120, 10_000);
    const cut = full.indexOf('"latitudeE7"', full.indexOf(`"timestampMs": "${Date.UTC(2020, 2, 1) + 10_080 * 60_000}"`));
    const input = path.join(dir, 'truncated', 'Records.json');
    await writeFileIn(input, full.slice(0, cut));
    const report = await importAs(user, [input], 25);
    const f = file(report, 'Records.json');
    assert.equal(f.status, 'partial');
    assert.equal(f.records, 80);
    assert.equal(f.quarantined.malformed, 1);
    const elementStart = full.lastIndexOf('{', cut);
    assert.match(f.note ?? '', new RegExp(`Records\\.json: .* at byte ${elementStart}$`));
    assert.equal(report.status, 'partial');
    const q = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ entry: string; category: string; byte_offset: number }>(`SELECT entry, category, byte_offset FROM imports.quarantine WHERE job_id = $1`, [
        report.jobId,
      ]),
    );
    assert.deepEqual(q.rows, [{ entry: 'Records.json', category: 'malformed', byte_offset: elementStart }]);
    // The same file again: no new rows, and the same problem is not recorded twice.
    const again = await importAs(user, [input], 25);
    assert.deepEqual([file(again, 'Records.json').records, file(again, 'Records.json').duplicates], [0, 80]);
    const all = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM imports.quarantine WHERE entry = 'Records.json' AND category = 'malformed'`),
    );
    assert.equal(all.rows[0]!.n, 1);
  });

  test('a truncated zip is refused naming the file, and nothing from it is loaded', async () => {
    const zip = path.join(dir, 'cut.zip');
    await writeYazl(zip, [{ name: 'Takeout/Location History/Records.json', content: Buffer.from(recordsJson(50, 20_000)) }]);
    await truncate(zip, 200);
    const before = await countRows(user, 'timeseries.location_points');
    const report = await importAs(user, [zip]);
    assert.equal(report.status, 'failed');
    assert.equal(report.error?.code, 'ARCHIVE_INVALID');
    assert.match(report.error?.message ?? '', /cut\.zip/);
    assert.equal(await countRows(user, 'timeseries.location_points'), before);
  });

  test('a zip bomb is refused as unsafe while the rest of the archive imports', async () => {
    const zip = path.join(dir, 'bomb.zip');
    await writeYazl(zip, [
      { name: 'Takeout/bomb.json', content: Buffer.alloc(40 * 1024 * 1024) },
      { name: 'Takeout/Location History/Records.json', content: Buffer.from(recordsJson(5, 30_000)) },
    ]);
    const report = await importAs(user, [zip]);
    const bomb = file(report, 'bomb.json');
    assert.equal(bomb.status, 'refused');
    assert.equal(bomb.quarantined.unsafe, 1);
    assert.match(bomb.note ?? '', /ratio/);
    assert.equal(file(report, 'Records.json').records, 5);
  });

  test('a gzip bomb inside a .tgz stops the import while the entry streams, naming the archive', async () => {
    const { gzipSync } = await import('node:zlib');
    const html = Buffer.concat([Buffer.from('<html><body><div class="outer-cell">'), Buffer.alloc(30 * 1024 * 1024, 0x20)]);
    const tgz = path.join(dir, 'bomb.tgz');
    await writeFile(tgz, gzipSync(Buffer.concat([tarFile({ name: 'Takeout/My Activity/Search/MyActivity.html' }, html), TAR_END]), { level: 9 }));
    const report = await importAs(user, [tgz]);
    assert.equal(report.status, 'failed');
    assert.equal(report.error?.code, 'ARCHIVE_UNSAFE');
    assert.match(report.error?.message ?? '', /bomb\.tgz/);
    assert.equal(file(report, 'MyActivity.html').status, 'failed');
  });

  test('an entry named ../../x and an encrypted entry are refused with their names; the rest imports', async () => {
    const zip = path.join(dir, 'evil.zip');
    await writeFile(
      zip,
      buildZip([
        { name: '../../x', content: Buffer.from('owned') },
        { name: 'Takeout/secret.json', content: Buffer.from('{}'), flags: 1 },
        { name: 'Takeout/Location History/Records.json', content: Buffer.from(recordsJson(4, 40_000)) },
      ]),
    );
    const report = await importAs(user, [zip]);
    const traversal = report.files.find((f) => f.path.includes('x') && f.status === 'refused' && f.quarantined.unsafe);
    assert.ok(traversal, JSON.stringify(report.files));
    assert.match(traversal.note ?? '', /\.\./);
    const encrypted = file(report, 'secret.json');
    assert.equal(encrypted.status, 'refused');
    assert.equal(encrypted.quarantined.encrypted, 1);
    assert.match(encrypted.note ?? '', /encrypted entry not supported/);
    assert.equal(file(report, 'Records.json').records, 4);
  });

  test('a symbolic link in a tar is refused; the regular files beside it import', async () => {
    const tar = path.join(dir, 'links.tar');
    await writeFile(
      tar,
      Buffer.concat([
        tarFile({ name: 'Takeout/link.json', type: '2', linkname: '/etc/passwd' }),
        tarFile({ name: 'Takeout/Location History/Records.json' }, Buffer.from(recordsJson(3, 50_000))),
        TAR_END,
      ]),
    );
    const report = await importAs(user, [tar]);
    const link = file(report, 'link.json');
    assert.equal(link.status, 'refused');
    assert.equal(link.quarantined.unsafe, 1);
    assert.equal(file(report, 'Records.json').records, 3);
  });

  test('a PNG named .json is caught by its content: not read as location history, kept, the mismatch noted', async () => {
    const input = path.join(dir, 'png', 'Records.json');
    await writeFileIn(input, PNG);
    const report = await importAs(user, [input]);
    const f = file(report, 'Records.json');
    assert.notEqual(f.format, 'google.location.records');
    assert.equal(f.status, 'done');
    assert.equal(f.quarantined.malformed, undefined);
    assert.match(f.note ?? '', /the content is image\/png but the name says application\/json/);
  });

  test('an empty file and a Records.json with zero points are reported as empty, not as success', async () => {
    const emptyFile = path.join(dir, 'empty', 'Records.json');
    await writeFileIn(emptyFile, '');
    const noPoints = path.join(dir, 'nopoints', 'Records.json');
    await writeFileIn(noPoints, '{ "locations": [ ] }');
    const report = await importAs(user, [emptyFile, noPoints]);
    assert.deepEqual(
      report.files.map((f) => [f.status, f.records, f.note]),
      [
        ['empty', 0, 'empty file'],
        ['empty', 0, 'recognised as google.location.records but holds no records'],
      ],
    );
    assert.equal(report.status, 'partial');
  });

  test('invalid UTF-8 and NUL characters are repaired and counted; the records load', async () => {
    const input = path.join(dir, 'repairs', 'My Activity.json');
    const json = JSON.stringify([searchActivity('nul\u0000here', '2021-06-01T10:00:00.000Z'), searchActivity('bad-utf8-XX', '2021-06-02T10:00:00.000Z')]);
    const bytes = Buffer.from(json);
    const at = bytes.indexOf('XX');
    bytes[at] = 0xff;
    bytes[at + 1] = 0xfe;
    await writeFileIn(input, bytes);
    const report = await importAs(user, [input]);
    const f = file(report, 'My Activity.json');
    assert.equal(f.records, 2);
    assert.equal(f.repairs.nulCharacters, 1);
    assert.ok(f.repairs.invalidUtf8 >= 1, JSON.stringify(f.repairs));
    const titles = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ title: string }>(`SELECT title FROM user_data.items WHERE occurred_at >= '2021-06-01' ORDER BY occurred_at`),
    );
    assert.deepEqual(
      titles.rows.map((r) => r.title),
      ['nulhere', 'bad-utf8-\ufffd\ufffd'],
    );
  });
});

describe('real exports written by others', () => {
  const real = new URL('../../shared/fixtures/real/', import.meta.url).pathname;
  test('import with the counts worked out from the files themselves', async (ctx) => {
    const { existsSync } = await import('node:fs');
    if (!existsSync(real)) return ctx.skip('../shared/fixtures/real is absent (it is not part of the repository)');
    const user = await createUser(t.lake, 'realexports');
    const report = await importAs(user, [real]);
    const expected: Record<string, [string, number]> = {
      'google-location-records/dawarich_records.json': ['google.location.records', 3],
      'google-location-records/dogsheep_Location History.json': ['google.location.records', 2],
      'google-myactivity-json/dogsheep_Maps_My Activity.json': ['google.myactivity.json', 2],
      'google-myactivity-json/dogsheep_Search_My Activity.json': ['google.myactivity.json', 2],
      'google-myactivity-html/purarue_Chrome_MyActivity.html': ['google.myactivity.html', 3],
      'youtube-watch-history/exportube_watch-history.json': ['google.myactivity.json', 4],
      'youtube-watch-history/yutotakano_watch-history-2016_playlistItem.json': ['google.youtube.playlistitem', 3],
    };
    for (const [name, [format, records]] of Object.entries(expected)) {
      const f = file(report, name);
      assert.deepEqual([f.format, f.records, f.status], [format, records, 'done'], name);
    }
    // 9 place visits and 7 activity segments in the 2020 French Semantic Location History file.
    const semantic = await t.lake.db.asUser(user, (tx) =>
      tx.query<{ visits: number; segments: number }>(
        `SELECT (SELECT count(*) FROM user_data.visits v JOIN imports.files f ON f.file_id = v.import_file_id
                  WHERE f.path LIKE '%florianmeuleman_2020_JANUARY.json')::int AS visits,
                (SELECT count(*) FROM user_data.items i JOIN imports.files f ON f.file_id = i.import_file_id
                  WHERE f.path LIKE '%florianmeuleman_2020_JANUARY.json' AND i.kind = 'activity_segment')::int AS segments`,
      ),
    );
    assert.deepEqual(semantic.rows[0], { visits: 9, segments: 7 });
    // Every file of the folder is in the report, recognised or not (the folder grows: counted, not pinned).
    const { readdir } = await import('node:fs/promises');
    const files = (await readdir(real, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile());
    assert.equal(report.files.length, files.length);
    const again = await importAs(user, [real]);
    assert.equal(again.totals.records, 0);
  });
});

async function writeFileIn(file: string, content: string | Buffer): Promise<void> {
  const { mkdir } = await import('node:fs/promises');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
}

describe('database faults', () => {
  test('connections killed mid-import (pg_terminate_backend) are retried; the totals are exact', { skip: !SERVER_URL && 'PGlite runs inside this process: there is no connection to cut' }, async () => {
    const user = await createUser(t.lake, 'faults');
    const input = path.join(dir, 'faults', 'Records.json');
    await writeFileIn(input, recordsJson(40_000, 100_000));
    let killed = 0;
    const killer = setInterval(() => {
      void t.lake.db
        .query<{ n: number }>(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'datapunk-lake' AND pid <> pg_backend_pid()
              AND state IN ('active', 'idle in transaction') AND query NOT LIKE '%pg_terminate_backend%'`,
        )
        .then((r) => (killed += r.rows[0]?.n ?? 0), () => {});
      // A few cuts prove the retries; cutting every attempt of one batch would exhaust them.
      if (killed >= 4) clearInterval(killer);
    }, 25);
    let report: ImportReport;
    try {
      report = await importAs(user, [input], 500);
    } finally {
      clearInterval(killer);
    }
    assert.ok(killed > 0, 'no connection was terminated during the import');
    assert.equal(report.status, 'done', JSON.stringify(report.error));
    assert.equal(await countRows(user, 'timeseries.location_points'), 40_000);
    const f = file(report, 'Records.json');
    assert.equal(f.records + f.duplicates, 40_000);
  });
});
