// The shapes the extract stage hands to the rest of the pipeline. See index.ts for the contract.
import type { Readable } from 'node:stream';

export interface ExportEntry {
  /** Path inside the export: '/'-separated, NFC, no '.', '..' or empty segments, unique in the export. */
  path: string;
  /** Base name of the input archive the entry came from; null for plain files and folder contents. */
  archive: string | null;
  /** The input path as the user gave it (archive, folder or file), for messages. */
  input: string;
  /** Uncompressed size declared by the archive (zip central directory, tar header) or by stat. */
  size: number | null;
  /**
   * When the file was written, as the export records it: a zip entry's extended (UTC) timestamp,
   * else its DOS time read as UTC (DOS times carry no zone); a tar header's mtime; the file's
   * mtime. Null when absent or unreadable. Sources date undated facts with it (see ParseContext).
   */
  modifiedAt: Date | null;
  /**
   * True for tar entries: open() may be called once, and only before the iteration asks for the
   * next outcome. False: open() may be called any number of times until the iteration ends.
   */
  sequential: boolean;
  /** A fresh stream of the entry's bytes; limits are enforced while it inflates. */
  open(): Promise<Readable>;
}

export type RefusalCategory = 'unsafe' | 'encrypted' | 'too_large' | 'invalid';

export interface Refusal {
  /** The entry's name as decoded (control characters escaped), so the user can find it. */
  path: string;
  archive: string | null;
  input: string;
  category: RefusalCategory;
  reason: string;
}

/** Zeroed times in archives read as 1970 (tar) or 1980 (zip DOS): no export is that old. */
const EARLIEST_MEANINGFUL_MS = Date.UTC(1981, 0, 1);

/** A Date, or null for a missing, invalid or zeroed one (archives hold all sorts of bytes there). */
export function validDate(value: Date | null | undefined): Date | null {
  return value instanceof Date && value.getTime() >= EARLIEST_MEANINGFUL_MS ? value : null;
}

export type EntryOutcome = { entry: ExportEntry } | { refused: Refusal };

export interface ExtractLimits {
  /** Entries (files, directories, links) across the whole export. */
  maxEntries: number;
  /** Uncompressed bytes across all archives: declared sizes, and bytes actually inflated. */
  maxTotalBytes: number;
  /** Uncompressed bytes of one archive entry; larger entries are refused as `too_large`. */
  maxEntryBytes: number;
  /** Inflated:compressed ratio above which inflation is stopped as a bomb... */
  maxCompressionRatio: number;
  /** ...once more than this many bytes have been inflated (small files legitimately compress well). */
  ratioThresholdBytes: number;
}

const TiB = 1024 ** 4;
const MiB = 1024 ** 2;

/**
 * Generous for a real Takeout (hundreds of thousands of files, a few TB at most; deflate of real
 * data stays far below 1000:1, while deflate of a run of zeros reaches about 1030:1).
 */
export const DEFAULT_LIMITS: Readonly<ExtractLimits> = Object.freeze({
  maxEntries: 1_000_000,
  maxTotalBytes: TiB,
  maxEntryBytes: TiB,
  maxCompressionRatio: 1000,
  ratioThresholdBytes: MiB,
});

export interface ReadExportOptions {
  limits?: Partial<ExtractLimits>;
  /** Read the given parts of a split Takeout even when the numbering shows a part is missing. */
  allowIncompleteSplit?: boolean;
}
