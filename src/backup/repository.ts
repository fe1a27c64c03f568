// Where backups live and what a backup is. A repository is a directory (LAKE_BACKUP_DIR):
//
//   repository.json          format, and when encrypted: the key's scrypt salt and a check value
//   blobs/ab/<sha256>        each blob once, as a backup file (backup-file.ts): shared by every
//                            backup that holds it, so a backup adds only the blobs that are new
//   sets/<id>/manifest.json  one backup; complete only once its manifest is there (written last,
//                            by rename): a backup killed midway is a `<id>.partial` directory,
//                            which `list` never shows and the next backup removes
//   sets/<id>/database.dpk   embedded: the list of the database's files (file-tree.ts), each
//                            file kept in blobs/ like a blob, by its SHA-256
//   sets/<id>/blobs.dpk      the blobs the database references: "sha256 size tier" lines
//   sets/<id>/files-state.dpk  embedded: the live files' sizes and identities with their hashes,
//                            so the next backup reads only files written since (file-tree.ts)
//
// The repository's encryption is fixed when it is made: a key configured later does not encrypt
// an unencrypted repository (nor the reverse); use another LAKE_BACKUP_DIR for that.
import { randomBytes, scryptSync, createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.js';
import type { DataDirIdentity } from '../data-dir-identity.js';
import { LakeError } from '../errors.js';
import type { BackupKey, WrittenFile } from './backup-file.js';
import type { TableChecksum } from './table-checksums.js';

const REPOSITORY_FILE = 'repository.json';
const REPOSITORY_FORMAT = 1;
export const MANIFEST_FORMAT = 1;
/** scrypt cost: ~0.1 s and 64 MiB once per command, so a stolen repository costs as much per guess. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_CHECK = 'datapunk-lake backup key check';

interface RepositoryRecord {
  format: number;
  createdAt: string;
  encryption: { kdf: 'scrypt'; N: number; r: number; p: number; salt: string; check: string } | null;
}

/** What the embedded snapshot records of the database. */
export interface EmbeddedDatabasePart {
  kind: 'pglite-files';
  file: string;
  /** PostgreSQL major version of the files (PG_VERSION). */
  postgresMajor: string;
  /** The list of the files (`file`), as written. */
  written: WrittenFile;
  /** Files listed and their bytes; copies the backup added to the pool and their bytes of content. */
  files: number;
  bytes: number;
  added: number;
  addedBytes: number;
}

/** What a server backup records: the pgBackRest backup set taken with it. */
export interface ServerDatabasePart {
  kind: 'pgbackrest';
  stanza: string;
  label: string;
  type: 'full' | 'diff' | 'incr';
  /** The set it is based on (diff, incr). */
  prior: string | null;
  /** Database size, and what the set added to the pgBackRest repository. */
  databaseBytes: number;
  repositoryBytes: number;
}

export interface BackupManifest {
  format: number;
  id: string;
  backend: 'embedded' | 'server';
  /** The schema: the newest migration applied, so that a lake without it refuses the restore. */
  schemaVersion: number;
  startedAt: string;
  finishedAt: string;
  encrypted: boolean;
  /** The data directory's record of its database, written back by a restore. */
  identity: Pick<DataDirIdentity, 'lakeId' | 'backend'>;
  database: EmbeddedDatabasePart | ServerDatabasePart;
  /** Embedded: every table's rows and checksum at the snapshot, which verify recomputes on a restored copy. */
  tables: Record<string, TableChecksum>;
  blobs: { file: string; count: number; bytes: number; added: number; addedBytes: number; written: WrittenFile };
  /** How many times users were erased from this backup since it was made (`lake backup prune --erase`). */
  erasures?: number;
}

export interface ListedBackup {
  id: string;
  manifest: BackupManifest;
}

export class BackupRepository {
  private constructor(
    readonly root: string,
    readonly key: BackupKey,
  ) {}

  /**
   * The repository at `config.backupDir`, made when `create` and absent. The key comes from
   * LAKE_BACKUP_KEY_FILE and must be the repository's (BACKUP_KEY otherwise).
   */
  static async open(config: Pick<Config, 'backupDir' | 'backupKeyFile'>, options: { create?: boolean } = {}): Promise<BackupRepository> {
    const root = config.backupDir;
    const passphrase = config.backupKeyFile ? await readPassphrase(config.backupKeyFile) : null;
    let record = await readRecord(root);
    if (!record) {
      if (!options.create) throw new LakeError('BACKUP_NOT_FOUND', `no backup repository in ${root} (LAKE_BACKUP_DIR): make a backup first with lake backup`);
      record = newRecord(passphrase);
      await mkdir(path.join(root, 'sets'), { recursive: true });
      await mkdir(path.join(root, 'blobs'), { recursive: true });
      await writeFile(path.join(root, `${REPOSITORY_FILE}.partial`), `${JSON.stringify(record, null, 2)}\n`);
      await rename(path.join(root, `${REPOSITORY_FILE}.partial`), path.join(root, REPOSITORY_FILE));
    }
    return new BackupRepository(root, keyFor(record, passphrase, root, config.backupKeyFile));
  }

  /**
   * Run `work` as the only process writing to the repository: a backup and a prune at the same
   * time would let the prune delete the blob copies the backup has just made and not yet listed.
   */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    const { lockDirectory } = await import('../db/adapters/directory-lock.js');
    let release: () => Promise<void>;
    try {
      release = await lockDirectory(this.root);
    } catch (error) {
      if (error instanceof LakeError && error.code === 'DATA_DIR_LOCKED') {
        throw new LakeError('DATA_DIR_LOCKED', `the backup repository in ${this.root} is in use by another lake process (a backup or prune running): try again when it ends`, { cause: error });
      }
      throw error;
    }
    try {
      return await work();
    } finally {
      await release();
    }
  }

  get encrypted(): boolean {
    return this.key !== null;
  }

  setDirectory(id: string): string {
    assertBackupId(id);
    return path.join(this.root, 'sets', id);
  }

  blobPath(sha256: string): string {
    return path.join(this.root, 'blobs', sha256.slice(0, 2), sha256);
  }

  hasBlob(sha256: string): boolean {
    return existsSync(this.blobPath(sha256));
  }

  /** A new backup's id (its start time, UTC) and its partial directory; leftovers of killed backups are removed. */
  async begin(now = new Date()): Promise<{ id: string; directory: string }> {
    await this.removePartials();
    let id = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    for (let n = 2; existsSync(this.setDirectory(id)) || existsSync(`${this.setDirectory(id)}.partial`); n++) id = `${id.split('.')[0]}.${n}`;
    const directory = `${this.setDirectory(id)}.partial`;
    await mkdir(directory, { recursive: true });
    return { id, directory };
  }

  /** The backup becomes visible: its manifest written, its directory renamed. */
  async commit(directory: string, manifest: BackupManifest): Promise<void> {
    await writeFile(path.join(directory, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(directory, this.setDirectory(manifest.id));
  }

  async removePartials(): Promise<number> {
    const names = await readdir(path.join(this.root, 'sets')).catch(() => [] as string[]);
    const partial = names.filter((n) => n.endsWith('.partial'));
    for (const name of partial) await rm(path.join(this.root, 'sets', name), { recursive: true, force: true });
    return partial.length;
  }

  /** Complete backups, oldest first. */
  async list(): Promise<ListedBackup[]> {
    const names = (await readdir(path.join(this.root, 'sets')).catch(() => [] as string[])).filter((n) => !n.endsWith('.partial')).sort();
    const listed: ListedBackup[] = [];
    for (const id of names) {
      const manifest = await this.readManifest(id).catch(() => null);
      if (manifest) listed.push({ id, manifest });
    }
    return listed;
  }

  async readManifest(id: string): Promise<BackupManifest> {
    const file = path.join(this.setDirectory(id), 'manifest.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      throw new LakeError('BACKUP_NOT_FOUND', `no backup ${id} in ${this.root}: lake backup list shows them`);
    }
    let manifest: BackupManifest;
    try {
      manifest = JSON.parse(text) as BackupManifest;
    } catch (cause) {
      throw new LakeError('BACKUP_CORRUPT', `backup ${id}: ${file} is not valid JSON`, { cause });
    }
    if (manifest.format !== MANIFEST_FORMAT || manifest.id !== id) {
      throw new LakeError('BACKUP_CORRUPT', `backup ${id}: ${file} is not a manifest of this backup (format ${manifest.format}, id ${manifest.id})`);
    }
    return manifest;
  }

  /** Resolve `ID` or the path of a backup's directory (inside this repository) to its id; `latest` is the newest. */
  async resolve(idOrPath: string): Promise<string> {
    if (idOrPath === 'latest') {
      const newest = (await this.list()).at(-1);
      if (!newest) throw new LakeError('BACKUP_NOT_FOUND', `no complete backup in ${this.root}`);
      return newest.id;
    }
    const id = idOrPath.includes('/') ? path.basename(path.resolve(idOrPath)) : idOrPath;
    await this.readManifest(id);
    return id;
  }
}

export function assertBackupId(id: string): void {
  if (!/^\d{8}T\d{6}Z(\.\d+)?$/.test(id)) throw new LakeError('USAGE', `${JSON.stringify(id)} is not a backup id (like 20261207T033000Z): lake backup list shows them`);
}

async function readRecord(root: string): Promise<RepositoryRecord | null> {
  let text: string;
  try {
    text = await readFile(path.join(root, REPOSITORY_FILE), 'utf8');
  } catch {
    return null;
  }
  const record = JSON.parse(text) as RepositoryRecord;
  if (record.format !== REPOSITORY_FORMAT) {
    throw new LakeError('SCHEMA_TOO_NEW', `the backup repository in ${root} has format ${record.format}; this lake reads format ${REPOSITORY_FORMAT}`);
  }
  return record;
}

function newRecord(passphrase: string | null): RepositoryRecord {
  if (!passphrase) return { format: REPOSITORY_FORMAT, createdAt: new Date().toISOString(), encryption: null };
  const salt = randomBytes(16);
  const key = scryptSync(passphrase, salt, 32, SCRYPT);
  return {
    format: REPOSITORY_FORMAT,
    createdAt: new Date().toISOString(),
    encryption: { kdf: 'scrypt', N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString('hex'), check: keyCheck(key) },
  };
}

function keyFor(record: RepositoryRecord, passphrase: string | null, root: string, keyFile: string | undefined): BackupKey {
  const encryption = record.encryption;
  if (!encryption) {
    if (passphrase) {
      throw new LakeError('BACKUP_KEY', `the backup repository in ${root} was made without encryption, and LAKE_BACKUP_KEY_FILE is set: use another LAKE_BACKUP_DIR for encrypted backups, or unset the key`);
    }
    return null;
  }
  if (!passphrase) throw new LakeError('BACKUP_KEY', `the backup repository in ${root} is encrypted: set LAKE_BACKUP_KEY_FILE to the file holding its passphrase`);
  const key = scryptSync(passphrase, Buffer.from(encryption.salt, 'hex'), 32, { N: encryption.N, r: encryption.r, p: encryption.p, maxmem: SCRYPT.maxmem });
  const expected = Buffer.from(encryption.check, 'hex');
  const actual = Buffer.from(keyCheck(key), 'hex');
  if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
    throw new LakeError('BACKUP_KEY', `the passphrase in ${keyFile} is not the key of the backup repository in ${root}`);
  }
  return key;
}

function keyCheck(key: Buffer): string {
  return createHmac('sha256', key).update(KEY_CHECK).digest('hex');
}

async function readPassphrase(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new LakeError('CONFIG_INVALID', `LAKE_BACKUP_KEY_FILE=${file} cannot be read (${(cause as NodeJS.ErrnoException).code ?? cause})`, { cause });
  }
  const passphrase = text.replace(/\r?\n$/, '');
  if (passphrase.length < 12) throw new LakeError('CONFIG_INVALID', `LAKE_BACKUP_KEY_FILE=${file}: the passphrase is ${passphrase.length} characters; use at least 12`);
  return passphrase;
}
