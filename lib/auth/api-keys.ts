/**
 * API keys for server-side HTTP publishing (POST /bus-message/:room). A caller sends
 * `Authorization: Bearer <key>` or `X-API-Key: <key>`; keys are compared as SHA-256 digests with
 * timingSafeEqual, against every configured key, so the time taken tells nothing about a key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ServiceError } from '../core/errors.js';

const digest = (key: string): Buffer => createHash('sha256').update(key).digest();

export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  const m = value === undefined ? null : /^\s*Bearer\s+(\S+)\s*$/i.exec(value);
  return m ? m[1] : undefined;
}

export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map(digest);
  }

  get size(): number {
    return this.digests.length;
  }

  /** Throws UNAUTHORIZED (401) unless the request carries one of the keys. */
  check(req: IncomingMessage): void {
    const key = givenKey(req);
    if (key === undefined) throw new ServiceError('UNAUTHORIZED', 'an API key is required (Authorization: Bearer or X-API-Key)');
    if (!this.matches(key)) throw new ServiceError('UNAUTHORIZED', 'invalid API key');
  }

  /** The request carries one of the keys (a Bearer that is not one may be a user's token). */
  accepts(req: IncomingMessage): boolean {
    const key = givenKey(req);
    return key !== undefined && this.matches(key);
  }

  private matches(key: string): boolean {
    const given = digest(key);
    let ok = false;
    for (const d of this.digests) ok = timingSafeEqual(d, given) || ok;
    return ok;
  }
}

function givenKey(req: IncomingMessage): string | undefined {
  const header = req.headers['x-api-key'];
  const key = bearerToken(req.headers.authorization) ?? (Array.isArray(header) ? header[0] : header);
  return key === '' ? undefined : key;
}
