// The long run of the source fuzzer (test/support/fuzz-sources.ts): mutated real-shaped inputs
// through every registered source's parser, normalization, validation and encoding, no database.
//   node --import tsx bench/fuzz-sources.ts [--seconds 300] [--seed 1] [--source google.location.records]
//   node --import tsx bench/fuzz-sources.ts --source google.calendar.ics --replay 123456   # one input again, in this thread
//   node --import tsx bench/fuzz-sources.ts --source document.json --replay 123456 --write /tmp/case.bin   # and its bytes
// Prints one JSON line per source (inputs tried, outcomes, failures with the command that replays
// each) and a summary line; exits 1 when anything failed.
import { writeFileSync } from 'node:fs';
import { inspect, parseArgs } from 'node:util';
import { caseFromSeed, describeCase, FuzzRunner, inputSeed, runCaseHere, SOURCE_IDS, WORKER_HEAP_MB } from '../test/support/fuzz-sources.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    source: { type: 'string' },
    replay: { type: 'string' },
    write: { type: 'string' },
    'timeout-ms': { type: 'string', default: '20000' },
  },
});
const sources = values.source === undefined ? [...SOURCE_IDS] : [values.source];
if (!sources.every((id) => SOURCE_IDS.includes(id))) {
  console.error(`--source must be one of ${SOURCE_IDS.join(', ')}`);
  process.exit(2);
}

if (values.replay !== undefined) {
  const fuzzCase = caseFromSeed(sources[0]!, Number(values.replay));
  console.log(describeCase(fuzzCase));
  console.log(inspect(fuzzCase.bytes.subarray(0, 400).toString('latin1')));
  if (values.write) writeFileSync(values.write, fuzzCase.bytes);
  const verdict = await runCaseHere(fuzzCase);
  console.log(JSON.stringify({ source: fuzzCase.sourceId, seed: fuzzCase.seed, ...verdict }));
  process.exit(verdict.ok ? 0 : 1);
}

const runSeed = Number(values.seed);
const msPerSource = (Number(values.seconds) * 1000) / sources.length;
const runner = new FuzzRunner({ timeoutMs: Number(values['timeout-ms']) });
let totalInputs = 0;
let totalFailures = 0;
let peakHeapMiB = 0;
try {
  await runner.ready();
  for (const source of sources) {
    const outcomes: Record<string, number> = {};
    const failures: Array<{ seed: number; problem: string; message: string; replay: string }> = [];
    const started = performance.now();
    let inputs = 0;
    while (performance.now() - started < msPerSource || inputs === 0) {
      const seed = inputSeed(runSeed, source, inputs);
      const verdict = await runner.run({ sourceId: source, seed });
      inputs++;
      let outcome: string;
      if (verdict.ok) {
        peakHeapMiB = Math.max(peakHeapMiB, verdict.heapMiB);
        outcome = verdict.lakeError ? `lakeError:${verdict.lakeError}` : verdict.records > 0 ? 'records' : verdict.quarantined > 0 ? 'quarantineOnly' : 'nothing';
      } else {
        outcome = `failed:${verdict.problem}`;
        failures.push({ seed, problem: verdict.problem, message: verdict.message.split('\n').slice(0, 3).join(' | '), replay: `node --import tsx bench/fuzz-sources.ts --source ${source} --replay ${seed}` });
      }
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    const seconds = (performance.now() - started) / 1000;
    totalInputs += inputs;
    totalFailures += failures.length;
    console.log(JSON.stringify({ source, inputs, inputsPerSecond: Math.round((inputs / seconds) * 10) / 10, outcomes, failures: failures.length, failureSamples: failures.slice(0, 5) }));
  }
} finally {
  await runner.stop();
}
console.log(JSON.stringify({ summary: true, seed: runSeed, seconds: Number(values.seconds), sources: sources.length, inputs: totalInputs, failures: totalFailures, peakWorkerHeapMiB: peakHeapMiB, workerHeapLimitMiB: WORKER_HEAP_MB }));
process.exitCode = totalFailures > 0 ? 1 : 0;
