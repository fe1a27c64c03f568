// Split Takeouts (Z11): Google cuts a large export into numbered parts,
// `takeout-20241128T000000Z-001.zip`, `-002.zip`... each a complete archive on its own, so a
// missing part would silently give partial data. The parts carry no total count (none of the
// archives says "part 2 of 5"), so only gaps in the numbering given can be detected:
// - detected: a part missing before the highest one given (001, 002, 004 -> 003 missing), or
//   parts that do not start at 001 (a lone -002 -> 001 missing), or the same part given twice;
// - not detected: missing parts after the highest one given (001-003 given of 5), and parts
//   renamed so the numbering is lost.
import path from 'node:path';
import { LakeError } from '../../errors.js';

const TAKEOUT_PART = /^(takeout-.+)-(\d{3})\.(zip|tgz|tar\.gz|tar)$/i;

export interface TakeoutPart {
  /** The export's name: the file name without the part number, e.g. `takeout-20241128T000000Z`. */
  exportName: string;
  part: number;
}

export function parseTakeoutPartName(fileName: string): TakeoutPart | null {
  const match = TAKEOUT_PART.exec(path.basename(fileName));
  if (match === null || match[1] === undefined || match[2] === undefined) return null;
  return { exportName: match[1], part: Number(match[2]) };
}

const partLabel = (part: number): string => String(part).padStart(3, '0');

/** Throws ARCHIVE_INVALID naming the first export with a gap; USAGE when a part is given twice. */
export function assertCompleteSplits(inputs: readonly string[]): void {
  const exports = new Map<string, Map<number, string>>();
  for (const input of inputs) {
    const parsed = parseTakeoutPartName(input);
    if (parsed === null) continue;
    const parts = exports.get(parsed.exportName) ?? new Map<number, string>();
    const earlier = parts.get(parsed.part);
    if (earlier !== undefined) {
      throw new LakeError('USAGE', `part ${partLabel(parsed.part)} of ${parsed.exportName} given twice: ${earlier} and ${input}`, {
        details: { export: parsed.exportName, part: parsed.part },
      });
    }
    parts.set(parsed.part, input);
    exports.set(parsed.exportName, parts);
  }

  for (const [exportName, parts] of exports) {
    const given = [...parts.keys()].sort((a, b) => a - b);
    const highest = given[given.length - 1] ?? 0;
    const missing: number[] = [];
    for (let part = 1; part < highest; part += 1) if (!parts.has(part)) missing.push(part);
    if (missing.length === 0) continue;
    const shown = missing.length > 10 ? `${missing.slice(0, 10).map(partLabel).join(', ')} and ${missing.length - 10} more` : missing.map(partLabel).join(', ');
    throw new LakeError(
      'ARCHIVE_INVALID',
      `incomplete export: ${missing.length === 1 ? 'part' : 'parts'} ${shown} of ${exportName} missing ` +
        `(given: ${given.map(partLabel).join(', ')}); give every part of the export together`,
      { details: { export: exportName, missing, given } },
    );
  }
}
