/**
 * A token in the query is taken over WebSocket only. Engine.IO long-polling repeats the handshake
 * query in every request URL (one every few seconds, for the connection's whole life), so a token
 * there ends up in the access logs of every proxy on the way. Legacy 1.7/2.x clients start with
 * polling by default, so rather than take such a token silently the connection is refused with a
 * message that says what to do. One-time tickets stay allowed in the query on both transports.
 */
import { unauthorized } from './principal.js';

export const QUERY_TOKEN_OVER_POLLING_MESSAGE =
  "a token in the query is accepted over WebSocket only (it would be in every polling URL): connect with transports: ['websocket'], " +
  'or use a ticket (POST /ticket, then ?ticket=), auth: {token} (socket.io-client 4) or an Authorization: Bearer header';

/**
 * Throws UNAUTHORIZED when the Engine.IO handshake was made over polling with a `token` in its URL
 * (`query` is the handshake request's query, `transport` included), whatever other credential
 * comes with it: the token has been in the URLs already.
 */
export function refuseQueryTokenOverPolling(query: Record<string, unknown>): void {
  const transport = Array.isArray(query.transport) ? query.transport[0] : query.transport;
  if (transport !== 'polling' || query.token === undefined || query.token === '') return;
  throw unauthorized(QUERY_TOKEN_OVER_POLLING_MESSAGE, 'query token over polling');
}
