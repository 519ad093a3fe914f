/**
 * The kinds of option value: how a text (from a flag, a variable or the options table's default)
 * becomes a value, with the same checks and messages whatever option it is given to.
 * `name` is how an error names the option: `--ticket-ttl (env TICKET_TTL)`.
 */
import { resolve } from 'node:path';
import { nonEmpty, parseBoolean, parseDuration, parseInteger, parseList, parseSize, readableFile } from './values.js';
import { ConfigError } from '../core/errors.js';

export interface Kind<T> {
  parse(text: string, name: string): T;
  /** How yargs reads the flag: a boolean flag may be given without a value (`--https`). */
  readonly flagType: 'string' | 'boolean';
}

export function kind<T>(parse: (text: string, name: string) => T): Kind<T> {
  return { parse, flagType: 'string' };
}

export const text = kind((value) => value);
export const nonEmptyText = kind(nonEmpty);
export const boolean: Kind<boolean> = { parse: parseBoolean, flagType: 'boolean' };

export const integer = (min: number, max: number): Kind<number> => kind((value, name) => parseInteger(value, name, min, max));
/** Bytes: `4m`, `512k`, `4194304`. */
export const size = (min: number, max: number): Kind<number> => kind((value, name) => parseSize(value, name, min, max));
/** Milliseconds: `30s`, `500ms`, `5m`, a bare number is ms. */
export const duration = (minMs: number, maxMs: number): Kind<number> => kind((value, name) => parseDuration(value, name, minMs, maxMs));

/** A file readable now; its absolute path (relative to the current directory). */
export const readablePath = kind(readableFile);
/** A directory that need not exist yet; its absolute path. */
export const directory = kind((value, name) => resolve(nonEmpty(value, name)));

/** One of a few words, taken as given unless told to trim blanks around it or to ignore case. */
export function oneOf<const V extends string>(values: readonly V[], { trim = false, ignoreCase = false } = {}): Kind<V> {
  const words = values.length > 3 ? `one of ${values.join(', ')}` : `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
  return kind((value, name) => {
    const trimmed = trim ? value.trim() : value;
    const v = ignoreCase ? trimmed.toLowerCase() : trimmed;
    if (!values.includes(v as V)) throw new ConfigError(`${name} must be ${words} (got "${value}")`);
    return v as V;
  });
}

/** A comma-separated subset of a few words, at least one, each once. */
export function someOf<const V extends string>(values: readonly V[]): Kind<V[]> {
  return kind((value, name) => {
    const list = parseList(value);
    if (list.length === 0 || list.some((v) => !values.includes(v as V))) {
      throw new ConfigError(`${name} must list ${values.join(' and/or ')} (got "${value}")`);
    }
    return [...new Set(list as V[])];
  });
}
