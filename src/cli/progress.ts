// Progress of a long import on stderr: a bar rewritten in place on a terminal, a plain line every
// few seconds otherwise (logs, CI). Hand-written: it is one line of text, not worth a dependency.
import { formatBytes } from '../ingest/report.js';
import type { ImportProgress } from '../ingest/runner.js';

const TTY_INTERVAL_MS = 100;
const LOG_INTERVAL_MS = 5000;

export class ProgressReporter {
  private readonly started = performance.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly tty = stream.isTTY === true,
  ) {}

  update(progress: ImportProgress): void {
    const now = performance.now();
    if (now - this.lastDraw < (this.tty ? TTY_INTERVAL_MS : LOG_INTERVAL_MS)) return;
    this.lastDraw = now;
    const seconds = (now - this.started) / 1000;
    const bytes = progress.bytes + progress.fileBytes;
    const rate = `${Math.round(progress.records / seconds).toLocaleString('en-US')} records/s, ${formatBytes(bytes / seconds)}/s`;
    const fraction = progress.fileSize ? Math.min(1, progress.fileBytes / progress.fileSize) : null;
    const fileRate = progress.fileBytes / seconds;
    const eta = fraction !== null && fileRate > 0 ? ` ETA ${clock((progress.fileSize! - progress.fileBytes) / fileRate)}` : '';
    const records = `${progress.records.toLocaleString('en-US')} records`;
    if (this.tty) {
      const bar = fraction === null ? '' : `[${'#'.repeat(Math.round(fraction * 20)).padEnd(20, '.')}] ${Math.round(fraction * 100)}% `;
      const line = `${bar}${formatBytes(progress.fileBytes)} of ${progress.path} · ${records} · ${rate}${eta}`;
      this.stream.write(`\r\x1b[K${line.slice(0, (this.stream.columns || 120) - 1)}`);
      this.drawn = true;
    } else {
      const percent = fraction === null ? '' : ` (${Math.round(fraction * 100)}%)`;
      this.stream.write(`import: ${progress.path}${percent}: ${records} so far, ${rate}${eta}\n`);
    }
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
