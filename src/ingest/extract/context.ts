// What every input reader shares for one call of readExport.
import type { Readable } from 'node:stream';
import type { EntryNamer } from './entry-names.js';
import type { ExtractBudget } from './limits.js';

/**
 * The lifetime of one readExport iteration. Zip archives stay open until it ends so their
 * entries can be reopened at any time before then; afterwards open() fails with a clear error.
 */
export class ExportLifetime {
  private closed = false;
  private readonly closers: Array<() => void> = [];
  private readonly liveStreams = new Set<Readable>();

  onClose(closer: () => void): void {
    this.closers.push(closer);
  }

  /**
   * Streams handed out by open() are destroyed when the iteration ends if their reader abandoned
   * them, so an unread stream cannot hold a file descriptor (and a zip's) past the import.
   */
  track<T extends Readable>(stream: T): T {
    this.liveStreams.add(stream);
    stream.once('close', () => this.liveStreams.delete(stream));
    return stream;
  }

  assertOpen(what: string): void {
    if (this.closed) throw new Error(`${what}: open() called after the export iteration ended; entries can only be read during it`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const stream of this.liveStreams) stream.destroy();
    this.liveStreams.clear();
    for (const closer of this.closers.splice(0)) closer();
  }
}

export interface ReaderContext {
  budget: ExtractBudget;
  namer: EntryNamer;
  lifetime: ExportLifetime;
}
