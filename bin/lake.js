#!/usr/bin/env -S node --max-old-space-size=192
// The `lake` command. The lake runs from its TypeScript sources through tsx's loader, so there is
// no build step between a checkout and a working command.
//
// The heap is bounded (192 MB): imports stream and never need more, and without a bound V8 lets
// the heap grow to several hundred MB of garbage before collecting it. `node bin/lake.js` runs
// without the bound; `npx lake` and an installed `lake` use it.
import { register } from 'tsx/esm/api';

register();
// Before the command loads (seconds): from here on, a launcher that goes away stops the lake.
const { stopWithLauncher } = await import('../src/cli/launcher.ts');
stopWithLauncher();
await import('../src/cli/main.ts');
