// The lake's sources compiled to JavaScript once, for the `lake` command to start from. Running
// TypeScript through tsx's loader costs every command about half a second before it does
// anything (each module passes through a loader thread); compiled files load as plain ES
// modules. The compiled tree mirrors src/ under node_modules/.cache (so that packages resolve
// from it as from src/), named by a fingerprint of the sources, and is made again when any
// source changes: a checkout that is being edited runs what is in it, never a stale copy. The
// compiler is esbuild, the one tsx runs on each file, so both run the same JavaScript.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const PACKAGE = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
/** Written last into a compiled tree: one without it was left half-made and is not used. */
const COMPLETE = '.complete';

/**
 * The compiled src/ directory for the sources as they are now, compiling them first if needed;
 * null when that cannot be done (node_modules not writable, esbuild missing): the caller then
 * runs the sources through tsx, as slowly as before.
 */
export async function compiledSources(root = PACKAGE) {
  try {
    const sources = path.join(root, 'src');
    const files = listFiles(sources);
    const fingerprint = createHash('sha256');
    for (const file of files) {
      const { size, mtimeMs } = statSync(path.join(sources, file));
      fingerprint.update(`${file}\0${size}\0${mtimeMs}\0`);
    }
    fingerprint.update(JSON.parse(readFileSync(path.join(root, 'node_modules', 'esbuild', 'package.json'), 'utf8')).version);
    const cache = path.join(root, 'node_modules', '.cache', 'datapunk-lake', 'compiled');
    const tree = path.join(cache, fingerprint.digest('hex').slice(0, 16));
    if (!existsSync(path.join(tree, COMPLETE))) await compile(root, files, cache, tree);
    return path.join(tree, 'src');
  } catch {
    return null;
  }
}

async function compile(root, files, cache, tree) {
  const sources = path.join(root, 'src');
  const { build } = await import('esbuild');
  const partial = `${tree}.${process.pid}.partial`;
  rmSync(partial, { recursive: true, force: true });
  const typescript = files.filter((f) => f.endsWith('.ts')).map((f) => path.join(sources, f));
  await build({
    entryPoints: typescript,
    outdir: path.join(partial, 'src'),
    outbase: sources,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    tsconfig: path.join(root, 'tsconfig.json'),
    logLevel: 'silent',
  });
  // Everything else the sources read beside themselves: migrations, worker entries, data.
  for (const file of files.filter((f) => !f.endsWith('.ts'))) {
    mkdirSync(path.dirname(path.join(partial, 'src', file)), { recursive: true });
    cpSync(path.join(sources, file), path.join(partial, 'src', file));
  }
  writeFileSync(path.join(partial, COMPLETE), '');
  try {
    renameSync(partial, tree);
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(path.join(tree, COMPLETE))) throw error; // else another process made it first
    return;
  }
  // Trees of older sources: removed once a newer one is in place (a process may still be running
  // from one; its modules are loaded already).
  for (const name of readdirSync(cache)) {
    if (path.join(cache, name) !== tree && !name.endsWith('.partial')) rmSync(path.join(cache, name), { recursive: true, force: true });
  }
}

/** Files under `directory`, relative to it. */
function listFiles(directory, relative = '') {
  return readdirSync(path.join(directory, relative), { withFileTypes: true }).flatMap((entry) => {
    const name = path.join(relative, entry.name);
    return entry.isDirectory() ? listFiles(directory, name) : [name];
  });
}
