// Export-wide counters for the extraction limits, and the byte counter that sits on every inflate
// stream so a compression bomb is stopped after a bounded number of bytes, whatever the archive
// declares (ASVS 12.1.2; yauzl README "zip bombs").
import { Transform, type TransformCallback } from 'node:stream';
import { LakeError } from '../../errors.js';
import type { ExtractLimits } from './types.js';

/** Where in the export a limit tripped, for the message. */
export interface Location {
  archive: string;
  entry: string | null;
}

function describe(location: Location): string {
  return location.entry === null ? location.archive : `${location.archive}: entry "${location.entry}"`;
}

export class ExtractBudget {
  private entries = 0;
  private declaredBytes = 0;
  private inflatedBytes = 0;

  constructor(readonly limits: Readonly<ExtractLimits>) {}

  /** Counts entries (directories and refused entries too: Z5 is 5M empty directories). */
  countEntries(count: number, location: Location): void {
    this.entries += count;
    if (this.entries > this.limits.maxEntries) {
      throw new LakeError(
        'ARCHIVE_UNSAFE',
        `${describe(location)}: the export has more than ${this.limits.maxEntries} entries (limit maxEntries)`,
        { details: { ...location, limit: 'maxEntries', value: this.limits.maxEntries } },
      );
    }
  }

  /** Adds a size an archive declares before anything is inflated, so a lying-large archive fails fast. */
  declareBytes(bytes: number, location: Location): void {
    this.declaredBytes += bytes;
    if (this.declaredBytes > this.limits.maxTotalBytes) {
      throw new LakeError(
        'ARCHIVE_UNSAFE',
        `${describe(location)}: declared uncompressed sizes add up to ${this.declaredBytes} bytes, ` +
          `over the limit of ${this.limits.maxTotalBytes} (maxTotalBytes)`,
        { details: { ...location, limit: 'maxTotalBytes', value: this.limits.maxTotalBytes } },
      );
    }
  }

  /** Adds bytes actually inflated; returns the error to raise, if the total is now over the limit. */
  chargeInflated(bytes: number, location: Location): LakeError | null {
    this.inflatedBytes += bytes;
    if (this.inflatedBytes <= this.limits.maxTotalBytes) return null;
    return new LakeError(
      'ARCHIVE_UNSAFE',
      `${describe(location)}: more than ${this.limits.maxTotalBytes} bytes inflated from the export ` +
        `(limit maxTotalBytes); stopped`,
      { details: { ...location, limit: 'maxTotalBytes', value: this.limits.maxTotalBytes } },
    );
  }
}

/**
 * The furthest byte of one entry charged to the budget, so reading a zip entry twice (a head for
 * detection, then the whole for parsing) does not count its bytes twice.
 */
export class ChargedExtent {
  private charged = 0;

  /** Returns how many bytes beyond what was already charged `position` covers. */
  advanceTo(position: number): number {
    if (position <= this.charged) return 0;
    const added = position - this.charged;
    this.charged = position;
    return added;
  }
}

export interface InflationGuardOptions {
  budget: ExtractBudget;
  /** Current archive and entry, read when a limit trips (a tar stream moves through entries). */
  location: () => Location;
  /** Compressed bytes consumed so far; without it only the total is checked (stored data). */
  compressedBytes?: () => number;
  extent?: ChargedExtent;
}

/**
 * Pass-through Transform placed right after an inflater: counts inflated bytes, charges them to
 * the export budget, and checks the inflated:compressed ratio of the current segment (a zip
 * entry, or the stretch of a tar stream since the last entry header). When a limit trips it fails
 * with ARCHIVE_UNSAFE, and the caller destroys the inflater, so at most one zlib chunk past the
 * limit is produced.
 */
export class InflationGuard extends Transform {
  private inflated = 0;
  private segmentStartInflated = 0;
  private segmentStartCompressed = 0;
  private readonly extent: ChargedExtent;

  constructor(private readonly options: InflationGuardOptions) {
    super();
    this.extent = options.extent ?? new ChargedExtent();
  }

  /** Bytes that have passed through so far. */
  get bytesInflated(): number {
    return this.inflated;
  }

  /** Starts a new ratio measurement (called at each tar entry header). */
  startSegment(): void {
    this.segmentStartInflated = this.inflated;
    this.segmentStartCompressed = this.options.compressedBytes?.() ?? 0;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.inflated += chunk.length;
    const error = this.check();
    if (error !== null) {
      callback(error);
      return;
    }
    callback(null, chunk);
  }

  private check(): LakeError | null {
    const { budget } = this.options;
    const overTotal = budget.chargeInflated(this.extent.advanceTo(this.inflated), this.options.location());
    if (overTotal !== null) return overTotal;
    if (this.options.compressedBytes === undefined) return null;

    const { maxCompressionRatio, ratioThresholdBytes } = budget.limits;
    const segmentInflated = this.inflated - this.segmentStartInflated;
    if (segmentInflated <= ratioThresholdBytes) return null;
    const segmentCompressed = this.options.compressedBytes() - this.segmentStartCompressed;
    if (segmentInflated <= maxCompressionRatio * segmentCompressed) return null;

    const location = this.options.location();
    const ratio = segmentCompressed > 0 ? Math.round(segmentInflated / segmentCompressed) : Infinity;
    return new LakeError(
      'ARCHIVE_UNSAFE',
      `${describe(location)}: ${segmentInflated} bytes inflated from ${segmentCompressed} compressed bytes ` +
        `(${ratio}:1), over the limit of ${maxCompressionRatio}:1 (maxCompressionRatio); stopped as a compression bomb`,
      { details: { ...location, limit: 'maxCompressionRatio', value: maxCompressionRatio, inflatedBytes: segmentInflated } },
    );
  }
}
