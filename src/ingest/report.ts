// What an import reports: one line per file of the export (recognised or not, nothing silently
// dropped), then totals.
import { ERRORS, type ErrorCode } from '../errors.js';
import type { QuarantineCategory, RepairCounts } from './records.js';

export type FileStatus = 'done' | 'partial' | 'empty' | 'skipped' | 'refused' | 'failed';

export interface FileReport {
  /** Path inside the export. */
  path: string;
  archive: string | null;
  /** Source id that parsed it, or null when none recognised it. */
  format: string | null;
  status: FileStatus;
  mimeType: string | null;
  records: number;
  /** Stored records replaced by a newer revision of themselves (an edited note, a corrected day). */
  updated: number;
  duplicates: number;
  quarantined: Partial<Record<QuarantineCategory, number>>;
  /** Records skipped because a previous, interrupted run had already committed them. */
  resumedFrom: number;
  bytes: number;
  seconds: number;
  repairs: RepairCounts;
  sha256: string | null;
  note: string | null;
}

export interface ImportReport {
  jobId: string;
  /** This run took over the job of an earlier run of the same import whose process was gone (killed, crashed). */
  resumedInterrupted: boolean;
  status: 'done' | 'partial' | 'failed';
  /** Set when the import stopped early (unreadable archive, database failure). */
  error: { code: string; message: string } | null;
  files: FileReport[];
  totals: { files: number; records: number; updated: number; duplicates: number; quarantined: number; bytes: number; seconds: number };
}

export function quarantinedCount(file: FileReport): number {
  return Object.values(file.quarantined).reduce((a, b) => a + (b ?? 0), 0);
}

/**
 * The exit code of `lake import`, from its report alone: the error's code when the import stopped
 * early (6 for an unreadable archive, 4 for the database...), 0 when every file is done (or
 * skipped: nothing reads it), 1 when any file is empty, refused, partial or failed.
 */
export function importExitCode(report: ImportReport): number {
  if (report.error) return ERRORS[report.error.code as ErrorCode]?.exit ?? 1;
  return report.status === 'done' ? 0 : 1;
}

export function formatReport(report: ImportReport): string {
  const rows = report.files.map((f) => {
    const q = quarantinedCount(f);
    const categories = Object.entries(f.quarantined)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    return [
      `${f.status.padEnd(8)} ${f.path}${f.archive ? `  (${f.archive})` : ''}`,
      `         ${f.format ?? 'unrecognised'}${f.mimeType ? `, ${f.mimeType}` : ''}: ${f.records} loaded, ${f.updated ? `${f.updated} updated, ` : ''}${f.duplicates} duplicates, ` +
        `${q} quarantined${q ? ` (${categories})` : ''}${f.resumedFrom ? `, resumed after ${f.resumedFrom}` : ''}, ` +
        `${formatBytes(f.bytes)} in ${f.seconds.toFixed(1)} s` +
        (f.repairs.invalidUtf8 || f.repairs.nulCharacters ? `, repaired ${f.repairs.invalidUtf8} invalid UTF-8 and ${f.repairs.nulCharacters} NUL` : ''),
      ...(f.note ? [`         ${f.note}`] : []),
    ].join('\n');
  });
  const t = report.totals;
  return [
    ...(report.resumedInterrupted ? [`resumed job ${report.jobId}: an earlier run of this import was interrupted; files resume after their last committed batch`, ''] : []),
    ...rows,
    '',
    `${report.status}: ${t.files} files, ${t.records} records loaded, ${t.updated ? `${t.updated} updated, ` : ''}${t.duplicates} duplicates, ${t.quarantined} quarantined, ` +
      `${formatBytes(t.bytes)} in ${t.seconds.toFixed(1)} s (job ${report.jobId})`,
  ].join('\n');
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
