// A short, seeded run of the source fuzzer (test/support/fuzz-sources.ts) over every registered
// source: mutated real-shaped inputs must end in records, quarantine entries or a LakeError,
// within the per-input timeout and the worker's bounded heap. No database. The long run is
// bench/fuzz-sources.ts; a failure here prints the command that replays it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { caseFromSeed, describeCase, FuzzRunner, inputSeed, SOURCE_IDS } from './support/fuzz-sources.js';

const RUN_SEED = 20261207;
/** Time per source: about 24 sources × this, the worker's start and the slowest inputs make ~40 s on a busy 2-core machine. */
const MS_PER_SOURCE = 600;
const MIN_INPUTS_PER_SOURCE = 2;

const runner = new FuzzRunner({ timeoutMs: 20_000 });
before(() => runner.ready());
after(() => runner.stop());

describe(`source fuzzer, seed ${RUN_SEED}`, () => {
  for (const sourceId of SOURCE_IDS) {
    test(sourceId, async () => {
      const failures: string[] = [];
      const started = performance.now();
      let n = 0;
      for (; n < MIN_INPUTS_PER_SOURCE || performance.now() - started < MS_PER_SOURCE; n++) {
        const seed = inputSeed(RUN_SEED, sourceId, n);
        const verdict = await runner.run({ sourceId, seed });
        if (!verdict.ok) {
          failures.push(`${verdict.problem}: ${verdict.message}\n  ${describeCase(caseFromSeed(sourceId, seed))}\n  replay: node --import tsx bench/fuzz-sources.ts --source ${sourceId} --replay ${seed}`);
        }
      }
      assert.deepEqual(failures, [], `${failures.length} of ${n} inputs failed (run seed ${RUN_SEED})`);
    });
  }
});
