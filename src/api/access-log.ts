// The access log: one audit.events row per authenticated request (who, which route, status,
// when), written as that user. Requests only queue their entry; a flush every second (or every
// BATCH_SIZE entries) writes them with one transaction per user, and it also records when each key
// was last used. At most the last second of entries is lost if the process is killed; a clean
// shutdown flushes. Requests refused with 401 have no user to file them under: they are counted
// in the metrics instead.
import type { Database } from '../db/database.js';
import { insertAccessEntries, type AccessEntry } from '../query/access-log.js';
import { recordKeysUsed } from '../query/api-keys.js';

export type { AccessEntry };

export interface AccessLogOptions {
  flushIntervalMs?: number;
  /** Called when entries could not be written (they are dropped, not retried forever). */
  onDropped?: (count: number, error: unknown) => void;
}

const BATCH_SIZE = 500;
/** Entries kept while the database is unreachable; older ones are dropped beyond this. */
const MAX_PENDING = 20_000;
const MAX_PATH = 2048;

export class AccessLog {
  private pending: AccessEntry[] = [];
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: Database,
    private readonly options: AccessLogOptions = {},
  ) {
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  record(entry: AccessEntry): void {
    this.pending.push({ ...entry, path: entry.path.slice(0, MAX_PATH) });
    if (this.pending.length > MAX_PENDING) this.options.onDropped?.(this.pending.splice(0, this.pending.length - MAX_PENDING).length, null);
    if (this.pending.length >= BATCH_SIZE) void this.flush();
  }

  /** Write everything queued so far; resolves when it is in the database (or dropped). */
  flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    // Flushes run one after the other so entries of one user keep their order.
    this.writing = this.writing.then(() => (batch.length > 0 ? this.write(batch) : undefined));
    return this.writing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async write(batch: AccessEntry[]): Promise<void> {
    const byUser = new Map<string, AccessEntry[]>();
    for (const entry of batch) {
      const list = byUser.get(entry.userId);
      if (list) list.push(entry);
      else byUser.set(entry.userId, [entry]);
    }
    for (const [userId, entries] of byUser) {
      try {
        await this.db.asUser(userId, async (tx) => {
          await insertAccessEntries(tx, userId, entries);
          const lastUse = new Map<string, Date>();
          for (const e of entries) if ((lastUse.get(e.keyId)?.getTime() ?? -Infinity) < e.at.getTime()) lastUse.set(e.keyId, e.at);
          await recordKeysUsed(tx, lastUse);
        });
      } catch (error) {
        this.options.onDropped?.(entries.length, error);
      }
    }
  }
}
