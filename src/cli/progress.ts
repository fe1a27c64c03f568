// Progress of a long import on stderr: what is happening before the first file (opening the
// database, migrating), then a bar rewritten in place on a terminal, a plain line every few seconds
// otherwise (logs, CI), or with --json one JSON object per line for scripts.
// Hand-written: it is one line of text, not worth a dependency.
import { formatBytes } from '../ingest/report.js';
import type { ImportProgress } from '../ingest/runner.js';

export type ProgressMode = 'tty' | 'log' | 'json';

const INTERVAL_MS: Record<ProgressMode, number> = { tty: 100, log: 5000, json: 1000 };

/** What the progress line is made from: the import's progress and the seconds since it started. */
export interface ProgressView extends ImportProgress {
  seconds: number;
}

export class ProgressReporter {
  private readonly started = performance.now();
  private drawn = false;

  private lastDraw = -Infinity;

  constructor(
    private readonly mode: ProgressMode,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  /** One step before the import reads anything ("opening the embedded database in ./lake-data/hot…"), as a line of its own. */
  phase(phase: string, message: string): void {
    if (this.mode === 'json') {
      this.stream.write(`${JSON.stringify({ event: 'phase', phase, message, seconds: this.seconds() })}\n`);
      return;
    }
    this.stream.write(`import: ${message}\n`);
  }

  update(progress: ImportProgress): void {
    const now = performance.now();
    if (now - this.lastDraw < INTERVAL_MS[this.mode]) return;
    this.lastDraw = now;
    const view: ProgressView = { ...progress, seconds: this.seconds() };
    if (this.mode === 'json') {
      this.stream.write(`${JSON.stringify({ event: 'progress', ...view })}\n`);
    } else if (this.mode === 'tty') {
      // One column short of the width: a line that fills it wraps on some terminals.
      this.stream.write(`\r\x1b[K${formatProgressLine(view, (this.stream.columns || 80) - 1, { bar: true })}`);
      this.drawn = true;
    } else {
      this.stream.write(`import: ${formatProgressLine(view, Infinity, { bar: false })}\n`);
    }
  }

  /** Said once, before any progress: this run takes over the job of an interrupted run of the same import. */
  resumed(job: { jobId: string; startedAt: Date }): void {
    if (this.mode === 'json') {
      this.stream.write(`${JSON.stringify({ event: 'resumed', jobId: job.jobId, startedAt: job.startedAt.toISOString() })}\n`);
      return;
    }
    this.stream.write(`lake: resuming import job ${job.jobId} (started ${job.startedAt.toISOString()}), whose process was interrupted\n`);
  }

  /** Clear the bar before the report is printed. */
  done(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
  }

  private seconds(): number {
    return +((performance.now() - this.started) / 1000).toFixed(3);
  }
}

/** Characters of the current file's name kept, at least, before other parts of the line give way. */
const MIN_NAME = 16;

/**
 * The progress line at most `width` characters long: the whole import (files done of all, bytes
 * read of all, rate, ETA, when the totals are known) then the current file and how far into it.
 * When it does not fit, the bar, the record count, the rate and the byte counts give way in that
 * order, then the file's name is shortened in the middle; it never wraps.
 */
export function formatProgressLine(view: ProgressView, width: number, options: { bar: boolean }): string {
  const bytesDone = view.bytes + view.fileBytes;
  const rate = view.seconds > 0 ? bytesDone / view.seconds : 0;
  const overall = view.bytesTotal ? Math.min(1, bytesDone / view.bytesTotal) : null;
  const fileFraction = view.fileSize ? Math.min(1, view.fileBytes / view.fileSize) : null;
  const parts: { name: string; text: string }[] = [];
  if (options.bar && overall !== null) parts.push({ name: 'bar', text: `[${'#'.repeat(Math.round(overall * 20)).padEnd(20, '.')}]` });
  parts.push({ name: 'files', text: view.filesTotal ? `file ${Math.min(view.filesDone + 1, view.filesTotal)} of ${view.filesTotal}` : `${view.filesDone} files done` });
  if (overall !== null) parts.push({ name: 'percent', text: `${Math.floor(overall * 100)}%` });
  parts.push({ name: 'bytes', text: view.bytesTotal ? `${formatBytes(bytesDone)} of ${formatBytes(view.bytesTotal)}` : `${formatBytes(bytesDone)} read` });
  parts.push({ name: 'records', text: `${view.records.toLocaleString('en-US')} records` });
  if (rate > 0) parts.push({ name: 'rate', text: `${formatBytes(rate)}/s` });
  if (view.bytesTotal && rate > 0) parts.push({ name: 'eta', text: `ETA ${clock((view.bytesTotal - bytesDone) / rate)}` });
  const fileSuffix = fileFraction === null ? '' : ` ${Math.floor(fileFraction * 100)}%`;

  for (const giveWay of [null, 'bar', 'records', 'rate', 'bytes', 'eta', 'percent']) {
    const kept = parts.filter((p) => p.name !== giveWay);
    parts.splice(0, parts.length, ...kept);
    const head = parts.map((p) => p.text).join(' · ');
    const room = width - head.length - ' · '.length - fileSuffix.length;
    if (!view.path) return fit(head, width);
    if (room >= Math.min(view.path.length, MIN_NAME)) return `${head} · ${shortenMiddle(view.path, room)}${fileSuffix}`;
  }
  return fit(`${parts.map((p) => p.text).join(' · ')} · ${view.path}${fileSuffix}`, width);
}

/** `text` cut to `width` characters, the cut marked. */
function fit(text: string, width: number): string {
  if (text.length <= width) return text;
  return width <= 0 ? '' : `${text.slice(0, width - 1)}…`;
}

/** A name shortened to `width` characters by taking out its middle: the start says where, the end says which file. */
export function shortenMiddle(name: string, width: number): string {
  if (name.length <= width) return name;
  if (width <= 1) return '…'.slice(0, Math.max(0, width));
  const kept = width - 1;
  const start = Math.floor(kept * 0.4);
  return `${name.slice(0, start)}…${name.slice(name.length - (kept - start))}`;
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h ? `${h}:` : ''}${String(m).padStart(h ? 2 : 1, '0')}:${String(s % 60).padStart(2, '0')}`;
}
