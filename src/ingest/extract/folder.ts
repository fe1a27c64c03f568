// An unpacked export (a folder) and single plain files. Folder names are read as bytes, so a name
// that is not valid UTF-8 is still opened by its real bytes while the pipeline sees the decoded
// (U+FFFD-replaced) text. Symbolic links are followed only to regular files inside the folder.
import { constants, type Dirent } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { LakeError } from '../../errors.js';
import type { ReaderContext } from './context.js';
import { checkFolderEntrySegments } from './entry-names.js';
import type { EntryOutcome, ExportEntry, Refusal } from './types.js';

const SEPARATOR = Buffer.from('/');

function isInside(root: Buffer, candidate: Buffer): boolean {
  if (candidate.equals(root) || root.equals(SEPARATOR)) return true;
  return candidate.length > root.length && candidate.subarray(0, root.length).equals(root) && candidate[root.length] === SEPARATOR[0];
}

/** Walks depth-first, names in byte order, so the same folder always gives the same sequence. */
export async function* readFolder(input: string, context: ReaderContext): AsyncGenerator<EntryOutcome> {
  const root = await realpath(Buffer.from(input), { encoding: 'buffer' });
  yield* walk(root, [], root, input, context);
}

async function* walk(directory: Buffer, segments: string[], root: Buffer, input: string, context: ReaderContext): AsyncGenerator<EntryOutcome> {
  const children = (await readdir(directory, { withFileTypes: true, encoding: 'buffer' })) as Dirent<Buffer>[];
  context.budget.countEntries(children.length, { archive: input, entry: segments.join('/') || null });
  children.sort((a, b) => Buffer.compare(a.name, b.name));

  for (const child of children) {
    const absolute = Buffer.concat([directory, SEPARATOR, child.name]);
    const childSegments = [...segments, child.name.toString('utf8')];
    if (child.isDirectory()) {
      yield* walk(absolute, childSegments, root, input, context);
      continue;
    }
    const name = checkFolderEntrySegments(childSegments);
    const shownPath = name.ok ? name.path : childSegments.join('/');
    const refuse = (category: Refusal['category'], reason: string): EntryOutcome => ({
      refused: { path: shownPath, archive: null, input, category, reason },
    });
    if (!name.ok) {
      yield refuse(name.category, name.reason);
      continue;
    }
    if (child.isSymbolicLink()) {
      const target = await realpath(absolute, { encoding: 'buffer' }).catch(() => null);
      if (target === null) {
        yield refuse('invalid', 'broken symbolic link');
        continue;
      }
      if (!isInside(root, target)) {
        yield refuse('unsafe', 'symbolic link to outside the folder not followed');
        continue;
      }
      if (!(await stat(target)).isFile()) {
        yield refuse('unsafe', 'symbolic link to a folder or special file not followed');
        continue;
      }
    } else if (!child.isFile()) {
      yield refuse('invalid', 'not a regular file (device, socket or pipe)');
      continue;
    }
    const stats = await stat(absolute);
    yield { entry: new FileEntry(absolute, root, context.namer.claim(name.path), input, stats.size, stats.mtime, context) };
  }
}

/** A single file given on the command line: its entry path is its base name. */
export async function* readSingleFile(input: string, context: ReaderContext): AsyncGenerator<EntryOutcome> {
  context.budget.countEntries(1, { archive: input, entry: null });
  const absolute = await realpath(Buffer.from(input), { encoding: 'buffer' });
  const name = checkFolderEntrySegments([path.basename(input)]);
  if (!name.ok) {
    yield { refused: { path: path.basename(input), archive: null, input, category: name.category, reason: name.reason } };
    return;
  }
  const stats = await stat(absolute);
  const directory = absolute.subarray(0, Math.max(1, absolute.lastIndexOf(SEPARATOR)));
  yield { entry: new FileEntry(absolute, directory, context.namer.claim(name.path), input, stats.size, stats.mtime, context) };
}

class FileEntry implements ExportEntry {
  readonly archive = null;
  readonly sequential = false;

  constructor(
    private readonly absolute: Buffer,
    private readonly root: Buffer,
    readonly path: string,
    readonly input: string,
    readonly size: number,
    readonly modifiedAt: Date,
    private readonly context: ReaderContext,
  ) {}

  async open(): Promise<Readable> {
    this.context.lifetime.assertOpen(`${this.input}: "${this.path}"`);
    // Resolve again at open time: a file swapped for a link since the walk must not lead outside.
    const target = await realpath(this.absolute, { encoding: 'buffer' });
    if (!isInside(this.root, target)) {
      throw new LakeError('ARCHIVE_UNSAFE', `${this.input}: "${this.path}" now resolves outside the folder; not read`, {
        details: { input: this.input, entry: this.path },
      });
    }
    const handle = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW);
    return this.context.lifetime.track(handle.createReadStream());
  }
}
