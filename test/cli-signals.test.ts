// Stopping `lake serve` whatever started it: SIGTERM to the pid a supervisor started ends every
// process of the command within seconds and releases the data directory. Under `npx`, that pid is
// npm's; npm passes the signal to `sh -c`, which dies of it, and node used to go on serving.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { CLI_TIMEOUT_MS, cliTestLake, lakeEnvironment, type CliTestLake } from './support/lake-cli.js';

const CHECKOUT = new URL('..', import.meta.url).pathname;
const LAKE = new URL('../bin/lake.js', import.meta.url).pathname;
/** What "within a few seconds" means here, on a loaded machine. */
const STOP_WITHIN_MS = 10_000;

let cli: CliTestLake;
let settings: Record<string, string>;

before(async () => {
  cli = await cliTestLake('lake-signals-', {
    settings: {
      LAKE_API_PORT: '0',
      // npx from this checkout, without the network: offline, with a cache of its own, it runs the
      // package's own bin (linked from the checkout) or fails with ENOTCACHED.
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
    },
  });
  settings = { ...cli.env, npm_config_cache: path.join(cli.dir, 'npm-cache') };
});
after(() => cli?.dispose());

/** Every process below `root` (and root), from /proc. */
async function processTree(root: number): Promise<{ pid: number; command: string }[]> {
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  const tree: { pid: number; command: string }[] = [];
  const visit = async (pid: number): Promise<void> => {
    const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim();
    tree.push({ pid, command });
    for (const child of parents.get(pid) ?? []) await visit(child);
  };
  await visit(root);
  return tree;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Start `lake serve` through `command args`, wait until it listens; the output so far and later. */
async function startServe(command: string, args: string[], ownGroup: boolean): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(command, args, { cwd: CHECKOUT, env: lakeEnvironment(settings), stdio: ['ignore', 'pipe', 'pipe'], detached: ownGroup });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const deadline = Date.now() + 240_000;
  while (!/lake: serving http:\/\//.test(output)) {
    if (child.exitCode !== null || child.signalCode !== null) assert.fail(`${command} ended before serving: ${output}`);
    if (Date.now() > deadline) assert.fail(`${command} did not start serving: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { child, output: () => output };
}

/**
 * `to`: 'pid' signals the pid started, as a supervisor does; 'group' its process group, as a
 * terminal does on Ctrl-C (the command is started as a job of its own).
 */
async function stopsOn(signal: NodeJS.Signals, to: 'pid' | 'group', command: string, args: string[], launcherLayers: number): Promise<void> {
  const { child, output } = await startServe(command, args, to === 'group');
  const tree = await processTree(child.pid!);
  const lake = tree.filter((p) => p.command.includes('lake') && p.command.includes('serve') && /^\S*node\b/.test(p.command));
  try {
    assert.equal(lake.length, 1, `one node process serves: ${JSON.stringify(tree)}`);
    assert.ok(tree.length >= launcherLayers + 1, `the launcher's layers are there: ${JSON.stringify(tree)}`);
    const url = /lake: serving (http:\S+)/.exec(output())![1]!;
    assert.equal((await fetch(`${url}/health/live`)).status, 200);

    const signalled = Date.now();
    process.kill(to === 'group' ? -child.pid! : child.pid!, signal);
    while (tree.some((p) => alive(p.pid)) && Date.now() - signalled < STOP_WITHIN_MS) await new Promise((resolve) => setTimeout(resolve, 50));
    const left = tree.filter((p) => alive(p.pid));
    assert.deepEqual(left, [], `still running ${Date.now() - signalled} ms after ${signal} to ${child.pid}`);
    console.log(`# ${path.basename(command)}: every process of the command gone ${Date.now() - signalled} ms after ${signal} to ${child.pid}`);
    assert.match(output(), /lake: stopped/, 'shut down gracefully, not killed');
  } finally {
    for (const p of tree) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
  }

  // The data directory is free: the lock file is gone and the next command opens it.
  await assert.rejects(access(path.join(settings.LAKE_DATA_DIR!, 'hot', 'lake.pid')), 'lock file removed');
  const doctor = await promisify(execFile)(process.execPath, [LAKE, 'doctor', '--json'], { env: lakeEnvironment(settings), timeout: CLI_TIMEOUT_MS }).catch(
    (error: { code: number; stderr: string }) => assert.fail(`lake doctor after the stop: exit ${error.code}: ${error.stderr}`),
  );
  assert.equal(JSON.parse(doctor.stdout).healthy, true);
}

test('npx lake serve: SIGTERM to npx stops the node process it launched through sh', { timeout: 600_000 }, async () => {
  // npm exec, then sh -c, then node.
  await stopsOn('SIGTERM', 'pid', 'npx', ['lake', 'serve'], 2);
});

test('npx lake serve: Ctrl-C (SIGINT to the job) stops it', { timeout: 600_000 }, async () => {
  await stopsOn('SIGINT', 'group', 'npx', ['lake', 'serve'], 2);
});

test('node bin/lake.js serve: SIGTERM stops it', { timeout: 600_000 }, async () => {
  await stopsOn('SIGTERM', 'pid', process.execPath, [LAKE, 'serve'], 0);
});
