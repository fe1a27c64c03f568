// Progress of a long import on stderr: a bar rewritten in place on a terminal, a plain line every
// few seconds otherwise (logs, CI), or with --json one JSON object per line for scripts.
// Hand-written: it is one line of text, not worth a dependency.
import { formatBytes } from '../ingest/report.js';
import type { ImportProgress } from '../ingest/runner.js';

export type ProgressMode = 'tty' | 'log' | 'json';

const INTERVAL_MS: Record<ProgressMode, number> = { tty: 100, log: 5000, json: 1000 };

export class ProgressReporter {
  private readonly started = performance.now();
  private drawn = false;

  private lastDraw = -Infinity;

  constructor(
    private readonly mode: ProgressMode,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(progress: ImportProgress): void {
    const now = performance.now();
    if (now - this.lastDraw < INTERVAL_MS[this.mode]) return;
    this.lastDraw = now;
    if (this.mode === 'json') {
      this.stream.write(`${JSON.stringify({ event: 'progress', ...progress, seconds: +((now - this.started) / 1000).toFixed(3) })}\n`);
      return;
    }
    const seconds = (now - this.started) / 1000;
    const bytes = progress.bytes + progress.fileBytes;
    const rate = `${Math.round(progress.records / seconds).toLocaleString('en-US')} records/s, ${formatBytes(bytes / seconds)}/s`;
    const fraction = progress.fileSize ? Math.min(1, progress.fileBytes / progress.fileSize) : null;
    const fileRate = progress.fileBytes / seconds;
    const eta = fraction !== null && fileRate > 0 ? ` ETA ${clock((progress.fileSize! - progress.fileBytes) / fileRate)}` : '';
    const records = `${progress.records.toLocaleString('en-US')} records`;
    if (this.mode === 'tty') {
      const bar = fraction === null ? '' : `[${'#'.repeat(Math.round(fraction * 20)).padEnd(20, '.')}] ${Math.round(fraction * 100)}% `;
      const line = `${bar}${formatBytes(progress.fileBytes)} of ${progress.path} · ${records} · ${rate}${eta}`;
      this.stream.write(`\r\x1b[K${line.slice(0, (this.stream.columns || 120) - 1)}`);
      this.drawn = true;
    } else {
      const percent = fraction === null ? '' : ` (${Math.round(fraction * 100)}%)`;
      this.stream.write(`import: ${progress.path}${percent}: ${records} so far, ${rate}${eta}\n`);
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
}

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h ? `${h}:` : ''}${String(m).padStart(h ? 2 : 1, '0')}:${String(s % 60).padStart(2, '0')}`;
}
