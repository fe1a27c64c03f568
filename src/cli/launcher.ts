// Stop with the launcher. `npx lake serve` (and `npm run`) runs the lake as a grandchild: npm,
// then `sh -c`, then node. A supervisor signals the pid it started, npm's; npm passes SIGTERM to
// the shell, the shell dies of it, and node, never signalled, went on serving and holding the
// data directory. So when a package manager launched the lake and its parent goes away (it is
// then adopted by init or a subreaper: process.ppid changes), the lake takes that as the SIGTERM
// it did not get, and each command reacts as it does to SIGTERM (`lake serve` finishes its
// running requests and closes the lake). (A SIGINT to npm's pid alone never reaches node: the
// shell holds it until its child ends. Ctrl-C signals the whole job, node included.)
//
// Only under a package manager: started from a shell, the lake is itself the process that gets
// signalled, and `nohup lake serve &` must outlive the shell that started it.

/** How often the parent is checked; its death is noticed within this long. */
const CHECK_INTERVAL_MS = 250;

export function stopWithLauncher(env: NodeJS.ProcessEnv = process.env): void {
  if (!launchedByPackageManager(env)) return;
  const launcher = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === launcher) return;
    clearInterval(timer);
    process.stderr.write(`lake: the process that launched it (pid ${launcher}) is gone: stopping as on SIGTERM\n`);
    process.kill(process.pid, 'SIGTERM');
  }, CHECK_INTERVAL_MS);
  timer.unref(); // never what keeps the process alive
}

/** npm (npx, npm exec, npm run), yarn, pnpm and bun all set npm_config_user_agent for what they run. */
function launchedByPackageManager(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.npm_config_user_agent || env.npm_lifecycle_event);
}
