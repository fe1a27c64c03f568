// Preloaded into a `lake` process by bench/startup.ts (node --import): at exit, writes the
// process's peak RSS, its CPU time and the lake's start-up marks (lake.ts) to the file that
// LAKE_BENCH_USAGE_FILE names, so the bench reads figures of the real command, not of a copy.
import { writeFileSync } from 'node:fs';

const file = process.env.LAKE_BENCH_USAGE_FILE;
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    const marks = Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]));
    writeFileSync(file, JSON.stringify({ endMs: performance.now(), maxRssKB: usage.maxRSS, cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000, marks }));
  });
}
