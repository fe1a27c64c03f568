// `lake backup`, `lake backup verify|list|prune` and `lake restore`, as the real commands: a lake
// with rows and blobs backed up, restored elsewhere identical; damaged backups refused naming what
// is wrong before any target is touched; encrypted repositories; a backup killed midway.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, open, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { decodeBackupFile, encodeBackupFile, readBackupFile } from '../src/backup/backup-file.js';
import type { BackupManifest, ListedBackup } from '../src/backup/repository.js';
import { selectKept } from '../src/backup/retention.js';
import { loadConfig } from '../src/config/config.js';
import { Lake } from '../src/lake.js';
import { exportLines } from '../src/query/export.js';
import { BlobStore } from '../src/store/blob-store.js';
import { CLI_TIMEOUT_MS, cliTestLake, type CliTestLake } from './support/lake-cli.js';
import { BACKEND, SERVER_URL } from './support/lake.js';

const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;
const FIXTURES = new URL('./fixtures/', import.meta.url).pathname;
const run = promisify(execFile);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function lake(env: Record<string, string>, args: string[]): Promise<Ran> {
  try {
    const { stdout, stderr } = await run(process.execPath, [LAKE, ...args], { env, timeout: CLI_TIMEOUT_MS, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function ok(env: Record<string, string>, args: string[]): Promise<string> {
  const result = await lake(env, args);
  assert.equal(result.code, 0, `lake ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** An import: exit 1 is a file of the fixtures refused on purpose (they hold broken files), not a failure here. */
async function imported(env: Record<string, string>, args: string[]): Promise<void> {
  const result = await lake(env, ['import', ...args]);
  assert.ok(result.code === 0 || result.code === 1, `lake import ${args.join(' ')} failed: ${result.stderr}`);
}

/** The user's export lines, without the user id (a restored lake keeps it; compared as the user sees them). */
async function exportOf(env: Record<string, string>, user = 'me'): Promise<string[]> {
  const opened = await Lake.open(loadConfig(env), { brief: true });
  try {
    const { rows } = await opened.db.query<{ user_id: string }>(`SELECT user_id::text FROM user_data.users WHERE name = $1`, [user]);
    const lines: string[] = [];
    for await (const chunk of exportLines(opened.db, (work) => opened.db.asUser(rows[0]!.user_id, work))) lines.push(...chunk.split('\n').filter(Boolean));
    return lines;
  } finally {
    await opened.close();
  }
}

async function blobsIn(root: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for await (const blob of new BlobStore(root).list()) found.set(blob.sha256, blob.size ?? -1);
  return found;
}

/** The lines of a list in an unencrypted repository (the blob list, the database's file list). */
async function listLines(repository: string, id: string, file: string): Promise<string[]> {
  const parts: Buffer[] = [];
  for await (const part of readBackupFile(path.join(repository, 'sets', id, file), null)) parts.push(part);
  return Buffer.concat(parts).toString('utf8').split('\n').filter(Boolean);
}

/** The database files of an embedded backup: relative path, sha256 and size of each. */
async function databaseFiles(repository: string, manifest: BackupManifest): Promise<{ relative: string; sha256: string; size: number }[]> {
  assert.equal(manifest.database.kind, 'pglite-files');
  const file = manifest.database.kind === 'pglite-files' ? manifest.database.file : '';
  return (await listLines(repository, manifest.id, file))
    .filter((line) => line.startsWith('f '))
    .map((line) => {
      const [, , size, sha256, ...rest] = line.split(' ');
      return { relative: rest.join(' '), sha256: sha256!, size: Number(size) };
    });
}

/** Every copy the repository's pool holds (blobs and database files), by name. */
async function poolCopies(repository: string): Promise<Set<string>> {
  const names = await readdir(path.join(repository, 'blobs'), { recursive: true });
  return new Set(names.map((n) => path.basename(n)).filter((n) => /^[0-9a-f]{64}$/.test(n)));
}

/** Flip one byte of `file` at `fraction` of its length. */
async function flipByte(file: string, fraction: number): Promise<number> {
  const size = (await stat(file)).size;
  const at = Math.floor(size * fraction);
  const handle = await open(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
  return at;
}

const serverSkip = BACKEND === 'server' ? 'server backups go through pgBackRest: test/backup-pgbackrest.test.ts' : false;

describe('lake backup and restore', { skip: serverSkip }, () => {
  let cli: CliTestLake;
  let repository: string;
  let firstId: string;

  before(async () => {
    cli = await cliTestLake('lake-backup-');
    repository = path.join(cli.dir, 'repository');
    cli.env.LAKE_BACKUP_DIR = repository;
    await imported(cli.env, [path.join(FIXTURES, 'photos'), path.join(FIXTURES, 'google', 'location-records')]);
    const made = JSON.parse(await ok(cli.env, ['backup', '--json'])) as BackupManifest;
    firstId = made.id;
  });

  after(async () => {
    await cli?.dispose();
  });

  test('a backup holds the database and every referenced blob; restored elsewhere, rows and blobs are identical', async () => {
    const manifest = JSON.parse(await readFile(path.join(repository, 'sets', firstId, 'manifest.json'), 'utf8')) as BackupManifest;
    assert.equal(manifest.backend, 'embedded');
    assert.ok(manifest.blobs.count > 0, 'the photos fixture gives blobs');
    assert.equal(manifest.blobs.added, manifest.blobs.count);
    const totalRows = Object.values(manifest.tables).reduce((sum, t) => sum + t.rows, 0);
    assert.ok(totalRows > 50, `rows recorded: ${totalRows}`);

    const verified = JSON.parse(await ok(cli.env, ['backup', 'verify', firstId, '--json'])) as { ok: boolean; rows: number; blobs: number };
    assert.equal(verified.ok, true);
    assert.equal(verified.rows, totalRows);
    assert.equal(verified.blobs, manifest.blobs.count);

    const target = path.join(cli.dir, 'restored');
    const restoredEnv = { ...cli.env, LAKE_DATA_DIR: target };
    const restored = JSON.parse(await ok(restoredEnv, ['restore', firstId, '--json'])) as { rows: number; blobs: number };
    assert.equal(restored.rows, totalRows);
    assert.deepEqual(await exportOf(restoredEnv), await exportOf(cli.env));
    assert.deepEqual(await blobsIn(path.join(target, 'blobs')), await blobsIn(path.join(cli.env.LAKE_DATA_DIR!, 'blobs')));
    // The restored lake is a lake: it opens, migrates nothing, and backs up itself.
    const doctor = JSON.parse(await ok({ ...restoredEnv, LAKE_BACKUP_DIR: path.join(cli.dir, 'repository-2') }, ['doctor', '--json'])) as { migrations: { state: string }[] };
    assert.ok(doctor.migrations.every((m) => m.state !== 'pending'));
  });

  test('a second backup adds no blob already in the repository, and (almost) no database file copy', async () => {
    const second = JSON.parse(await ok(cli.env, ['backup', '--no-prune', '--json'])) as BackupManifest;
    assert.notEqual(second.id, firstId);
    assert.ok(second.blobs.count > 0);
    assert.equal(second.blobs.added, 0);
    // Nothing changed in between: the files are the same but for the few a checkpoint writes (pg_control, the WAL in use).
    assert.ok(second.database.kind === 'pglite-files');
    const first = JSON.parse(await readFile(path.join(repository, 'sets', firstId, 'manifest.json'), 'utf8')) as BackupManifest;
    assert.ok(first.database.kind === 'pglite-files');
    assert.ok(first.database.addedBytes > first.database.bytes / 2, 'the first backup wrote the files (those of the same content once)');
    assert.ok(second.database.files > 100, `files listed: ${second.database.files}`);
    assert.ok(second.database.added < second.database.files / 20, `${second.database.added} of ${second.database.files} files copied again`);
    assert.ok(second.database.addedBytes < second.database.bytes * 0.5, `${second.database.addedBytes} of ${second.database.bytes} bytes copied again`);
    for (const file of await databaseFiles(repository, second)) assert.ok(existsSync(path.join(repository, 'blobs', file.sha256.slice(0, 2), file.sha256)), file.relative);
    const listed = JSON.parse(await ok(cli.env, ['backup', 'list', '--json'])) as BackupManifest[];
    assert.deepEqual(
      listed.map((m) => m.id),
      [firstId, second.id],
    );
  });

  test('after more data, a backup reads only the files written since; the checksums it keeps equal those computed anew', async () => {
    const before = (JSON.parse(await ok(cli.env, ['backup', 'list', '--json'])) as BackupManifest[]).at(-1)!;
    await imported(cli.env, [path.join(FIXTURES, 'google', 'chrome-history')]);
    const third = JSON.parse(await ok(cli.env, ['backup', '--no-prune', '--json'])) as BackupManifest;
    assert.ok(third.database.kind === 'pglite-files' && before.database.kind === 'pglite-files');
    assert.ok(existsSync(path.join(repository, 'sets', third.id, 'files-state.dpk')));
    // Some tables changed (the history's items), most did not: those keep the checksums recorded before.
    const tables = Object.keys(third.tables);
    const same = tables.filter((t) => JSON.stringify(third.tables[t]) === JSON.stringify(before.tables[t]));
    assert.ok(same.length > 0 && same.length < tables.length, `${same.length} of ${tables.length} tables unchanged`);
    assert.ok(third.database.added < third.database.files / 4, `${third.database.added} of ${third.database.files} files stored again`);
    const verified = JSON.parse(await ok(cli.env, ['backup', 'verify', third.id, '--json'])) as { ok: boolean };
    assert.equal(verified.ok, true);
    // Without the file state (damaged), every file is read and every table checksummed in a copy: the same figures.
    await flipByte(path.join(repository, 'sets', third.id, 'files-state.dpk'), 0.5);
    const fourth = JSON.parse(await ok(cli.env, ['backup', '--no-prune', '--json'])) as BackupManifest;
    assert.deepEqual(fourth.tables, third.tables);
  });

  test('a restore into a non-empty data directory is refused and changes nothing', async () => {
    const target = path.join(cli.dir, 'occupied');
    await mkdir(target);
    await writeFile(path.join(target, 'notes.txt'), 'mine');
    const result = await lake({ ...cli.env, LAKE_DATA_DIR: target }, ['restore', firstId]);
    assert.equal(result.code, 3);
    assert.match(result.stderr, /occupied is not empty \(notes\.txt\).*\[RESTORE_TARGET_NOT_EMPTY\]/);
    assert.deepEqual(await readdir(target), ['notes.txt']);
  });

  /** A copy of the repository with one thing broken, and a fresh target. */
  async function damaged(name: string, damage: (copy: string, manifest: BackupManifest) => Promise<void>): Promise<{ env: Record<string, string>; target: string }> {
    const copy = path.join(cli.dir, `damaged-${name}`);
    await cp(repository, copy, { recursive: true });
    const manifest = JSON.parse(await readFile(path.join(copy, 'sets', firstId, 'manifest.json'), 'utf8')) as BackupManifest;
    await damage(copy, manifest);
    const target = path.join(cli.dir, `target-${name}`);
    return { env: { ...cli.env, LAKE_BACKUP_DIR: copy, LAKE_DATA_DIR: target }, target };
  }

  async function assertRefused(env: Record<string, string>, target: string, pattern: RegExp, code = 8): Promise<void> {
    const verified = await lake(env, ['backup', 'verify', firstId]);
    assert.equal(verified.code, code, verified.stderr);
    assert.match(verified.stderr, pattern);
    const restored = await lake(env, ['restore', firstId]);
    assert.equal(restored.code, code, restored.stderr);
    assert.match(restored.stderr, pattern);
    assert.equal(existsSync(target), false, 'the target was not made');
    assert.deepEqual((await readdir(path.dirname(target))).filter((n) => n.includes('.restoring-')), [], 'nothing left beside it');
  }

  test('a byte changed in the database file fails verify and restore, naming the file and the offset', async () => {
    const { env, target } = await damaged('database-byte', async (copy) => {
      await flipByte(path.join(copy, 'sets', firstId, 'database.dpk'), 0.5);
    });
    await assertRefused(env, target, new RegExp(`backup file ${firstId}/database\\.dpk is damaged: .*byte \\d+.*\\[BACKUP_CORRUPT\\]`));
  });

  test('a blob copy missing, or changed, fails verify and restore naming the blob', async () => {
    const manifest = JSON.parse(await readFile(path.join(repository, 'sets', firstId, 'manifest.json'), 'utf8')) as BackupManifest;
    assert.ok(manifest.blobs.count > 0);
    // A blob of the backup's blob list (the pool holds the database's files too).
    const sha256 = (await listLines(repository, firstId, manifest.blobs.file))[0]!.split(' ')[0]!;
    const prefix = sha256.slice(0, 2);
    const missing = await damaged('blob-missing', async (copy) => {
      const { rm } = await import('node:fs/promises');
      await rm(path.join(copy, 'blobs', prefix!, sha256!));
    });
    await assertRefused(missing.env, missing.target, new RegExp(`blob ${sha256} is referenced by the backup's database and missing from the repository.*\\[BACKUP_CORRUPT\\]`));
    const changed = await damaged('blob-changed', async (copy) => {
      await flipByte(path.join(copy, 'blobs', prefix!, sha256!), 0.9);
    });
    await assertRefused(changed.env, changed.target, new RegExp(`blobs/${prefix}/${sha256} is damaged.*\\[BACKUP_CORRUPT\\]`));
  });

  test("a copy of a database file missing, or changed, fails verify and restore naming the file", async () => {
    const manifest = JSON.parse(await readFile(path.join(repository, 'sets', firstId, 'manifest.json'), 'utf8')) as BackupManifest;
    const files = await databaseFiles(repository, manifest);
    // A file whose content no other file of the list shares, and no blob.
    const blobs = new Set((await listLines(repository, firstId, manifest.blobs.file)).map((line) => line.split(' ')[0]));
    const file = files.find((f) => f.size > 8192 && !blobs.has(f.sha256) && files.filter((g) => g.sha256 === f.sha256).length === 1)!;
    assert.ok(file, 'a database file of its own');
    const copy = (root: string) => path.join(root, 'blobs', file.sha256.slice(0, 2), file.sha256);
    const missing = await damaged('database-copy-missing', async (root) => {
      const { rm } = await import('node:fs/promises');
      await rm(copy(root));
    });
    const escaped = file.relative.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await assertRefused(missing.env, missing.target, new RegExp(`database file ${escaped} \\(sha256 ${file.sha256}\\) is missing from the repository.*\\[BACKUP_CORRUPT\\]`));
    const changed = await damaged('database-copy-changed', async (root) => {
      await flipByte(copy(root), 0.5);
    });
    await assertRefused(changed.env, changed.target, new RegExp(`blobs/${file.sha256.slice(0, 2)}/${file.sha256} \\(database file ${escaped}\\) is damaged.*\\[BACKUP_CORRUPT\\]`));
  });

  test('a blob list cut short fails, saying so', async () => {
    const { env, target } = await damaged('list-cut', async (copy) => {
      const file = path.join(copy, 'sets', firstId, 'blobs.dpk');
      await truncate(file, (await stat(file)).size - 20);
    });
    await assertRefused(env, target, /blobs\.dpk is damaged: it ends inside the record at byte \d+ \(cut short\).*\[BACKUP_CORRUPT\]/);
  });

  test('a backup from a newer schema is refused naming both versions', async () => {
    const { env, target } = await damaged('newer-schema', async (copy, manifest) => {
      await writeFile(path.join(copy, 'sets', firstId, 'manifest.json'), JSON.stringify({ ...manifest, schemaVersion: 9999 }));
    });
    await assertRefused(env, target, /schema version 9999, and this lake knows versions up to \d+.*\[SCHEMA_TOO_NEW\]/, 5);
  });

  test('a backup killed midway leaves nothing that looks complete; the next one clears it', async () => {
    const before = JSON.parse(await ok(cli.env, ['backup', 'list', '--json'])) as BackupManifest[];
    const child = spawn(process.execPath, [LAKE, 'backup', '--no-prune'], { env: cli.env });
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (chunk: Buffer) => {
        // Killed while the database's files are copied (the pause), before anything is complete.
        if (chunk.toString().includes('copying the database files')) child.kill('SIGKILL');
      });
      child.on('error', reject);
      child.on('close', () => resolve());
    });
    assert.equal(child.signalCode, 'SIGKILL', 'killed before it finished');
    const sets = await readdir(path.join(repository, 'sets'));
    assert.ok(sets.some((n) => n.endsWith('.partial')), `a partial set is left: ${sets.join(', ')}`);
    const listed = JSON.parse(await ok(cli.env, ['backup', 'list', '--json'])) as BackupManifest[];
    assert.deepEqual(
      listed.map((m) => m.id),
      before.map((m) => m.id),
    );
    await ok(cli.env, ['backup', '--no-prune']);
    assert.deepEqual((await readdir(path.join(repository, 'sets'))).filter((n) => n.endsWith('.partial')), []);
  });

  test('a disk that fills during a backup ends it with DISK_FULL naming the repository, and leaves no partial files', async (t) => {
    const small = path.join(cli.dir, 'small-disk');
    await mkdir(small);
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', small]);
    } catch (error) {
      t.skip(`cannot mount a small tmpfs here (needs root): ${(error as Error).message.split('\n')[0]}`);
      return;
    }
    try {
      const env = { ...cli.env, LAKE_BACKUP_DIR: path.join(small, 'repository') };
      const result = await lake(env, ['backup']);
      assert.equal(result.code, 7, result.stderr);
      assert.match(result.stderr, /small-disk\/repository.*\[DISK_FULL\]/);
      assert.deepEqual(await readdir(path.join(small, 'repository', 'sets')), [], 'nothing of the backup is left');
      const listed = await lake(env, ['backup', 'list', '--json']);
      assert.deepEqual(JSON.parse(listed.stdout), []);
    } finally {
      await run('umount', ['-l', small]).catch(() => {});
    }
  });

  test('prune keeps what the policy says and removes the copies no kept backup lists, blobs and database files', async () => {
    const stray = path.join(repository, 'blobs', 'ff', 'f'.repeat(64));
    await mkdir(path.dirname(stray), { recursive: true });
    await writeFile(stray, 'not listed by any backup');
    const listed = JSON.parse(await ok(cli.env, ['backup', 'list', '--json'])) as BackupManifest[];
    const newest = listed.at(-1)!;
    const keptCopies = new Set([...(await listLines(repository, newest.id, newest.blobs.file)).map((line) => line.split(' ')[0]!), ...(await databaseFiles(repository, newest)).map((f) => f.sha256)]);
    const unlisted = [...(await poolCopies(repository))].filter((name) => !keptCopies.has(name));
    assert.ok(unlisted.length > 1, 'the stray copy, and database files only the older backups list');
    const dry = JSON.parse(await ok(cli.env, ['backup', 'prune', '--dry-run', '--json'])) as { kept: string[]; removed: string[] };
    // All made today: the daily rule keeps the newest of the day, and only it.
    assert.deepEqual(dry.kept, [listed.at(-1)!.id]);
    assert.equal(dry.removed.length, listed.length - 1);
    assert.ok(existsSync(stray), 'a dry run removes nothing');
    const pruned = JSON.parse(await ok(cli.env, ['backup', 'prune', '--json'])) as { removed: string[]; blobsRemoved: number };
    assert.deepEqual(pruned.removed, dry.removed);
    assert.equal(pruned.blobsRemoved, unlisted.length, 'the stray copy and the older backups\' own database files, and no copy the kept backup lists');
    assert.equal(existsSync(stray), false);
    assert.deepEqual(await poolCopies(repository), keptCopies);
    const verified = await lake(cli.env, ['backup', 'verify', '--json']);
    assert.equal(verified.code, 0, verified.stderr);
  });
});

describe('erasing a user from backups', { skip: serverSkip }, () => {
  let cli: CliTestLake;
  /** A name that appears nowhere else, to look for in the restored files. */
  const ALICE = 'alice-zq7marker';

  before(async () => {
    cli = await cliTestLake('lake-backup-erase-');
    cli.env.LAKE_BACKUP_DIR = path.join(cli.dir, 'repository');
    await imported(cli.env, [path.join(FIXTURES, 'google', 'location-records'), '--user', ALICE]);
    await imported(cli.env, [path.join(FIXTURES, 'google', 'semantic-location-history'), '--user', 'bob']);
  });

  after(async () => {
    await cli?.dispose();
  });

  test('prune --erase rewrites each backup without the user: bob unchanged, alice and her blob copies gone, the backup still verifies', async () => {
    const made = JSON.parse(await ok(cli.env, ['backup', '--json'])) as BackupManifest;
    const bobBefore = await exportOf(cli.env, 'bob');
    const refused = await lake(cli.env, ['backup', 'prune', '--erase', ALICE]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /cannot be undone: add --yes/);
    const blobsBefore = (await listLines(cli.env.LAKE_BACKUP_DIR!, made.id, made.blobs.file)).map((line) => line.split(' ')[0]!);

    const erased = JSON.parse(await ok(cli.env, ['backup', 'prune', '--erase', ALICE, '--yes', '--json'])) as {
      rewritten: { id: string; rows: number }[];
      blobCopiesRemoved: number;
    };
    assert.equal(erased.rewritten.length, 1);
    assert.equal(erased.rewritten[0]!.id, made.id);
    assert.ok(erased.rewritten[0]!.rows > 0);
    assert.ok(erased.blobCopiesRemoved > 0, 'the copies of the exports only alice imported');
    const manifest = JSON.parse(await readFile(path.join(cli.env.LAKE_BACKUP_DIR!, 'sets', made.id, 'manifest.json'), 'utf8')) as BackupManifest;
    // Alice's blob copies are gone from the pool; what the rewritten backup lists (blobs, database files) is all there.
    const blobsAfter = new Set((await listLines(cli.env.LAKE_BACKUP_DIR!, made.id, manifest.blobs.file)).map((line) => line.split(' ')[0]!));
    const pool = await poolCopies(cli.env.LAKE_BACKUP_DIR!);
    const gone = blobsBefore.filter((sha256) => !blobsAfter.has(sha256));
    assert.ok(gone.length > 0 && gone.every((sha256) => !pool.has(sha256)), 'the blob copies only alice referenced are removed');
    assert.ok([...blobsAfter, ...(await databaseFiles(cli.env.LAKE_BACKUP_DIR!, manifest)).map((f) => f.sha256)].every((sha256) => pool.has(sha256)));
    assert.equal(manifest.erasures, 1);
    assert.ok(manifest.blobs.count < made.blobs.count);
    assert.deepEqual((await readdir(path.join(cli.env.LAKE_BACKUP_DIR!, 'sets', made.id))).sort(), [manifest.blobs.file, manifest.database.kind === 'pglite-files' ? manifest.database.file : '', 'manifest.json'].sort());

    assert.equal((await lake(cli.env, ['backup', 'verify', made.id])).code, 0);
    const target = path.join(cli.dir, 'restored');
    const restoredEnv = { ...cli.env, LAKE_DATA_DIR: target };
    await ok(restoredEnv, ['restore', made.id]);
    assert.deepEqual(await exportOf(restoredEnv, 'bob'), bobBefore);
    // Nothing of alice's is left in the restored files: not in a table file (rewritten), not in the WAL.
    const marker = Buffer.from(ALICE);
    for (const entry of await readdir(target, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      assert.equal((await readFile(file)).indexOf(marker), -1, `${ALICE} is still written in ${path.relative(target, file)}`);
    }
    const opened = await Lake.open(loadConfig(restoredEnv), { brief: true });
    try {
      const users = await opened.db.query<{ name: string }>(`SELECT name FROM user_data.users ORDER BY name`);
      assert.deepEqual(users.rows.map((r) => r.name), ['bob']);
      const audit = await opened.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit.events WHERE action = 'user.erased'`);
      assert.equal(audit.rows[0]!.n, 1);
    } finally {
      await opened.close();
    }
    // A second pass finds alice nowhere.
    const again = JSON.parse(await ok(cli.env, ['backup', 'prune', '--erase', ALICE, '--yes', '--json'])) as { rewritten: unknown[]; without: string[] };
    assert.deepEqual(again.rewritten, []);
    assert.deepEqual(again.without, [made.id]);
  });
});

describe('encrypted backups', { skip: serverSkip }, () => {
  let cli: CliTestLake;

  before(async () => {
    cli = await cliTestLake('lake-backup-sealed-');
    const keyFile = path.join(cli.dir, 'backup.key');
    await writeFile(keyFile, 'correct horse battery staple\n', { mode: 0o600 });
    cli.env.LAKE_BACKUP_DIR = path.join(cli.dir, 'repository');
    cli.env.LAKE_BACKUP_KEY_FILE = keyFile;
    await imported(cli.env, [path.join(FIXTURES, 'photos')]);
  });

  after(async () => {
    await cli?.dispose();
  });

  test('files are sealed; the right key restores, no key or another key is refused', async () => {
    const manifest = JSON.parse(await ok(cli.env, ['backup', '--json'])) as BackupManifest;
    assert.equal(manifest.encrypted, true);
    const database = await readFile(path.join(cli.env.LAKE_BACKUP_DIR!, 'sets', manifest.id, 'database.dpk'));
    assert.equal(database.readUInt32LE(8) & 1, 1, 'the sealed flag');
    const repositoryRecord = await readFile(path.join(cli.env.LAKE_BACKUP_DIR!, 'repository.json'), 'utf8');
    assert.doesNotMatch(repositoryRecord, /horse/);

    const noKey = await lake({ ...cli.env, LAKE_BACKUP_KEY_FILE: '' }, ['backup', 'verify']);
    assert.equal(noKey.code, 8);
    assert.match(noKey.stderr, /is encrypted: set LAKE_BACKUP_KEY_FILE.*\[BACKUP_KEY\]/);
    const otherKeyFile = path.join(cli.dir, 'other.key');
    await writeFile(otherKeyFile, 'a different passphrase');
    const otherKey = await lake({ ...cli.env, LAKE_BACKUP_KEY_FILE: otherKeyFile }, ['backup', 'verify']);
    assert.equal(otherKey.code, 8);
    assert.match(otherKey.stderr, /other\.key is not the key of the backup repository.*\[BACKUP_KEY\]/);

    const target = path.join(cli.dir, 'restored');
    await ok({ ...cli.env, LAKE_DATA_DIR: target }, ['restore', 'latest']);
    assert.deepEqual(await exportOf({ ...cli.env, LAKE_DATA_DIR: target }), await exportOf(cli.env));
  });
});

const SCRIPT = new URL('../scripts/postgres-server.sh', import.meta.url).pathname;

/** pgBackRest is set up for the server scripts/postgres-server.sh runs, not for any other. */
async function whyNoPgBackRest(): Promise<string | false> {
  if (BACKEND !== 'server') return 'pgBackRest backs up a PostgreSQL server cluster: the embedded lake is covered above';
  try {
    const scriptHost = new URL((await run('bash', [SCRIPT, 'url'])).stdout.trim()).host;
    const testHost = new URL(SERVER_URL!).host;
    return scriptHost === testHost ? false : `the test server ${testHost} is not the one scripts/postgres-server.sh runs (${scriptHost})`;
  } catch (error) {
    return `scripts/postgres-server.sh cannot say its server's URL (${(error as Error).message.split('\n')[0]})`;
  }
}

describe('a server lake: lake backup with pgBackRest, restored to a moment between two imports', { skip: await whyNoPgBackRest() }, () => {
  let cli: CliTestLake;
  const restoredDir = `/var/lib/postgresql/restore-lake-test-${process.pid}`;

  before(async () => {
    cli = await cliTestLake('lake-backup-server-');
    cli.env.LAKE_BACKUP_DIR = path.join(cli.dir, 'repository');
    cli.env.LAKE_PGBACKREST = `bash ${SCRIPT} pgbackrest`;
  });

  after(async () => {
    await run('bash', [SCRIPT, 'remove-restored', restoredDir]).catch(() => {});
    await cli?.dispose();
  });

  test('rows of the first import are back, rows of the later one absent; the restored lake opens with its blobs', async () => {
    await imported(cli.env, [path.join(FIXTURES, 'google', 'location-records')]);
    const first = JSON.parse(await ok(cli.env, ['backup', '--json'])) as BackupManifest;
    assert.equal(first.backend, 'server');
    assert.equal(first.database.kind, 'pgbackrest');
    assert.ok(first.blobs.count > 0, 'the import keeps its original files as blobs');
    assert.equal((await lake(cli.env, ['backup', 'verify', first.id])).code, 0);
    const afterFirst = await exportOf(cli.env);

    // The moment: a second after the backup ended (pgBackRest's times are whole seconds), before the second import.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const moment = new Date();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await imported(cli.env, [path.join(FIXTURES, 'google', 'semantic-location-history')]);
    assert.notDeepEqual(await exportOf(cli.env), afterFirst);
    // A second backup: it archives the WAL past the moment, and lists the blobs of the second import.
    const second = JSON.parse(await ok(cli.env, ['backup', '--no-prune', '--json'])) as BackupManifest;
    assert.ok(second.database.kind === 'pgbackrest' && second.database.type === 'incr', 'incremental after a recent full one');

    const target = path.join(cli.dir, 'restored');
    const restoredEnv = { ...cli.env, LAKE_DATA_DIR: target };
    const occupied = await lake({ ...restoredEnv, LAKE_DATA_DIR: cli.env.LAKE_DATA_DIR! }, ['restore', 'latest', '--pg-data', restoredDir, '--to-time', moment.toISOString()]);
    assert.equal(occupied.code, 3, "the lake's own data directory is not empty");
    const restored = JSON.parse(await ok(restoredEnv, ['restore', 'latest', '--pg-data', restoredDir, '--to-time', moment.toISOString(), '--json'])) as { id: string; blobs: number };
    assert.equal(restored.id, first.id);
    const port = 20000 + (process.pid % 20000);
    const url = (await run('bash', [SCRIPT, 'start-restored', restoredDir, String(port)], { timeout: CLI_TIMEOUT_MS })).stdout.trim();
    const databaseUrl = new URL(cli.env.DATABASE_URL!);
    const restoredUrl = new URL(url);
    restoredUrl.pathname = databaseUrl.pathname;
    const restoredLake = { ...restoredEnv, DATABASE_URL: restoredUrl.toString() };
    // The restored database with the restored data directory: the same lake (lake-identity.json), rows as they were.
    assert.deepEqual(await exportOf(restoredLake), afterFirst);
    const doctor = await lake(restoredLake, ['doctor', '--json']);
    assert.equal(doctor.code, 0, doctor.stderr);
    const blobs = await blobsIn(path.join(target, 'blobs'));
    assert.equal(blobs.size, restored.blobs);
    assert.ok(blobs.size >= first.blobs.count);
  });
});

describe('the backup file format', () => {
  async function* chunks(...parts: Buffer[]): AsyncGenerator<Buffer> {
    yield* parts;
  }

  async function encode(content: Buffer, key: Buffer | null): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of encodeBackupFile(chunks(content.subarray(0, 1000), content.subarray(1000)), key)) parts.push(part);
    return Buffer.concat(parts);
  }

  async function decode(stored: Buffer, key: Buffer | null): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of decodeBackupFile(chunks(stored), key, 'f')) parts.push(part);
    return Buffer.concat(parts);
  }

  const content = Buffer.concat([randomBytes(1 << 20), Buffer.alloc(1 << 20, 7), randomBytes(1234)]);
  const key = randomBytes(32);

  test('round trips, with and without a key', async () => {
    assert.ok((await decode(await encode(content, null), null)).equals(content));
    assert.ok((await decode(await encode(content, key), key)).equals(content));
    assert.ok((await decode(await encode(Buffer.alloc(0), key), key)).equals(Buffer.alloc(0)));
  });

  test('cut short anywhere, it fails; with another key, it fails on the first record', async () => {
    const stored = await encode(content, key);
    for (const cut of [10, 40, 1000, stored.length - 41, stored.length - 1]) {
      await assert.rejects(decode(stored.subarray(0, cut), key), (e: Error & { code?: string }) => e.code === 'BACKUP_CORRUPT', `cut at ${cut}`);
    }
    await assert.rejects(decode(stored, randomBytes(32)), /does not open with the key/);
    await assert.rejects(decode(stored, null), /is encrypted/);
  });

  test('a sealed record moved or changed does not open; an unsealed change fails the hash', async () => {
    const sealed = await encode(content, key);
    const flipped = Buffer.from(sealed);
    flipped[sealed.length - 100]! ^= 1; // in the last piece: the first record failing reads as a wrong key
    await assert.rejects(decode(flipped, key), /does not authenticate/);
    const plain = await encode(content, null);
    const changed = Buffer.from(plain);
    changed[plain.length - 60]! ^= 1;
    await assert.rejects(decode(changed, null), (e: Error & { code?: string }) => e.code === 'BACKUP_CORRUPT');
  });
});

test('retention keeps the newest of each day, week and month within their windows, and always the newest', () => {
  const at = (iso: string): ListedBackup => ({ id: iso, manifest: { startedAt: iso } as BackupManifest });
  const backups = [
    at('2025-10-15T03:30:00.000Z'), // 418 days before: beyond every window
    at('2026-01-10T03:30:00.000Z'), // monthly (January)
    at('2026-01-20T03:30:00.000Z'), // monthly: January's newest
    at('2026-11-10T03:30:00.000Z'), // November's newest (monthly), the week of Nov 9 (weekly)
    at('2026-11-30T03:30:00.000Z'),
    at('2026-11-30T15:00:00.000Z'), // daily: the day's newest (the week of Nov 30's newest is Dec 6)
    at('2026-12-01T03:30:00.000Z'),
    at('2026-12-06T03:30:00.000Z'),
    at('2026-12-07T03:30:00.000Z'),
  ];
  const kept = selectKept(backups, { backupKeepDaily: 7, backupKeepWeekly: 30, backupKeepMonthly: 365 }, new Date('2026-12-07T12:00:00Z'));
  assert.deepEqual([...kept.keys()].sort(), [
    '2026-01-20T03:30:00.000Z',
    '2026-11-10T03:30:00.000Z',
    '2026-11-30T15:00:00.000Z',
    '2026-12-01T03:30:00.000Z',
    '2026-12-06T03:30:00.000Z',
    '2026-12-07T03:30:00.000Z',
  ]);
  assert.equal(kept.get('2026-12-07T03:30:00.000Z'), 'daily');
  assert.equal(kept.get('2026-01-20T03:30:00.000Z'), 'monthly');
  // Only old backups: the newest is kept whatever the windows say.
  const old = selectKept([at('2020-01-01T00:00:00.000Z')], { backupKeepDaily: 1, backupKeepWeekly: 0, backupKeepMonthly: 0 }, new Date('2026-12-07T12:00:00Z'));
  assert.deepEqual([...old.entries()], [['2020-01-01T00:00:00.000Z', 'newest']]);
});

