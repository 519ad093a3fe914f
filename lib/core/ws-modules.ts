/**
 * Protocol modules on a plain WebSocket (namespaces/sock.ts), the counterpart of dispatch.ts's
 * NamespaceModule for socket.io: the transport (lib/transport/ws-endpoint.ts) admits and opens the
 * connection and enforces its limits; the module maps the connection's frames to hub calls. Each
 * connection is a hub subscriber without a group (the hub holds it and calls its `send`).
 */
import type { IncomingMessage } from 'node:http';
import type { Principal } from '../auth/principal.js';
import type { Logger } from '../log/logger.js';
import type { WsConnection, WsSession } from '../transport/index.js';
import type { Member } from '../presence/types.js';
import type { ErrorBody } from './errors.js';
import type { Hub } from './hub.js';
import type { HttpMessage, SseEvent } from './dispatch.js';

/** What a module gets for a new connection. */
export interface WsOpening {
  conn: WsConnection;
  /** The verified credentials; undefined with --auth none. */
  principal: Principal | undefined;
  /** The upgrade request's query (`?name=` with --auth none). */
  query: URLSearchParams;
  req: IncomingMessage;
  core: Hub;
  logger: Logger;
}

export interface WsModule {
  /** The URL path of its WebSocket endpoint, e.g. '/sock'. */
  path: string;
  /** The hub namespace its rooms live in (kept apart from every socket.io namespace's rooms). */
  ns: string;
  open(opening: WsOpening): WsSession;
  /** How its members get a message published over HTTP (POST /publish/:namespace/:room); absent: none. */
  httpMessage?: HttpMessage;
  /** How an SSE stream of its rooms shows a delivery (lib/core/dispatch.ts HttpProtocol). */
  sseEvent?: SseEvent;
  /** Its HTTP messages to be stored are stored first (see HttpProtocol.storeFirst). */
  storeFirst?: boolean;
  /**
   * POST /users/:user/disconnect: tells this node's connections of `user` `error` and closes them;
   * answers how many.
   */
  disconnectUser?: (core: Hub, user: string, error: ErrorBody) => number;
  /** The display name of a presence entry whose name the module encoded (GET /rooms/:namespace/:room/presence). */
  displayName?: (member: Member) => string;
  /** Cluster mode: members of a node that died without a goodbye, reported by one surviving node. */
  onMembersLost?: (ctx: { core: Hub }, room: string, ids: string[]) => void;
  /** Cluster mode: members of this node, back after the other nodes had taken it for dead. */
  onMembersBack?: (ctx: { core: Hub }, room: string, ids: string[]) => void;
}
