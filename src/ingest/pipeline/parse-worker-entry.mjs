// A worker thread starts without the loader that runs the lake's TypeScript in the main thread
// (bin/lake.js registers tsx; Node 20 does not pass module hooks on to workers): register it
// here, then run the parse worker.
import { register } from 'tsx/esm/api';

register();
await import('./parse-worker.ts');
