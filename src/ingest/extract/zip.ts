// Zip archives through yauzl: the central directory is read lazily, one entry at a time (bounded
// memory for millions of entries), and each entry is inflated only when opened.
import { close, fstat, open, read } from 'node:fs';
import { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { LakeError } from '../../errors.js';
import type { ReaderContext } from './context.js';
import { checkArchiveEntryName, decodeZipEntryName, displayName } from './entry-names.js';
import { ChargedExtent, InflationGuard, type Location } from './limits.js';
import { validDate, type EntryOutcome, type ExportEntry, type Refusal } from './types.js';

/**
 * The zip file as yauzl reads it. yauzl's own reader passes every offset the archive declares
 * straight to fs.read, which throws, inside a callback where nothing can catch it, for a position
 * past 2^53 (a ZIP64 field of 0xFFFF...): the process died. Here such a read fails as an error,
 * which yauzl reports like any other unreadable offset.
 */
class ZipFileReader extends yauzl.RandomAccessReader {
  constructor(private readonly fd: number) {
    super();
  }

  override read(buffer: Buffer, offset: number, length: number, position: number, callback: (error: Error | null, bytesRead?: number) => void): void {
    const problem = rangeProblem(position, position + length);
    if (problem !== null) {
      setImmediate(() => callback(problem));
      return;
    }
    read(this.fd, buffer, offset, length, position, (error, bytesRead) => callback(error, bytesRead));
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return new FileRangeStream(this.fd, start, end, rangeProblem(start, end));
  }

  override close(callback: (error: Error | null) => void): void {
    close(this.fd, callback);
  }
}

/** Bytes start..end of the file; never closes the descriptor (fs.ReadStream's destroy() would, even without autoClose). */
class FileRangeStream extends Readable {
  private position: number;

  constructor(
    private readonly fd: number,
    start: number,
    private readonly end: number,
    private readonly problem: Error | null,
  ) {
    super({ highWaterMark: 64 * 1024 });
    this.position = start;
  }

  override _read(size: number): void {
    if (this.problem !== null) {
      this.destroy(this.problem);
      return;
    }
    const length = Math.min(size, this.end - this.position);
    if (!(length > 0)) {
      this.push(null);
      return;
    }
    const buffer = Buffer.allocUnsafe(length);
    read(this.fd, buffer, 0, length, this.position, (error, bytesRead) => {
      if (error !== null) {
        this.destroy(error);
        return;
      }
      this.position += bytesRead;
      // A short file ends the stream early; yauzl reports the missing bytes.
      this.push(bytesRead === 0 ? null : buffer.subarray(0, bytesRead));
    });
  }
}

function rangeProblem(start: number, end: number): Error | null {
  if (Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && end >= start) return null;
  return new Error(`the archive points at bytes ${start} to ${end}, past the end of any file`);
}

/**
 * Opens the central directory. Names are decoded by us (decodeStrings: false, then
 * decodeZipEntryName), because yauzl rejects a bad name by failing the whole archive, and we
 * refuse just that entry; and yauzl reads every name without the UTF-8 flag as CP437.
 */
export function openZip(input: string, archive: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    const fail = (error: Error): void => {
      reject(
        new LakeError('ARCHIVE_INVALID', `${archive}: not a readable zip (truncated, or no central directory): ${error.message}`, {
          cause: error,
          details: { archive },
        }),
      );
    };
    open(input, 'r', (openError, fd) => {
      if (openError !== null) return fail(openError);
      fstat(fd, (statError, stats) => {
        if (statError !== null) return close(fd, () => fail(statError));
        const options = { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true, strictFileNames: true };
        yauzl.fromRandomAccessReader(new ZipFileReader(fd), stats.size, options, (error, zip) => {
          if (error !== null || zip === undefined) return close(fd, () => fail(error ?? new Error('no zip file')));
          // Errors outside readEntry (closing the file) must not crash the process.
          zip.on('error', () => {});
          resolve(zip);
        });
      });
    });
  });
}

function nextEntry(zip: yauzl.ZipFile): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry): void => {
      cleanup();
      resolve(entry);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(null);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

const UNIX_HOST = 3;
const FILE_TYPE_MASK = 0o170000;
const SYMLINK_TYPE = 0o120000;

function isSymlink(entry: yauzl.Entry): boolean {
  return entry.versionMadeBy >> 8 === UNIX_HOST && ((entry.externalFileAttributes >>> 16) & FILE_TYPE_MASK) === SYMLINK_TYPE;
}

export async function* readZip(zip: yauzl.ZipFile, input: string, archive: string, context: ReaderContext): AsyncGenerator<EntryOutcome> {
  const { budget, namer } = context;
  const { maxEntryBytes, maxCompressionRatio, ratioThresholdBytes } = budget.limits;
  let compressedTotal = 0;
  let index = 0;

  for (;;) {
    const entry = await nextEntry(zip).catch((error: Error) => {
      throw centralDirectoryError(error, archive, index);
    });
    if (entry === null) return;
    index += 1;

    // zbsm.zip-style overlapping entries: real entries cannot hold more compressed data than the file.
    compressedTotal += entry.compressedSize;
    if (compressedTotal > zip.fileSize) {
      throw new LakeError(
        'ARCHIVE_UNSAFE',
        `${archive}: entries claim ${compressedTotal} compressed bytes in a ${zip.fileSize}-byte file ` +
          `(overlapping entries, a zip bomb technique)`,
        { details: { archive, entryIndex: index } },
      );
    }

    const rawName = decodeZipEntryName(entry.fileNameRaw, entry.generalPurposeBitFlag, entry.extraFields);
    const name = checkArchiveEntryName(rawName);
    const refuse = (category: Refusal['category'], reason: string, path = name.ok ? name.path : displayName(rawName)): EntryOutcome => ({
      refused: { path, archive, input, category, reason },
    });
    if (!name.ok) {
      yield refuse(name.category, name.reason);
      continue;
    }
    if (name.isDirectory) continue;
    if (isSymlink(entry)) {
      yield refuse('unsafe', 'symbolic link entry not supported');
      continue;
    }
    if (entry.isEncrypted()) {
      yield refuse('encrypted', 'encrypted entry not supported');
      continue;
    }
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
      yield refuse('invalid', `unsupported compression method ${entry.compressionMethod} (only stored and deflate are)`);
      continue;
    }
    if (entry.uncompressedSize > maxEntryBytes) {
      yield refuse('too_large', `declared size ${entry.uncompressedSize} bytes is over the limit of ${maxEntryBytes} (maxEntryBytes)`);
      continue;
    }
    if (entry.uncompressedSize > ratioThresholdBytes && entry.uncompressedSize > maxCompressionRatio * entry.compressedSize) {
      const ratio = entry.compressedSize > 0 ? Math.round(entry.uncompressedSize / entry.compressedSize) : Infinity;
      yield refuse('unsafe', `declared compression ratio ${ratio}:1 is over the limit of ${maxCompressionRatio}:1 (maxCompressionRatio)`);
      continue;
    }

    const path = namer.claim(name.path);
    budget.declareBytes(entry.uncompressedSize, { archive, entry: path });
    yield { entry: new ZipEntry(zip, entry, path, archive, input, context) };
  }
}

function centralDirectoryError(error: Error, archive: string, entriesRead: number): LakeError {
  // yauzl stops at a strongly encrypted entry (PKWARE SES) before its name is readable.
  const problem = /strong encryption/.test(error.message)
    ? 'encrypted entry not supported (strong encryption); the rest of the archive cannot be read'
    : `corrupt central directory: ${error.message}`;
  return new LakeError('ARCHIVE_INVALID', `${archive}: ${problem} (after entry ${entriesRead})`, {
    cause: error,
    details: { archive, entryIndex: entriesRead + 1 },
  });
}

class ZipEntry implements ExportEntry {
  readonly sequential = false;
  readonly size: number;
  readonly modifiedAt: Date | null;
  private readonly extent = new ChargedExtent();

  constructor(
    private readonly zip: yauzl.ZipFile,
    private readonly zipEntry: yauzl.Entry,
    readonly path: string,
    readonly archive: string,
    readonly input: string,
    private readonly context: ReaderContext,
  ) {
    this.size = zipEntry.uncompressedSize;
    this.modifiedAt = validDate(zipEntry.getLastModDate({ timezone: 'UTC' }));
  }

  async open(): Promise<Readable> {
    const location: Location = { archive: this.archive, entry: this.path };
    this.context.lifetime.assertOpen(`${this.archive}: entry "${this.path}"`);
    const raw = await new Promise<Readable>((resolve, reject) => {
      this.zip.openReadStream(this.zipEntry, (error, stream) => {
        if (error !== null || stream === undefined) reject(this.entryError(error ?? new Error('no stream')));
        else resolve(stream);
      });
    });
    const guard = new InflationGuard({
      budget: this.context.budget,
      location: () => location,
      compressedBytes: () => this.zipEntry.compressedSize,
      extent: this.extent,
    });
    raw.on('error', (error: Error) => guard.destroy(this.entryError(error)));
    // Closing the guard early (consumer done, or a limit tripped) stops yauzl reading and inflating.
    guard.on('close', () => raw.destroy());
    raw.pipe(guard);
    return this.context.lifetime.track(guard);
  }

  /** yauzl's own message (size mismatch, bad local header, zlib error) with archive, entry and offset. */
  private entryError(error: Error): LakeError {
    if (error instanceof LakeError) return error;
    const offset = this.zipEntry.relativeOffsetOfLocalHeader;
    return new LakeError('ARCHIVE_INVALID', `${this.archive}: entry "${this.path}": ${error.message} (local header at byte ${offset})`, {
      cause: error,
      details: { archive: this.archive, entry: this.path, byteOffset: offset },
    });
  }
}
