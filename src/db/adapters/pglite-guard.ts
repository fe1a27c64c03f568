// PGlite's file system (Emscripten's NODEFS over the data directory), watched so that PostgreSQL
// stopping dead cannot hang the process. When PostgreSQL cannot create a WAL segment (a full
// disk) it PANICs inside a critical section; in PGlite 0.4 a PANIC is Emscripten's abort(), and
// the exception it throws is caught inside the WebAssembly, which then spins in XLogFlush forever,
// never returning to JavaScript (measured: 100% CPU in that one function, no query ever settles).
// onAbort is the last JavaScript that runs, so it is where the process ends: with one line naming
// the reason, and the exit code of its error. What was committed before the PANIC is in the WAL;
// the next open recovers it, as PostgreSQL does after a crash, given room to write. The checks
// for room before opening and before each load batch (embedded.ts) keep this from happening.
import { NodeFS } from '@electric-sql/pglite/nodefs';

/** PostgreSQL's log lines kept to explain an abort (its PANIC names the file it could not write). */
const KEPT_LOG_LINES = 8;

type EmscriptenOptions = Parameters<NodeFS['init']>[1];

export class GuardedNodeFS extends NodeFS {
  private readonly log: string[] = [];
  private module: { _clear_setitimer?: () => void } | null = null;

  /** `onAbort` runs when PostgreSQL aborts, with its last log lines, and must not return (process.exit). */
  constructor(
    directory: string,
    private readonly onAbort: (logLines: readonly string[]) => never,
  ) {
    super(directory);
  }

  override async init(pg: Parameters<NodeFS['init']>[0], options: EmscriptenOptions): ReturnType<NodeFS['init']> {
    const { emscriptenOpts } = await super.init(pg, options);
    const printErr = emscriptenOpts.printErr;
    return {
      emscriptenOpts: {
        ...emscriptenOpts,
        printErr: (text: string) => {
          this.log.push(text);
          if (this.log.length > KEPT_LOG_LINES) this.log.shift();
          printErr?.(text);
        },
        onAbort: () => this.onAbort([...this.log]),
        preRun: [...(emscriptenOpts.preRun ?? []), (mod: unknown) => void (this.module = mod as typeof this.module)],
      } as EmscriptenOptions,
    };
  }

  /**
   * After PostgreSQL failed to start (a FATAL during recovery): its interval timer (startup
   * progress, every 10 s) would otherwise keep the process alive after the error is reported.
   */
  clearTimers(): void {
    try {
      this.module?._clear_setitimer?.();
    } catch {
      // the instance is gone: nothing left to clear
    }
  }

  /** The last lines PostgreSQL logged (its FATAL or PANIC, when it stopped). */
  get recentLog(): readonly string[] {
    return [...this.log];
  }
}

/** The line that says why PostgreSQL stopped, without its time stamp. */
export function stopReason(logLines: readonly string[]): string | null {
  const line = logLines.filter((text) => /\b(PANIC|FATAL):/.test(text)).at(-1);
  return line ? line.replace(/^.*?\b(PANIC|FATAL):\s*/, 'PostgreSQL $1: ') : null;
}
