import { expect } from 'chai';
import { buildConfig, loadConfig } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';

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

  it('parses sizes with suffixes', () => {
    const size = (v: string) => buildConfig((f) => (f === 'max-payload' ? v : undefined)).maxPayload;
    expect(size('4194304')).to.equal(4194304);
    expect(size('4m')).to.equal(4 * 1024 * 1024);
    expect(size('4MiB')).to.equal(4 * 1024 * 1024);
    expect(size('512k')).to.equal(512 * 1024);
  });

  for (const [flag, value] of [
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
  ] as const) {
    it(`refuses --${flag} "${value}" with a ConfigError naming the flag`, () => {
      expect(() => buildConfig((f) => (f === flag ? value : undefined)))
        .to.throw(ConfigError)
        .with.property('message')
        .that.includes(`--${flag}`);
    });
  }
});
