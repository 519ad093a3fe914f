/**
 * Prometheus' own checker, `promtool` (Debian package `prometheus`), for the files of
 * deploy/prometheus. Where it is missing the checks skip with a clear message, unless
 * REQUIRE_PROMTOOL=1 (CI), where that is a failure.
 */
import { spawnSync } from 'node:child_process';

export function promtoolAvailable(): boolean {
  return spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Call first in a test (with mocha's `this`): skips it without promtool, fails instead when REQUIRE_PROMTOOL=1. */
export function requirePromtoolOrSkip(ctx: Mocha.Context): void {
  if (promtoolAvailable()) return;
  if (process.env.REQUIRE_PROMTOOL === '1') throw new Error('promtool required (REQUIRE_PROMTOOL=1) but not on PATH');
  // eslint-disable-next-line no-console
  console.log('      (skipped: no `promtool` on PATH; install it, e.g. apt-get install --no-install-recommends prometheus, to run it)');
  ctx.skip();
}

/** Runs promtool in `cwd`: its output, or an error holding it when promtool fails. */
export function promtool(args: string[], cwd: string): string {
  const run = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  if (run.status !== 0) throw new Error(`promtool ${args.join(' ')} failed (${run.status ?? run.signal}):\n${output}`);
  return output;
}
