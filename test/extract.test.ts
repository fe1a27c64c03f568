// The extract stage against archives built here: well-formed ones with yazl, tar-stream's format
// and the zip/tar tools when present, malicious ones byte by byte.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { LakeError } from '../src/errors.js';
import { buildZip, paxHeader, TAR_END, tarFile, tarHeader, writeYazl } from './support/archives.js';
import {
  ChecksumStream,
  DEFAULT_LIMITS,
  readExport,
  sniffMimeType,
  type EntryOutcome,
  type ExportEntry,
  type ReadExportOptions,
  type Refusal,
} from '../src/ingest/extract/index.js';
import { ExtractBudget, InflationGuard } from '../src/ingest/extract/limits.js';
import { formatReport } from '../src/ingest/report.js';
import { runImport } from '../src/ingest/runner.js';
import { createUser, openTestLake, type TestLake } from './support/lake.js';
import { waitUntil } from './support/wait.js';

let workDir = '';
let caseCounter = 0;

before(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'lake-extract-test-'));
});

after(async () => {
  await rm(workDir, { recursive: true, force: true });
  assert.equal(existsSync(workDir), false, 'temp dir removed');
});

/** A fresh folder per case, so a case cannot see another's files. */
async function caseDir(): Promise<string> {
  caseCounter += 1;
  const dir = path.join(workDir, `case-${caseCounter}`);
  await mkdir(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Reading helpers

interface ReadEntry {
  path: string;
  archive: string | null;
  size: number | null;
  bytes: Buffer;
}

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function readAll(inputs: string[], options?: ReadExportOptions): Promise<{ entries: ReadEntry[]; refused: Refusal[] }> {
  const entries: ReadEntry[] = [];
  const refused: Refusal[] = [];
  for await (const outcome of readExport(inputs, options)) {
    if ('refused' in outcome) refused.push(outcome.refused);
    else {
      const { path: entryPath, archive, size } = outcome.entry;
      entries.push({ path: entryPath, archive, size, bytes: await readStream(await outcome.entry.open()) });
    }
  }
  return { entries, refused };
}

/** Outcomes yielded before the iteration threw, and what it threw. */
async function readUntilError(inputs: string[], options?: ReadExportOptions): Promise<{ yielded: number; error: unknown }> {
  let yielded = 0;
  try {
    for await (const outcome of readExport(inputs, options)) {
      yielded += 1;
      if ('entry' in outcome) await readStream(await outcome.entry.open());
    }
  } catch (error) {
    return { yielded, error };
  }
  return { yielded, error: null };
}

function isLakeError(code: LakeError['code'], message: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof LakeError, `expected a LakeError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  };
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Every path under dir, to show that reading an archive wrote nothing. */
async function listTree(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    found.push(path.join(entry.parentPath, entry.name));
  }
  return found.sort();
}


// ---------------------------------------------------------------------------------------------

describe('zip', () => {
  test('yields every file with its exact bytes, skips directories, in central-directory order', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'export.zip');
    const records = Buffer.from(JSON.stringify({ locations: [{ latitudeE7: 1 }] }));
    const photo = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 251));
    await writeYazl(file, [
      { name: 'Takeout/', content: Buffer.alloc(0) },
      { name: 'Takeout/Location History/Records.json', content: records },
      { name: 'Takeout/Google Photos/IMG_0001.jpg', content: photo },
      { name: 'Takeout/empty.txt', content: Buffer.alloc(0) },
    ]);
    const { entries, refused } = await readAll([file]);
    assert.deepEqual(refused, []);
    assert.deepEqual(
      entries.map((e) => [e.path, e.archive, e.size, sha256(e.bytes)]),
      [
        ['Takeout/Location History/Records.json', 'export.zip', records.length, sha256(records)],
        ['Takeout/Google Photos/IMG_0001.jpg', 'export.zip', photo.length, sha256(photo)],
        ['Takeout/empty.txt', 'export.zip', 0, sha256(Buffer.alloc(0))],
      ],
    );
  });

  test('reads a ZIP64 archive (zip64 records forced on small entries)', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'zip64.zip');
    const content = Buffer.from('zip64 content '.repeat(1000));
    await writeYazl(file, [{ name: 'Takeout/a.txt', content }, { name: 'Takeout/b.txt', content: Buffer.from('b') }], { zip64: true });
    // The archive really uses the ZIP64 end of central directory record.
    assert.ok((await readFile(file)).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06])));
    const { entries } = await readAll([file]);
    assert.deepEqual(entries.map((e) => [e.path, e.bytes.toString()]), [['Takeout/a.txt', content.toString()], ['Takeout/b.txt', 'b']]);
  });

  test('refuses traversal, absolute, drive-letter and backslash names by name, reads the rest, writes nothing', async () => {
    const dir = await caseDir();
    const inner = path.join(dir, 'a', 'b');
    await mkdir(inner, { recursive: true });
    const file = path.join(inner, 'evil.zip');
    await writeFile(
      file,
      buildZip([
        { name: '../../x', content: Buffer.from('escaped') },
        { name: '/etc/x', content: Buffer.from('absolute') },
        { name: 'C:/x', content: Buffer.from('drive') },
        { name: 'a\\..\\..\\b', content: Buffer.from('backslash') },
        { name: 'ok\\windows\\name.txt', content: Buffer.from('fine') },
        { name: './Takeout//good.json', content: Buffer.from('{}') },
      ]),
    );
    const before = await listTree(dir);
    const { entries, refused } = await readAll([file]);
    assert.deepEqual(
      refused.map((r) => [r.path, r.category, r.reason]),
      [
        ['../../x', 'unsafe', 'entry name "../../x" has a ".." segment'],
        ['/etc/x', 'unsafe', 'entry name "/etc/x" is an absolute path'],
        ['C:/x', 'unsafe', 'entry name "C:/x" starts with a drive letter'],
        ['a\\..\\..\\b', 'unsafe', 'entry name "a\\..\\..\\b" has a ".." segment'],
      ],
    );
    assert.deepEqual(entries.map((e) => [e.path, e.bytes.toString()]), [['ok/windows/name.txt', 'fine'], ['Takeout/good.json', '{}']]);
    assert.deepEqual(await listTree(dir), before);
    assert.equal(existsSync(path.join(dir, 'x')), false);
  });

  test('refuses an entry with the encryption bit as "encrypted entry not supported"', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'encrypted.zip');
    await writeFile(
      file,
      buildZip([
        { name: 'secret.json', content: Buffer.from('{"a":1}'), method: 0, flags: 0x1 },
        { name: 'secret-deflated.json', content: Buffer.from('{"a":1}'), method: 8, flags: 0x1 },
        { name: 'public.json', content: Buffer.from('{"b":2}') },
      ]),
    );
    const { entries, refused } = await readAll([file]);
    assert.deepEqual(refused, [
      { path: 'secret.json', archive: 'encrypted.zip', input: file, category: 'encrypted', reason: 'encrypted entry not supported' },
      { path: 'secret-deflated.json', archive: 'encrypted.zip', input: file, category: 'encrypted', reason: 'encrypted entry not supported' },
    ]);
    assert.deepEqual(entries.map((e) => e.path), ['public.json']);
  });

  test('refuses entries of a real password-protected zip (zip -P)', { skip: spawnSync('zip', ['-v']).error ? 'no zip tool' : false }, async () => {
    const dir = await caseDir();
    await writeFile(path.join(dir, 'diary.txt'), 'dear diary');
    execFileSync('zip', ['-q', '-P', 'hunter2', 'protected.zip', 'diary.txt'], { cwd: dir });
    const { entries, refused } = await readAll([path.join(dir, 'protected.zip')]);
    assert.deepEqual(entries, []);
    assert.deepEqual(refused.map((r) => [r.path, r.category, r.reason]), [['diary.txt', 'encrypted', 'encrypted entry not supported']]);
  });

  test('a strongly encrypted entry stops the archive with ARCHIVE_INVALID', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'strong.zip');
    await writeFile(file, buildZip([{ name: 'a.txt', content: Buffer.from('x') }, { name: 'b.txt', content: Buffer.from('y'), flags: 0x41 }]));
    const { yielded, error } = await readUntilError([file]);
    assert.equal(yielded, 1);
    isLakeError('ARCHIVE_INVALID', /^strong\.zip: encrypted entry not supported \(strong encryption\)/)(error);
  });

  test('refuses an honest zip bomb entry by its declared ratio, before inflating it', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'bomb.zip');
    await writeFile(file, buildZip([{ name: 'zeros.bin', content: Buffer.alloc(20 * 1024 * 1024) }, { name: 'small.txt', content: Buffer.from('ok') }]));
    const { entries, refused } = await readAll([file]);
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.path, 'zeros.bin');
    assert.equal(refused[0]!.category, 'unsafe');
    assert.match(refused[0]!.reason, /^declared compression ratio \d+:1 is over the limit of 1000:1 \(maxCompressionRatio\)$/);
    assert.deepEqual(entries.map((e) => e.path), ['small.txt']);
  });

  test("an entry that inflates past its declared size fails with yauzl's error, naming the entry", async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'liar.zip');
    const content = Buffer.from('0123456789'.repeat(10_000));
    await writeFile(
      file,
      buildZip([
        { name: 'under.txt', content, declaredSize: 1000 },
        { name: 'over.txt', content: Buffer.from('short'), declaredSize: 50 },
      ]),
    );
    const failures: Array<[string, number | null, unknown]> = [];
    for await (const outcome of readExport([file])) {
      assert.ok('entry' in outcome);
      const failure = await readStream(await outcome.entry.open()).then(() => null, (error: unknown) => error);
      failures.push([outcome.entry.path, outcome.entry.size, failure]);
    }
    assert.deepEqual(failures.map(([name, size]) => [name, size]), [['under.txt', 1000], ['over.txt', 50]]);
    isLakeError('ARCHIVE_INVALID', /^liar\.zip: entry "under\.txt": too many bytes in the stream\. expected 1000\. got at least \d+ \(local header at byte 0\)$/)(failures[0]![2]);
    isLakeError('ARCHIVE_INVALID', /^liar\.zip: entry "over\.txt": not enough bytes in the stream\. expected 50\. got only 5 \(local header at byte \d+\)$/)(failures[1]![2]);
  });

  test('a truncated zip (no central directory) is ARCHIVE_INVALID naming the archive, before any outcome', async () => {
    const dir = await caseDir();
    const good = path.join(dir, 'takeout-20241128T000000Z-001.zip');
    const cut = path.join(dir, 'takeout-20241128T000000Z-002.zip');
    await writeFile(good, buildZip([{ name: 'a.txt', content: Buffer.from('a') }]));
    const whole = buildZip([{ name: 'b.txt', content: Buffer.from('b'.repeat(5000)) }]);
    await writeFile(cut, whole.subarray(0, whole.length - 60));
    const { yielded, error } = await readUntilError([good, cut]);
    assert.equal(yielded, 0, 'the truncated second part is found before the first part is read');
    isLakeError('ARCHIVE_INVALID', /^takeout-20241128T000000Z-002\.zip: not a readable zip \(truncated, or no central directory\)/)(error);
  });

  test('overlapping entries (zbsm.zip technique) stop the archive as ARCHIVE_UNSAFE', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'overlap.zip');
    const kernel = Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 31) % 256));
    await writeFile(file, buildZip([{ name: 'k.bin', content: kernel, method: 0 }], { centralRecords: [0, 0, 0] }));
    const { error } = await readUntilError([file]);
    isLakeError('ARCHIVE_UNSAFE', /^overlap\.zip: entries claim \d+ compressed bytes in a \d+-byte file \(overlapping entries/)(error);
  });

  test('decodes CP437 names when the UTF-8 flag is off, replaces invalid UTF-8, normalises to NFC', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'names.zip');
    await writeFile(
      file,
      buildZip([
        { name: Buffer.from([0x63, 0x61, 0x66, 0x82, 0x2e, 0x74, 0x78, 0x74]), content: Buffer.from('1') }, // "caf\x82.txt" in CP437
        { name: Buffer.from('naïve.txt', 'utf8'), flags: 0x800, content: Buffer.from('2') },
        { name: Buffer.from([0x62, 0x61, 0x64, 0xff, 0x2e, 0x74, 0x78, 0x74]), flags: 0x800, content: Buffer.from('3') },
        { name: Buffer.from('Cafe\u0301-nfd.txt', 'utf8'), flags: 0x800, content: Buffer.from('4') },
        { name: Buffer.from('line\nbreak.txt', 'utf8'), flags: 0x800, content: Buffer.from('5') },
      ]),
    );
    const { entries, refused } = await readAll([file]);
    assert.deepEqual(entries.map((e) => [e.path, e.bytes.toString()]), [
      ['café.txt', '1'],
      ['naïve.txt', '2'],
      ['bad\uFFFD.txt', '3'],
      ['Caf\u00e9-nfd.txt', '4'],
    ]);
    assert.deepEqual(refused.map((r) => [r.path, r.category, r.reason]), [
      ['line\\x0abreak.txt', 'invalid', 'entry name "line\\x0abreak.txt" contains a control character'],
    ]);
  });

  test('refuses a Unix symbolic link entry and an unsupported compression method', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'links.zip');
    await writeFile(
      file,
      buildZip([
        { name: 'link', content: Buffer.from('/etc/passwd'), method: 0, versionMadeBy: 0x0314, externalAttributes: (0o120777 << 16) >>> 0 },
        { name: 'bzip2.bin', content: Buffer.from('data'), method: 0 },
        { name: 'regular', content: Buffer.from('r'), versionMadeBy: 0x0314, externalAttributes: (0o100644 << 16) >>> 0 },
      ]),
    );
    // Patch the second entry's method to 12 (bzip2) in its local and central headers.
    const bytes = await readFile(file);
    const secondLocal = bytes.indexOf(Buffer.from('bzip2.bin')) - 30;
    bytes.writeUInt16LE(12, secondLocal + 8);
    const secondCentral = bytes.lastIndexOf(Buffer.from('bzip2.bin')) - 46;
    bytes.writeUInt16LE(12, secondCentral + 10);
    await writeFile(file, bytes);
    const { entries, refused } = await readAll([file]);
    assert.deepEqual(refused.map((r) => [r.path, r.category, r.reason]), [
      ['link', 'unsafe', 'symbolic link entry not supported'],
      ['bzip2.bin', 'invalid', 'unsupported compression method 12 (only stored and deflate are)'],
    ]);
    assert.deepEqual(entries.map((e) => e.path), ['regular']);
  });

  test('10k empty entries over a lower entry limit fail before any outcome; under it they all come through', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'many.zip');
    const names = Array.from({ length: 10_000 }, (_, i) => ({ name: i % 2 === 0 ? `d${i}/` : `f${i}`, method: 0 }));
    await writeFile(file, buildZip(names));
    const { yielded, error } = await readUntilError([file], { limits: { maxEntries: 5000 } });
    assert.equal(yielded, 0);
    isLakeError('ARCHIVE_UNSAFE', /^many\.zip: the export has more than 5000 entries \(limit maxEntries\)$/)(error);
    const { entries } = await readAll([file], { limits: { maxEntries: 10_000 } });
    assert.equal(entries.length, 5000, 'directories are counted but not yielded');
  });

  test('the entry limit is checked against the count the archive declares, before listing anything', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'claims-many.zip');
    // An end-of-central-directory record claiming 65535 entries, with no central directory at all:
    // only the declared count can trip the limit here.
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(0xffff, 8);
    end.writeUInt16LE(0xffff, 10);
    await writeFile(file, end);
    const { error } = await readUntilError([file], { limits: { maxEntries: 1000 } });
    isLakeError('ARCHIVE_UNSAFE', /^claims-many\.zip: the export has more than 1000 entries/)(error);
  });

  test('refuses an entry over maxEntryBytes; fails when declared sizes pass maxTotalBytes', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'sizes.zip');
    await writeFile(
      file,
      buildZip([
        { name: 'big.bin', content: Buffer.alloc(3000, 1), method: 0 },
        { name: 'a.bin', content: Buffer.alloc(2000, 2), method: 0 },
        { name: 'b.bin', content: Buffer.alloc(2000, 3), method: 0 },
      ]),
    );
    const { entries, refused } = await readAll([file], { limits: { maxEntryBytes: 2500 } });
    assert.deepEqual(refused.map((r) => [r.path, r.category, r.reason]), [
      ['big.bin', 'too_large', 'declared size 3000 bytes is over the limit of 2500 (maxEntryBytes)'],
    ]);
    assert.deepEqual(entries.map((e) => e.path), ['a.bin', 'b.bin']);
    const { yielded, error } = await readUntilError([file], { limits: { maxTotalBytes: 4500 } });
    assert.equal(yielded, 1, 'big.bin (3000) fits, a.bin (3000 + 2000) does not');
    isLakeError('ARCHIVE_UNSAFE', /^sizes\.zip: entry "a\.bin": declared uncompressed sizes add up to 5000 bytes, over the limit of 4500/)(error);
  });

  test('an entry can be reopened, and is charged to the byte budget once', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'reopen.zip');
    const content = Buffer.from('reopen me '.repeat(500));
    await writeFile(file, buildZip([{ name: 'a.txt', content }]));
    let entry: ExportEntry | undefined;
    for await (const outcome of readExport([file], { limits: { maxTotalBytes: content.length } })) {
      if ('entry' in outcome) {
        entry = outcome.entry;
        assert.equal(entry.sequential, false);
        assert.deepEqual(await readStream(await entry.open()), content);
        assert.deepEqual(await readStream(await entry.open()), content);
      }
    }
    await assert.rejects(entry!.open(), /open\(\) called after the export iteration ended/);
  });
});

describe('duplicate and case-colliding names', () => {
  test('keep every entry; later ones get ~N before the extension, case-insensitively, across parts', async () => {
    const dir = await caseDir();
    const part1 = path.join(dir, 'takeout-20241128T000000Z-001.zip');
    const part2 = path.join(dir, 'takeout-20241128T000000Z-002.zip');
    await writeFile(
      part1,
      buildZip([
        { name: 'Takeout/a.json', content: Buffer.from('1') },
        { name: 'Takeout/A.json', content: Buffer.from('2') },
        { name: 'Takeout/a.json', content: Buffer.from('3') },
        { name: 'Takeout/a~2.json', content: Buffer.from('4') },
        { name: 'Takeout/.hidden', content: Buffer.from('5') },
        { name: 'Takeout/.hidden', content: Buffer.from('6') },
        { name: 'Takeout/archive_browser.html', content: Buffer.from('<html>1') },
      ]),
    );
    await writeFile(part2, buildZip([{ name: 'Takeout/archive_browser.html', content: Buffer.from('<html>2') }]));
    // Given in reverse order: inputs are read in path order, so the result is the same.
    const { entries } = await readAll([part2, part1]);
    assert.deepEqual(entries.map((e) => [e.path, e.archive, e.bytes.toString()]), [
      ['Takeout/a.json', 'takeout-20241128T000000Z-001.zip', '1'],
      ['Takeout/A~2.json', 'takeout-20241128T000000Z-001.zip', '2'],
      ['Takeout/a~3.json', 'takeout-20241128T000000Z-001.zip', '3'],
      ['Takeout/a~2~2.json', 'takeout-20241128T000000Z-001.zip', '4'],
      ['Takeout/.hidden', 'takeout-20241128T000000Z-001.zip', '5'],
      ['Takeout/.hidden~2', 'takeout-20241128T000000Z-001.zip', '6'],
      ['Takeout/archive_browser.html', 'takeout-20241128T000000Z-001.zip', '<html>1'],
      ['Takeout/archive_browser~2.html', 'takeout-20241128T000000Z-002.zip', '<html>2'],
    ]);
  });
});

describe('split Takeout', () => {
  async function parts(dir: string, numbers: number[]): Promise<string[]> {
    const files: string[] = [];
    for (const number of numbers) {
      const file = path.join(dir, `takeout-20241128T000000Z-${String(number).padStart(3, '0')}.zip`);
      await writeFile(file, buildZip([{ name: `Takeout/part${number}.txt`, content: Buffer.from(String(number)) }]));
      files.push(file);
    }
    return files;
  }

  test('a gap in the numbering is "incomplete export", before anything is read', async () => {
    const dir = await caseDir();
    const { yielded, error } = await readUntilError(await parts(dir, [1, 2, 4]));
    assert.equal(yielded, 0);
    isLakeError('ARCHIVE_INVALID', /^incomplete export: part 003 of takeout-20241128T000000Z missing \(given: 001, 002, 004\)/)(error);
  });

  test('parts that do not start at 001 are incomplete too', async () => {
    const dir = await caseDir();
    const { error } = await readUntilError(await parts(dir, [2, 3]));
    isLakeError('ARCHIVE_INVALID', /^incomplete export: part 001 of takeout-20241128T000000Z missing/)(error);
  });

  test('contiguous parts are read in order; allowIncompleteSplit reads what is there', async () => {
    const dir = await caseDir();
    const files = await parts(dir, [1, 2, 3, 5]);
    const { entries } = await readAll(files.slice(0, 3).reverse());
    assert.deepEqual(entries.map((e) => e.path), ['Takeout/part1.txt', 'Takeout/part2.txt', 'Takeout/part3.txt']);
    const partial = await readAll(files, { allowIncompleteSplit: true });
    assert.equal(partial.entries.length, 4);
  });

  test('the same part given twice from two places is a usage error', async () => {
    const dir = await caseDir();
    const [first] = await parts(dir, [1]);
    const copyDir = path.join(dir, 'copy');
    await mkdir(copyDir);
    const copy = path.join(copyDir, path.basename(first!));
    await writeFile(copy, await readFile(first!));
    const { error } = await readUntilError([first!, copy]);
    isLakeError('USAGE', /^part 001 of takeout-20241128T000000Z given twice/)(error);
    // The same path twice is simply read once.
    assert.equal((await readAll([first!, first!])).entries.length, 1);
  });
});

describe('tar and tgz', () => {
  test('reads a .tgz and a .tar with exact bytes; PAX and GNU long names; ./ prefixes dropped', async () => {
    const dir = await caseDir();
    const longName = `Takeout/${'long-folder-name/'.repeat(8)}Records.json`;
    const data = Buffer.from(Array.from({ length: 10_000 }, (_, i) => (i * 13) % 256));
    const tar = Buffer.concat([
      tarFile({ name: './Takeout/', type: '5' }),
      tarFile({ name: './Takeout/a.json' }, Buffer.from('{"a":1}')),
      paxHeader({ path: longName }),
      tarFile({ name: 'truncated-name' }, data),
      tarFile({ name: '././@LongLink', type: 'L' }, Buffer.from(`Takeout/gnu/${'x'.repeat(120)}.txt\0`)),
      tarFile({ name: 'short' }, Buffer.from('gnu')),
      TAR_END,
    ]);
    await writeFile(path.join(dir, 'export.tar'), tar);
    await writeFile(path.join(dir, 'export.tgz'), zlib.gzipSync(tar));
    for (const name of ['export.tar', 'export.tgz']) {
      const { entries, refused } = await readAll([path.join(dir, name)]);
      assert.deepEqual(refused, []);
      assert.deepEqual(entries.map((e) => [e.path, e.archive, e.size, sha256(e.bytes)]), [
        ['Takeout/a.json', name, 7, sha256(Buffer.from('{"a":1}'))],
        [longName, name, data.length, sha256(data)],
        [`Takeout/gnu/${'x'.repeat(120)}.txt`, name, 3, sha256(Buffer.from('gnu'))],
      ]);
    }
  });

  test('reads a .tar.gz made by GNU tar', { skip: spawnSync('tar', ['--version']).error ? 'no tar tool' : false }, async () => {
    const dir = await caseDir();
    const source = path.join(dir, 'src', 'Takeout', 'Mail');
    await mkdir(source, { recursive: true });
    const mbox = Buffer.from('From 1545668983435175434@xxx Fri Sep 16 12:00:00 +0000 2022\nSubject: hi\n\nbody\n'.repeat(2000));
    await writeFile(path.join(source, 'All mail Including Spam and Trash.mbox'), mbox);
    execFileSync('tar', ['-czf', path.join(dir, 'takeout.tar.gz'), '-C', path.join(dir, 'src'), '.']);
    const { entries } = await readAll([path.join(dir, 'takeout.tar.gz')]);
    assert.deepEqual(entries.map((e) => [e.path, sha256(e.bytes)]), [['Takeout/Mail/All mail Including Spam and Trash.mbox', sha256(mbox)]]);
  });

  test('refuses symlinks, hard links, PAX linkpath on a file, and traversal names (PAX path too); writes nothing', async () => {
    const dir = await caseDir();
    const first = path.join(dir, 'one.tar');
    const second = path.join(dir, 'two.tar');
    await writeFile(
      first,
      Buffer.concat([
        tarFile({ name: 'x', type: '2', linkname: '/etc' }),
        tarFile({ name: 'hard', type: '1', linkname: '../../outside' }),
        paxHeader({ linkpath: '/etc/passwd' }),
        tarFile({ name: 'innocent.txt' }, Buffer.from('i')),
        tarFile({ name: 'c-drive', type: '2', linkname: 'C:../x' }),
        tarFile({ name: '../evil.txt' }, Buffer.from('e')),
        paxHeader({ path: '../../pax-evil.txt' }),
        tarFile({ name: 'fine-looking.txt' }, Buffer.from('p')),
        tarFile({ name: '/abs.txt' }, Buffer.from('a')),
        tarFile({ name: 'fifo', type: '6' }),
        TAR_END,
      ]),
    );
    // CVE-2025-45582 shape: a second archive writing through the link the first one made.
    await writeFile(second, Buffer.concat([tarFile({ name: 'x/passwd' }, Buffer.from('owned')), TAR_END]));
    const before = await listTree(dir);
    const { entries, refused } = await readAll([first, second]);
    assert.deepEqual(refused.map((r) => [r.path, r.archive, r.category, r.reason]), [
      ['x', 'one.tar', 'unsafe', 'symbolic link entry not supported (target "/etc")'],
      ['hard', 'one.tar', 'unsafe', 'hard link entry not supported (target "../../outside")'],
      ['innocent.txt', 'one.tar', 'unsafe', 'regular file entry carries a link target "/etc/passwd"'],
      ['c-drive', 'one.tar', 'unsafe', 'symbolic link entry not supported (target "C:../x")'],
      ['../evil.txt', 'one.tar', 'unsafe', 'entry name "../evil.txt" has a ".." segment'],
      ['../../pax-evil.txt', 'one.tar', 'unsafe', 'entry name "../../pax-evil.txt" has a ".." segment'],
      ['/abs.txt', 'one.tar', 'unsafe', 'entry name "/abs.txt" is an absolute path'],
      ['fifo', 'one.tar', 'invalid', 'unsupported tar entry type fifo'],
    ]);
    // The second archive's file is only an entry named x/passwd: nothing was created through a link.
    assert.deepEqual(entries.map((e) => [e.path, e.archive, e.bytes.toString()]), [['x/passwd', 'two.tar', 'owned']]);
    assert.deepEqual(await listTree(dir), before);
  });

  test('invalid UTF-8 in a tar name is replaced deterministically', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'names.tar');
    await writeFile(file, Buffer.concat([tarFile({ name: Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74]) }, Buffer.from('x')), TAR_END]));
    const { entries } = await readAll([file]);
    assert.deepEqual(entries.map((e) => e.path), ['caf\uFFFD.txt']);
  });

  async function writeGzipBomb(file: string, zeroBytes: number): Promise<void> {
    async function* content(): AsyncGenerator<Buffer> {
      yield tarHeader({ name: 'Takeout/bomb.bin', size: zeroBytes });
      const chunk = Buffer.alloc(1024 * 1024);
      for (let written = 0; written < zeroBytes; written += chunk.length) yield chunk;
    }
    await pipeline(Readable.from(content()), zlib.createGzip({ level: 9 }), createWriteStream(file));
  }

  test('a .tgz gzip bomb (~1030:1) is stopped while inflating, a few MiB in', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'bomb.tgz');
    await writeGzipBomb(file, 256 * 1024 * 1024);
    const compressed = (await stat(file)).size;
    assert.ok(256 * 1024 * 1024 / compressed > 1000, 'the bomb is over 1000:1');

    let bytesRead = 0;
    let streamError: unknown = null;
    const { error } = await (async () => {
      try {
        for await (const outcome of readExport([file])) {
          assert.ok('entry' in outcome);
          assert.equal(outcome.entry.size, 256 * 1024 * 1024);
          try {
            for await (const chunk of await outcome.entry.open()) bytesRead += (chunk as Buffer).length;
          } catch (caught) {
            streamError = caught;
          }
        }
      } catch (caught) {
        return { error: caught };
      }
      return { error: null };
    })();
    isLakeError('ARCHIVE_UNSAFE', /^bomb\.tgz: entry "Takeout\/bomb\.bin": \d+ bytes inflated from \d+ compressed bytes \(\d+:1\), over the limit of 1000:1/)(streamError);
    isLakeError('ARCHIVE_UNSAFE', /over the limit of 1000:1/)(error);
    assert.ok(bytesRead < 8 * 1024 * 1024, `stopped after ${bytesRead} bytes`);
  });

  test('a gzip bomb is stopped even when its entry is never opened', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'skipped-bomb.tgz');
    await writeGzipBomb(file, 64 * 1024 * 1024);
    const { yielded, error } = await (async () => {
      let count = 0;
      try {
        for await (const _ of readExport([file])) count += 1;
      } catch (caught) {
        return { yielded: count, error: caught };
      }
      return { yielded: count, error: null };
    })();
    assert.equal(yielded, 1);
    isLakeError('ARCHIVE_UNSAFE', /skipped-bomb\.tgz: entry "Takeout\/bomb\.bin": .* over the limit of 1000:1/)(error);
  });

  test('truncated .tgz and .tar are ARCHIVE_INVALID naming archive, entry and offset', async () => {
    const dir = await caseDir();
    const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 256));
    const tar = Buffer.concat([tarFile({ name: 'Takeout/first.txt' }, Buffer.from('first')), tarFile({ name: 'Takeout/big.bin' }, data), TAR_END]);
    const gz = zlib.gzipSync(tar);
    await writeFile(path.join(dir, 'cut.tgz'), gz.subarray(0, Math.floor(gz.length / 2)));
    await writeFile(path.join(dir, 'cut.tar'), tar.subarray(0, 1024 + 512 + 50_000));
    await writeFile(path.join(dir, 'no-end.tar'), tar.subarray(0, tar.length - TAR_END.length));

    const tgz = await readUntilError([path.join(dir, 'cut.tgz')]);
    isLakeError('ARCHIVE_INVALID', /^cut\.tgz: gzip data truncated or corrupt \(unexpected end of file\) after \d+ inflated bytes in entry "Takeout\/big\.bin" \(header at byte 1024 of the tar stream\)$/)(tgz.error);
    const plain = await readUntilError([path.join(dir, 'cut.tar')]);
    isLakeError('ARCHIVE_INVALID', /^cut\.tar: tar truncated: the data ends after 51536 bytes in entry "Takeout\/big\.bin" \(header at byte 1024 of the tar stream\)$/)(plain.error);
    const noEnd = await readUntilError([path.join(dir, 'no-end.tar')]);
    assert.equal(noEnd.yielded, 2);
    isLakeError('ARCHIVE_INVALID', /^no-end\.tar: tar truncated: no end-of-archive marker/)(noEnd.error);
  });

  test('tar entries: open once, in order; unread or half-read entries are drained', async () => {
    const dir = await caseDir();
    const big = Buffer.alloc(300_000, 0x61);
    const file = path.join(dir, 'seq.tgz');
    await writeFile(
      file,
      zlib.gzipSync(Buffer.concat([tarFile({ name: 'a' }, big), tarFile({ name: 'b' }, big), tarFile({ name: 'c' }, Buffer.from('c')), TAR_END])),
    );
    const seen: EntryOutcome[] = [];
    for await (const outcome of readExport([file])) {
      seen.push(outcome);
      assert.ok('entry' in outcome);
      const { entry } = outcome;
      assert.equal(entry.sequential, true);
      if (entry.path === 'a') {
        const stream = await entry.open();
        await assert.rejects(entry.open(), /^Error: seq\.tgz: entry "a": open\(\) called a second time; tar entries can be read only once, in order/);
        // Read one chunk and leave the rest.
        for await (const _ of stream) break;
      }
      if (entry.path === 'c') assert.equal((await readStream(await entry.open())).toString(), 'c');
    }
    assert.deepEqual(seen.map((o) => ('entry' in o ? o.entry.path : '')), ['a', 'b', 'c']);
    for (const outcome of seen.slice(0, 2)) {
      assert.ok('entry' in outcome);
      await assert.rejects(outcome.entry.open(), /open\(\) called after the iteration moved past this entry/);
    }
  });

  test('too large tar entries are refused and skipped', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'sizes.tar');
    await writeFile(file, Buffer.concat([tarFile({ name: 'big' }, Buffer.alloc(5000)), tarFile({ name: 'small' }, Buffer.from('s')), TAR_END]));
    const { entries, refused } = await readAll([file], { limits: { maxEntryBytes: 4096 } });
    assert.deepEqual(refused.map((r) => [r.path, r.category, r.reason]), [['big', 'too_large', 'size 5000 bytes is over the limit of 4096 (maxEntryBytes)']]);
    assert.deepEqual(entries.map((e) => [e.path, e.bytes.toString()]), [['small', 's']]);
  });

  test('a tar with more entries than the limit stops at the limit', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'many.tar');
    await writeFile(file, Buffer.concat([...Array.from({ length: 50 }, (_, i) => tarFile({ name: `f${i}` })), TAR_END]));
    const { yielded, error } = await readUntilError([file], { limits: { maxEntries: 20 } });
    assert.equal(yielded, 20);
    isLakeError('ARCHIVE_UNSAFE', /^many\.tar: entry "f20": the export has more than 20 entries/)(error);
  });
});

describe('inputs by magic bytes, folders and single files', () => {
  test('the extension does not decide: a zip named .tgz is read as zip, a tgz named .zip as tar', async () => {
    const dir = await caseDir();
    await writeFile(path.join(dir, 'really-zip.tgz'), buildZip([{ name: 'z.txt', content: Buffer.from('zip') }]));
    await writeFile(path.join(dir, 'really-tgz.zip'), zlib.gzipSync(Buffer.concat([tarFile({ name: 't.txt' }, Buffer.from('tar')), TAR_END])));
    const { entries } = await readAll([path.join(dir, 'really-zip.tgz'), path.join(dir, 'really-tgz.zip')]);
    assert.deepEqual(entries.map((e) => [e.path, e.archive, e.bytes.toString()]), [
      ['t.txt', 'really-tgz.zip', 'tar'],
      ['z.txt', 'really-zip.tgz', 'zip'],
    ]);
  });

  test('a single file is one entry named by its base name; a gzip that is not a tar stays as it is', async () => {
    const dir = await caseDir();
    const json = path.join(dir, 'Records.json');
    const gz = path.join(dir, 'notes.txt.gz');
    await writeFile(json, '{"locations":[]}');
    const gzipped = zlib.gzipSync(Buffer.from('plain text, not a tar'));
    await writeFile(gz, gzipped);
    const { entries } = await readAll([json, gz]);
    assert.deepEqual(entries.map((e) => [e.path, e.archive, e.size, sha256(e.bytes)]), [
      ['Records.json', null, 16, sha256(Buffer.from('{"locations":[]}'))],
      ['notes.txt.gz', null, gzipped.length, sha256(gzipped)],
    ]);
  });

  test('a missing input is NOT_FOUND', async () => {
    const dir = await caseDir();
    const { error } = await readUntilError([path.join(dir, 'nope.zip')]);
    isLakeError('NOT_FOUND', /nope\.zip: no such file or folder$/)(error);
  });

  test('a folder is walked in byte order; links inside are followed, links out and to folders are not', async () => {
    const dir = await caseDir();
    const root = path.join(dir, 'Takeout');
    const outside = path.join(dir, 'outside');
    await mkdir(path.join(root, 'Mail'), { recursive: true });
    await mkdir(path.join(root, 'b-dir'), { recursive: true });
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret.txt'), 'secret');
    await writeFile(path.join(root, 'Mail', 'inbox.mbox'), 'From a\n');
    await writeFile(path.join(root, 'a.json'), '{}');
    await writeFile(path.join(root, 'b-dir', 'z.txt'), 'z');
    await symlink(path.join(root, 'a.json'), path.join(root, 'link-inside.json'));
    await symlink(path.join(outside, 'secret.txt'), path.join(root, 'link-outside.txt'));
    await symlink(path.join(root, 'b-dir'), path.join(root, 'link-dir'));
    await symlink(outside, path.join(root, 'link-dir-outside'));
    // A name that is not UTF-8 (Latin-1 "café.txt"): read by its bytes, reported with U+FFFD.
    await writeFile(Buffer.concat([Buffer.from(`${root}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]), 'latin1 name');
    const fifoMade = spawnSync('mkfifo', [path.join(root, 'pipe')]).status === 0;

    const { entries, refused } = await readAll([root]);
    assert.deepEqual(entries.map((e) => [e.path, e.archive, e.bytes.toString()]), [
      ['Mail/inbox.mbox', null, 'From a\n'],
      ['a.json', null, '{}'],
      ['b-dir/z.txt', null, 'z'],
      ['caf\uFFFD.txt', null, 'latin1 name'],
      ['link-inside.json', null, '{}'],
    ]);
    assert.deepEqual(
      refused.map((r) => [r.path, r.category, r.reason]),
      [
        ['link-dir', 'unsafe', 'symbolic link to a folder or special file not followed'],
        ['link-dir-outside', 'unsafe', 'symbolic link to outside the folder not followed'],
        ['link-outside.txt', 'unsafe', 'symbolic link to outside the folder not followed'],
        ...(fifoMade ? [['pipe', 'invalid', 'not a regular file (device, socket or pipe)']] : []),
      ],
    );
  });
});

describe('limits', () => {
  test('the inflation guard stops a stream past maxTotalBytes, after at most one chunk', async () => {
    const budget = new ExtractBudget({ ...DEFAULT_LIMITS, maxTotalBytes: 100_000 });
    const guard = new InflationGuard({ budget, location: () => ({ archive: 'a.zip', entry: 'e' }) });
    let passed = 0;
    guard.on('data', (chunk: Buffer) => (passed += chunk.length));
    const source = Readable.from(Array.from({ length: 100 }, () => Buffer.alloc(16_384)));
    await assert.rejects(pipeline(source, guard), isLakeError('ARCHIVE_UNSAFE', /^a\.zip: entry "e": more than 100000 bytes inflated from the export \(limit maxTotalBytes\)/));
    assert.ok(passed <= 100_000, `${passed} bytes passed`);
  });

  test('the ratio check waits for ratioThresholdBytes and measures the current segment', async () => {
    const budget = new ExtractBudget({ ...DEFAULT_LIMITS, ratioThresholdBytes: 1000, maxCompressionRatio: 10 });
    let compressed = 0;
    const guard = new InflationGuard({ budget, location: () => ({ archive: 't.tgz', entry: null }), compressedBytes: () => compressed });
    const sink = new PassThrough();
    guard.pipe(sink).resume();
    compressed = 100;
    guard.write(Buffer.alloc(900)); // 9:1, under the threshold anyway
    guard.startSegment();
    compressed = 150;
    guard.write(Buffer.alloc(400)); // segment: 400 from 50, under the threshold
    const failed = new Promise((resolve) => guard.once('error', resolve));
    guard.write(Buffer.alloc(700)); // segment: 1100 from 50 = 22:1
    isLakeError('ARCHIVE_UNSAFE', /^t\.tgz: 1100 bytes inflated from 50 compressed bytes \(22:1\), over the limit of 10:1/)(await failed);
  });

  test('a limit that is not a positive number is CONFIG_INVALID', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'x.txt');
    await writeFile(file, 'x');
    const { error } = await readUntilError([file], { limits: { maxEntries: 0 } });
    isLakeError('CONFIG_INVALID', /^extract limit maxEntries must be a positive number, got 0$/)(error);
  });
});

describe('sniffMimeType', () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
  function isoMedia(brand: string, compatible: string[] = []): Buffer {
    const box = Buffer.alloc(16 + compatible.length * 4);
    box.writeUInt32BE(box.length, 0);
    box.write('ftyp', 4, 'latin1');
    box.write(brand, 8, 'latin1');
    compatible.forEach((c, i) => {
      box.write(c, 16 + i * 4, 'latin1');
    });
    return box;
  }
  const docx = buildZip([{ name: '[Content_Types].xml', content: Buffer.from('<Types/>') }, { name: 'word/document.xml', content: Buffer.from('<w:document/>') }]);

  const cases: Array<[string, Buffer, string, string | null, 'match' | 'mismatch' | 'unknown']> = [
    ['PNG named .json', png, 'Takeout/Records.json', 'image/png', 'mismatch'],
    ['PNG named .png', png, 'a.PNG', 'image/png', 'match'],
    ['JPEG', Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10]), 'IMG_0001.jpg', 'image/jpeg', 'match'],
    ['GIF', Buffer.from('GIF89a\x01\x00', 'latin1'), 'x.gif', 'image/gif', 'match'],
    ['WEBP', Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1'), 'x.webp', 'image/webp', 'match'],
    ['HEIC', isoMedia('heic', ['mif1', 'heic']), 'IMG_1.HEIC', 'image/heic', 'match'],
    ['AVIF', isoMedia('mif1', ['avif']), 'x.avif', 'image/avif', 'match'],
    ['MP4', isoMedia('isom', ['mp41']), 'clip.mp4', 'video/mp4', 'match'],
    ['QuickTime named .mp4', isoMedia('qt  '), 'clip.mp4', 'video/quicktime', 'match'],
    ['PDF', Buffer.from('%PDF-1.7\n'), 'doc.pdf', 'application/pdf', 'match'],
    ['zip', buildZip([{ name: 'a.txt', content: Buffer.from('a') }]), 'takeout-001.zip', 'application/zip', 'match'],
    ['DOCX', docx, 'letter.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', 'match'],
    ['gzip', zlib.gzipSync(Buffer.from('x')), 'takeout.tar.gz', 'application/gzip', 'match'],
    ['tar', Buffer.concat([tarFile({ name: 'a' }, Buffer.from('a')), TAR_END]), 'export.tar', 'application/x-tar', 'match'],
    ['JSON object', Buffer.from('\ufeff  {"locations": ['), 'Records.json', 'application/json', 'match'],
    ['JSON array', Buffer.from('[{"header": "YouTube"}]'), 'watch-history.json', 'application/json', 'match'],
    ['log line with brackets is not JSON', Buffer.from('[INFO] started\n'), 'x.json', 'text/plain', 'mismatch'],
    ['HTML', Buffer.from('<html><head><meta charset="UTF-8"></head><body>'), 'MyActivity.html', 'text/html', 'match'],
    ['XHTML with declaration', Buffer.from('<?xml version="1.0"?>\n<!DOCTYPE html>\n<html>'), 'a.html', 'text/html', 'match'],
    ['GPX', Buffer.from('<?xml version="1.0"?>\n<gpx version="1.1">'), 'track.gpx', 'application/gpx+xml', 'match'],
    ['plain XML for a KML name', Buffer.from('<?xml version="1.0"?>\n<root/>'), 'places.kml', 'application/xml', 'match'],
    ['CSV', Buffer.from('date,steps,calories\n2024-01-01,100,2000\n2024-01-02,"1,000",2100\n'), 'Daily Summaries.csv', 'text/csv', 'match'],
    ['mbox', Buffer.from('From 1545668983435175434@xxx Fri Sep 16 12:00:00 +0000 2022\nX-GM-THRID: 1\n'), 'All mail.mbox', 'application/mbox', 'match'],
    ['iCalendar', Buffer.from('BEGIN:VCALENDAR\r\nVERSION:2.0\r\n'), 'cal.ics', 'text/calendar', 'match'],
    ['vCard', Buffer.from('BEGIN:VCARD\nVERSION:3.0\n'), 'contacts.vcf', 'text/vcard', 'match'],
    ['text named .png', Buffer.from('just some words\n'), 'photo.png', 'text/plain', 'mismatch'],
    ['unknown extension', Buffer.from('{}'), 'data.bin', 'application/json', 'unknown'],
    ['unknown bytes', Buffer.from([0x00, 0x01, 0x02, 0x03, 0xfe]), 'x.json', null, 'unknown'],
    ['empty', Buffer.alloc(0), 'x.json', null, 'unknown'],
    ['UTF-8 cut mid-character at the end of the head', Buffer.from('caf\u00e9 au lait').subarray(0, 4), 'a.txt', 'text/plain', 'match'],
  ];
  for (const [label, head, name, detected, verdict] of cases) {
    test(label, () => {
      const result = sniffMimeType(head, name);
      assert.equal(result.detected, detected);
      assert.equal(result.verdict, verdict);
    });
  }
});

describe('ChecksumStream', () => {
  test('passes bytes through unchanged and reports their SHA-256 and count', async () => {
    const data = Buffer.from(Array.from({ length: 1_000_000 }, (_, i) => (i * 17) % 256));
    const checksum = new ChecksumStream();
    const output: Buffer[] = [];
    const collector = new PassThrough();
    collector.on('data', (chunk: Buffer) => output.push(chunk));
    await pipeline(Readable.from([data.subarray(0, 123_456), data.subarray(123_456)]), checksum, collector);
    assert.deepEqual(await checksum.digest(), { sha256: sha256(data), bytes: data.length });
    assert.deepEqual(Buffer.concat(output), data);
  });

  test('hashes a file as it streams to a consumer (one read)', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'f.bin');
    const data = Buffer.alloc(3_000_000, 7);
    await writeFile(file, data);
    const checksum = new ChecksumStream();
    let consumed = 0;
    await pipeline(createReadStream(file), checksum, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) consumed += chunk.length;
    });
    assert.equal(consumed, data.length);
    assert.equal((await checksum.digest()).sha256, sha256(data));
  });

  test('a stream destroyed before its end never reports a checksum', async () => {
    const checksum = new ChecksumStream();
    const digest = checksum.digest();
    checksum.write(Buffer.from('partial'));
    checksum.destroy();
    await assert.rejects(digest, /checksum stream closed before the end of the data/);
  });
});

test('no file descriptors left open, even when the iteration is abandoned mid-archive', { skip: existsSync('/proc/self/fd') ? false : 'needs /proc' }, async () => {
  const dir = await caseDir();
  const zip = path.join(dir, 'a.zip');
  const tgz = path.join(dir, 'b.tgz');
  await writeFile(zip, buildZip([{ name: 'one', content: Buffer.alloc(100_000, 1) }, { name: 'two', content: Buffer.from('2') }]));
  await writeFile(tgz, zlib.gzipSync(Buffer.concat([tarFile({ name: 'one' }, Buffer.alloc(100_000, 1)), tarFile({ name: 'two' }), TAR_END])));
  const openFds = async (): Promise<number> => (await readdir('/proc/self/fd')).length;
  const before = await openFds();
  for (const input of [zip, tgz, dir]) {
    for await (const outcome of readExport([input])) {
      assert.ok('entry' in outcome);
      await outcome.entry.open(); // opened, never read
      break;
    }
  }
  // Closing is asynchronous: wait (bounded) for the descriptors to be closed.
  assert.equal(await waitUntil(openFds, (open) => open === before), before);
});

describe('found by the archive fuzzer (test/fuzz-archives.test.ts)', () => {
  test('ZIP64 offsets past 2^53 (end record, local header) are ARCHIVE_INVALID, not an uncaught RangeError', { timeout: 20_000 }, async () => {
    const dir = await caseDir();
    const valid = path.join(dir, 'valid.zip');
    await writeYazl(valid, [{ name: 'Takeout/a.txt', content: Buffer.from('a') }], { zip64: true });
    const bytes = await readFile(valid);

    // The ZIP64 end-of-central-directory locator's offset of the ZIP64 end record.
    const farEnd = Buffer.from(bytes);
    farEnd.writeBigUInt64LE(0xffff_ffff_ffff_ffffn, farEnd.indexOf(Buffer.from([0x50, 0x4b, 0x06, 0x07])) + 8);
    await writeFile(path.join(dir, 'far-end.zip'), farEnd);
    // The entry's local header offset, in the central record's ZIP64 extra field (its last 8 bytes).
    const farEntry = Buffer.from(bytes);
    const central = farEntry.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    const extraEnd = central + 46 + farEntry.readUInt16LE(central + 28) + farEntry.readUInt16LE(central + 30);
    const zip64Extra = farEntry.indexOf(Buffer.from([0x01, 0x00]), central + 46 + farEntry.readUInt16LE(central + 28));
    farEntry.writeBigUInt64LE(1n << 60n, zip64Extra + 4 + farEntry.readUInt16LE(zip64Extra + 2) - 8);
    assert.ok(zip64Extra + 4 + farEntry.readUInt16LE(zip64Extra + 2) <= extraEnd);
    await writeFile(path.join(dir, 'far-entry.zip'), farEntry);

    const end = await readUntilError([path.join(dir, 'far-end.zip')]);
    isLakeError('ARCHIVE_INVALID', /^far-end\.zip: not a readable zip .*points at bytes 18446744073709552000/)(end.error);
    const entry = await readUntilError([path.join(dir, 'far-entry.zip')]);
    isLakeError('ARCHIVE_INVALID', /^far-entry\.zip: entry "Takeout\/a\.txt": .*points at bytes 11529215046068\d+.*\(local header at byte 11529215046068\d+\)$/)(entry.error);
  });

  test('a tar size that is not a number (garbage octal, negative base-256, PAX size "NaN") is ARCHIVE_INVALID, not a hang', { timeout: 20_000 }, async () => {
    const dir = await caseDir();
    const garbage = tarHeader({ name: 'Takeout/a.json' });
    garbage.write('zz9-zz9-zz9\0', 124, 'latin1');
    const negative = tarHeader({ name: 'Takeout/a.json' });
    negative.fill(0xff, 124, 136);
    negative[135] = 0xfe; // two's complement: -1
    for (const header of [garbage, negative]) {
      header.fill(0x20, 148, 156);
      header.write(`${header.reduce((sum, byte) => sum + byte, 0).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    }
    const tars: Record<string, Buffer> = {
      'garbage.tar': Buffer.concat([garbage, Buffer.alloc(512), TAR_END]),
      'negative.tar': Buffer.concat([negative, Buffer.alloc(512), TAR_END]),
      'pax-size.tgz': zlib.gzipSync(Buffer.concat([paxHeader({ size: 'NaN' }), tarFile({ name: 'Takeout/a.json' }, Buffer.from('{}')), TAR_END])),
    };
    for (const [name, data] of Object.entries(tars)) {
      await writeFile(path.join(dir, name), data);
      const { yielded, error } = await readUntilError([path.join(dir, name)]);
      assert.equal(yielded, 0, name);
      isLakeError('ARCHIVE_INVALID', new RegExp(`^${name.replace('.', '\\.')}: corrupt tar: entry "Takeout/a\\.json" declares an invalid size \\((NaN|-\\d+)\\) \\(header at byte (0|1024) of the tar stream\\)$`))(error);
    }
  });
});

test('a tar whose PAX header is larger than 1 MiB is ARCHIVE_UNSAFE after about 1 MiB, not held in memory whole', { timeout: 60_000 }, async () => {
  const dir = await caseDir();
  const pax = paxHeader({ comment: 'x'.repeat(8 * 1024 * 1024) });
  const tar = Buffer.concat([pax, tarFile({ name: 'Takeout/a.json' }, Buffer.from('{}')), TAR_END]);
  await writeFile(path.join(dir, 'big-pax.tar'), tar);
  await writeFile(path.join(dir, 'big-pax.tgz'), zlib.gzipSync(tar, { level: 1 }));
  // A PAX header of 64 KiB (an archive full of extended attributes) is still read.
  await writeFile(path.join(dir, 'xattrs.tar'), Buffer.concat([paxHeader({ 'SCHILY.xattr.user.x': 'y'.repeat(64 * 1024) }), tarFile({ name: 'Takeout/a.json' }, Buffer.from('{}')), TAR_END]));

  for (const name of ['big-pax.tar', 'big-pax.tgz']) {
    const { yielded, error } = await readUntilError([path.join(dir, name)], name.endsWith('.tgz') ? { limits: { maxCompressionRatio: 1e6 } } : {});
    assert.equal(yielded, 0, name);
    isLakeError('ARCHIVE_UNSAFE', new RegExp(`^${name.replace('.', '\\.')}: a PAX or GNU long-name header larger than 1048576 bytes, from byte (\\d+) of the tar stream; stopped$`))(error);
    assert.ok(Number((error as LakeError).details.byteOffset) < 1024 * 1024, String((error as LakeError).details.byteOffset));
  }
  const { entries } = await readAll([path.join(dir, 'xattrs.tar')]);
  assert.deepEqual(entries.map((entry) => [entry.path, entry.bytes.toString()]), [['Takeout/a.json', '{}']]);
});

// Issue 13 defect 8: zip entry names without the UTF-8 flag. Valid UTF-8 is UTF-8 (Info-ZIP on
// Linux, macOS's archiver), CP437 only otherwise; a 0x7075 Unicode Path field whose CRC matches wins.
describe('zip entry names without the UTF-8 flag', () => {
  /** Info-ZIP Unicode Path extra field: id 0x7075, version 1, CRC-32 of the raw name, the UTF-8 name. */
  function unicodePathField(rawName: Buffer, unicodeName: string, nameCrc = zlib.crc32(rawName)): Buffer {
    const unicode = Buffer.from(unicodeName, 'utf8');
    const field = Buffer.alloc(4 + 5 + unicode.length);
    field.writeUInt16LE(0x7075, 0);
    field.writeUInt16LE(5 + unicode.length, 2);
    field.writeUInt8(1, 4);
    field.writeUInt32LE(nameCrc, 5);
    unicode.copy(field, 9);
    return field;
  }
  const questionMarks = Buffer.from('Fotos/???.txt', 'latin1');
  const staleName = Buffer.from('stale.txt', 'latin1');
  const NAMES_ZIP = buildZip([
    { name: Buffer.from('Takeout/Drive/métadonnées.json', 'utf8'), content: Buffer.from('{"a":1}') }, // UTF-8, no flag
    { name: Buffer.from([0x72, 0x82, 0x73, 0x75, 0x6d, 0x82, 0x2e, 0x74, 0x78, 0x74]), content: Buffer.from('2') }, // "r\x82sum\x82.txt" in CP437
    { name: Buffer.from([0x8e, 0x72, 0x67, 0x65, 0x72, 0x2e, 0x74, 0x78, 0x74]), content: Buffer.from('3') }, // "\x8erger.txt": 0x8e = Ä in CP437, not UTF-8
    { name: questionMarks, extra: unicodePathField(questionMarks, 'Fotos/日本語.txt'), content: Buffer.from('4') },
    { name: staleName, extra: unicodePathField(staleName, 'fresh.txt', 12345), content: Buffer.from('5') }, // CRC does not match: ignored
  ]);
  const EXPECTED = ['Takeout/Drive/métadonnées.json', 'résumé.txt', 'Ärger.txt', 'Fotos/日本語.txt', 'stale.txt'];

  test('the reader: UTF-8 without the flag, CP437 otherwise, the Unicode Path field when its CRC matches', async () => {
    const dir = await caseDir();
    const file = path.join(dir, 'names.zip');
    await writeFile(file, NAMES_ZIP);
    const { entries, refused } = await readAll([file]);
    assert.deepEqual(refused, []);
    assert.deepEqual(entries.map((e) => [e.path, e.bytes.toString()]), EXPECTED.map((name, index) => [name, index === 0 ? '{"a":1}' : String(index + 1)]));
  });

  describe('through an import', () => {
    let t: TestLake;
    before(async () => {
      t = await openTestLake();
    });
    after(async () => {
      await t.dispose();
    });

    test('the report and the ledger show the decoded names', async () => {
      const user = await createUser(t.lake, 'zipnames');
      const dir = await caseDir();
      const file = path.join(dir, 'takeout-names.zip');
      await writeFile(file, NAMES_ZIP);
      const report = await runImport(t.lake.db, { userId: user, inputs: [file], batchSize: 100, blobs: t.lake.blobs });
      assert.deepEqual(report.files.map((f) => f.path).sort(), [...EXPECTED].sort());
      const text = formatReport(report);
      for (const name of EXPECTED) assert.ok(text.includes(name), `${name} in the report:\n${text}`);
      assert.ok(!/├|⌐/.test(text));
      const ledger = await t.lake.db.asUser(user, (tx) => tx.query<{ path: string }>('SELECT path FROM imports.files ORDER BY path'));
      assert.deepEqual(ledger.rows.map((r) => r.path).sort(), [...EXPECTED].sort());
    });
  });
});
