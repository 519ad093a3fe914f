/**
 * Parsers for option values (CLI flag or environment variable), shared by every part of the
 * config so that a duration, a size or a boolean reads the same whatever option it is given to.
 * Each throws a ConfigError naming the option (`name`, e.g. `--ticket-ttl (env TICKET_TTL)`).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Short form of a duration in ms for messages: 500ms, 30s, 10m, 2h, 7d. */
function showMs(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit]! && ms % UNIT_MS[unit]! === 0) return `${ms / UNIT_MS[unit]!}${unit}`;
  }
  return `${ms}ms`;
}

/** Milliseconds, or a number with a unit: 1500, 1500ms, 1.5s, 15s, 2m, 12h, 7d. */
export function parseDuration(value: string, name: string, minMs: number, maxMs: number): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(value);
  const ms = m ? Math.round(Number(m[1]) * UNIT_MS[(m[2] ?? 'ms').toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(ms) || ms < minMs || ms > maxMs) {
    throw new ConfigError(`${name} must be a duration from ${showMs(minMs)} to ${showMs(maxMs)}, e.g. 30s, 500ms or 5m (got "${value}")`);
  }
  return ms;
}

export function parseInteger(value: string, name: string, min: number, max: number): number {
  const n = Number(value.trim());
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${value}")`);
  }
  return n;
}

export function parseBoolean(value: string, name: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new ConfigError(`${name} must be true or false (got "${value}")`);
}

const UNIT_BYTES: Readonly<Record<string, number>> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Short form of a size for messages: 1k, 512m, 4g. */
function showBytes(n: number): string {
  for (const unit of ['g', 'm', 'k'] as const) {
    if (n >= UNIT_BYTES[unit]! && n % UNIT_BYTES[unit]! === 0) return `${n / UNIT_BYTES[unit]!}${unit}`;
  }
  return String(n);
}

/** Bytes, optionally with a binary suffix: 4194304, 512k, 4m, 4MiB, 1g. */
export function parseSize(value: string, name: string, min: number, max: number): number {
  const m = /^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(value);
  const n = m ? Number(m[1]) * UNIT_BYTES[(m[2] ?? 'b').toLowerCase()[0]!]! : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be a size from ${showBytes(min)} to ${showBytes(max)}, e.g. 4m or 4194304 (got "${value}")`);
  }
  return n;
}

/** A file that exists and can be read now; its absolute path. */
export function readableFile(path: string, name: string): string {
  const full = resolve(path);
  try {
    readFileSync(full);
  } catch (err) {
    throw new ConfigError(`${name}: cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return full;
}

/** A comma-separated list, blanks dropped. */
export function parseList(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter(Boolean);
}

/** A string that is not only blanks. */
export function nonEmpty(value: string, name: string): string {
  if (value.trim() === '') throw new ConfigError(`${name} must not be empty`);
  return value;
}

export function parseHttpUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL (got "${value}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must be an http(s) URL (got "${value}")`);
  return url.href;
}

/** A Redis URL the official client accepts: redis:// or rediss://, a host, an optional numeric database. */
export function parseRedisUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ConfigError(`${name} must be a URL like redis://host:6379/0 (got "${redactUrl(value)}")`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(`${name} must start with redis:// or rediss:// (got "${redactUrl(value)}")`);
  }
  if (url.hostname === '') throw new ConfigError(`${name} must name a host (got "${redactUrl(value)}")`);
  if (!/^\/?(\d+)?$/.test(url.pathname)) {
    throw new ConfigError(`${name}: the path must be a database number, e.g. redis://host:6379/2 (got "${redactUrl(value)}")`);
  }
  return value.trim();
}

/** A URL with its password replaced, fit for logs and error messages. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return value.replace(/\/\/[^@/]*@/, '//***@');
  }
}

/** Browser origins, comma-separated; '*' anywhere in the list allows any. */
export function parseOrigins(value: string, name: string): '*' | string[] {
  const list = parseList(value);
  if (list.length === 0) throw new ConfigError(`${name} must not be empty`);
  if (list.includes('*')) return '*';
  for (const origin of list) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw new ConfigError(`${name}: "${origin}" is not an origin like https://app.example.com`);
    }
    if (url.origin !== origin.replace(/\/$/, '')) {
      throw new ConfigError(`${name}: "${origin}" is not an origin like https://app.example.com`);
    }
  }
  return list.map((o) => o.replace(/\/$/, ''));
}
