/**
 * One `info` line per closed client connection, whatever its protocol: `connection closed` with
 * `{protocol, namespace or path, reason, durationMs, user?}`. The reason is a short code (a
 * socket.io disconnect reason, a WebSocket close code's name, an SSE stream's end); never a token,
 * a query string or a message.
 */
import type { Logger } from './logger.js';

export interface ClosedConnection {
  protocol: 'socketio' | 'sock' | 'sse';
  /** socket.io and SSE: the namespace; /sock: its path. */
  namespace?: string;
  path?: string;
  /** socket.io: the Engine.IO transport. */
  transport?: string;
  reason: string;
  openedAt: number;
  /** With auth on: the user id of the connection's credentials (not its token). */
  user?: string | undefined;
  /** SSE: how many rooms the stream followed. */
  rooms?: number;
  /** /sock: the WebSocket close code. */
  code?: number;
}

/** WebSocket close codes (RFC 6455 and the endpoint's own, docs/PROTOCOL.md) as reason codes. */
const WS_REASONS: Record<number, string> = {
  1000: 'normal',
  1001: 'going_away',
  1005: 'no_status',
  1006: 'connection_lost',
  1008: 'policy',
  1009: 'too_big',
  1011: 'internal_error',
  4001: 'token_expired',
  4002: 'disconnected_by_server',
};

export function wsCloseReason(code: number): string {
  return WS_REASONS[code] ?? `code_${code}`;
}

/** socket.io's disconnect reasons ("transport close") as codes ("transport_close"). */
export function socketIoReason(reason: string): string {
  return reason.replace(/\s+/g, '_');
}

export function logClosed(logger: Logger, closed: ClosedConnection): void {
  if (!logger.isInfoEnabled()) return;
  const { openedAt, user, ...fields } = closed;
  logger.info('connection closed', { ...fields, durationMs: Date.now() - openedAt, ...(user === undefined ? {} : { user }) });
}
