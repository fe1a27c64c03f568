// The content-addressed blob store: round trips through every tier, atomic and concurrent puts,
// hash verification on read (corruption is reported, naming the blob), bounded memory on a large
// stream, a process killed mid-put; and on the database (both backends): references under
// row-level security and the garbage collector.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { LakeError } from '../src/errors.js';
import { addRef, collectUnreferenced, listRefs, removeRef } from '../src/store/blob-refs.js';
import { BLOB_TIERS, BlobStore, type BlobTier } from '../src/store/blob-store.js';
import { CLI_TIMEOUT_MS, cliTestLake, type CliTestLake } from './support/lake-cli.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';

const CHILD = new URL('./support/blob-store-child.ts', import.meta.url).pathname;
const BLOBS_CLI = new URL('./support/blobs-cli.ts', import.meta.url).pathname;
const MIB = 1 << 20;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

async function readAll(store: BlobStore, hash: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.open(hash)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Every file under `dir`, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

const isLakeError = (code: string, pattern?: RegExp) => (error: unknown) =>
  error instanceof LakeError && error.code === code && (!pattern || pattern.test(error.message));

/** Text that compresses well, so compressed tiers are seen to compress. */
const compressible = Buffer.from('{"lat":52.52,"lon":13.40,"at":"2024-03-10T12:00:00Z"}\n'.repeat(40_000));

let root: string;
let store: BlobStore;
before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lake-blobs-'));
  store = new BlobStore(root);
});
after(() => rm(root, { recursive: true, force: true }));

describe('put, open, stat', () => {
  test('every tier: content is stored under <tier>/ab/cd/<sha256> and reads back byte for byte', async () => {
    const random = randomBytes(5 * MIB);
    for (const tier of BLOB_TIERS) {
      const content = Buffer.concat([random, Buffer.from(tier)]);
      const put = await store.put(content, { tier });
      const hash = sha256(content);
      assert.deepEqual(put, { sha256: hash, size: content.length, tier, created: true });
      const file = path.join(root, tier, hash.slice(0, 2), hash.slice(2, 4), hash);
      assert.equal(store.pathFor(hash, tier), file);
      assert.ok((await stat(file)).isFile());
      assert.ok(await store.has(hash));
      assert.ok((await readAll(store, hash)).equals(content), tier);
      const info = await store.stat(hash);
      assert.equal(info?.tier, tier);
      assert.equal(info?.size, content.length);
      // Random bytes do not compress: a compressed tier adds only its framing.
      assert.ok(info!.storedSize >= content.length && info!.storedSize < content.length + 4096, `${tier}: ${info!.storedSize}`);
    }
  });

  test('warm and cold compress; hot keeps the bytes as they are', async () => {
    const stored: Record<string, number> = {};
    for (const tier of BLOB_TIERS) {
      const content = Buffer.concat([compressible, Buffer.from(tier)]);
      const put = await store.put(content, { tier });
      stored[tier] = (await store.stat(put.sha256))!.storedSize;
      assert.ok((await readAll(store, put.sha256)).equals(content));
    }
    assert.equal(stored.hot, compressible.length + 3);
    assert.ok(stored.warm! < compressible.length / 4, `warm ${stored.warm}`);
    assert.ok(stored.cold! < stored.warm!, `cold ${stored.cold} vs warm ${stored.warm}`);
  });

  test('the empty blob, in every tier', async () => {
    const emptyHash = sha256(Buffer.alloc(0));
    for (const tier of BLOB_TIERS) {
      const tierStore = new BlobStore(path.join(root, `empty-${tier}`));
      const put = await tierStore.put(Buffer.alloc(0), { tier });
      assert.deepEqual(put, { sha256: emptyHash, size: 0, tier, created: true });
      assert.equal((await readAll(tierStore, emptyHash)).length, 0);
      assert.equal((await tierStore.stat(emptyHash))?.size, 0);
    }
  });

  test('a stream is hashed as it is written; chunk boundaries do not matter', async () => {
    const content = randomBytes(3 * MIB + 12345);
    const pieces = [1, 7, MIB - 3, 2 * MIB, 100_000].reduce<Buffer[]>((acc, size) => {
      const offset = acc.reduce((n, b) => n + b.length, 0);
      acc.push(content.subarray(offset, offset + size));
      return acc;
    }, []);
    pieces.push(content.subarray(pieces.reduce((n, b) => n + b.length, 0)));
    const put = await store.put(Readable.from(pieces), { tier: 'cold' });
    assert.equal(put.sha256, sha256(content));
    assert.ok((await readAll(store, put.sha256)).equals(content));
  });

  test('the same content put again is stored once and keeps its tier', async () => {
    const content = randomBytes(100_000);
    const first = await store.put(content, { tier: 'warm' });
    const second = await store.put(Readable.from([content]), { tier: 'hot' });
    assert.deepEqual(second, { ...first, created: false });
    assert.equal(await store.has(first.sha256), true);
    assert.equal((await store.stat(first.sha256))?.tier, 'warm');
    assert.equal(await stat(store.pathFor(first.sha256, 'hot')).catch(() => null), null);
  });

  test('concurrent puts of the same content: one blob, no temporary file left', async () => {
    const isolated = new BlobStore(path.join(root, 'concurrent'));
    const content = randomBytes(2 * MIB);
    const tiers: BlobTier[] = ['hot', 'hot', 'hot', 'cold', 'cold', 'warm', 'hot', 'cold'];
    const results = await Promise.all(tiers.map((tier) => isolated.put(Readable.from([content.subarray(0, MIB), content.subarray(MIB)]), { tier })));
    assert.ok(results.every((r) => r.sha256 === sha256(content) && r.size === content.length));
    assert.ok(results.some((r) => r.created));
    const files = await filesUnder(isolated.root);
    assert.ok(files.length >= 1 && files.every((f) => f.endsWith(sha256(content))), files.join(', '));
    assert.ok((await readAll(isolated, sha256(content))).equals(content));
  });

  test('a source that fails mid-way stores nothing and leaves no temporary file', async () => {
    const isolated = new BlobStore(path.join(root, 'failing'));
    const failing = new Readable({
      read() {
        this.push(randomBytes(MIB));
        this.destroy(new Error('network gone'));
      },
    });
    await assert.rejects(isolated.put(failing, { tier: 'cold' }), /network gone/);
    assert.deepEqual(await filesUnder(isolated.root), []);
  });

  test('a blob that is not there: has false, stat null, open BLOB_NOT_FOUND; a malformed hash: USAGE', async () => {
    const missing = 'ab'.repeat(32);
    assert.equal(await store.has(missing), false);
    assert.equal(await store.stat(missing), null);
    await assert.rejects(store.open(missing), isLakeError('BLOB_NOT_FOUND', new RegExp(missing)));
    await assert.rejects(store.move(missing, 'cold'), isLakeError('BLOB_NOT_FOUND'));
    await assert.rejects(store.open('../../etc/passwd'), isLakeError('USAGE'));
    await assert.rejects(store.open('AB'.repeat(32)), isLakeError('USAGE'));
  });
});

describe('move between tiers', () => {
  test('hot -> cold -> warm -> hot reads byte for byte (5 MB random and the empty blob), one copy at a time, age kept', async () => {
    const isolated = new BlobStore(path.join(root, 'moves'));
    for (const content of [randomBytes(5 * MIB), Buffer.alloc(0)]) {
      const { sha256: hash } = await isolated.put(content);
      const storedAt = new Date('2024-01-02T03:04:05Z');
      await utimes(isolated.pathFor(hash, 'hot'), storedAt, storedAt);
      for (const tier of ['cold', 'warm', 'hot', 'cold', 'hot'] as const) {
        const moved = await isolated.move(hash, tier);
        assert.equal(moved.tier, tier);
        assert.equal(moved.size, content.length);
        assert.equal(moved.storedAt.getTime(), storedAt.getTime(), 'a move keeps the stored time');
        assert.ok((await readAll(isolated, hash)).equals(content), `${content.length} bytes after the move to ${tier}`);
        const copies = (await filesUnder(isolated.root)).filter((f) => f.endsWith(hash));
        assert.deepEqual(copies, [path.relative(isolated.root, isolated.pathFor(hash, tier))]);
      }
    }
    assert.deepEqual((await filesUnder(path.join(isolated.root, 'tmp'))), []);
  });

  test('moving to the tier it is in changes nothing', async () => {
    const { sha256: hash } = await store.put(randomBytes(1000), { tier: 'warm' });
    const before = await stat(store.pathFor(hash, 'warm'));
    assert.equal((await store.move(hash, 'warm')).tier, 'warm');
    assert.equal((await stat(store.pathFor(hash, 'warm'))).ino, before.ino);
  });

  test('a corrupt blob is not moved: the move fails with BLOB_CORRUPT and the original stays', async () => {
    const isolated = new BlobStore(path.join(root, 'corrupt-move'));
    const { sha256: hash } = await isolated.put(randomBytes(300_000), { tier: 'hot' });
    await flipByte(isolated.pathFor(hash, 'hot'), 150_000);
    await assert.rejects(isolated.move(hash, 'cold'), isLakeError('BLOB_CORRUPT', new RegExp(hash)));
    assert.deepEqual(await filesUnder(isolated.root), [path.relative(isolated.root, isolated.pathFor(hash, 'hot'))]);
  });
});

async function flipByte(file: string, offset: number): Promise<void> {
  const bytes = await readFile(file);
  bytes[offset] = bytes[offset]! ^ 0xff;
  await writeFile(file, bytes);
}

describe('corruption is found when reading', () => {
  for (const tier of BLOB_TIERS) {
    test(`${tier}: a flipped byte fails the read with BLOB_CORRUPT naming the hash`, async () => {
      const isolated = new BlobStore(path.join(root, `corrupt-${tier}`));
      // Compressible, so a flipped byte in warm and cold lands inside compressed data.
      const { sha256: hash } = await isolated.put(Buffer.concat([compressible, randomBytes(MIB)]), { tier });
      const file = isolated.pathFor(hash, tier);
      await flipByte(file, Math.floor((await stat(file)).size / 3));
      await assert.rejects(readAll(isolated, hash), isLakeError('BLOB_CORRUPT', new RegExp(`blob ${hash} \\(${tier}, .*\\) is corrupt`)));
    });
  }

  test('a truncated compressed blob fails with BLOB_CORRUPT', async () => {
    const isolated = new BlobStore(path.join(root, 'truncated'));
    const { sha256: hash } = await isolated.put(randomBytes(2 * MIB + 10), { tier: 'cold' });
    const file = isolated.pathFor(hash, 'cold');
    const bytes = await readFile(file);
    await writeFile(file, bytes.subarray(0, bytes.length - 100));
    await assert.rejects(readAll(isolated, hash), isLakeError('BLOB_CORRUPT', /ends inside the frame/));
  });

  test('a hot blob that lost its tail fails with BLOB_CORRUPT: the hash does not match', async () => {
    const isolated = new BlobStore(path.join(root, 'truncated-hot'));
    const { sha256: hash } = await isolated.put(randomBytes(10_000));
    const file = isolated.pathFor(hash, 'hot');
    await writeFile(file, (await readFile(file)).subarray(0, 9_999));
    await assert.rejects(readAll(isolated, hash), isLakeError('BLOB_CORRUPT', /hashes to/));
  });

  test('a damaged header: stat and open fail with BLOB_CORRUPT', async () => {
    const isolated = new BlobStore(path.join(root, 'header'));
    const { sha256: hash } = await isolated.put(randomBytes(1000), { tier: 'warm' });
    await flipByte(isolated.pathFor(hash, 'warm'), 9);
    await assert.rejects(isolated.stat(hash), isLakeError('BLOB_CORRUPT', /no blob header/));
    await assert.rejects(readAll(isolated, hash), isLakeError('BLOB_CORRUPT', /no blob header/));
  });

  test('a damaged copy is still listed and counted, so one bad file stops neither stats nor the collector', async () => {
    const isolated = new BlobStore(path.join(root, 'listing'));
    const good = await isolated.put(randomBytes(1000), { tier: 'cold' });
    const bad = await isolated.put(randomBytes(2000), { tier: 'cold' });
    await flipByte(isolated.pathFor(bad.sha256, 'cold'), 0);
    const listed = [];
    for await (const blob of isolated.list()) listed.push(blob);
    assert.deepEqual(
      listed.map((b) => [b.sha256, b.size, b.damaged === undefined ? 'readable' : 'damaged']).sort(),
      [[good.sha256, 1000, 'readable'], [bad.sha256, null, 'damaged']].sort(),
    );
    const summary = await isolated.summarize();
    assert.equal(summary.damaged, 1);
    assert.deepEqual(summary.tiers.cold.blobs, 2);
    assert.equal(summary.tiers.cold.bytes, 1000);
  });
});

describe('in a process of its own', () => {
  test('a 200 MB stream through cold and warm, with a 64 MB heap: memory stays bounded', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lake-blobs-memory-'));
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--max-old-space-size=64', '--import', 'tsx', CHILD, 'memory', dir, '200'],
        { maxBuffer: MIB },
      );
      const result = JSON.parse(stdout) as { sha256: string; maxRssMiB: number };
      // Node with tsx starts at about 75 MiB; holding the blob would add 200 MiB or more.
      assert.ok(result.maxRssMiB < 200, `peak RSS ${result.maxRssMiB} MiB`);
      const files = await filesUnder(dir);
      assert.deepEqual(files, [path.join('warm', result.sha256.slice(0, 2), result.sha256.slice(2, 4), result.sha256)]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a process killed mid-put leaves no blob under a final name, only a temporary file that the collector removes', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lake-blobs-crash-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, 'crash', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (data: Buffer) => {
          if (data.toString().includes('writing')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`child exited (${code}) before writing`)));
      });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      const files = await filesUnder(dir);
      assert.equal(files.length, 1, files.join(', '));
      assert.match(files[0]!, /^tmp\/[0-9a-f-]+\.part$/);
      assert.ok((await stat(path.join(dir, files[0]!))).size > 0, 'the put had written bytes');
      const crashed = new BlobStore(dir);
      assert.equal((await crashed.summarize()).total.blobs, 0);
      // The collector spares recent temporary files (a put may be running) and removes old ones.
      const old = new Date(Date.now() - 2 * 86_400_000);
      assert.equal((await crashed.removeStaleTemporaryFiles(old)).files, 0);
      assert.equal((await crashed.removeStaleTemporaryFiles(new Date(Date.now() + 1000))).files, 1);
      assert.deepEqual(await filesUnder(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('references and garbage collection (database)', () => {
  let t: TestLake;
  let gcStore: BlobStore;
  let alice: string;
  let bob: string;
  const DAY = 86_400_000;

  before(async () => {
    t = await openTestLake();
    gcStore = new BlobStore(t.config.tiers.blobs);
    alice = await createUser(t.lake, 'alice');
    bob = await createUser(t.lake, 'bob');
  });
  after(() => t?.dispose());

  /** Put content and date its stored time back by `days`. */
  async function storedDaysAgo(content: Buffer, days: number, tier: BlobTier = 'hot'): Promise<string> {
    const { sha256: hash } = await gcStore.put(content, { tier });
    const when = new Date(Date.now() - days * DAY);
    await utimes(gcStore.pathFor(hash, tier), when, when);
    return hash;
  }

  test('a reference belongs to its user: others do not see it, and the same file twice is one reference', async () => {
    const hash = await storedDaysAgo(Buffer.from('shared photo'), 0);
    const ref = { sha256: hash, sizeBytes: 12, mimeType: 'image/jpeg', originalName: 'Takeout/Photos/IMG_1.jpg', source: 'google.photos' };
    assert.equal(await t.lake.db.asUser(alice, (tx) => addRef(tx, ref)), true);
    assert.equal(await t.lake.db.asUser(alice, (tx) => addRef(tx, ref)), false, 'the same file again adds nothing');
    assert.equal(await t.lake.db.asUser(bob, (tx) => addRef(tx, { ...ref, originalName: 'bob.jpg' })), true);
    const aliceRefs = await t.lake.db.asUser(alice, (tx) => listRefs(tx));
    assert.deepEqual(
      aliceRefs.map((r) => ({ ...r, createdAt: r.createdAt instanceof Date })),
      [{ ...ref, importFileId: null, createdAt: true }],
    );
    const bobRefs = await t.lake.db.asUser(bob, (tx) => listRefs(tx, { sha256: hash }));
    assert.deepEqual(bobRefs.map((r) => r.originalName), ['bob.jpg']);
    assert.deepEqual(await t.lake.db.asUser(null, (tx) => listRefs(tx)), []);
    // With no identity there is no user to own the reference.
    await assert.rejects(t.lake.db.asUser(null, (tx) => addRef(tx, ref)), /null value|not-null|violates/);
  });

  test('the collector deletes only blobs that nobody references and that are older than the grace period', async () => {
    const referencedOld = await storedDaysAgo(Buffer.from('referenced, old'), 10, 'cold');
    const unreferencedOld = await storedDaysAgo(Buffer.from('unreferenced, old'), 10, 'warm');
    const unreferencedRecent = await storedDaysAgo(Buffer.from('unreferenced, put an hour ago'), 1 / 24);
    const sharedOld = await storedDaysAgo(Buffer.from('referenced by alice and bob'), 10);
    await t.lake.db.asUser(alice, async (tx) => {
      await addRef(tx, { sha256: referencedOld, sizeBytes: 15, source: 'test' });
      await addRef(tx, { sha256: sharedOld, sizeBytes: 27, source: 'test' });
    });
    await t.lake.db.asUser(bob, (tx) => addRef(tx, { sha256: sharedOld, sizeBytes: 27, source: 'test' }));

    const dryRun = await collectUnreferenced(t.lake.db, gcStore, { dryRun: true });
    assert.deepEqual(dryRun.deleted.map((d) => d.sha256), [unreferencedOld]);
    assert.equal(await gcStore.has(unreferencedOld), true, 'a dry run deletes nothing');

    const result = await collectUnreferenced(t.lake.db, gcStore);
    assert.deepEqual(result.deleted.map((d) => [d.sha256, d.tier]), [[unreferencedOld, 'warm']]);
    assert.ok(result.bytesFreed > 0);
    assert.equal(await gcStore.has(unreferencedOld), false);
    for (const kept of [referencedOld, unreferencedRecent, sharedOld]) assert.equal(await gcStore.has(kept), true);

    // Alice lets go of the shared blob: Bob still has it.
    await t.lake.db.asUser(alice, (tx) => removeRef(tx, { sha256: sharedOld, source: 'test' }));
    await collectUnreferenced(t.lake.db, gcStore);
    assert.equal(await gcStore.has(sharedOld), true);
    await t.lake.db.asUser(bob, (tx) => removeRef(tx, { sha256: sharedOld, source: 'test' }));
    const last = await collectUnreferenced(t.lake.db, gcStore);
    assert.deepEqual(last.deleted.map((d) => d.sha256), [sharedOld]);
    assert.equal(await gcStore.has(sharedOld), false);
  });

  test('a damaged blob that nobody references is collected like any other', async () => {
    const hash = await storedDaysAgo(Buffer.from('damaged and unreferenced'), 10, 'cold');
    const file = gcStore.pathFor(hash, 'cold');
    const when = (await stat(file)).mtime;
    await flipByte(file, 0);
    await utimes(file, when, when);
    const result = await collectUnreferenced(t.lake.db, gcStore);
    assert.ok(result.deleted.some((d) => d.sha256 === hash));
    assert.equal(await gcStore.has(hash), false);
  });

  test('putting old, unreferenced content again protects it from the collector until it is referenced', async () => {
    const content = Buffer.from('old content that is imported again');
    const hash = await storedDaysAgo(content, 30);
    const again = await gcStore.put(content);
    assert.equal(again.created, false);
    const result = await collectUnreferenced(t.lake.db, gcStore);
    assert.ok(!result.deleted.some((d) => d.sha256 === hash));
    assert.equal(await gcStore.has(hash), true);
  });

  test('deleting a user releases their references; the blob goes with the next collection', async () => {
    const carol = await createUser(t.lake, 'carol');
    const hash = await storedDaysAgo(Buffer.from("carol's only file"), 5);
    await t.lake.db.asUser(carol, (tx) => addRef(tx, { sha256: hash, sizeBytes: 17, source: 'test' }));
    assert.ok(!(await collectUnreferenced(t.lake.db, gcStore)).deleted.some((d) => d.sha256 === hash));
    await t.lake.db.query(`DELETE FROM user_data.users WHERE user_id = $1`, [carol]);
    assert.ok((await collectUnreferenced(t.lake.db, gcStore)).deleted.some((d) => d.sha256 === hash));
  });
});

describe('lake blobs (command line)', () => {
  let cli: CliTestLake;
  let dataDir: string;
  let cliStore: BlobStore;

  before(async () => {
    cli = await cliTestLake('lake-blobs-cli-');
    dataDir = cli.env.LAKE_DATA_DIR!;
    cliStore = new BlobStore(path.join(dataDir, 'blobs'));
    // The data directory gets its lake before blobs are put in it: blobs with no record of their
    // database are refused (test/data-dir-identity.test.ts).
    const first = await lakeBlobs('gc', '--dry-run');
    assert.equal(first.code, 0, first.stderr);
  });
  after(() => cli?.dispose());

  async function lakeBlobs(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', BLOBS_CLI, 'blobs', ...args], { env: cli.env, timeout: CLI_TIMEOUT_MS });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const e = error as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  }

  test('stats, move one blob, move every blob older than N days', async () => {
    const old = await cliStore.put(randomBytes(100_000));
    const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000);
    await utimes(cliStore.pathFor(old.sha256, 'hot'), tenDaysAgo, tenDaysAgo);
    const fresh = await cliStore.put(compressible);

    const stats = await lakeBlobs('stats', '--json');
    assert.equal(stats.code, 0, stats.stderr);
    const summary = JSON.parse(stats.stdout) as { tiers: Record<BlobTier, { blobs: number; bytes: number }>; total: { blobs: number; bytes: number } };
    assert.deepEqual(summary.tiers.hot, { blobs: 2, bytes: old.size + fresh.size, storedBytes: old.size + fresh.size });
    assert.equal(summary.total.blobs, 2);

    const bulk = await lakeBlobs('move', '--all-older-than', '5', '--tier', 'cold', '--json');
    assert.equal(bulk.code, 0, bulk.stderr);
    assert.equal((JSON.parse(bulk.stdout) as { moved: number }).moved, 1);
    assert.equal((await cliStore.stat(old.sha256))?.tier, 'cold');
    assert.equal((await cliStore.stat(fresh.sha256))?.tier, 'hot');

    const one = await lakeBlobs('move', fresh.sha256, '--tier', 'warm');
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`^${fresh.sha256} warm `));
    const text = await lakeBlobs('stats');
    assert.match(text.stdout, /^hot\s+0\s/m);
    assert.match(text.stdout, /^warm\s+1\s/m);
    assert.match(text.stdout, /^cold\s+1\s/m);
  });

  test('usage errors exit 2 with one line naming the problem; a missing blob exits 1', async () => {
    const badTier = await lakeBlobs('move', 'ab'.repeat(32), '--tier', 'frozen');
    assert.equal(badTier.code, 2);
    assert.match(badTier.stderr, /frozen/);
    const neither = await lakeBlobs('move', '--tier', 'cold');
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /give either a SHA-256 or --all-older-than DAYS \[USAGE\]/);
    const both = await lakeBlobs('move', 'ab'.repeat(32), '--all-older-than', '3', '--tier', 'cold');
    assert.equal(both.code, 2);
    const badHash = await lakeBlobs('move', 'not-a-hash', '--tier', 'cold');
    assert.equal(badHash.code, 2);
    assert.match(badHash.stderr, /is not a SHA-256/);
    const badDays = await lakeBlobs('move', '--all-older-than', 'soon', '--tier', 'cold');
    assert.equal(badDays.code, 2);
    const missing = await lakeBlobs('move', 'cd'.repeat(32), '--tier', 'cold');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /\[BLOB_NOT_FOUND\]\n$/);
  });

  test('gc deletes what nobody references, past the grace period', async () => {
    const orphan = await cliStore.put(Buffer.from('nobody has this'), { tier: 'warm' });
    const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000);
    await utimes(cliStore.pathFor(orphan.sha256, 'warm'), threeDaysAgo, threeDaysAgo);
    const gc = await lakeBlobs('gc', '--grace-hours', '48', '--json');
    assert.equal(gc.code, 0, gc.stderr);
    const result = JSON.parse(gc.stdout) as { deleted: { sha256: string }[]; recent: number };
    assert.ok(result.deleted.some((d) => d.sha256 === orphan.sha256));
    assert.equal(await cliStore.has(orphan.sha256), false);
  });
});
