// The `lake` command runs the sources compiled to JavaScript (bin/compiled.js): compiled once,
// reused while the sources stay as they are, compiled again as soon as one changes, and never a
// stale copy. No database: the same on both backends.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
// @ts-expect-error plain JavaScript beside bin/lake.js, without type declarations
import { compiledSources } from '../bin/compiled.js';

const ROOT = new URL('../', import.meta.url).pathname;
const run = promisify(execFile);
let root: string;

before(async () => {
  // A package of its own: two modules, a migration beside them, the real node_modules (esbuild).
  root = await mkdtemp(path.join(os.tmpdir(), 'lake-compiled-'));
  await mkdir(path.join(root, 'src', 'db', 'migrations'), { recursive: true });
  await mkdir(path.join(root, 'node_modules', '.bin'), { recursive: true });
  await symlink(path.join(ROOT, 'node_modules', 'esbuild'), path.join(root, 'node_modules', 'esbuild'));
  await cp(path.join(ROOT, 'tsconfig.json'), path.join(root, 'tsconfig.json'));
  await writeFile(path.join(root, 'src', 'answer.ts'), `export const answer: number = 41;\n`);
  await writeFile(
    path.join(root, 'src', 'main.ts'),
    `import { readFileSync } from 'node:fs';\nimport { answer } from './answer.js';\n` +
      `const sql = readFileSync(new URL('./db/migrations/0001_x.sql', import.meta.url), 'utf8').trim();\n` +
      `console.log(JSON.stringify({ answer: answer + 1, sql }));\n`,
  );
  await writeFile(path.join(root, 'src', 'db', 'migrations', '0001_x.sql'), 'SELECT 1;\n');
});
after(() => rm(root, { recursive: true, force: true }));

async function runCompiled(): Promise<{ tree: string; output: { answer: number; sql: string } }> {
  const tree = (await compiledSources(root)) as string | null;
  assert.ok(tree, 'compiled');
  const { stdout } = await run(process.execPath, [path.join(tree, 'main.js')]);
  return { tree, output: JSON.parse(stdout) };
}

test('the sources are compiled once, with the files they read beside them', async () => {
  const first = await runCompiled();
  assert.deepEqual(first.output, { answer: 42, sql: 'SELECT 1;' });
  const made = (await stat(path.join(first.tree, '..', '.complete'))).mtimeMs;
  const again = await runCompiled();
  assert.equal(again.tree, first.tree);
  assert.equal((await stat(path.join(again.tree, '..', '.complete'))).mtimeMs, made, 'not compiled again');
});

test('a changed source is compiled again, and the stale tree removed', async () => {
  const before = await runCompiled();
  await writeFile(path.join(root, 'src', 'answer.ts'), `export const answer: number = 99;\n`);
  // Same size as before would still differ by its time: change the time too, as an editor does.
  const later = new Date(Date.now() + 5_000);
  await utimes(path.join(root, 'src', 'answer.ts'), later, later);
  const after = await runCompiled();
  assert.notEqual(after.tree, before.tree);
  assert.equal(after.output.answer, 100);
  const trees = (await readdir(path.dirname(path.dirname(after.tree)))).filter((n) => !n.endsWith('.partial'));
  assert.deepEqual(trees, [path.basename(path.dirname(after.tree))]);
});

test('where the tree cannot be written, no compiled sources (bin/lake.js then runs them through tsx)', async () => {
  await writeFile(path.join(root, 'src', 'answer.ts'), `export const answer: number = 7;\n`);
  const cache = path.join(root, 'node_modules', '.cache');
  await rm(cache, { recursive: true, force: true });
  await writeFile(cache, 'not a directory');
  try {
    assert.equal(await compiledSources(root), null);
  } finally {
    await rm(cache, { force: true });
  }
  assert.equal((await runCompiled()).output.answer, 8, 'compiled again once it can be');
});

test('bin/lake.js runs the compiled sources of this checkout', async () => {
  const { stdout } = await run(process.execPath, [path.join(ROOT, 'bin', 'lake.js'), '--help']);
  assert.match(stdout, /Usage: lake/);
  const tree = (await compiledSources()) as string;
  assert.ok(tree.startsWith(path.join(ROOT, 'node_modules', '.cache', 'datapunk-lake', 'compiled')));
  // Every TypeScript module has its JavaScript, every other file its copy.
  const main = await readFile(path.join(tree, 'cli', 'main.js'), 'utf8');
  assert.match(main, /program/);
  assert.ok((await readdir(path.join(tree, 'db', 'migrations'))).some((f) => f.endsWith('.sql')));
});
