// How commands talk: human lines on a terminal, JSON with --json, one-line errors on stderr.
import { LakeError } from '../errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One error line on stderr: `lake: <message> [<CODE>]`. */
export function printError(message: string, code: string): void {
  process.stderr.write(`lake: ${message} [${code}]\n`);
}

/** Turn any failure into one line on stderr and an exit code; no stack traces for known errors. */
export function reportFailure(error: unknown): number {
  if (error instanceof LakeError) {
    printError(error.message, error.code);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`lake: unexpected error: ${message}\n`);
  return 1;
}
