/**
 * The auth and abuse-limit options: defaults, flags and environment variables, validation, and
 * the start-up warnings.
 */
import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, defaultConfig } from '../lib/config/index.js';
import { ConfigError } from '../lib/core/errors.js';
import { createService } from '../lib/service.js';
import { SECRET, keyPair, secretAuth } from './helpers/auth.js';
import { captureLogger } from './helpers/logs.js';
import { runCli } from './helpers/process.js';

describe('auth config', () => {
  it('defaults to open, with abuse limits sized for many devices behind one address', () => {
    const config = loadConfig([], {});
    expect(config.auth).to.deep.include({ mode: 'none', nameClaims: ['name', 'sub'], apiKeys: [], refreshGraceMs: 10_000, ticketTtlMs: 30_000 });
    expect(config.abuse).to.deep.include({
      connectionsPerSecond: 100,
      eventsPerSecond: 1000,
      eventBurst: 2000,
      exempt: ['127.0.0.1', '::1'],
      trustProxy: false,
      maxSendBuffer: 16 * 1024 * 1024,
    });
  });

  it('reads jwt options from the environment; API keys from a comma list or repeated flags', () => {
    const env = { AUTH: 'jwt', JWT_SECRET: SECRET, JWT_ISSUER: 'https://i', JWT_AUDIENCE: 'svc', API_KEYS: 'key-one-0123456789ab, key-two-0123456789ab' };
    const config = loadConfig([], env);
    expect(config.auth.mode).to.equal('jwt');
    expect(config.auth.jwt).to.deep.include({ key: { kind: 'secret', secret: SECRET }, issuer: 'https://i', audience: 'svc' });
    expect(config.auth.apiKeys).to.deep.equal(['key-one-0123456789ab', 'key-two-0123456789ab']);
    const flags = loadConfig(['--api-key', 'key-three-0123456789', '--api-key', 'key-four-01234567890'], env);
    expect(flags.auth.apiKeys).to.deep.equal(['key-three-0123456789', 'key-four-01234567890']);
  });

  it('reads oauth, authorize-url, durations and rates', () => {
    const config = loadConfig(
      [
        '--auth', 'oauth', '--oauth-introspection-url', 'https://as.example/introspect', '--oauth-client-id', 'id', '--oauth-client-secret', 's',
        '--authorize-url', 'http://backend:8080/allow', '--authorize-cache-ttl', '500ms', '--authorize-timeout', '1.5s',
        '--token-grace', '1m', '--ticket-ttl', '10000', '--conn-rate', '0', '--event-rate', '50', '--rate-limit-exempt', 'none',
        '--trust-proxy', '--max-send-buffer', '64m', '--name-claim', 'preferred_username, sub',
      ],
      {},
    );
    expect(config.auth.oauth).to.deep.include({ introspectionUrl: 'https://as.example/introspect', clientId: 'id', clientSecret: 's' });
    expect(config.auth.authorize).to.deep.equal({ url: 'http://backend:8080/allow', cacheTtlMs: 500, timeoutMs: 1500 });
    expect(config.auth).to.deep.include({ refreshGraceMs: 60_000, ticketTtlMs: 10_000, nameClaims: ['preferred_username', 'sub'] });
    expect(config.abuse).to.deep.include({ connectionsPerSecond: 0, eventsPerSecond: 50, eventBurst: 100, exempt: [], trustProxy: true, maxSendBuffer: 64 * 1024 * 1024 });
  });

  it('tokens without exp: refused by default; --jwt-allow-no-exp with --jwt-max-lifetime (default 24h), flags or env', () => {
    const base = ['--auth', 'jwt', '--jwt-secret', SECRET];
    expect(loadConfig(base, {}).auth).to.deep.include({ allowNoExp: false, maxLifetimeMs: 86_400_000 });
    expect(loadConfig([...base, '--jwt-allow-no-exp'], {}).auth).to.deep.include({ allowNoExp: true, maxLifetimeMs: 86_400_000 });
    expect(loadConfig(base, { JWT_ALLOW_NO_EXP: 'true', JWT_MAX_LIFETIME: '12h' }).auth).to.deep.include({ allowNoExp: true, maxLifetimeMs: 43_200_000 });
    const oauth = ['--auth', 'oauth', '--oauth-introspection-url', 'https://as.example/introspect', '--jwt-allow-no-exp', '--jwt-max-lifetime', '30d'];
    expect(loadConfig(oauth, {}).auth).to.deep.include({ allowNoExp: true, maxLifetimeMs: 30 * 86_400_000 });
    expect(() => loadConfig(base, { JWT_ALLOW_NO_EXP: 'maybe' })).to.throw(ConfigError, /env JWT_ALLOW_NO_EXP.*true or false/);
  });

  it('accepts public key files of each supported type', async () => {
    for (const alg of ['RS256', 'ES384', 'EdDSA']) {
      const { file } = await keyPair(alg);
      expect(loadConfig(['--auth', 'jwt', '--jwt-public-key', file], {}).auth.jwt!.key).to.deep.equal({ kind: 'public-key', file });
    }
  });

  const dir = mkdtempSync(join(tmpdir(), 'ns-badkeys-'));
  const x25519 = join(dir, 'x25519.pem');
  writeFileSync(x25519, generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'pem' }));
  const notAKey = join(dir, 'junk.pem');
  writeFileSync(notAKey, 'not a key');

  for (const [args, pattern] of [
    [['--auth', 'kerberos'], /--auth .*none, jwt or oauth/],
    [['--auth', 'jwt'], /exactly one of --jwt-secret, --jwt-public-key, --jwks-url/],
    [['--auth', 'jwt', '--jwt-secret', SECRET, '--jwks-url', 'https://x/jwks'], /exactly one/],
    [['--auth', 'jwt', '--jwt-secret', 'short'], /--jwt-secret .*at least 32 bytes/],
    [['--auth', 'jwt', '--jwks-url', 'ftp://x/jwks'], /--jwks-url .*http\(s\) URL/],
    [['--auth', 'jwt', '--jwt-public-key', '/nonexistent.pem'], /cannot read/],
    [['--auth', 'jwt', '--jwt-public-key', notAKey], /not a PEM public key/],
    [['--auth', 'jwt', '--jwt-public-key', x25519], /unsupported key type x25519/],
    [['--jwt-secret', SECRET], /--jwt-secret .*needs --auth jwt/],
    [['--auth', 'oauth'], /needs --oauth-introspection-url/],
    [['--auth', 'oauth', '--oauth-introspection-url', 'https://x', '--oauth-client-id', 'id'], /given together/],
    [['--authorize-url', 'https://x'], /--authorize-url .*needs --auth jwt or --auth oauth/],
    [['--auth', 'jwt', '--jwt-secret', SECRET, '--authorize-timeout', '2s'], /--authorize-timeout .*needs --authorize-url/],
    [['--api-key', 'short'], /--api-key .*at least 16 characters/],
    [['--event-rate', '-5'], /--event-rate/],
    [['--token-grace', 'soon'], /--token-grace .*duration/],
    [['--max-send-buffer', '1m'], /--max-send-buffer .*twice --max-payload/],
    [['--jwt-allow-no-exp'], /--jwt-allow-no-exp .*needs --auth jwt or --auth oauth/],
    [['--auth', 'jwt', '--jwt-secret', SECRET, '--jwt-max-lifetime', '1h'], /--jwt-max-lifetime .*needs --jwt-allow-no-exp/],
    [['--auth', 'jwt', '--jwt-secret', SECRET, '--jwt-allow-no-exp', '--jwt-max-lifetime', '31d'], /--jwt-max-lifetime/],
  ] as Array<[string[], RegExp]>) {
    it(`refuses ${args.join(' ')}`, () => {
      expect(() => loadConfig(args, {}))
        .to.throw(ConfigError)
        .with.property('message')
        .that.matches(pattern);
    });
  }

  it('refuses TRUST_PROXY=maybe', () => {
    expect(() => loadConfig([], { TRUST_PROXY: 'maybe' })).to.throw(ConfigError, /env TRUST_PROXY/);
  });

  it('the CLI refuses a bad auth option with exit code 2, before listening', async () => {
    const result = await runCli(['--auth', 'jwt'], { AUTH: '' });
    expect(result.code).to.equal(2);
    expect(result.stderr.trim()).to.match(/^error: --auth jwt needs exactly one/);
    const help = await runCli(['--help']);
    for (const text of ['--auth', 'env AUTH', '--jwt-secret', '--jwks-url', '--oauth-introspection-url', '--authorize-url', '--api-key', 'env API_KEYS', '--conn-rate', '--event-rate']) {
      expect(help.stdout).to.include(text);
    }
  });

  it('warns when open on a non-loopback address, and when HTTP publishing has no key', async () => {
    const open = captureLogger('info');
    const svc = await createService(defaultConfig({ port: 0, host: '0.0.0.0' }), { logger: open.logger, store: null });
    await svc.close();
    expect(open.entries.some((e) => e.level === 'warn' && String(e.message).includes('authentication is off'))).to.equal(true);

    const local = captureLogger('info');
    const svc2 = await createService(defaultConfig({ port: 0, host: '127.0.0.1', auth: secretAuth() }), { logger: local.logger, store: null });
    await svc2.close();
    const warnings = local.entries.filter((e) => e.level === 'warn').map((e) => String(e.message));
    expect(warnings.some((w) => w.includes('authentication is off'))).to.equal(false);
    expect(warnings.some((w) => w.includes('no --api-key'))).to.equal(true);
  });
});
