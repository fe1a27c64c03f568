#!/usr/bin/env node
// The `lake` command. The lake runs from its TypeScript sources through tsx's loader, so there is
// no build step between a checkout and a working command.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
