#!/usr/bin/env node
/**
 * CLI entry: parse flags and environment, start the service, stop it cleanly on SIGTERM/SIGINT.
 * Everything else lives in lib/.
 */
// First: tunes V8 before the rest of the service is loaded.
import './lib/runtime/young-generation.js';
import { loadConfig, type Config } from './lib/config/index.js';
import { ConfigError } from './lib/core/errors.js';
import { createService } from './lib/service.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  let service: Awaited<ReturnType<typeof createService>>;
  try {
    service = await createService(config);
  } catch (err) {
    // e.g. the message store cannot be opened: one line, before listening.
    process.stderr.write(`error: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
  const { logger } = service;

  const shutdown = (signal: string): void => {
    logger.info('shutting down', { signal });
    // Watchdog: a stuck close must not keep the process (and a rolling deploy) waiting.
    setTimeout(() => {
      logger.error('shutdown timed out, forcing exit', { timeoutMs: config.shutdownTimeoutMs });
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  try {
    await service.listen();
  } catch (err) {
    logger.error('cannot listen', { err: (err as Error).message, port: config.port, host: config.host });
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fatal: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
