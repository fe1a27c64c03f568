// What the lake writes is its OS user's alone. A real `lake serve` child (bin/lake.js sets umask
// 077 for every command) takes a tus upload of a Takeout with a photo, imports it as a job and
// makes a thumbnail: the upload, its .json, the import's hard link, the thumbnail, the blob and
// every directory on their way have no group or other permission bits, though this test process
// runs with the usual umask 022. Thumbnails also set their own modes (0600 files, 0700
// directories), whatever the umask, and close a directory that older versions left open. Runs on
// PGlite, or on the server with LAKE_TEST_DATABASE_URL.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { loadConfig } from '../src/config/config.js';
import { BlobStore } from '../src/store/blob-store.js';
import { Thumbnails, thumbnailsDirectory } from '../src/store/thumbnails.js';
import type { TestServer } from './support/api.js';
import { writeYazl } from './support/archives.js';
import { CLI_TIMEOUT_MS, cliTestLake, type CliTestLake } from './support/lake-cli.js';
import { uploadWhole } from './support/tus.js';

const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;
const PHOTOS = 'Takeout/Google Photos/Photos from 2023';

let cli: CliTestLake;

before(async () => {
  process.umask(0o022); // the usual umask: anything private below is the lake's doing
  cli = await cliTestLake('lake-modes-');
});
after(() => cli?.dispose());

async function lake(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [LAKE, ...args], { env: cli.env, timeout: CLI_TIMEOUT_MS });
  return stdout;
}

/** `file` and every directory from it up to `root` (inclusive), with modes anyone else may use. */
async function openToOthers(root: string, file: string): Promise<string[]> {
  const open: string[] = [];
  for (let at = file; ; at = path.dirname(at)) {
    const mode = (await stat(at)).mode & 0o777;
    if (mode & 0o077) open.push(`${path.relative(root, at) || '.'} ${mode.toString(8).padStart(4, '0')}`);
    if (at === root || at === path.dirname(at)) break;
  }
  return open;
}

/** Every file and directory under `dir`, recursively. */
async function walk(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map((name) => path.join(dir, name));
}

test('a lake serve child: upload, its .json, the import link, the blob and the thumbnail are private', async () => {
  await lake('users', 'create', 'alice');
  const { key } = JSON.parse(await lake('keys', 'create', '--user', 'alice', '--name', 'modes', '--json')) as { key: string };

  const server = spawn(process.execPath, [LAKE, 'serve', '--port', '0'], { env: cli.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  server.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      server.stdout.on('data', (chunk) => {
        stdout += chunk;
        const match = /serving (http:\/\/\S+)/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      void exited.then((code) => reject(new Error(`lake serve exited with ${code}: ${stderr}`)));
    });
    const auth = { authorization: `Bearer ${key}` };

    const photo = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#3070b0' } }).jpeg({ quality: 90 }).toBuffer();
    const sha256 = createHash('sha256').update(photo).digest('hex');
    const taken = Date.parse('2023-06-01T10:00:00Z') / 1000;
    const zip = path.join(cli.dir, 'takeout-20240101T000000Z-001.zip');
    await writeYazl(zip, [
      { name: `${PHOTOS}/IMG_0001.jpg`, content: photo },
      { name: `${PHOTOS}/IMG_0001.jpg.supplemental-metadata.json`, content: Buffer.from(JSON.stringify({ title: 'IMG_0001.jpg', photoTakenTime: { timestamp: String(taken) } })) },
    ]);
    const uploadId = await uploadWhole({ url } as TestServer, key, zip, path.basename(zip));

    const created = await fetch(`${url}/v1/jobs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ upload_id: uploadId }) });
    assert.equal(created.status, 201, await created.clone().text());
    const { job_id: jobId } = await created.json() as { job_id: string };
    let job: { status: string } = { status: 'queued' };
    for (const deadline = Date.now() + CLI_TIMEOUT_MS; !['done', 'failed', 'cancelled'].includes(job.status) && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = await (await fetch(`${url}/v1/jobs/${jobId}`, { headers: auth })).json() as { status: string };
    }
    assert.equal(job.status, 'done', JSON.stringify(job));

    const thumbnail = await fetch(`${url}/v1/media/${sha256}/thumbnail?size=256`, { headers: auth });
    assert.equal(thumbnail.status, 200);
    assert.equal((await sharp(Buffer.from(await thumbnail.arrayBuffer())).metadata()).width, 256);

    const config = loadConfig(cli.env);
    const uploads = config.uploadDir;
    const files = {
      upload: path.join(uploads, uploadId),
      info: path.join(uploads, `${uploadId}.json`),
      importLink: path.join(uploads, 'imports', uploadId, path.basename(zip)),
      thumbnail: new Thumbnails(thumbnailsDirectory(config.tiers.blobs), new BlobStore(config.tiers.blobs)).pathFor(sha256, 256, 'jpeg'),
    };
    for (const [what, file] of Object.entries(files)) {
      const root = what === 'thumbnail' ? thumbnailsDirectory(config.tiers.blobs) : uploads;
      assert.deepEqual(await openToOthers(root, file), [], `${what}: ${file}`);
    }
    assert.equal((await stat(files.importLink)).ino, (await stat(files.upload)).ino, 'the import reads a hard link of the upload');
    // Everything the server made under the uploads and thumbnails directories, and the blobs.
    for (const root of [uploads, thumbnailsDirectory(config.tiers.blobs), config.tiers.blobs]) {
      const open = [];
      for (const entry of [root, ...await walk(root)]) {
        const mode = (await stat(entry)).mode & 0o777;
        if (mode & 0o077) open.push(`${entry} ${mode.toString(8)}`);
      }
      assert.deepEqual(open, [], root);
    }
  } finally {
    server.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
});

test('thumbnails are 0600 in 0700 directories whatever the umask, and close a directory left open', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lake-thumbnail-modes-'));
  try {
    const blobs = new BlobStore(path.join(root, 'blobs'));
    const directory = path.join(root, 'thumbnails');
    // A cache from before: open directories and a readable thumbnail.
    await mkdir(path.join(directory, 'ab'), { recursive: true, mode: 0o755 });
    await writeFile(path.join(directory, 'ab', 'old.jpg'), 'x', { mode: 0o644 });
    await chmod(directory, 0o755);
    const photo = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#208040' } }).jpeg().toBuffer();
    const { sha256 } = await blobs.put(photo);
    const thumbnails = new Thumbnails(directory, blobs);
    const previous = process.umask(0o000);
    try {
      await thumbnails.get(sha256, 256, 'webp');
    } finally {
      process.umask(previous);
    }
    const file = thumbnails.pathFor(sha256, 256, 'webp');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(path.dirname(file))).mode & 0o777, 0o700);
    assert.equal((await stat(directory)).mode & 0o777, 0o700, 'the directory older versions left open is closed');
    assert.equal((await readdir(path.dirname(file))).filter((name) => name.endsWith('.tmp')).length, 0);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
