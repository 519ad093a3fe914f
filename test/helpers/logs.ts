/** A logger that keeps every entry it is given, for asserting what the service logged. */
import Transport from 'winston-transport';
import { createLogger, type Logger } from '../../lib/log/logger.js';

export function captureLogger(level: 'info' | 'debug' | 'silly' = 'silly'): { logger: Logger; entries: Array<Record<string, unknown>> } {
  const entries: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level, format: 'json' });
  logger.clear().add(
    new (class extends Transport {
      override log(info: Record<string, unknown>, done: () => void) {
        entries.push(info);
        done();
      }
    })(),
  );
  return { logger, entries };
}
