/**
 * POST /users/:user/disconnect: every connection of a user (its token's `sub`) on every node is
 * told DISCONNECTED_BY_SERVER in its protocol's way and closed; with a block, the user's new
 * connections are refused for that long on every node (user-blocks.ts).
 *
 * This node closes its own (`local`: socket.io here, /sock and SSE by their modules). In cluster
 * mode the other nodes are asked through socket.io's server-side events on the cluster adapter of
 * '/' (carried by the cluster's Redis stream), and each answers how many it closed.
 */
import type { AppServer, AppSocket } from '../core/app-socket.js';
import type { ErrorBody } from '../core/errors.js';
import type { Logger } from '../log/logger.js';
import { emitHere } from '../transport/index.js';
import type { UserBlocks } from './user-blocks.js';

/** Closes this node's connections of `user` after telling them `error`; answers how many. */
export type LocalDisconnect = (user: string, error: ErrorBody) => number;

/** The server-side event the nodes ask each other with. */
const EVENT = 'notify:disconnect-user';
/** Server-side events, untyped (the service's event maps type client events only). */
interface ServerSide {
  on(event: string, listener: (...args: unknown[]) => void): void;
  serverSideEmit(event: string, ...args: unknown[]): void;
}

export const disconnectedError = (blocked: boolean): ErrorBody => ({
  code: 'DISCONNECTED_BY_SERVER',
  message: blocked ? 'disconnected by the server: this user is blocked for a while' : 'disconnected by the server',
});

/**
 * socket.io: each socket of the user gets ERROR, then its connection closes; counts connections,
 * not namespaces. Walks this node's sockets once: an operator's call, not a hot path.
 */
export function disconnectSocketIo(io: AppServer, user: string, error: ErrorBody): number {
  const sockets: AppSocket[] = [];
  for (const nsp of io._nsps.values()) {
    for (const socket of nsp.sockets.values()) if (socket.data.auth?.user === user) sockets.push(socket);
  }
  const connections = new Set(sockets.map((s) => s.conn));
  for (const socket of sockets) emitHere(socket, 'ERROR', { ...error, event: 'disconnect' });
  for (const socket of sockets) socket.disconnect(true);
  return connections.size;
}

export class UserDisconnect {
  constructor(
    private readonly io: AppServer,
    private readonly local: LocalDisconnect,
    private readonly blocks: UserBlocks,
    private readonly clustered: boolean,
    private readonly logger: Logger,
  ) {
    if (!clustered) return;
    const root = io.of('/') as unknown as ServerSide;
    root.on(EVENT, (user: unknown, blockMs: unknown, answer: unknown) => {
      if (typeof user !== 'string' || typeof answer !== 'function') return;
      if (typeof blockMs === 'number' && blockMs > 0) this.blocks.note(user, blockMs);
      let count = 0;
      try {
        count = this.local(user, disconnectedError(typeof blockMs === 'number'));
      } catch (err) {
        this.logger.error('disconnecting a user failed', { err });
      }
      (answer as (n: number) => void)(count);
    });
  }

  /** Every node's connections of `user`; blocked for `blockMs` first when given. Answers how many were closed. */
  async disconnect(user: string, blockMs: number | undefined): Promise<number> {
    if (blockMs !== undefined) await this.blocks.block(user, blockMs);
    const here = this.local(user, disconnectedError(blockMs !== undefined));
    if (!this.clustered) return here;
    const others = await new Promise<number[]>((resolve) => {
      // The adapter waits up to 5 s for every node it knows of; a missing answer is an error, with the answers got.
      (this.io.of('/') as unknown as ServerSide).serverSideEmit(EVENT, user, blockMs ?? null, (err: Error | null, answers: unknown) => {
        const counts = Array.isArray(answers) ? answers.filter((n): n is number => typeof n === 'number') : [];
        if (err) this.logger.warn('not every node answered a user disconnect', { answered: counts.length, err: err.message });
        resolve(counts);
      });
    });
    return others.reduce((sum, n) => sum + n, here);
  }
}
