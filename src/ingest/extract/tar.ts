// Tar and gzipped tar through tar-stream. A tar is one sequential stream, so its entries can only
// be read in order, each at most once, while it is the current entry; the entry object says so
// (`sequential: true`) and open() enforces it with a clear error instead of hanging or returning
// someone else's bytes.
import { createReadStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { LakeError } from '../../errors.js';
import type { ReaderContext } from './context.js';
import { checkArchiveEntryName, displayName } from './entry-names.js';
import { InflationGuard, type Location } from './limits.js';
import { validDate, type EntryOutcome, type ExportEntry, type Refusal } from './types.js';

/**
 * The entry stream tar-stream really hands out: a streamx Readable (not a Node one, whatever its
 * typings say). Destroying it destroys the whole extraction, so we only ever pause, resume or
 * drain it.
 */
interface TarSource {
  header: tarStream.Headers;
  /** Offset of the entry's header in the (uncompressed) tar stream. */
  offset: number;
  readonly destroyed: boolean;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

const READ_CHUNK = 64 * 1024;
const END_OF_ARCHIVE_BYTES = 1024;
/** PAX extended headers and GNU long names are metadata: a few KiB in real archives. */
const MAX_TAR_HEADER_BYTES = 1024 * 1024;

/**
 * Bytes tar-stream holds while it waits for the end of a PAX or GNU long-name header: it keeps
 * such a header whole in memory, whatever size it declares (its internal buffer is the only place
 * that says so; tar-stream is pinned, and a test fails if this stops measuring). Entry data is not
 * held there: it flows out with backpressure.
 */
function bytesHeldByParser(extract: tarStream.Extract): number {
  const held = (extract as unknown as { _buffer?: { buffered?: unknown } })._buffer?.buffered;
  return typeof held === 'number' ? held : 0;
}

/** The last `length` bytes of a stream, kept without holding the stream. */
class TailBytes {
  private tail = Buffer.alloc(0);
  private seen = 0;

  constructor(private readonly length: number) {}

  push(chunk: Buffer): void {
    this.seen += chunk.length;
    const joined = chunk.length >= this.length ? chunk : Buffer.concat([this.tail, chunk]);
    this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - this.length)));
  }

  isAllZero(): boolean {
    return this.seen >= this.length && this.tail.every((byte) => byte === 0);
  }
}

export async function* readTar(input: string, archive: string, gzipped: boolean, context: ReaderContext): AsyncGenerator<EntryOutcome> {
  const { budget, namer } = context;
  let current: Location = { archive, entry: null };
  let currentHeaderOffset = 0;

  const file = createReadStream(input, { highWaterMark: READ_CHUNK });
  const gunzip = gzipped ? createGunzip() : null;
  // For a plain tar there is nothing to inflate: the guard only counts bytes against the total.
  const guard = new InflationGuard({
    budget,
    location: () => current,
    ...(gunzip === null ? {} : { compressedBytes: () => gunzip.bytesWritten }),
  });
  const extract = tarStream.extract({ allowUnknownFormat: true });

  const toArchiveError = (error: Error): Error => {
    if (error instanceof LakeError || 'syscall' in error) return error;
    const where = current.entry === null ? '' : ` in entry "${current.entry}" (header at byte ${currentHeaderOffset} of the tar stream)`;
    const isZlib = String((error as NodeJS.ErrnoException).code ?? '').startsWith('Z_');
    const problem = isZlib
      ? `gzip data truncated or corrupt (${error.message}) after ${guard.bytesInflated} inflated bytes`
      : /Unexpected end of data/.test(error.message)
        ? `tar truncated: the data ends after ${guard.bytesInflated} bytes`
        : `corrupt tar (${error.message})`;
    return new LakeError('ARCHIVE_INVALID', `${archive}: ${problem}${where}`, {
      cause: error,
      details: { archive, entry: current.entry, byteOffset: isZlib ? guard.bytesInflated : currentHeaderOffset },
    });
  };
  let failure: Error | null = null;
  const fail = (error: Error): void => {
    failure ??= toArchiveError(error);
    extract.destroy(failure);
  };
  file.on('error', fail);
  gunzip?.on('error', fail);
  guard.on('error', fail);
  if (gunzip === null) file.pipe(guard);
  else file.pipe(gunzip).pipe(guard);
  guard.pipe(extract as unknown as Writable);
  // tar-stream accepts a stream cut exactly at an entry boundary; the end-of-archive marker (at
  // least two zero blocks, Z9) tells such a truncated tar from a complete one.
  const tail = new TailBytes(END_OF_ARCHIVE_BYTES);
  guard.on('data', (chunk: Buffer) => {
    tail.push(chunk);
    const held = bytesHeldByParser(extract);
    if (held <= MAX_TAR_HEADER_BYTES) return;
    const from = guard.bytesInflated - held;
    fail(
      new LakeError(
        'ARCHIVE_UNSAFE',
        `${archive}: a PAX or GNU long-name header larger than ${MAX_TAR_HEADER_BYTES} bytes, from byte ${from} of the tar stream; stopped`,
        { details: { archive, byteOffset: from, limit: 'tarHeaderBytes', value: MAX_TAR_HEADER_BYTES } },
      ),
    );
  });
  const failureOf = (): Error | null => failure;

  const sources = extract[Symbol.asyncIterator]() as unknown as AsyncIterator<TarSource>;
  let previous: TarEntry | null = null;
  try {
    for (;;) {
      previous?.retire();
      previous = null;
      const next = await sources.next().catch((error: Error) => {
        throw toArchiveError(error);
      });
      if (next.done === true) {
        if (!tail.isAllZero()) {
          throw new LakeError('ARCHIVE_INVALID', `${archive}: tar truncated: no end-of-archive marker after ${guard.bytesInflated} bytes`, {
            details: { archive, byteOffset: guard.bytesInflated },
          });
        }
        return;
      }
      const source = next.value;
      const { header } = source;
      guard.startSegment();
      currentHeaderOffset = source.offset;
      current = { archive, entry: displayName(header.name) };
      budget.countEntries(1, current);
      // A size field that is not octal digits, a negative base-256 one, or a PAX `size` that is not
      // a number, reach us as NaN, null or < 0; tar-stream then never ends the entry (a hang).
      const size = header.size ?? 0;
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new LakeError(
          'ARCHIVE_INVALID',
          `${archive}: corrupt tar: entry "${current.entry}" declares an invalid size (${String(header.size)}) ` +
            `(header at byte ${source.offset} of the tar stream)`,
          { details: { archive, entry: current.entry, byteOffset: source.offset } },
        );
      }

      const outcome = classify(header, source, input, archive, context);
      if (outcome === null) {
        drain(source);
        continue;
      }
      if ('refused' in outcome) {
        drain(source);
        yield outcome;
        continue;
      }
      previous = new TarEntry(source, namer.claim(outcome.path), archive, input, toArchiveError, failureOf);
      current = { archive, entry: previous.path };
      budget.declareBytes(header.size ?? 0, current);
      yield { entry: previous };
    }
  } finally {
    previous?.retire();
    for (const stream of [file, gunzip, guard]) stream?.destroy();
    extract.destroy();
  }
}

/** null for entries that are not yielded (directories); the normalised path for files. */
function classify(
  header: tarStream.Headers,
  source: TarSource,
  input: string,
  archive: string,
  context: ReaderContext,
): { path: string } | { refused: Refusal } | null {
  const name = checkArchiveEntryName(header.name);
  const refuse = (category: Refusal['category'], reason: string): { refused: Refusal } => ({
    refused: { path: name.ok ? name.path : displayName(header.name), archive, input, category, reason },
  });
  if (!name.ok) return refuse(name.category, name.reason);
  const target = displayName(header.linkname ?? '');
  switch (header.type) {
    case 'directory':
      return null;
    case 'symlink':
      return refuse('unsafe', `symbolic link entry not supported (target "${target}")`);
    case 'link':
      return refuse('unsafe', `hard link entry not supported (target "${target}")`);
    case 'file':
    case 'contiguous-file':
      break;
    default:
      return refuse('invalid', `unsupported tar entry type ${header.type ?? `(typeflag at header byte ${source.offset + 156})`}`);
  }
  // A PAX `linkpath` (or a link name) on a regular file means nothing to a correct writer and is
  // the shape of link-confusion attacks (CVE-2025-45582): refuse rather than guess.
  if (target !== '') return refuse('unsafe', `regular file entry carries a link target "${target}"`);
  const size = header.size ?? 0;
  if (size > context.budget.limits.maxEntryBytes) {
    return refuse('too_large', `size ${size} bytes is over the limit of ${context.budget.limits.maxEntryBytes} (maxEntryBytes)`);
  }
  return { path: name.path };
}

/** Reads an entry's remaining bytes to nowhere, so the parser can reach the next header. */
function drain(source: TarSource): void {
  source.on('data', () => {});
  source.resume();
}

type EntryState = 'current' | 'opened' | 'retired';

class TarEntry implements ExportEntry {
  readonly sequential = true;
  readonly size: number;
  private state: EntryState = 'current';
  readonly modifiedAt: Date | null;
  private stream: TarEntryStream | null = null;

  constructor(
    private readonly source: TarSource,
    readonly path: string,
    readonly archive: string,
    readonly input: string,
    private readonly toArchiveError: (error: Error) => Error,
    private readonly failureOf: () => Error | null,
  ) {
    this.size = source.header.size ?? 0;
    this.modifiedAt = validDate(source.header.mtime);
  }

  open(): Promise<Readable> {
    if (this.state !== 'current') {
      const problem =
        this.state === 'opened'
          ? 'open() called a second time'
          : 'open() called after the iteration moved past this entry';
      return Promise.reject(
        new Error(`${this.archive}: entry "${this.path}": ${problem}; tar entries can be read only once, in order, before the next entry is requested`),
      );
    }
    this.state = 'opened';
    this.stream = new TarEntryStream(this.source, this.toArchiveError, this.failureOf);
    return Promise.resolve(this.stream);
  }

  /**
   * Called when the iteration moves on: cuts off a reader still attached (it sees a premature
   * close, not the next entry's bytes; no error event, so an abandoned stream cannot crash the
   * process), then drains what is left of the entry.
   */
  retire(): void {
    if (this.state === 'retired') return;
    this.state = 'retired';
    if (this.stream !== null && !this.stream.readableEnded) this.stream.destroy();
    drain(this.source);
  }
}

/** A Node Readable over tar-stream's entry, with backpressure, that never destroys the entry. */
class TarEntryStream extends Readable {
  private attached = false;
  private readonly onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.source.pause();
  };
  private readonly onEnd = (): void => {
    this.push(null);
  };
  private readonly onError = (error: Error): void => {
    this.destroy(this.toArchiveError(error));
  };

  constructor(
    private readonly source: TarSource,
    private readonly toArchiveError: (error: Error) => Error,
    private readonly failureOf: () => Error | null,
  ) {
    super();
  }

  override _read(): void {
    if (this.source.destroyed) {
      // The extraction failed (or ended) before this entry was read: its 'error' has passed.
      this.destroy(this.failureOf() ?? new Error('the tar stream was closed before this entry was read'));
      return;
    }
    if (!this.attached) {
      this.attached = true;
      this.source.on('data', this.onData);
      this.source.on('end', this.onEnd);
      this.source.on('error', this.onError);
    }
    this.source.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.source.off('data', this.onData);
    this.source.off('end', this.onEnd);
    this.source.off('error', this.onError);
    callback(error);
  }
}
