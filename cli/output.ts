/**
 * What the commands print on stdout: JSON lines with --json (one value per line, for scripts), else
 * something short for people. Errors go to stderr as `notify: CODE: message`.
 */
import { NotifyError } from '../client/src/errors.js';

export interface Output {
  json: boolean;
  /** one record: as a JSON line, or through `pretty` */
  record(value: unknown, pretty: () => string): void;
}

export function output(json: boolean): Output {
  return {
    json,
    record(value, pretty) {
      process.stdout.write(`${json ? JSON.stringify(value) : pretty()}\n`);
    },
  };
}

export function printError(err: unknown): void {
  const text = err instanceof NotifyError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`notify: ${text}\n`);
}

/** A message value on one line for people: strings as they are, anything else as JSON. */
export const show = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));
