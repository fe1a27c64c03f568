// A full disk ends `lake import` and `lake doctor` within seconds with DISK_FULL (exit 7) naming
// the directory, loses nothing that was committed, and the same command completes once there is
// room, with the rows an unhindered import gives. The data directory is a real small file system
// (a tmpfs, mounted as root) filled with a real file; on the server backend it holds the blobs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config/config.js';
import { DISK_RESERVE_BYTES, freeBytes, MIB } from '../src/disk-space.js';
import { createApiKey } from '../src/query/api-keys.js';
import { createUser } from '../src/query/users.js';
import { Lake } from '../src/lake.js';
import { get, startTestServer } from './support/api.js';
import { CLI_TIMEOUT_MS, cliTestLake, lakeImport, type CliTestLake } from './support/lake-cli.js';
import { writeRecordsJson } from './support/exports.js';
import { BACKEND, openTestLake } from './support/lake.js';
import { create, head, patch, sha256 } from './support/tus.js';

const run = promisify(execFile);
const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;
const POINTS = 20_000;
const BLOB_FILES = 48;
/** Room left above the reserve before the import: in all, less than the export's files alone (48 MiB). */
const ROOM_BYTES = 12 * MIB;

let cli: CliTestLake;
let dir: string;
let mountPoint: string;
let mounted = false;
let cannotMount: string | null = null;
let exportDir: string;
let env: Record<string, string>;

before(async () => {
  cli = await cliTestLake('lake-disk-full-', {
    dataDir: (folder) => path.join(folder, 'disk', 'data'),
    // The data directory is on the small disk, mounted before the lake is made there.
    prepare: async (folder, backend) => {
      mountPoint = path.join(folder, 'disk');
      await mkdir(mountPoint);
      // The embedded database needs about 100 MiB to be created and migrated; blobs alone need less.
      const size = backend === 'server' ? '128m' : '200m';
      try {
        await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mountPoint]);
        mounted = true;
      } catch (error) {
        cannotMount = `cannot mount a small tmpfs here (needs root): ${(error as Error).message.split('\n')[0]}`;
      }
    },
  });
  ({ dir, env } = cli);
  if (cannotMount) return;
  // An export whose rows go to the database and whose files go to the blob store.
  exportDir = path.join(dir, 'export');
  await mkdir(exportDir);
  await writeRecordsJson(path.join(exportDir, 'Records.json'), POINTS, { year: 2019, latE7: 520000000, lonE7: 133000000 });
  for (let i = 0; i < BLOB_FILES; i++) await writeFile(path.join(exportDir, `file-${String(i).padStart(2, '0')}.bin`), randomBytes(MIB));
  // The lake is opened (its data directory made and recorded) while there is room.
  const lake = await Lake.open(loadConfig(env));
  await lake.close();
});

after(async () => {
  if (mounted) await run('umount', ['-l', mountPoint]).catch(() => {});
  await cli?.dispose();
});

/** Fill the disk until `room` bytes are free; returns the filler file. */
async function fillDisk(room: number, disk = mountPoint): Promise<string> {
  const filler = path.join(disk, 'filler');
  const free = freeBytes(disk)!;
  assert.ok(free > room, `the disk has ${free} bytes free, not more than ${room}`);
  await run('fallocate', ['-l', String(free - room), filler]);
  return filler;
}

interface ImportJson {
  status: string;
  error: { code: string; message: string } | null;
  files: { path: string; status: string; resumedFrom: number }[];
}

test('an import into a too-small data directory stops within seconds with DISK_FULL, then the same command completes with the rows of an unhindered import', async (t) => {
  if (cannotMount) return t.skip(cannotMount);
  const filler = await fillDisk(DISK_RESERVE_BYTES + ROOM_BYTES);
  const started = performance.now();
  const stopped = await lakeImport({ env, inputs: [exportDir], user: 'hindered', batchSize: 1000 }).finally(() => rm(filler));
  const seconds = (performance.now() - started) / 1000;
  const report = JSON.parse(stopped.stdout) as ImportJson;
  assert.equal(stopped.code, 7, `exit ${stopped.code}: ${stopped.stderr.slice(-3).join('\n')}`);
  assert.equal(report.error?.code, 'DISK_FULL');
  assert.match(report.error!.message, new RegExp(`no space left for the (embedded database|blob store) in ${mountPoint}/data/\\S+: [\\d.]+ (KiB|MiB) free, 32\\.0 MiB needed`));
  assert.ok(stopped.stderr.some((line) => line.endsWith('[DISK_FULL]')), 'one error line on stderr with the code');
  // Start-up (tsx, PGlite) included, on a loaded machine: the point is that it ends, not how fast.
  assert.ok(seconds < 90, `the import took ${seconds.toFixed(1)} s to stop`);
  t.diagnostic(`stopped with DISK_FULL after ${seconds.toFixed(1)} s: ${report.error!.message}`);

  const resumed = await lakeImport({ env, inputs: [exportDir], user: 'hindered', batchSize: 1000 });
  assert.equal(resumed.code, 0, `exit ${resumed.code}: ${resumed.stderr.slice(-3).join('\n')}`);
  const resumedReport = JSON.parse(resumed.stdout) as ImportJson;
  assert.equal(resumedReport.status, 'done');
  assert.equal(resumedReport.files.length, BLOB_FILES + 1);

  const whole = await lakeImport({ env, inputs: [exportDir], user: 'whole', batchSize: 1000 });
  assert.equal(whole.code, 0, `exit ${whole.code}: ${whole.stderr.slice(-3).join('\n')}`);

  const lake = await Lake.open(loadConfig(env), { migrate: false });
  try {
    const rows = await lake.db.query<{ name: string; points: number; point_hashes: string; documents: number; document_hashes: string; blobs: number; loading: number }>(
      `SELECT u.name,
              (SELECT count(*) FROM timeseries.location_points p WHERE p.user_id = u.user_id)::int AS points,
              (SELECT md5(string_agg(encode(p.content_hash, 'hex'), ',' ORDER BY p.content_hash)) FROM timeseries.location_points p WHERE p.user_id = u.user_id) AS point_hashes,
              (SELECT count(*) FROM user_data.documents d WHERE d.user_id = u.user_id)::int AS documents,
              (SELECT md5(string_agg(encode(d.sha256, 'hex'), ',' ORDER BY d.sha256)) FROM user_data.documents d WHERE d.user_id = u.user_id) AS document_hashes,
              (SELECT count(*) FROM user_data.blob_refs b WHERE b.user_id = u.user_id)::int AS blobs,
              (SELECT count(*) FROM imports.files f WHERE f.user_id = u.user_id AND f.status = 'loading')::int AS loading
         FROM user_data.users u WHERE u.name IN ('hindered', 'whole') ORDER BY u.name`,
    );
    const [hindered, unhindered] = rows.rows;
    assert.equal(unhindered!.points, POINTS);
    assert.equal(unhindered!.documents, BLOB_FILES);
    assert.deepEqual({ ...hindered, name: 'whole' }, unhindered);
    assert.equal(hindered!.loading, 0);
    for await (const blob of lake.blobs.list()) assert.equal(blob.damaged, undefined, `blob ${blob.sha256} is damaged`);
  } finally {
    await lake.close();
  }
});

test('lake doctor on a full data directory answers within seconds, also when the database needs recovery', async (t) => {
  if (cannotMount) return t.skip(cannotMount);
  // A killed import: the embedded database must replay its WAL at the next open, which writes.
  const killed = await lakeImport({ env, inputs: [exportDir], user: 'killed', batchSize: 1000, killAfterRecords: 1 });
  assert.equal(killed.signal, 'SIGKILL');
  const filler = await fillDisk(MIB);
  try {
    const started = performance.now();
    const doctor = await run(process.execPath, [LAKE, 'doctor', '--json'], { env, timeout: CLI_TIMEOUT_MS }).then(
      (done) => ({ code: 0, stdout: done.stdout, stderr: done.stderr }),
      (error: { code: number; stdout: string; stderr: string; killed?: boolean }) => {
        assert.ok(!error.killed, 'lake doctor hung');
        return error;
      },
    );
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`lake doctor answered in ${seconds.toFixed(1)} s with exit ${doctor.code}`);
    if (BACKEND === 'server') {
      // The database is elsewhere: doctor reports, and says the data directory has no room.
      assert.equal(doctor.code, 1, doctor.stderr);
      const report = JSON.parse(doctor.stdout) as { healthy: boolean; tiers: Record<string, { freeBytes: number | null }> };
      assert.equal(report.healthy, false);
      assert.ok(report.tiers.blobs!.freeBytes! < DISK_RESERVE_BYTES);
    } else {
      assert.equal(doctor.code, 7, doctor.stderr);
      assert.match(doctor.stderr, new RegExp(`lake: no space left for the embedded database in ${mountPoint}/data/hot/pglite: .* free, 32\\.0 MiB needed.*\\[DISK_FULL\\]`));
    }
    assert.ok(seconds < 60, `lake doctor took ${seconds.toFixed(1)} s`);
  } finally {
    await rm(filler);
  }
});

test('a tus PATCH on a full disk: 507 DISK_FULL, the offset counts only bytes on disk, the upload stays unfinished and completes once there is room', async (t) => {
  if (cannotMount) return t.skip(cannotMount);
  const uploadDisk = path.join(dir, 'uploads');
  await mkdir(uploadDisk);
  await run('mount', ['-t', 'tmpfs', '-o', 'size=128m', 'tmpfs', uploadDisk]);
  const lake = await openTestLake({ LAKE_UPLOAD_DIR: uploadDisk });
  const server = await startTestServer(lake.lake);
  try {
    await createUser(lake.lake.db, 'uploader');
    const { key } = await createApiKey(lake.lake.db, 'uploader');
    const content = randomBytes(48 * MIB);
    const upload = await create(server, key, content.length, { filename: 'takeout.zip', sha256: sha256(content) });
    assert.equal(upload.status, 201, upload.body);
    const filler = await fillDisk(DISK_RESERVE_BYTES + 8 * MIB, uploadDisk);

    // Declared length past the room: refused before a byte is written.
    const refused = await patch(server, key, upload.id!, 0, content);
    assert.equal(refused.status, 507, refused.body);
    assert.equal(JSON.parse(refused.body).error.code, 'DISK_FULL');
    assert.match(JSON.parse(refused.body).error.message, new RegExp(`no space left for uploads in ${uploadDisk}: [\\d.]+ MiB free, 80\\.0 MiB needed`));
    assert.equal((await head(server, key, upload.id!)).offset, 0);

    // A streamed body (chunked, no Content-Length) is refused as well before a byte is written: the
    // room needed is what the upload can still receive (48 MiB) and the reserve. The client sends
    // 4 MiB and waits for the answer (see below for why it does not send more).
    let refusedChunked = () => {};
    const chunkedAnswer = new Promise<void>((resolve) => (refusedChunked = resolve));
    const chunked = await patch(server, key, upload.id!, 0, Readable.from((async function* () {
      for (let at = 0; at < 4 * MIB; at += MIB) yield content.subarray(at, at + MIB);
      await Promise.race([chunkedAnswer, new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
    })())).finally(refusedChunked);
    assert.equal(chunked.status, 507, chunked.body);
    assert.equal(JSON.parse(chunked.body).error.code, 'DISK_FULL');
    assert.match(JSON.parse(chunked.body).error.message, new RegExp(`no space left for uploads in ${uploadDisk}: [\\d.]+ MiB free, 80\\.0 MiB needed`));
    assert.equal((await head(server, key, upload.id!)).offset, 0);
    assert.equal((await readFile(path.join(uploadDisk, upload.id!))).length, 0);

    // Another writer fills the disk while a streamed body is written: the body runs into the full
    // disk. The disk has room when the PATCH starts; once 8 MiB are sent, it is filled to 2 MiB
    // free. The client stops at 12 MiB, a few MiB past the room, and waits for the answer: the
    // server closes the connection after its 507, and a write still pending then would fail the
    // request before the answer is read (the race every HTTP client has with an early answer; a
    // tus client learns the offset by HEAD). Sending much more past the room brings that race back.
    await rm(filler);
    let answered = () => {};
    const answer = new Promise<void>((resolve) => (answered = resolve));
    const cut = await patch(server, key, upload.id!, 0, Readable.from((async function* () {
      for (let at = 0; at < 12 * MIB; at += MIB) {
        if (at === 8 * MIB) await fillDisk(2 * MIB, uploadDisk);
        yield content.subarray(at, at + MIB);
      }
      await Promise.race([answer, new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
    })())).finally(answered);
    assert.equal(cut.status, 507, cut.body);
    assert.equal(JSON.parse(cut.body).error.code, 'DISK_FULL');
    const offset = (await head(server, key, upload.id!)).offset!;
    assert.ok(offset > 0 && offset < content.length, `offset ${offset}`);
    const stored = await readFile(path.join(uploadDisk, upload.id!));
    assert.equal(stored.length, offset);
    assert.ok(stored.equals(content.subarray(0, offset)), 'the stored bytes are the first bytes sent');
    assert.equal((await get(server, `/v1/uploads/${upload.id}`, key)).body.status, 'uploading');

    await rm(filler);
    const rest = await patch(server, key, upload.id!, offset, content.subarray(offset));
    assert.equal(rest.status, 204, rest.body);
    assert.equal((await get(server, `/v1/uploads/${upload.id}`, key)).body.status, 'verified');
  } finally {
    await server.close();
    await lake.dispose();
    await run('umount', ['-l', uploadDisk]).catch(() => {});
  }
});
