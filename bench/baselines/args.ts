/**
 * The flags the baseline servers take (`--port`, `--host`; `--coalesce`, see corker), defaulting to what the harness
 * needs: any free port, loopback only. They print `{"port":N}` on stdout once listening.
 */
import { parseArgs } from 'node:util';

export function listenArgs(): { port: number; host: string; coalesce: boolean } {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' }, coalesce: { type: 'boolean', default: false } } });
  return { port: Number(values.port), host: values.host!, coalesce: values.coalesce! };
}

/**
 * `--coalesce` (the /sock and SSE limits): each socket written to is corked until the current
 * event-loop iteration's I/O is handled, so the publications of one iteration leave in one writev
 * per socket (what the service does: lib/transport/ws-frames.ts, sse-writes.ts).
 */
export function corker(on: boolean): (socket: { cork(): void; uncork(): void }) => void {
  if (!on) return () => {};
  const corked = new Set<{ cork(): void; uncork(): void }>();
  const flush = (): void => {
    for (const socket of corked) socket.uncork();
    corked.clear();
  };
  return (socket) => {
    if (corked.has(socket)) return;
    socket.cork();
    if (corked.add(socket).size === 1) setImmediate(flush);
  };
}

export function announce(port: number): void {
  process.stdout.write(`${JSON.stringify({ port })}\n`);
}

/** SIGTERM/SIGINT end the process at once: the harness has taken its readings by then. */
export function exitOnSignals(): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => process.exit(0));
}

/** What the heartbeat needs of a connection: whether it answered the last ping. */
export interface Pinged {
  alive: boolean;
  ws: { terminate(): void };
}

/**
 * As the service: every `intervalMs` a ping to each connection (`ping`, the protocol's own), and a
 * connection that answered none since the last one is dropped.
 */
export function heartbeat<C extends Pinged>(conns: Set<C>, intervalMs: number, ping: (conn: C) => void): void {
  setInterval(() => {
    for (const conn of conns) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      ping(conn);
    }
  }, intervalMs);
}
