import winston from 'winston';
import { wantsColour } from './colour.js';

export type Logger = winston.Logger;

/** winston's npm levels, most severe first (`--log-level`). */
export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'json' | 'pretty';

/**
 * JSON lines for log collectors, coloured one-liners for a terminal. Message bodies and tokens are
 * only ever logged at debug level; per-message logs are guarded by `isDebugEnabled()` so the hot
 * path builds no log objects at info.
 */
export function createLogger(options: { level: LogLevel; format: LogFormat; silent?: boolean }): Logger {
  const format =
    options.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json())
      : winston.format.combine(
          // Every level goes to stderr (below): colour only when that is a terminal (or FORCE_COLOR).
          ...(wantsColour(process.stderr) ? [winston.format.colorize()] : []),
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.errors({ stack: true }),
          winston.format.printf(({ timestamp, level, message, ...meta }) => {
            const rest = Object.keys(meta).length ? ` ${JSON.stringify(meta)}` : '';
            return `${String(timestamp)} ${level} ${String(message)}${rest}`;
          }),
        );
  return winston.createLogger({
    level: options.level,
    format,
    silent: options.silent ?? false,
    // stderr keeps stdout free for anything a wrapper may want to pipe.
    transports: [new winston.transports.Console({ stderrLevels: [...LOG_LEVELS] })],
  });
}
