// The long run of the archive fuzzer (test/support/fuzz-archives.ts): mutated zips, ZIP64, split
// Takeout parts, tars, tgzs, folders and single files read through readExport, for a given time.
//   node --import tsx bench/fuzz-archives.ts [--seconds 60] [--seed 1] [--kind tgz]
//   node --import tsx bench/fuzz-archives.ts --kind tar --replay 123456   # one failing input again, with its case
// Prints one JSON line per archive kind (inputs tried, outcomes, failures with the seed that
// replays each) and a summary line; exits 1 when anything failed. Works in a temp folder that is
// removed at the end.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inspect, parseArgs } from 'node:util';
import { ARCHIVE_KINDS, caseFromSeed, inputSeed, runFuzzCase, settledHeapMiB, type ArchiveKind } from '../test/support/fuzz-archives.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    kind: { type: 'string' },
    replay: { type: 'string' },
    'timeout-ms': { type: 'string', default: '10000' },
  },
});
const kinds: ArchiveKind[] = values.kind === undefined ? [...ARCHIVE_KINDS] : [values.kind as ArchiveKind];
if (!kinds.every((kind) => (ARCHIVE_KINDS as readonly string[]).includes(kind))) {
  console.error(`--kind must be one of ${ARCHIVE_KINDS.join(', ')}`);
  process.exit(2);
}
const timeoutMs = Number(values['timeout-ms']);
const root = await mkdtemp(path.join(os.tmpdir(), 'lake-fuzz-archives-'));

try {
  if (values.replay !== undefined) {
    const seed = Number(values.replay);
    const fuzzCase = caseFromSeed(kinds[0]!, seed);
    console.log(inspect(fuzzCase, { depth: 6, maxArrayLength: 64, breakLength: 160 }));
    const verdict = await runFuzzCase(fuzzCase, path.join(root, 'case'), { timeoutMs });
    console.log(JSON.stringify({ kind: kinds[0], seed, ...verdict }));
    process.exitCode = verdict.ok ? 0 : 1;
  } else {
    await fuzzFor(Number(values.seconds), Number(values.seed));
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
// A hung reader (a failure) would keep the process alive.
process.exit(process.exitCode ?? 0);

async function fuzzFor(totalSeconds: number, runSeed: number): Promise<void> {
  const secondsPerKind = totalSeconds / kinds.length;
  const baselineHeap = await settledHeapMiB();
  let peakHeap = baselineHeap;
  let totalInputs = 0;
  let totalFailures = 0;
  for (const kind of kinds) {
    const outcomes: Record<string, number> = {};
    const failures: Array<{ seed: number; problem: string; message: string }> = [];
    const started = performance.now();
    let inputs = 0;
    while (performance.now() - started < secondsPerKind * 1000) {
      const seed = inputSeed(runSeed, kind, inputs);
      const verdict = await runFuzzCase(caseFromSeed(kind, seed), path.join(root, `${kind}-${inputs}`), { timeoutMs });
      await rm(path.join(root, `${kind}-${inputs}`), { recursive: true, force: true });
      inputs += 1;
      const key = verdict.ok ? (verdict.outcome === 'read' ? 'read' : verdict.code) : `failed:${verdict.problem}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      if (!verdict.ok) failures.push({ seed, problem: verdict.problem, message: verdict.message.split('\n').slice(0, 3).join(' | ') });
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      peakHeap = Math.max(peakHeap, (heapUsed + arrayBuffers) / 1024 / 1024);
    }
    totalInputs += inputs;
    totalFailures += failures.length;
    const seconds = (performance.now() - started) / 1000;
    console.log(JSON.stringify({ kind, inputs, inputsPerSecond: Math.round(inputs / seconds), outcomes, failures: failures.length, failureSamples: failures.slice(0, 10) }));
  }
  const heapGrowthMiB = Math.round((await settledHeapMiB()) - baselineHeap);
  console.log(JSON.stringify({ summary: true, seed: runSeed, seconds: totalSeconds, inputs: totalInputs, failures: totalFailures, heapGrowthMiB, peakHeapMiB: Math.round(peakHeap) }));
  process.exitCode = totalFailures > 0 ? 1 : 0;
}
