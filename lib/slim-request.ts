/**
 * Engine.IO keeps the HTTP request that opened a connection for the connection's whole life,
 * with its raw headers, parser state and (for WebSocket) a back-reference to the socket: a large
 * share of the memory an idle connection costs. socket.io only ever reads a few fields of it
 * (to build `socket.handshake` when a namespace is joined), so keep just those.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AppServer } from './pubsub.js';

/** The fields of the request that socket.io's handshake (and our handlers) read. */
export interface SlimRequest {
  headers: IncomingMessage['headers'];
  url: string | undefined;
  _query: Record<string, string>;
  connection: { encrypted: boolean; remoteAddress: string | undefined };
}

export function slimRequests(io: AppServer): void {
  io.engine.on('connection', (conn: { request: IncomingMessage & { _query?: Record<string, string> } }) => {
    const req = conn.request;
    const slim: SlimRequest = {
      headers: req.headers,
      url: req.url,
      _query: req._query ?? {},
      connection: { encrypted: Boolean((req.socket as TLSSocket | null)?.encrypted), remoteAddress: req.socket?.remoteAddress },
    };
    (conn as unknown as { request: SlimRequest }).request = slim;
  });
}
