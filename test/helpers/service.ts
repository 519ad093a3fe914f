/** Starts a real service on an ephemeral port for a suite, with a quiet logger. */
import { defaultConfig, type Config } from '../../lib/config/index.js';
import { createLogger } from '../../lib/log/logger.js';
import { createService, type Service, type ServiceOptions } from '../../lib/service.js';
import { closeAll } from './clients.js';

export interface Running {
  service: Service;
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startService(overrides: Partial<Config> = {}, options: ServiceOptions = {}): Promise<Running> {
  // No message store unless a suite asks for one (a temporary SQLite directory or a test database).
  const config = defaultConfig({ port: 0, host: '127.0.0.1', logFormat: 'json', storage: { kind: 'off' }, ...overrides });
  const logger = createLogger({
    level: (process.env.TEST_LOG_LEVEL as Config['logLevel'] | undefined) ?? 'error',
    format: 'json',
    silent: process.env.TEST_LOG_LEVEL === undefined,
  });
  const service = await createService(config, { logger, ...options });
  const { port } = await service.listen();
  const scheme = config.tls.mode === 'off' ? 'http' : 'https';
  return { service, port, url: `${scheme}://127.0.0.1:${port}`, close: () => service.close() };
}

/**
 * One service for a describe block: started before its tests, closed after them, with the clients
 * a test opened closed after each test. The returned object is filled in by the time tests run.
 */
export function serviceForSuite(overrides: Partial<Config> = {}, options: ServiceOptions = {}): Running {
  const running = {} as Running;
  before(async () => {
    Object.assign(running, await startService(overrides, options));
  });
  after(() => running.close?.());
  afterEach(closeAll);
  return running;
}
