/**
 * The WebSocket upgrade's short path, for the connect rate (a CPU profile of 10 000 connect + JOINs,
 * docs/PERFORMANCE.md). Per new WebSocket connection engine.io and ws
 *
 * - wrote the 101 response and, a microtask later (handshake() awaits generateId()), Engine.IO's
 *   open packet in two writes: two syscalls, each of which on loopback also runs the receiver's
 *   network stack, and two reads for the client. The TCP socket is now corked from ws's
 *   completeUpgrade() until Engine.IO's handshake() for it has settled, so both leave in one writev;
 * - ran the CORS middleware through engine.io's promise chain (a promise and a closure per
 *   middleware). CORS response headers mean nothing on a 101: browsers do not apply CORS to
 *   WebSocket (the service checks `Origin` itself, lib/abuse/handshake.ts). When the engine's only
 *   middleware is the one engine.io installed from the `cors` option, an upgrade skips the chain
 *   (as engine.io does when there is no middleware); long-polling requests still get it.
 *
 * Only timing changes: the same bytes in the same order. A handshake that fails (or an upgrade ws
 * refuses) uncorks all the same, before its answer is needed. Installed per engine from service.ts;
 * checked at start-up (internals.ts: completeUpgrade, handshake, `_applyMiddlewares`, the CORS middleware).
 */
import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { releaseUpgradeResponse } from './lean-connections.js';

type Middleware = (req: IncomingMessage, res: unknown, next: (err?: Error) => void) => void;

type WsServer = { completeUpgrade(...args: unknown[]): unknown };

interface UpgradeEngine {
  ws?: WsServer;
  middlewares: Middleware[];
  opts: { cors?: unknown };
  _applyMiddlewares(req: IncomingMessage, res: unknown, callback: (err?: unknown) => void): void;
  handshake(transport: string, req: IncomingMessage, closeConnection: (code: number, context?: unknown) => void): Promise<unknown>;
}

/** The name `cors` gives the middleware it returns (engine.io installs it first when `cors` is set). */
export const CORS_MIDDLEWARE_NAME = 'corsMiddleware';

let heldUpgrades = 0;
/** Upgrades whose 101 waited for the handshake's own writes (a test counts them). */
export function heldUpgradeCount(): number {
  return heldUpgrades;
}

/** Installs both on an Engine.IO server (and drops the WebSocketResponse's close forwarding at the upgrade: lean-connections.ts). */
export function shortenUpgrades(engineServer: unknown): void {
  const engine = engineServer as UpgradeEngine;

  // The socket whose 101 is being written, while completeUpgrade() runs (it calls back synchronously
  // into onWebSocket(), which starts the handshake): one at a time, the call is synchronous.
  let upgrading: Duplex | undefined;
  let handedOver = false;

  const wrap = (ws: WsServer | undefined): void => {
    if (!ws) return; // WebSocket is not among the transports
    const completeUpgrade = ws.completeUpgrade;
    ws.completeUpgrade = function (this: unknown, ...args: unknown[]) {
      const socket = args[4] as Duplex;
      releaseUpgradeResponse(socket);
      socket.cork();
      upgrading = socket;
      handedOver = false;
      try {
        return completeUpgrade.apply(this, args);
      } finally {
        upgrading = undefined;
        if (!handedOver) socket.uncork();
      }
    };
  };
  // engine.io makes its ws server again in init(), which runs again when the HTTP server listens
  // (through a function bound at attach(), so init() itself cannot be wrapped): every ws server
  // assigned is wrapped.
  let current = engine.ws;
  wrap(current);
  Object.defineProperty(engine, 'ws', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (ws: WsServer | undefined) => {
      current = ws;
      wrap(ws);
    },
  });

  const handshake = engine.handshake;
  engine.handshake = function (this: UpgradeEngine, transport, req, closeConnection) {
    const socket = req.socket as Duplex | undefined;
    if (socket === undefined || socket !== upgrading) return handshake.call(this, transport, req, closeConnection);
    handedOver = true;
    heldUpgrades++;
    // Uncorked once: when the handshake has written its packets, or before a failure's answer
    // (engine.io writes it and destroys the socket, which would drop what is still corked).
    let held = true;
    const release = (): void => {
      if (!held) return;
      held = false;
      socket.uncork();
    };
    const pending = handshake.call(this, transport, req, (code, context) => {
      release();
      closeConnection(code, context);
    });
    void pending.then(release, release);
    return pending;
  };

  const cors = engine.opts.cors ? engine.middlewares[0] : undefined;
  if (cors?.name !== CORS_MIDDLEWARE_NAME) return;
  const applyMiddlewares = engine._applyMiddlewares;
  engine._applyMiddlewares = function (this: UpgradeEngine, req, res, callback) {
    if (!(res instanceof ServerResponse) && this.middlewares.length === 1 && this.middlewares[0] === cors) {
      callback();
      return;
    }
    applyMiddlewares.call(this, req, res, callback);
  };
}
