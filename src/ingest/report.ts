// What an import reports: one line per file of the export (recognised or not, nothing silently
// dropped), then totals.
import { ERRORS, type ErrorCode } from '../errors.js';
import type { QuarantineCategory, RepairCounts } from './records.js';

/** What a person counts in an export, rather than rows of tables (one e-mail is a message row and its attachments' references). */
export type KindCounts = Partial<Record<CountedKind, number>>;

/** The kinds in the order the text report names them, with their words for one and for several. */
const KIND_WORDS = {
  points: ['point', 'points'],
  visits: ['visit', 'visits'],
  places: ['place', 'places'],
  activityItems: ['activity item', 'activity items'],
  messages: ['message', 'messages'],
  attachments: ['attachment', 'attachments'],
  photosAndVideos: ['photo or video', 'photos and videos'],
  documents: ['document', 'documents'],
  measurements: ['measurement', 'measurements'],
  contacts: ['contact', 'contacts'],
  events: ['event', 'events'],
} as const;
export type CountedKind = keyof typeof KIND_WORDS;

/** The kind a row inserted into a table counts as; tables of details (media files, sidecars, albums) count as nothing. */
const KIND_OF_TABLE: Record<string, CountedKind> = {
  'timeseries.location_points': 'points',
  'user_data.visits': 'visits',
  'user_data.places': 'places',
  'user_data.items': 'activityItems',
  'user_data.messages': 'messages',
  'user_data.media': 'photosAndVideos',
  'user_data.documents': 'documents',
  'timeseries.measurements': 'measurements',
  'user_data.contacts': 'contacts',
  'user_data.calendar_events': 'events',
};

/** The tables that hold the kinds counted in `counts`. */
export function tablesOfKinds(counts: KindCounts): string[] {
  return Object.entries(KIND_OF_TABLE)
    .filter(([, kind]) => (counts[kind] ?? 0) > 0)
    .map(([table]) => table);
}

/**
 * Adds a batch's inserted rows per table to `counts` by kind. A file reference (blob_refs) is an
 * attachment when it comes from a mail source; from any other source it is the stored copy of a
 * document or photo already counted as such.
 */
export function addKindCounts(counts: KindCounts, insertedByTable: Record<string, number>, sourceId: string | null): void {
  for (const [table, n] of Object.entries(insertedByTable)) {
    const kind = table === 'user_data.blob_refs' ? (sourceId?.includes('mbox') ? 'attachments' : null) : KIND_OF_TABLE[table];
    if (kind && n) counts[kind] = (counts[kind] ?? 0) + n;
  }
}

/** Counts by kind in words, the non-zero ones: "3 messages, 1 attachment"; null when there are none. */
export function formatKindCounts(counts: KindCounts): string | null {
  const words = (Object.keys(KIND_WORDS) as CountedKind[])
    .filter((kind) => counts[kind])
    .map((kind) => `${counts[kind]!.toLocaleString('en-US')} ${KIND_WORDS[kind][counts[kind] === 1 ? 0 : 1]}`);
  return words.length ? words.join(', ') : null;
}

export type FileStatus = 'done' | 'partial' | 'empty' | 'skipped' | 'refused' | 'failed';

export interface FileReport {
  /** Path inside the export. */
  path: string;
  archive: string | null;
  /** Source id that parsed it, or null when none recognised it. */
  format: string | null;
  status: FileStatus;
  mimeType: string | null;
  /** What was loaded as a person counts it, by kind (only the non-zero kinds). */
  counts: KindCounts;
  /** Rows loaded into every table together (kept for compatibility; `counts` says what they are). */
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
  totals: { files: number; counts: KindCounts; records: number; updated: number; duplicates: number; quarantined: number; bytes: number; seconds: number };
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
    const loaded = formatKindCounts(f.counts);
    const categories = Object.entries(f.quarantined)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    return [
      `${f.status.padEnd(8)} ${f.path}${f.archive ? `  (${f.archive})` : ''}`,
      `         ${f.format ?? 'unrecognised'}${f.mimeType ? `, ${f.mimeType}` : ''}: ${loaded ? `${loaded} (${rowCount(f.records)})` : rowCount(f.records)} loaded, ${f.updated ? `${f.updated} updated, ` : ''}${f.duplicates} duplicates, ` +
        `${q} quarantined${q ? ` (${categories})` : ''}${f.resumedFrom ? `, resumed after ${f.resumedFrom}` : ''}, ` +
        `${formatBytes(f.bytes)} in ${f.seconds.toFixed(1)} s` +
        (f.repairs.invalidUtf8 || f.repairs.nulCharacters ? `, repaired ${f.repairs.invalidUtf8} invalid UTF-8 and ${f.repairs.nulCharacters} NUL` : ''),
      ...(f.note ? [`         ${f.note}`] : []),
    ].join('\n');
  });
  const t = report.totals;
  const loaded = formatKindCounts(t.counts ?? {});
  return [
    ...(report.resumedInterrupted ? [`resumed job ${report.jobId}: an earlier run of this import was interrupted; files resume after their last committed batch`, ''] : []),
    ...rows,
    '',
    `${report.status}: ${t.files} files, ${loaded ? `${loaded} (${rowCount(t.records)})` : rowCount(t.records)} loaded, ${t.updated ? `${t.updated} updated, ` : ''}${t.duplicates} duplicates, ${t.quarantined} quarantined, ` +
      `${formatBytes(t.bytes)} in ${t.seconds.toFixed(1)} s (job ${report.jobId})`,
  ].join('\n');
}

const rowCount = (n: number): string => `${n.toLocaleString('en-US')} ${n === 1 ? 'row' : 'rows'}`;

export function formatBytes(bytes: number): string {
  if (bytes < 1023.5) return `${Math.round(bytes)} B`; // rates are fractions
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
