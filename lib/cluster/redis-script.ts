/**
 * A Lua script run by its SHA1 (EVALSHA): the body goes over the wire once per connection, not
 * with every call.
 *
 * The script is loaded when the connection becomes ready, before any other command of ours can be
 * sent on it, so EVALSHA finds it and calls keep the order they were made in. (Retrying a call that
 * got NOSCRIPT would send it after calls made later: a publisher's messages would change order.)
 * Only if Redis forgets its scripts while connected (SCRIPT FLUSH) does a call fall back to EVAL.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-connection.js';

export interface ScriptCall {
  keys: string[];
  arguments: string[];
}

export class RedisScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Loads the script on every (re)connection of `client` (call once, before it connects). */
  loadOnReady(client: RedisClient): void {
    const load = (): void => void client.scriptLoad(this.source).catch(() => undefined);
    client.on('ready', load);
    if (client.isReady) load();
  }

  async run(client: RedisClient, call: ScriptCall): Promise<unknown> {
    try {
      return await client.evalSha(this.sha, call);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return client.eval(this.source, call);
    }
  }
}
