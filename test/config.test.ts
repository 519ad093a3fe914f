import { expect } from 'chai';
import { itRefusesEachBadValue } from './helpers/config.js';
import { buildConfig, loadConfig } from '../lib/config/index.js';
import { ConfigError } from '../lib/core/errors.js';

describe('config', () => {
  it('has the documented defaults', () => {
    const config = loadConfig([], {});
    expect(config).to.deep.include({
      port: 3000,
      host: '0.0.0.0',
      tls: { mode: 'off' },
      transports: ['websocket', 'polling'],
      maxPayload: 4 * 1024 * 1024,
      corsOrigin: '*',
      logLevel: 'info',
    });
    expect(config.limits).to.deep.equal({ maxRoomsPerSocket: 1000, maxRoomLength: 256, maxNameLength: 256 });
  });

  it('reads every flag from its environment variable, and a flag wins over its variable', () => {
    const env = { PORT: '4000', HOST: '127.0.0.1', TRANSPORTS: 'websocket', MAX_PAYLOAD: '512k', CORS_ORIGIN: 'https://a.example, https://b.example', LOG_LEVEL: 'debug', LOG_FORMAT: 'json', HTTPS: 'true' };
    const config = loadConfig([], env);
    expect(config).to.deep.include({
      port: 4000,
      host: '127.0.0.1',
      transports: ['websocket'],
      maxPayload: 512 * 1024,
      corsOrigin: ['https://a.example', 'https://b.example'],
      logLevel: 'debug',
      logFormat: 'json',
    });
    expect(config.tls.mode).to.equal('self-signed');
    expect(loadConfig(['-p', '5000', '--transports', 'polling'], env)).to.deep.include({ port: 5000, transports: ['polling'] });
    expect(loadConfig(['-S'], {}).tls.mode).to.equal('self-signed');
  });

  it('runs in memory without --redis; --redis / REDIS_URL switch to cluster mode with the presence TTL', () => {
    expect(loadConfig([], {}).cluster).to.equal(undefined);
    expect(loadConfig([], { PRESENCE_TTL: '3s' }).cluster).to.equal(undefined);
    expect(loadConfig([], { REDIS_URL: 'redis://cache:6379/2' }).cluster).to.deep.equal({ redisUrl: 'redis://cache:6379/2', presenceTtlMs: 15_000, keyPrefix: 'notify' });
    const fromFlags = loadConfig(['--redis', 'rediss://u:p@cache:6380', '--presence-ttl', '1500ms', '--redis-prefix', 'app1'], { REDIS_URL: 'redis://other' });
    expect(fromFlags.cluster).to.deep.equal({ redisUrl: 'rediss://u:p@cache:6380', presenceTtlMs: 1500, keyPrefix: 'app1' });
    const ttl = (v: string) => buildConfig((f) => (f === 'redis' ? 'redis://x' : f === 'presence-ttl' ? v : undefined)).cluster!.presenceTtlMs;
    expect(ttl('2s')).to.equal(2000);
    expect(ttl('1m')).to.equal(60_000);
    expect(ttl('750')).to.equal(750);
  });

  it('never repeats a Redis password in an error', () => {
    expect(() => buildConfig((f) => (f === 'redis' ? 'http://user:s3cret@cache:6379' : undefined)))
      .to.throw(ConfigError)
      .with.property('message')
      .that.does.not.include('s3cret');
  });

  it('parses sizes with suffixes', () => {
    const size = (v: string) => buildConfig((f) => (f === 'max-payload' ? v : undefined)).maxPayload;
    expect(size('4194304')).to.equal(4194304);
    expect(size('4m')).to.equal(4 * 1024 * 1024);
    expect(size('4MiB')).to.equal(4 * 1024 * 1024);
    expect(size('512k')).to.equal(512 * 1024);
  });

  itRefusesEachBadValue([
    ['port', '-1'],
    ['port', '1.5'],
    ['port', ''],
    ['https', 'maybe'],
    ['transports', 'websocket,smoke-signals'],
    ['transports', ','],
    ['max-payload', '0'],
    ['max-payload', '1g'],
    ['cors-origin', 'example.com'],
    ['log-level', 'LOUD'],
  ]);
});
