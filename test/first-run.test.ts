/**
 * What a person sees on a first run of the CLI: a start-up URL they can open, where ./data and
 * ./certs land, and log colours only where they can be seen.
 */
import { expect } from 'chai';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import tty from 'node:tty';
import { wantsColour, type LogStream } from '../lib/log/colour.js';
import { closeAll, connect, request } from './helpers/clients.js';
import { startCli, tempDir, type RunningProcess } from './helpers/process.js';

const ESC = '\u001b[';

async function stop(proc: RunningProcess): Promise<void> {
  proc.child.kill('SIGTERM');
  await proc.exited;
}

function listeningLine(proc: RunningProcess): Record<string, unknown> {
  const line = proc.stderr().split('\n').find((l) => l.includes('"listening"'));
  return JSON.parse(line!) as Record<string, unknown>;
}

/** GET over HTTPS trusting only `ca`: the host name of the URL must be one the certificate names. */
function httpsGetTrusting(url: string, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

describe('first run', () => {
  afterEach(closeAll);

  it('bound to every interface, the start-up line gives a URL to open (localhost) and the bound address apart', async () => {
    const proc = await startCli([], {}, { host: '0.0.0.0' });
    try {
      const port = Number(new URL(proc.url).port);
      expect(proc.url).to.equal(`http://localhost:${port}`);
      expect(listeningLine(proc)).to.include({ url: proc.url, address: '0.0.0.0', port });
      expect((await fetch(`${proc.url}/healthcheck`)).status).to.equal(200);
      const client = await connect('v4', proc.url, '/layout');
      expect(await request(client, 'JOIN', { room: 'first' })).to.include({ ok: true });
    } finally {
      await stop(proc);
    }
  });

  it('./data and ./certs are relative to the current directory; the HTTPS URL is one the self-signed certificate names', async () => {
    const cwd = tempDir('ns-cwd-');
    try {
      const proc = await startCli(['--https'], { DATA_DIR: undefined, TLS_CERT: undefined, TLS_KEY: undefined }, { host: '0.0.0.0', cwd });
      try {
        expect(proc.url).to.match(/^https:\/\/localhost:\d+$/);
        expect(proc.stderr()).to.include(`"store":"sqlite ${join(cwd, 'data', 'messages.sqlite3')} (`);
        expect(existsSync(join(cwd, 'data', 'messages.sqlite3'))).to.equal(true);
        const cert = readFileSync(join(cwd, 'certs', 'selfsigned-cert.pem'), 'utf8');
        // Verified, not just accepted: the printed URL's host matches the certificate.
        expect(await httpsGetTrusting(`${proc.url}/healthcheck`, cert)).to.equal(200);
      } finally {
        await stop(proc);
      }
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  describe('--log-format pretty', () => {
    const prettyRun = async (env: Record<string, string | undefined>): Promise<string> => {
      const proc = await startCli([], { FORCE_COLOR: undefined, NO_COLOR: undefined, ...env }, { logFormat: 'pretty' });
      await stop(proc);
      return proc.stderr();
    };

    it('writes no colour codes into a pipe', async () => {
      const out = await prettyRun({});
      expect(out).to.match(/ info listening \{"url"/);
      expect(out).to.not.include(ESC);
    });

    it('colours a pipe when FORCE_COLOR asks, and not when it is 0', async () => {
      expect(await prettyRun({ FORCE_COLOR: '1' })).to.include(`${ESC}32minfo${ESC}39m listening`);
      expect(await prettyRun({ FORCE_COLOR: '0' })).to.not.include(ESC);
    });

    it('on a terminal: colour unless NO_COLOR or TERM=dumb (Node\'s own check); FORCE_COLOR wins', () => {
      const terminal: LogStream & { getColorDepth: unknown } = {
        isTTY: true,
        hasColors: tty.WriteStream.prototype.hasColors,
        getColorDepth: tty.WriteStream.prototype.getColorDepth,
      };
      expect(wantsColour(terminal, { TERM: 'xterm-256color' })).to.equal(true);
      expect(wantsColour(terminal, { TERM: 'xterm-256color', NO_COLOR: '1' })).to.equal(false);
      expect(wantsColour(terminal, { TERM: 'dumb' })).to.equal(false);
      expect(wantsColour(terminal, { TERM: 'xterm-256color', NO_COLOR: '1', FORCE_COLOR: '1' })).to.equal(true);
      expect(wantsColour({ isTTY: false }, { TERM: 'xterm-256color' })).to.equal(false);
      expect(wantsColour({}, {})).to.equal(false);
    });
  });
});
