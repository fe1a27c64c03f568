// The worker thread of the source fuzzer (fuzz-sources.ts, FuzzRunner): registers the TypeScript
// loader, as src/ingest/pipeline/parse-worker-entry.mjs does, then runs the cases it is sent.
import { parentPort } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { serveCases } = await import('./fuzz-sources.ts');
await serveCases(parentPort);
