/**
 * Prometheus' own tools, from the Debian package `prometheus`: `promtool` for the files of
 * deploy/prometheus and the `prometheus` server itself (test/helpers/prometheus-server.ts). Where
 * they are missing the tests skip with a clear message, unless REQUIRE_PROMTOOL=1 (CI), where that
 * is a failure.
 */
import { spawnSync } from 'node:child_process';

export type PrometheusTool = 'promtool' | 'prometheus';

export function toolAvailable(tool: PrometheusTool): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Call first in a test or suite (with mocha's `this`): skips it without `tool`, fails instead when REQUIRE_PROMTOOL=1. */
export function requirePromtoolOrSkip(ctx: Mocha.Context, tool: PrometheusTool = 'promtool'): void {
  if (toolAvailable(tool)) return;
  if (process.env.REQUIRE_PROMTOOL === '1') throw new Error(`${tool} required (REQUIRE_PROMTOOL=1) but not on PATH`);
  // eslint-disable-next-line no-console
  console.log(`      (skipped: no \`${tool}\` on PATH; install it, e.g. apt-get install --no-install-recommends prometheus, to run it)`);
  ctx.skip();
}

/** Runs promtool in `cwd`: its output, or an error holding it when promtool fails. */
export function promtool(args: string[], cwd: string): string {
  const run = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  if (run.status !== 0) throw new Error(`promtool ${args.join(' ')} failed (${run.status ?? run.signal}):\n${output}`);
  return output;
}
