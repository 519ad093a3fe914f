/**
 * Who may open the admin page: HTTP basic auth as the user `admin` with --admin-password or one of
 * the API keys as the password. Compared as SHA-256 digests with timingSafeEqual against every
 * accepted pair, so the time taken tells nothing about either. Open only where nothing protects
 * the service (--auth none, no admin password, no API key): local development. Auth on with neither
 * a password nor a key: closed to everyone.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthConfig } from '../config/types.js';
import { ServiceError } from '../core/errors.js';

export const ADMIN_USER = 'admin';
export const ADMIN_REALM = 'Basic realm="notification-service admin", charset="UTF-8"';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export class AdminAuth {
  /** No credentials needed (see above). */
  readonly open: boolean;
  private readonly accepted: Buffer[];

  constructor(auth: Pick<AuthConfig, 'mode' | 'apiKeys' | 'adminPassword'>) {
    const passwords = [...(auth.adminPassword !== undefined ? [auth.adminPassword] : []), ...auth.apiKeys];
    this.accepted = passwords.map((p) => digest(`${ADMIN_USER}:${p}`));
    this.open = auth.mode === 'none' && passwords.length === 0;
  }

  /** Throws UNAUTHORIZED, with the header that makes a browser ask, unless the request may. */
  check(req: IncomingMessage, res: ServerResponse): void {
    if (this.open) return;
    const given = basicCredentials(req.headers.authorization);
    if (given !== undefined && this.matches(given)) return;
    res.setHeader('www-authenticate', ADMIN_REALM);
    throw new ServiceError('UNAUTHORIZED', 'the admin page needs the user admin and its password (HTTP basic auth)');
  }

  private matches(userAndPassword: string): boolean {
    const given = digest(userAndPassword);
    let ok = false;
    for (const d of this.accepted) ok = timingSafeEqual(d, given) || ok;
    return ok;
  }
}

/** `user:password` of an `Authorization: Basic ...` header, undefined for any other. */
export function basicCredentials(header: string | undefined): string | undefined {
  const m = header === undefined ? null : /^\s*Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  return text.includes(':') ? text : undefined;
}
