// A worker thread starts without the loader that runs the lake's TypeScript in the main thread
// (Node 20 does not pass module hooks on to workers). Compiled (bin/compiled.js), the parse
// worker is JavaScript beside this file; otherwise register tsx here and run its source.
import { existsSync } from 'node:fs';

const compiled = new URL('./parse-worker.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./parse-worker.ts');
}
