/**
 * Debian's headless Chromium for tests of pages: whether it is here (skipped with a message, or a
 * failure with REQUIRE_BROWSER=1), and one browser per suite on a fresh profile, opened on a URL
 * and stopped (its profile removed) after.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tempDir } from './process.js';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Skips the suite without Chromium, unless REQUIRE_BROWSER=1 makes that a failure. */
export function requireBrowserOrSkip(ctx: Mocha.Context): void {
  if (spawnSync(CHROMIUM, ['--version'], { stdio: 'ignore' }).status === 0) return;
  if (process.env.REQUIRE_BROWSER === '1') throw new Error(`browser tests required (REQUIRE_BROWSER=1) but no ${CHROMIUM}`);
  // eslint-disable-next-line no-console
  console.log(`      (skipped: no ${CHROMIUM}; install chromium, or set CHROMIUM, to run the browser test)`);
  ctx.skip();
}

export interface Browser {
  /** Kills the browser, waits for it to exit and removes its profile. */
  stop(): Promise<void>;
}

/** Headless Chromium on a fresh profile, showing `url` (DEBUG_BROWSER=1: its log on stderr). */
export function openBrowser(url: string): Browser {
  const profile = tempDir('ns-chromium-');
  // A process group of its own: stopping it stops its renderer and zygote processes too.
  const child: ChildProcess = spawn(CHROMIUM, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`, url], {
    stdio: process.env.DEBUG_BROWSER ? 'inherit' : 'ignore',
    detached: true,
  });
  return {
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          child.kill();
        }
        await exited;
      }
      // A child process may still be closing a file in the profile: retry rather than fail.
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

export interface ReportingSite {
  /** `http://127.0.0.1:<port>`: another origin than the service's. */
  origin: string;
  close(): void;
}

/**
 * The test's own site: `GET /` answers the page `html()` gives at that moment; the page sends what
 * it saw with `POST /report`, each body handed to `report` as parsed JSON.
 */
export async function reportingSite(html: () => string, report: (body: unknown) => void): Promise<ReportingSite> {
  const site = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/report') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        res.end();
        report(JSON.parse(body));
      });
      return;
    }
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(html());
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(site.address() as AddressInfo).port}`, close: () => site.close() };
}
