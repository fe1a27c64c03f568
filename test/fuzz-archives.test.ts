// The short, seeded run of the archive fuzzer (test/support/fuzz-archives.ts): for each archive
// kind, mutated inputs read through readExport must give entries or a LakeError naming the input;
// never another exception, an uncaught error, a hang, a file written, a descriptor left open, or a
// heap that keeps growing.
// No database. The long run is bench/fuzz-archives.ts. On a failure fast-check prints the seed and
// the counterexample; FUZZ_SEED=<seed> reruns with another seed.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { ARCHIVE_KINDS, fuzzCaseArbitrary, runFuzzCase, settledHeapMiB, type ArchiveKind } from './support/fuzz-archives.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261207);
/** Inputs per kind: about 35 s in all on a loaded 2-core machine. */
const RUNS: Record<ArchiveKind, number> = { zip: 80, zip64: 50, split: 70, tar: 60, tgz: 50, folder: 50, file: 70, mixed: 25 };
const TIMEOUT_MS = 10_000;

let root = '';
let heapBefore = 0;

before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'lake-fuzz-archives-test-'));
  heapBefore = await settledHeapMiB();
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

for (const kind of ARCHIVE_KINDS) {
  test(`${kind}: mutated inputs give entries or a LakeError naming the input (seed ${SEED})`, async () => {
    let index = 0;
    const result = await fc.check(
      fc.asyncProperty(fuzzCaseArbitrary(kind), async (fuzzCase) => {
        const dir = path.join(root, `${kind}-${index++}`);
        const verdict = await runFuzzCase(fuzzCase, dir, { timeoutMs: TIMEOUT_MS });
        await rm(dir, { recursive: true, force: true });
        if (!verdict.ok) throw new Error(`${verdict.problem}: ${verdict.message}`);
      }),
      // No shrinking: each step rebuilds an archive, and the failing case is printed as it is.
      { seed: SEED, numRuns: RUNS[kind], endOnFailure: true },
    );
    if (result.failed) {
      // fast-check's own report prints every byte of the case; this one stays readable.
      const shown = inspect(result.counterexample?.[0], { depth: 5, maxArrayLength: 24, maxStringLength: 200, breakLength: 160 });
      assert.fail(
        `${kind} failed with seed ${result.seed}, path "${result.counterexamplePath}" (FUZZ_SEED=${result.seed} reruns it):\n` +
          `${result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance)}\ncase: ${shown}`,
      );
    }
  });
}

test('the heap does not keep what the fuzz run read', async () => {
  const growth = (await settledHeapMiB()) - heapBefore;
  assert.ok(growth < 64, `heap grew by ${growth.toFixed(1)} MiB over the run`);
});
