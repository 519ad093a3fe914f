/**
 * The `notify` CLI end to end: the built dist/cli/notify.js spawned as a user would, against a
 * real service with JWT auth and an API key. Tokens come from `notify token`; `sub` prints what
 * `pub` sends (stdin lines); the read commands and `disconnect` use the HTTP API; every exit code.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { createClient, type NotifyClient, type NotifyError } from '../client/src/index.js';
import { AUDIENCE, ISSUER, SECRET, secretAuth } from './helpers/auth.js';
import { waitUntil } from './helpers/cluster.js';
import { serviceForSuite } from './helpers/service.js';

const NOTIFY_JS = fileURLToPath(new URL('../cli/notify.js', import.meta.url));
const API_KEY = 'cli-test-key-0123456789';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `notify args…` with `input` on stdin; NOTIFY_* and JWT_* come only from `env`. */
function notify(args: string[], env: Record<string, string> = {}, input = '', timeoutMs = 15_000): Promise<Run> & { kill(): void } {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NOTIFY_|JWT_)/.test(k)));
  const child = spawn(process.execPath, [NOTIFY_JS, ...args], { env: { ...clean, ...env }, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input);
  const done = new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => (child.kill('SIGKILL'), reject(new Error(`notify ${args.join(' ')}: no exit within ${timeoutMs} ms; ${stderr}`))), timeoutMs);
    child.on('exit', (code) => (clearTimeout(timer), resolve({ code, stdout, stderr })));
  });
  return Object.assign(done, { kill: () => child.kill('SIGINT') });
}

const lines = (text: string): any[] => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('notify CLI', function () {
  const svc = serviceForSuite({ auth: secretAuth({ apiKeys: [API_KEY] }) });
  const jwtEnv = { JWT_SECRET: SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE };
  const opened: NotifyClient[] = [];
  afterEach(() => opened.splice(0).forEach((c) => c.close()));

  async function mint(...args: string[]): Promise<string> {
    const r = await notify(['token', ...args], jwtEnv);
    expect(r.code, r.stderr).to.equal(0);
    return r.stdout.trim();
  }

  const members = async (room: string): Promise<number> =>
    ((await (await fetch(`${svc.url}/rooms/layout/${room}/presence`, { headers: { 'x-api-key': API_KEY } })).json()) as { members: unknown[] }).members.length;

  it('sub prints, as JSON lines, each message pub sends from stdin; history, presence and rooms read them back', async () => {
    const token = await mint('--sub', 'alice', '--name', 'Alice', '--rooms', 'ctx-*');
    const env = { NOTIFY_URL: svc.url, NOTIFY_TOKEN: token };
    const sub = notify(['sub', 'layout/ctx-1', '--count', '3', '--json', '--timeout', '10'], env);
    await waitUntil('sub has joined', async () => (await members('ctx-1')) === 1);

    const pub = await notify(['pub', 'layout/ctx-1', '-'], { NOTIFY_URL: svc.url, NOTIFY_API_KEY: API_KEY }, '{"n":1}\n"two"\n\n[3]\n');
    expect(pub.code, pub.stderr).to.equal(0);
    expect(lines(pub.stdout)).to.deep.equal([1, 2, 3].map((offset) => ({ offset, recipients: 1 })));
    const got = await sub;
    expect(got.code, got.stderr).to.equal(0);
    const events = lines(got.stdout);
    expect(events.map((e) => e.message)).to.deep.equal([{ n: 1 }, 'two', [3]]);
    expect(events.map((e) => [e.event, e.namespace, e.room, e.sender, e.meta.offset])).to.deep.equal([1, 2, 3].map((o) => ['message', 'layout', 'ctx-1', 'POST', o]));

    // The token works on the HTTP API as well (subscribe right), the API key everywhere.
    const history = await notify(['history', 'layout/ctx-1', '--limit', '2', '--json'], env);
    expect(history.code, history.stderr).to.equal(0);
    expect(lines(history.stdout).map((m) => m.message)).to.deep.equal(['two', [3]]);

    const watcher = createClient(svc.url, { token });
    opened.push(watcher);
    await watcher.subscribe('ctx-2', () => undefined).ready;
    const presence = await notify(['presence', 'layout/ctx-2', '--json'], env);
    expect(presence.code, presence.stderr).to.equal(0);
    expect(lines(presence.stdout).map((m) => [m.name, m.user, m.protocol])).to.deep.equal([['Alice', 'alice', 'socketio']]);
    // A token in the environment beside the API key: the key is what the route needs.
    const rooms = await notify(['rooms', '--namespace', 'layout', '--prefix', 'ctx-', '--json'], { ...env, NOTIFY_API_KEY: API_KEY });
    expect(rooms.code, rooms.stderr).to.equal(0);
    expect(lines(rooms.stdout)).to.deep.equal([{ namespace: 'layout', room: 'ctx-2', members: 1 }]);
    // Pretty output for people: one line per record.
    const pretty = await notify(['history', 'layout/ctx-1', '--no-json', '--api-key', API_KEY, '--url', svc.url]);
    expect(pretty.stdout.trim().split('\n')).to.deep.equal(['#1 POST: {"n":1}', '#2 POST: two', '#3 POST: [3]']);
  });

  it('sub follows the other namespaces over SSE (here /chat and /sock rooms in one run)', async () => {
    const token = await mint('--sub', 'erin', '--rooms', 'ev-*');
    const sub = notify(['sub', 'chat/ev-chat', 'sock/ev-sock', '--count', '2', '--json', '--timeout', '10', '--token', token, '--url', svc.url]);
    const streams = async (ns: string, room: string) =>
      ((await (await fetch(`${svc.url}/rooms/${ns}/${room}/presence`, { headers: { 'x-api-key': API_KEY } })).json()) as { members: Array<{ protocol: string }> }).members.filter((m) => m.protocol === 'sse').length;
    await waitUntil('both streams open', async () => (await streams('chat', 'ev-chat')) === 1 && (await streams('sock', 'ev-sock')) === 1);
    const env = { NOTIFY_URL: svc.url, NOTIFY_API_KEY: API_KEY };
    expect((await notify(['pub', 'chat/ev-chat', '{"bodyText":"hi"}'], env)).code).to.equal(0);
    expect((await notify(['pub', 'sock/ev-sock', '"frame"'], env)).code).to.equal(0);
    const got = await sub;
    expect(got.code, got.stderr).to.equal(0);
    const [chat, sock] = lines(got.stdout);
    expect(chat).to.deep.include({ event: 'message', namespace: 'chat', room: 'ev-chat', name: 'MESSAGE_SENT' });
    expect(chat.data.content.bodyText).to.equal('hi');
    expect(chat.id).to.match(/:1$/);
    expect(sock).to.deep.include({ event: 'message', namespace: 'sock', room: 'ev-sock', name: 'message' });
    expect(sock.data.payload).to.equal('frame');
  });

  it('disconnect closes the user\'s connections (the client hears DISCONNECTED_BY_SERVER)', async () => {
    const c = createClient(svc.url, { token: await mint('--sub', 'bob', '--rooms', '*') });
    opened.push(c);
    await c.subscribe('r', () => undefined).ready;
    const told = new Promise<NotifyError>((resolve) => c.on('error', resolve));
    const r = await notify(['disconnect', 'bob', '--json', '--url', svc.url, '--api-key', API_KEY]);
    expect(r.code, r.stderr).to.equal(0);
    expect(lines(r.stdout)).to.deep.equal([{ disconnected: 1 }]);
    expect((await told).code).to.equal('DISCONNECTED_BY_SERVER');
  });

  it('exit codes: 2 bad arguments, 3 unreachable, 4 not allowed, 5 refused, 6 sub --timeout', async () => {
    const env = { NOTIFY_URL: svc.url };
    const cases: Array<[string[], number, RegExp, string?]> = [
      [['nonsense'], 2, /Unknown argument|Did you mean/],
      [['pub', 'layout/r'], 2, /Missing required argument/],
      [['pub', 'no-slash', '1', '--api-key', API_KEY], 2, /not <namespace>\/<room>/],
      [['pub', 'layout/r', '{not json', '--api-key', API_KEY], 2, /not JSON/],
      [['token', '--sub', 'x'], 2, /--jwt-secret/],
      [['pub', 'layout/r', '1', '--url', 'http://127.0.0.1:1'], 3, /CONNECTION_FAILED/],
      [['pub', 'layout/r', '1'], 4, /UNAUTHORIZED/],
      [['pub', 'layout/r', '1', '--api-key', 'wrong-key-0123456789'], 4, /UNAUTHORIZED/],
      [['pub', 'trigger/r', '1', '--api-key', API_KEY], 5, /NOT_FOUND/],
      [['history', 'layout/r', '--limit', '5000', '--api-key', API_KEY], 5, /INVALID_PAYLOAD/],
    ];
    for (const [args, code, stderr] of cases) {
      const r = await notify(args, env);
      expect(r.code, `notify ${args.join(' ')}: ${r.stderr}`).to.equal(code);
      expect(r.stderr).to.match(stderr);
    }
    const reader = await mint('--sub', 'carol', '--subscribe', 'open');
    const forbidden = await notify(['sub', 'layout/closed', '--token', reader], env);
    expect(forbidden.code, forbidden.stderr).to.equal(4);
    expect(forbidden.stderr).to.match(/FORBIDDEN/);
    const forbiddenStream = await notify(['sub', 'chat/closed', '--token', reader], env);
    expect(forbiddenStream.code, forbiddenStream.stderr).to.equal(4);
    expect(forbiddenStream.stderr).to.match(/FORBIDDEN/);
    const quiet = await notify(['sub', 'layout/open', '--token', reader, '--count', '1', '--timeout', '0.5'], env);
    expect(quiet.code, quiet.stderr).to.equal(6);
  });

  it('--help for every command names its options; sub ends with 0 on SIGINT', async () => {
    for (const [command, option] of [['sub', '--count'], ['pub', '--store'], ['history', '--limit'], ['presence', '--url'], ['rooms', '--prefix'], ['disconnect', '--block'], ['token', '--jwt-secret']]) {
      const r = await notify([command!, '--help']);
      expect(r.code, command).to.equal(0);
      expect(r.stdout, command).to.include(option).and.include(`notify ${command}`);
    }
    const token = await mint('--sub', 'dave', '--rooms', '*');
    const sub = notify(['sub', 'layout/quiet', '--token', token, '--url', svc.url]);
    await waitUntil('sub has joined', async () => (await members('quiet')) === 1);
    sub.kill();
    expect((await sub).code).to.equal(0);
  });
});
