// The extract stage: turns what the user gives `lake import PATH...` into a stream of entries.
//
//   for await (const outcome of readExport(['takeout-001.zip', 'takeout-002.zip'])) {
//     if ('refused' in outcome) { report(outcome.refused); continue; }
//     const stream = await outcome.entry.open();   // inflates lazily, limits enforced
//   }
//
// readExport(inputs, { limits?, allowIncompleteSplit? }): AsyncGenerator<EntryOutcome>
//
// Inputs are told apart by magic bytes, not extensions: zip (ZIP64 too), tar, gzip holding a tar
// (.tgz/.tar.gz), a folder (walked recursively, names in byte order; symbolic links followed only
// to regular files inside it), or any other file, yielded as one entry named by its base name.
// Inputs are deduplicated and read in path order, so the same inputs in any order give the same
// sequence. Nested archives are not opened: a zip inside the export is an entry like any other.
//
// Outcomes:
// - `{ entry }`: path ('/'-separated, NFC, unique in the export: see the duplicate policy in
//   entry-names.ts), archive (base name, or null), input, size (declared), sequential, open().
//   Zip and folder entries (sequential: false) can be opened any number of times, in any order,
//   until the iteration ends. Tar entries (sequential: true) can be opened once, and only before
//   the next outcome is requested; a tar entry not read to its end is drained when the iteration
//   moves on. Breaking out of the loop closes every archive.
// - `{ refused }`: one entry skipped, the rest of the archive still read. Categories:
//   unsafe (.., absolute, drive-letter or backslash-traversal names; symbolic and hard links; a
//   declared compression ratio over the limit; overlapping zip entries are fatal instead),
//   encrypted ("encrypted entry not supported"), too_large (over maxEntryBytes),
//   invalid (control characters in the name, unsupported compression method or tar entry type).
//
// Thrown (from the iteration, or from an opened stream): LakeError
// - ARCHIVE_INVALID: not a readable zip (truncated, no central directory), corrupt or truncated
//   gzip/tar (names the archive, entry and byte offset; a tar size field that is not a number), an
//   entry whose inflated size differs from its declared size (yauzl's message), a zip offset past
//   2^53 or past the file, incomplete split export ("incomplete export: part 003 of
//   takeout-... missing", see split-parts.ts for what can and cannot be detected);
// - ARCHIVE_UNSAFE: a limit tripped (entry count, total bytes, compression ratio while inflating,
//   a tar PAX or GNU long-name header over 1 MiB), or overlapping zip entries;
// - NOT_FOUND / USAGE: an input that does not exist, is not a file or folder, or a part given twice.
// Every zip's central directory is read before the first outcome, so a truncated part, or too many
// entries, fails before anything is yielded. Nothing is ever written to disk.
//
// Limits (ExtractLimits, DEFAULT_LIMITS): 1,000,000 entries, 1 TiB in total, 1 TiB per entry, and
// a 1000:1 inflated:compressed ratio once more than 1 MiB has been inflated from one entry (for a
// .tgz: since the last tar header). Bytes inflated are counted on the inflate stream itself, so a
// bomb stops after about one zlib chunk past the limit, whatever the archive declares.
//
// Also here: sniffMimeType (content vs name), ChecksumStream (SHA-256 while streaming), readHead.
import path from 'node:path';
import type { ZipFile } from 'yauzl';
import { LakeError } from '../../errors.js';
import { ExportLifetime, type ReaderContext } from './context.js';
import { EntryNamer } from './entry-names.js';
import { readFolder, readSingleFile } from './folder.js';
import { detectInputKind, type InputKind } from './input-kind.js';
import { ExtractBudget } from './limits.js';
import { assertCompleteSplits } from './split-parts.js';
import { readTar } from './tar.js';
import { DEFAULT_LIMITS, type EntryOutcome, type ExtractLimits, type ReadExportOptions } from './types.js';
import { openZip, readZip } from './zip.js';

export { ChecksumStream, type Checksum } from './checksum.js';
export { readHead } from './read-head.js';
export { detectMimeType, expectedMimeType, sniffMimeType, type MimeType, type SniffResult } from './sniff.js';
export { parseTakeoutPartName } from './split-parts.js';
export {
  DEFAULT_LIMITS,
  type EntryOutcome,
  type ExportEntry,
  type ExtractLimits,
  type ReadExportOptions,
  type Refusal,
  type RefusalCategory,
} from './types.js';

type PreparedInput = { input: string; archive: string; kind: Exclude<InputKind, 'zip'> } | { input: string; archive: string; kind: 'zip'; zip: ZipFile };

export async function* readExport(inputs: readonly string[], options: ReadExportOptions = {}): AsyncGenerator<EntryOutcome> {
  if (inputs.length === 0) throw new LakeError('USAGE', 'nothing to import: give at least one archive, folder or file');
  const limits = resolveLimits(options.limits);
  const ordered = orderInputs(inputs);
  if (options.allowIncompleteSplit !== true) assertCompleteSplits(ordered);

  const lifetime = new ExportLifetime();
  const context: ReaderContext = { budget: new ExtractBudget(limits), namer: new EntryNamer(), lifetime };
  try {
    const prepared: PreparedInput[] = [];
    for (const input of ordered) {
      const archive = path.basename(input);
      const kind = await detectInputKind(input);
      if (kind !== 'zip') {
        prepared.push({ input, archive, kind });
        continue;
      }
      const zip = await openZip(input, archive);
      lifetime.onClose(() => zip.close());
      context.budget.countEntries(zip.entryCount, { archive, entry: null });
      prepared.push({ input, archive, kind, zip });
    }

    for (const item of prepared) {
      switch (item.kind) {
        case 'zip':
          yield* readZip(item.zip, item.input, item.archive, context);
          break;
        case 'tar':
        case 'tar.gz':
          yield* readTar(item.input, item.archive, item.kind === 'tar.gz', context);
          break;
        case 'folder':
          yield* readFolder(item.input, context);
          break;
        case 'file':
          yield* readSingleFile(item.input, context);
          break;
      }
    }
  } finally {
    lifetime.close();
  }
}

/** Same inputs in any order, or given twice, read the same way. */
function orderInputs(inputs: readonly string[]): string[] {
  const byResolved = new Map<string, string>();
  for (const input of inputs) {
    const resolved = path.resolve(input);
    if (!byResolved.has(resolved)) byResolved.set(resolved, input);
  }
  return [...byResolved.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, input]) => input);
}

function resolveLimits(overrides: Partial<ExtractLimits> = {}): ExtractLimits {
  const limits: ExtractLimits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !(value > 0)) {
      throw new LakeError('CONFIG_INVALID', `extract limit ${name} must be a positive number, got ${String(value)}`, {
        details: { setting: name },
      });
    }
  }
  return limits;
}
