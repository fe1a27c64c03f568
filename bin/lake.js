#!/usr/bin/env -S node --max-old-space-size=192
// The `lake` command. There is no build step between a checkout and a working command: the lake
// runs from its sources compiled to JavaScript on first use and again whenever they change
// (compiled.js), or, where they cannot be compiled, through tsx's loader.
//
// The heap is bounded (192 MB): imports stream and never need more, and without a bound V8 lets
// the heap grow to several hundred MB of garbage before collecting it. `node bin/lake.js` runs
// without the bound; `npx lake` and an installed `lake` use it.
//
// Files and directories it creates are private to its OS user: umask 077 (below).
import { compiledSources } from './compiled.js';

let sources = await compiledSources();
let extension = 'js';
if (!sources) {
  const { register } = await import('tsx/esm/api');
  register();
  sources = new URL('../src', import.meta.url).pathname;
  extension = 'ts';
}
// Whatever the command creates from here on is its OS user's alone (no group or other bits):
// uploads, thumbnails, exports, backups and what libraries write for it hold personal data. Set
// after the compiled sources, a code cache that other users of a shared install may run from.
process.umask(0o077);
// Before the command loads (seconds): from here on, a launcher that goes away stops the lake.
const { stopWithLauncher } = await import(`${sources}/cli/launcher.${extension}`);
stopWithLauncher();
await import(`${sources}/cli/main.${extension}`);
