// What `lake import` says before its first file (issue 13): opening the database and migrating take
// tens of seconds on a new embedded data directory, and each step is a line on stderr (a JSON
// `phase` event with --json), then a progress line naming file n of N. On either backend.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { CLI_TIMEOUT_MS, cliTestLake, lakeEnvironment, lakeImport, type CliTestLake } from './support/lake-cli.js';

const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;
const run = promisify(execFile);

let cli: CliTestLake;
let inputs: string;
let env: Record<string, string>;

before(async () => {
  // Nothing made yet: the first import creates and migrates the lake, and says so.
  cli = await cliTestLake('lake-cli-phases-', { fresh: true });
  env = cli.env;
  inputs = path.join(cli.dir, 'inputs');
  await mkdir(inputs, { recursive: true });
  await writeFile(path.join(inputs, 'Records.json'), '{"locations":[{"timestampMs":"1500000000000","latitudeE7":520000000,"longitudeE7":130000000}]}');
});
after(() => cli?.dispose());

test('lake import (not a terminal) says it opens the database, migrates and reads the inputs, before the first file', async () => {
  const { stdout, stderr } = await run(process.execPath, [LAKE, 'import', inputs, '--user', 'phases'], { env: lakeEnvironment(env), timeout: CLI_TIMEOUT_MS });
  const lines = stderr.split('\n').filter(Boolean);
  const opening = env.DATABASE_URL ? /^import: connecting to the PostgreSQL server \(DATABASE_URL\)…$/ : /^import: opening the embedded database in .*\/data\/hot…$/;
  const expected = [opening, /^import: checking the schema, applying any pending migrations…$/, /^import: database ready after \d+\.\d s, (\d+ migrations applied|a new database, copied from this installation's migrated template)$/, /^import: reading inputs…$/];
  assert.ok(lines.length > expected.length, stderr);
  expected.forEach((pattern, i) => {
    assert.match(lines[i]!, pattern, stderr);
  });
  // Then the progress: the whole import (file 1 of 1, bytes of total) and the current file.
  assert.match(lines[expected.length]!, /^import: file 1 of 1 · \d+% · \d+ B of \d+ B · 1 records · .*Records\.json/, stderr);
  assert.match(stdout, /^done: 1 files, 1 point \(1 row\) loaded/m);
});

test('lake import --json: phase events on stderr before the first progress event; a second run finds the schema up to date', async () => {
  const result = await lakeImport({ env: lakeEnvironment(env), inputs: [inputs], user: 'phases-json', batchSize: 100 });
  assert.equal(result.code, 0, result.stderr.join('\n'));
  const events = result.stderr.map((line) => JSON.parse(line) as { event: string; phase?: string; message?: string; filesTotal?: number });
  assert.deepEqual(events.slice(0, 4).map((e) => [e.event, e.phase]), [['phase', 'open'], ['phase', 'migrate'], ['phase', 'ready'], ['phase', 'read']]);
  assert.match(events[2]!.message!, /schema up to date/);
  assert.equal(events[4]!.event, 'progress');
  assert.equal(events[4]!.filesTotal, 1);
  const report = JSON.parse(result.stdout) as { totals: { counts: Record<string, number> } };
  assert.deepEqual(report.totals.counts, { points: 1 });
});
