/**
 * Who may do what, once it is known who they are: a connection's rights to subscribe to (JOIN) and
 * publish in a room come from its principal's `rooms` claim (lib/auth/rights.ts) and, with
 * --authorize-url, from the backend (lib/auth/authorizer.ts); an HTTP publisher needs an API key
 * (lib/auth/api-keys.ts) whenever auth is on or keys are configured.
 */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/index.js';
import { ServiceError } from '../core/errors.js';
import type { AccessControl } from '../core/hub.js';
import type { Publisher } from '../core/types.js';
import type { Logger } from '../log/logger.js';
import { ApiKeys } from './api-keys.js';
import { Authorizer } from './authorizer.js';
import { allows, type Action } from './rights.js';

export class Authorization implements AccessControl {
  private readonly mode: Config['auth']['mode'];
  private readonly authorizer: Authorizer | undefined;
  private readonly apiKeys: ApiKeys;

  constructor(auth: Config['auth'], logger: Logger, now: () => number) {
    this.mode = auth.mode;
    if (auth.authorize) this.authorizer = new Authorizer(auth.authorize, logger, now);
    this.apiKeys = new ApiKeys(auth.apiKeys);
  }

  /** How many API keys are configured (none: HTTP publishing is refused with auth on). */
  get apiKeyCount(): number {
    return this.apiKeys.size;
  }

  /**
   * The core's question before a JOIN (subscribe) or a client publication (publish). Synchronous
   * when the answer is known (claims, a cached --authorize-url answer); a promise only when the
   * backend must be asked. Throws FORBIDDEN.
   */
  authorize(who: Publisher, action: Action, room: string): void | Promise<void> {
    const auth = who.auth;
    if (!auth) {
      if (this.mode === 'none') return;
      throw new ServiceError('FORBIDDEN', 'not authenticated');
    }
    if (!allows(auth.rooms, action, room)) {
      throw new ServiceError('FORBIDDEN', `no ${action} right for room "${room.slice(0, 64)}"`);
    }
    if (!this.authorizer) return;
    const question = { user: auth.user, namespace: who.ns, room, action };
    const cached = this.authorizer.cached(question);
    if (cached === true) return;
    if (cached === false) throw new ServiceError('FORBIDDEN', `${action} of room "${room.slice(0, 64)}" denied`);
    return this.authorizer.ask(question).then((verdict) => {
      if (verdict === 'allow') return;
      throw new ServiceError(
        'FORBIDDEN',
        verdict === 'deny' ? `${action} of room "${room.slice(0, 64)}" denied` : 'the authorization service did not answer: denied',
      );
    });
  }

  /** Before an HTTP publication: an API key whenever auth is on or keys are configured. */
  /** An API key of the configured ones is given, or none is needed (auth off and no keys). */
  keyAccepted(req: IncomingMessage): boolean {
    if (this.mode === 'none' && this.apiKeys.size === 0) return true;
    return this.apiKeys.accepts(req);
  }

  checkPublisher(req: IncomingMessage): void {
    if (this.mode === 'none' && this.apiKeys.size === 0) return;
    try {
      this.apiKeys.check(req);
    } catch (err) {
      req.resume(); // drain the body, so the refusal can be read
      throw err;
    }
  }
}
