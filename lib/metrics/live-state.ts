/**
 * What the gauges read when scraped: the live state of a service's connections, rooms, history and
 * readiness, walked once per scrape (nothing is counted per message or per connection for them).
 */
import type { Hub } from '../core/hub.js';
import type { AppServer } from '../core/app-socket.js';
import type { Protocol } from '../core/types.js';

export interface ConnectionCount {
  namespace: string;
  protocol: Protocol;
  transport: string;
  count: number;
}

export interface LiveState {
  connections(): ConnectionCount[];
  /** Open Engine.IO connections by protocol revision. */
  engineIo(): { v3: number; v4: number };
  rooms(): { namespace: string; rooms: number; members: number }[];
  ready(): boolean;
  /** Memory history (single node): what it holds. Absent: not registered. */
  history?: () => { bytes: number; messages: number };
}

export interface LiveSources {
  io: AppServer;
  hub: Hub;
  /** The socket.io namespaces of the modules (not the internal ones of cluster mode). */
  socketIoNamespaces: readonly string[];
  /** socket.io's transports (--transports): each namespace reports them, at 0 when none is open. */
  transports: readonly string[];
  /** The plain WebSocket endpoints' namespaces and their open connections. */
  webSockets: readonly { ns: string; count: () => number }[];
  sse: { countsByNamespace(): Map<string, number> };
  /** Every namespace a room can be in (socket.io's, the plain WebSockets'). */
  namespaces: readonly string[];
  ready: () => boolean;
  history?: () => { bytes: number; messages: number };
}

interface EngineSocket {
  protocol: number;
  transport: { name: string };
  on(event: 'upgrade', listener: () => void): unknown;
  off(event: 'upgrade', listener: () => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}

interface Engine {
  clientsCount: number;
  on(event: 'connection', listener: (conn: EngineSocket) => void): unknown;
}

/**
 * Whether every Engine.IO connection is on WebSocket: then a namespace's connections by transport
 * are its socket count, without walking its sockets every admin tick (~1 ms per tick at 5000).
 * Connections opened on another transport are tracked until they upgrade to WebSocket or close.
 */
function allOnWebSocket(engine: Engine): () => boolean {
  const others = new Set<EngineSocket>();
  engine.on('connection', (conn) => {
    if (conn.transport.name === 'websocket') return;
    others.add(conn);
    const upgraded = (): void => {
      if (conn.transport.name !== 'websocket') return;
      others.delete(conn);
      conn.off('upgrade', upgraded);
    };
    conn.on('upgrade', upgraded);
    conn.once('close', () => {
      others.delete(conn);
      conn.off('upgrade', upgraded);
    });
  });
  return () => others.size === 0;
}

/**
 * Open Engine.IO v3 connections, counted as they open and close: listing Engine.IO's `clients` (an
 * object in dictionary mode, whose keys are sorted on every listing) took ~3 ms per admin tick with
 * 5000 connections. Only v3 (legacy) connections get a close listener; v4 is the rest.
 */
function countV3(engine: Engine): () => number {
  let v3 = 0;
  engine.on('connection', (conn) => {
    if (conn.protocol !== 3) return;
    v3++;
    conn.once('close', () => v3--);
  });
  return () => v3;
}

export function liveState(s: LiveSources): LiveState {
  const engine = s.io.engine as unknown as Engine;
  const v3Open = countV3(engine);
  const webSocketOnly = allOnWebSocket(engine);
  return {
    connections() {
      const counts: ConnectionCount[] = [];
      for (const name of s.socketIoNamespaces) {
        const byTransport = new Map<string, number>(s.transports.map((t) => [t, 0]));
        const sockets = s.io.of(name).sockets;
        if (webSocketOnly()) {
          if (sockets.size > 0) byTransport.set('websocket', sockets.size);
        } else {
          for (const socket of sockets.values()) {
            const transport = (socket.conn as unknown as EngineSocket).transport.name;
            byTransport.set(transport, (byTransport.get(transport) ?? 0) + 1);
          }
        }
        for (const [transport, count] of byTransport) counts.push({ namespace: name, protocol: 'socketio', transport, count });
      }
      for (const ws of s.webSockets) counts.push({ namespace: ws.ns, protocol: 'sock', transport: 'websocket', count: ws.count() });
      for (const [namespace, count] of s.sse.countsByNamespace()) counts.push({ namespace, protocol: 'sse', transport: 'sse', count });
      return counts;
    },
    engineIo() {
      const v3 = v3Open();
      return { v3, v4: engine.clientsCount - v3 };
    },
    rooms() {
      return s.namespaces.map((namespace) => ({ namespace, ...s.hub.roomCounts(namespace) }));
    },
    ready: s.ready,
    ...(s.history ? { history: s.history } : {}),
  };
}
