// How commands talk: human lines on a terminal, JSON with --json, one-line errors on stderr.
import { LakeError } from '../errors.js';

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Turn any failure into one line on stderr and an exit code; no stack traces for known errors. */
export function reportFailure(error: unknown): number {
  if (error instanceof LakeError) {
    process.stderr.write(`lake: ${error.message} [${error.code}]\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`lake: unexpected error: ${message}\n`);
  return 1;
}
