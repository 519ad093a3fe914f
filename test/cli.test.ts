import { expect } from 'chai';
import { closeAll, connect, next, request } from './helpers/clients.js';
import { runCli, startCli } from './helpers/process.js';

describe('CLI', () => {
  afterEach(closeAll);

  for (const [args, env, pattern] of [
    [['--port', 'abc'], {}, /--port .* must be an integer from 0 to 65535 \(got "abc"\)/],
    [['--port', '70000'], {}, /--port/],
    [[], { PORT: 'eighty' }, /env PORT/],
    [['--transports', 'carrier-pigeon'], {}, /--transports/],
    [['--max-payload', 'huge'], {}, /--max-payload/],
    [['--log-level', 'loud'], {}, /--log-level/],
    [['--log-format', 'xml'], {}, /--log-format/],
    [['--cors-origin', 'not an origin'], {}, /--cors-origin/],
    [['--cert', '/nonexistent/cert.pem', '--key', '/nonexistent/key.pem'], {}, /cannot read/],
    [['--cert', '/etc/hostname'], {}, /--cert and --key must be given together/],
    [['--no-such-flag'], {}, /Unknown argument/],
    [['--redis', 'http://localhost:6379'], {}, /--redis .* must start with redis:\/\/ or rediss:\/\//],
    [[], { REDIS_URL: 'not a url' }, /env REDIS_URL/],
    [['--redis', 'redis://localhost:6379/zero'], {}, /database number/],
    [['--redis', 'redis://localhost', '--presence-ttl', '10ms'], {}, /--presence-ttl/],
    [['--redis', 'redis://localhost', '--redis-prefix', 'has space'], {}, /--redis-prefix/],
  ] as Array<[string[], Record<string, string>, RegExp]>) {
    it(`exits with code 2 and one clear line for ${args.join(' ') || JSON.stringify(env)}`, async () => {
      const result = await runCli(args, env);
      expect(result.code).to.equal(2);
      const lines = result.stderr.trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(/^error: /).and.match(pattern);
    });
  }

  it('--help lists every flag with its environment variable', async () => {
    const result = await runCli(['--help']);
    expect(result.code).to.equal(0);
    // yargs wraps long lines: compare with the line breaks folded.
    const help = result.stdout.replace(/\s+/g, ' ');
    for (const text of ['--port', 'env PORT', '--https', '--cert', '--key', '--transports', '--max-payload', 'env MAX_PAYLOAD', '--cors-origin', '--log-level', '--log-format', '--redis', 'env REDIS_URL', '--presence-ttl', '--redis-prefix', '--auth', 'env AUTH', '--api-key']) {
      expect(help).to.include(text);
    }
  });

  it('--version prints the package version', async () => {
    const result = await runCli(['--version']);
    expect(result.code).to.equal(0);
    expect(result.stdout.trim()).to.match(/^\d+\.\d+\.\d+/);
  });

  it('takes its settings from the environment', async () => {
    const proc = await startCli([], { TRANSPORTS: 'websocket', MAX_PAYLOAD: '2k' });
    try {
      // polling is off: a long-polling handshake is refused
      const res = await fetch(`${proc.url}/socket.io/?EIO=4&transport=polling`);
      expect(res.status).to.equal(400);
      const a = await connect('v4', proc.url, '/layout');
      expect(await request(a, 'JOIN', { room: 'env' })).to.include({ ok: true });
      const tooBig = await request(a, 'NOTIFY', { room: 'env', message: 'x'.repeat(3000) });
      expect(tooBig.error.code).to.equal('PAYLOAD_TOO_LARGE');
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${signal} disconnects clients cleanly and exits 0 within 10 s`, async () => {
      const proc = await startCli();
      const [a, b] = await Promise.all([connect('v4', proc.url, '/layout'), connect('v1', proc.url, '/layout', { transport: 'polling' })]);
      await request(a, 'JOIN', { room: 'r' });
      const goneA = next(a, 'disconnect');
      const goneB = next(b, 'disconnect');
      const started = Date.now();
      proc.child.kill(signal);
      const { code } = await proc.exited;
      expect(code).to.equal(0);
      expect(Date.now() - started).to.be.below(10_000);
      // Clients see the transport close and would reconnect (to another node).
      expect(await goneA).to.equal('transport close');
      expect(await goneB).to.be.a('string');
      expect(proc.stderr()).to.include('"shutting down"');
    });
  }
});
