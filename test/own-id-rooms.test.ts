/**
 * Own-id rooms served, not stored (lib/transport/own-id-rooms.ts): every way of addressing a socket by
 * its id must behave exactly as on socket.io-adapter, which stores the room.
 *
 * One scenario (to/except by id, socket.to, broadcast, several rooms, fetchSockets, broadcastWithAck,
 * socketsJoin/Leave, disconnectSockets, leaving and joining one's own room again, joining another
 * socket's room, disconnects) runs on plain socket.io servers with the stock adapter and with ours,
 * and the transcripts must be equal: what every client received and in which order, every answer,
 * `socket.rooms`, the adapter's `rooms` (has/get/size and a walk) and `sids`, and the adapter's
 * create-room/join-room/leave-room/delete-room events. On one node: socket.io-adapter's Adapter
 * against FanoutAdapter. On two nodes on a private redis-server: the Redis Streams adapter against
 * the cluster's (lib/cluster/cluster.ts), with the addressed sockets on the other node.
 *
 * And the saving itself: the adapters the service uses hold no Set for a socket's own room.
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';
import { Server, type Socket } from 'socket.io';
import { Adapter } from 'socket.io-adapter';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import { createCluster, type Cluster } from '../lib/cluster/cluster.js';
import { clusterConfig } from '../lib/config/index.js';
import { createLogger } from '../lib/log/logger.js';
import { FanoutAdapter, OwnIdRooms } from '../lib/transport/index.js';
import { startNodes } from './helpers/cluster.js';
import { deletePrefix, requireRedisOrSkip, uniquePrefix, useRedis, type RedisServer } from './helpers/redis.js';
import { startService } from './helpers/service.js';

type AdapterOption = NonNullable<ConstructorParameters<typeof Server>[1]>['adapter'];

interface Node {
  io: Server;
  url: string;
  /** This node's server-side sockets by their client's label. */
  sockets: Map<string, Socket>;
  /** The adapter's room events, as emitted (ids raw). */
  events: unknown[][];
  close(): Promise<void>;
}

async function startNode(adapter: AdapterOption, onClose: () => Promise<void> = async () => undefined): Promise<Node> {
  const http: HttpServer = createServer();
  const io = new Server(http, { adapter, transports: ['websocket'] });
  const sockets = new Map<string, Socket>();
  const events: unknown[][] = [];
  for (const event of ['create-room', 'join-room', 'leave-room', 'delete-room']) io.of('/').adapter.on(event, (...args: unknown[]) => events.push([event, ...args]));
  io.on('connection', (socket) => {
    sockets.set(String(socket.handshake.auth.label), socket);
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  return {
    io,
    url: `http://127.0.0.1:${port}`,
    sockets,
    events,
    close: async () => {
      await io.close();
      await onClose();
    },
  };
}

interface Client {
  label: string;
  socket: ClientSocket;
  /** Everything received, in order, and `['step', name]` once every node's mark of a step arrived. */
  log: unknown[][];
}

/** Resolves on a client socket's next `event`. */
const clientEvent = (socket: ClientSocket, event: string): Promise<void> => new Promise((resolve) => socket.once(event as 'connect', () => resolve()));

/** What `fn` answered, without functions (acks); the rest as is. */
const plain = (args: unknown[]): unknown[] => args.filter((a) => typeof a !== 'function');

/**
 * The scenario on `nodes`, with clients A and C on the first node and B and D on the last (one node:
 * all four on it). Returns its transcript, socket ids replaced by the clients' labels.
 */
async function runScenario(nodes: Node[]): Promise<unknown> {
  const first = nodes[0]!;
  const last = nodes[nodes.length - 1]!;
  const placement: Record<string, Node> = { A: first, B: last, C: first, D: last };
  const clients = new Map<string, Client>();
  const ids = new Map<string, string>();
  const observations: [string, unknown][] = [];

  for (const label of ['A', 'B', 'C', 'D']) {
    const socket = connectClient(placement[label]!.url, { auth: { label }, transports: ['websocket'], reconnection: false, forceNew: true });
    const client: Client = { label, socket, log: [] };
    const marks = new Map<string, number>();
    socket.onAny((event: string, ...args: unknown[]) => {
      if (event !== 'mark') {
        client.log.push([event, ...plain(args)]);
        return;
      }
      const step = String(args[0]);
      const seen = (marks.get(step) ?? 0) + 1;
      marks.set(step, seen);
      if (seen === nodes.length) client.log.push(['step', step]);
      socket.emit('seen', step);
    });
    socket.on('ask', (ack: (answer: string) => void) => ack(`answer of ${label}`));
    socket.on('disconnect', (reason) => client.log.push(['disconnected', reason]));
    await clientEvent(socket, 'connect');
    ids.set(socket.id!, label);
    clients.set(label, client);
  }

  const sock = (label: string): Socket => {
    const s = placement[label]!.sockets.get(label);
    if (!s) throw new Error(`no server socket for ${label}`);
    return s;
  };
  const id = (label: string): string => [...ids].find(([, l]) => l === label)![0];
  const name = (value: unknown): unknown => (typeof value === 'string' && ids.has(value) ? `<${ids.get(value)}>` : value);
  const names = (values: Iterable<unknown>): unknown[] => [...values].map(name);
  const sorted = (values: Iterable<unknown>): unknown[] => names(values).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  const io = first.io;
  const connected = (): Client[] => [...clients.values()].filter((c) => c.socket.connected);

  /** Runs a step's actions, then waits until every connected client has every node's mark of it. */
  const step = async (stepName: string, act: () => unknown): Promise<void> => {
    observations.push([stepName, await act()]);
    const waits = connected().map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${c.label} did not get the marks of ${stepName}`)), 5000);
          const check = () => {
            if (c.log.some((e) => e[0] === 'step' && e[1] === stepName)) {
              clearTimeout(timer);
              c.socket.offAny(check);
              resolve();
            }
          };
          c.socket.onAny(check);
        }),
    );
    for (const node of nodes) node.io.emit('mark', stepName);
    await Promise.all(waits);
  };

  /** What every node's adapter says: rooms (has, get, size, a walk), sids, and each socket's rooms. */
  const look = (): unknown =>
    nodes.map((node) => {
      const adapter = node.io.of('/').adapter;
      const byId = ['A', 'B', 'C', 'D'].map((l) => [l, adapter.rooms.has(id(l)), names(adapter.rooms.get(id(l)) ?? [])]);
      return {
        size: adapter.rooms.size,
        byId,
        walk: sorted([...adapter.rooms].map(([room, members]) => [name(room), sorted(members)])),
        keys: sorted(adapter.rooms.keys()),
        values: [...adapter.rooms.values()].map((v) => sorted(v)).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
        forEach: (() => {
          const seen: unknown[] = [];
          adapter.rooms.forEach((members, room) => seen.push([name(room), sorted(members)]));
          return sorted(seen);
        })(),
        sids: sorted([...adapter.sids].map(([sid, rooms]) => [name(sid), names(rooms)])),
        socketRooms: [...node.sockets].filter(([, s]) => s.connected).map(([l, s]) => [l, names(s.rooms)]),
      };
    });

  const fetched = async (op: { fetchSockets(): Promise<{ id: string; rooms: Set<string> }[]> }): Promise<unknown[]> =>
    sorted((await op.fetchSockets()).map((s) => [name(s.id), names(s.rooms)]));
  const acks = async (op: { timeout(ms: number): { emitWithAck(event: string): Promise<unknown[]> } }): Promise<unknown[]> => sorted(await op.timeout(4000).emitWithAck('ask'));

  await step('connected', look);
  await step('join r1', () => {
    sock('A').join('r1');
    sock('B').join('r1');
    sock('C').join(['r1', 'r2']);
    return look();
  });
  await step('to(id)', () => {
    io.to(id('A')).emit('m', 'to A');
    io.to(id('B')).emit('m', 'to B');
    io.to(id('A')).compress(true).emit('m', 'to A, compressed (the generic path)');
    io.in(id('D')).emit('m', 'in D');
  });
  // Each step's messages come from one node: a cluster adapter delivers its own node's broadcasts
  // after writing them to Redis, so messages from two nodes in one step race each other.
  await step('socket.to(id) from the last node', () => {
    sock('B').to(id('A')).emit('m', 'B to A');
  });
  await step('socket.to(id)', () => {
    sock('A').to(id('A')).emit('m', 'A to its own room');
    sock('C').to(id('A')).to(id('B')).emit('m', 'C to A and B');
  });
  await step('except(id)', () => {
    io.except(id('A')).emit('m', 'all but A');
    io.to('r1').except(id('A')).emit('m', 'r1 but A');
    io.to('r1').except([id('B'), id('C')]).emit('m', 'r1 but B and C');
    io.to('r1').compress(true).except(id('C')).emit('m', 'r1 but C, compressed');
    io.to(id('A')).except(id('A')).emit('m', 'A but A');
    io.to(id('A')).to('r2').emit('m', 'A and r2');
    io.to(id('C')).to('r2').emit('m', 'C and r2 (once)');
    io.to('r1').except('r2').emit('m', 'r1 but r2');
    io.except(id('A')).except(id('D')).emit('m', 'all but A and D');
    sock('A').broadcast.emit('m', 'A broadcast');
    sock('A').to('r1').emit('m', 'A to r1');
  });
  await step('broadcast from the last node', () => {
    sock('D').broadcast.emit('m', 'D broadcast');
  });
  await step('fetchSockets by id', async () => [
    await fetched(io.in(id('A'))),
    await fetched(io.in(id('B'))),
    await fetched(io.in([id('A'), id('D')])),
    await fetched(io.in('r1').except(id('A'))),
    await fetched(io.except(id('C'))),
    await fetched(last.io.in(id('C'))),
    await fetched(io.in('nobody')),
  ]);
  await step('broadcastWithAck', async () => [
    await acks(io.to(id('A'))),
    await acks(io.to(id('B'))),
    await acks(io.except(id('A'))),
    await acks(io.to('r1').except(id('B'))),
    await acks(last.io.to(id('C'))),
  ]);
  await step('socketsJoin by id', async () => {
    await io.in(id('A')).socketsJoin('r3');
    await io.in(id('D')).socketsJoin(['r3', 'r4']);
    await io.in(id('B')).except(id('B')).socketsJoin('never');
  });
  await step('after socketsJoin', () => {
    io.to('r3').emit('m', 'to r3');
    return look();
  });
  await step('socketsLeave own id', async () => {
    await io.in(id('B')).socketsLeave(id('B'));
    await io.in(id('A')).socketsLeave('r3');
  });
  await step('after leaving own room', () => {
    io.to(id('B')).emit('m', 'to B, which left its own room');
    io.except(id('B')).emit('m', 'all but B (B included now)');
    return look();
  });
  await step('rejoin own room late', () => {
    sock('B').join(id('B'));
    io.to(id('B')).emit('m', 'to B, back in its own room');
    return look();
  });
  await step("join another's room", () => {
    sock('A').join(id('C'));
    sock('D').join(id('A'));
    io.to(id('C')).emit('m', 'to C');
    io.to(id('A')).emit('m', 'to A');
    io.except(id('C')).emit('m', 'all but C');
    return look();
  });
  await step('fetchSockets of a shared own room', async () => [await fetched(io.in(id('C'))), await fetched(io.in(id('A'))), await acks(io.to(id('A')))]);
  await step('leave', () => {
    sock('A').leave(id('C'));
    sock('A').leave('r1');
    sock('C').leave(id('C'));
    sock('C').leave(id('A'));
    io.to(id('C')).emit('m', 'to C after leaving');
    return look();
  });
  await step('disconnectSockets by id', async () => {
    const gone = clientEvent(clients.get('D')!.socket, 'disconnect');
    await io.in(id('D')).disconnectSockets();
    await gone;
  });
  await step('client disconnects', async () => {
    const gone = once(sock('B'), 'disconnect');
    clients.get('B')!.socket.disconnect();
    await gone;
    return look();
  });
  await step('rest', async () => {
    io.to(id('A')).emit('m', 'to A at the end');
    return [await fetched(io.in(id('B'))), await fetched(io.in(id('A'))), look()];
  });

  for (const c of clients.values()) c.socket.disconnect();
  await Promise.all(nodes.map((node) => Promise.all([...node.sockets.values()].filter((s) => s.connected).map((s) => once(s, 'disconnect')))));

  const events = nodes.map((node) => node.events.map((e) => names(e)));
  return {
    observations: JSON.parse(JSON.stringify(observations, (_, v) => (typeof v === 'string' && ids.has(v) ? `<${ids.get(v)}>` : v))),
    received: [...clients.values()].map((c) => [c.label, c.log]),
    events,
    finally: nodes.map((node) => ({ rooms: [...node.io.of('/').adapter.rooms].length, sids: node.io.of('/').adapter.sids.size })),
  };
}

/** Plausibility of a transcript (both must show it): the scenario really addressed sockets by id. */
function expectDeliveries(transcript: any): void {
  const received = new Map<string, unknown[][]>(transcript.received);
  const got = (label: string, text: string) => received.get(label)!.some((e) => e[0] === 'm' && e[1] === text);
  expect(got('A', 'to A') && got('B', 'to B') && got('D', 'in D')).to.equal(true);
  expect(got('A', 'all but A')).to.equal(false);
  expect(got('B', 'all but A')).to.equal(true);
  expect(got('B', 'to B, which left its own room')).to.equal(false);
  expect(got('B', 'to B, back in its own room')).to.equal(true);
  expect(got('A', 'to C') && got('C', 'to C') && got('D', 'to A')).to.equal(true);
  expect(transcript.events[0].length).to.be.greaterThan(10);
}

/** A socket's own-id room stored as a Set in `rooms` (what the saving avoids). */
const storesOwnRoom = (adapter: Adapter, id: string): boolean => Map.prototype.has.call(adapter.rooms, id);

describe('own-id rooms served, not stored (lib/transport/own-id-rooms.ts)', function () {
  this.timeout(30_000);

  describe('one node: FanoutAdapter behaves as socket.io-adapter', () => {
    it('the same deliveries, answers, rooms and events', async () => {
      const transcripts: unknown[] = [];
      for (const adapter of [Adapter, FanoutAdapter]) {
        const node = await startNode(adapter);
        try {
          transcripts.push(await runScenario([node]));
        } finally {
          await node.close();
        }
      }
      expectDeliveries(transcripts[0]);
      expect(transcripts[1]).to.deep.equal(transcripts[0]);
    });

    it("the service's adapter holds no Set for a socket's own room, and answers for it", async () => {
      const running = await startService();
      const sockets: ClientSocket[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const socket = connectClient(`${running.url}/layout`, { transports: ['websocket'], reconnection: false, forceNew: true });
          sockets.push(socket);
          await clientEvent(socket, 'connect');
        }
        const adapter = running.service.io.of('/layout').adapter;
        expect(adapter.rooms).to.be.instanceOf(OwnIdRooms);
        for (const socket of sockets) {
          expect(storesOwnRoom(adapter, socket.id!), 'an own-id Set stored').to.equal(false);
          expect(adapter.rooms.has(socket.id!)).to.equal(true);
          expect([...adapter.rooms.get(socket.id!)!]).to.deep.equal([socket.id]);
        }
        expect(adapter.rooms.size).to.equal([...(adapter.rooms as OwnIdRooms).stored()].length + sockets.length);
      } finally {
        for (const socket of sockets) socket.disconnect();
        await running.close();
      }
    });
  });

  describe('two nodes on Redis: the cluster adapter behaves as the Redis Streams adapter', () => {
    let redis: RedisServer;
    before(async function () {
      requireRedisOrSkip(this);
      redis = await useRedis();
    });
    after(async () => redis?.stop());

    /** Two nodes with the stock Redis Streams adapter. */
    const stockNodes = async (prefix: string): Promise<Node[]> => {
      const nodes: Node[] = [];
      for (let i = 0; i < 2; i++) {
        const client = createClient({ url: redis.url });
        await client.connect();
        nodes.push(await startNode(createAdapter(client, { streamName: `${prefix}:stream`, channelPrefix: `${prefix}:channel`, sessionKeyPrefix: `${prefix}:session:` }), async () => void client.destroy()));
      }
      return nodes;
    };

    /** Two nodes with the service's cluster adapter. */
    const ourNodes = async (prefix: string): Promise<Node[]> => {
      const nodes: Node[] = [];
      for (let i = 0; i < 2; i++) {
        const logger = createLogger({ level: 'error', format: 'json', silent: true });
        const cluster: Cluster = createCluster(clusterConfig(redis.url, { keyPrefix: prefix }), { logger, onLost: () => undefined, onBack: () => undefined });
        await cluster.start();
        nodes.push(await startNode(cluster.adapter as unknown as AdapterOption, () => cluster.close()));
      }
      return nodes;
    };

    it('the same deliveries, answers, rooms and events, addressed from either node', async () => {
      const transcripts: unknown[] = [];
      for (const make of [stockNodes, ourNodes]) {
        const prefix = uniquePrefix('own-id');
        const nodes = await make(prefix);
        try {
          transcripts.push(await runScenario(nodes));
        } finally {
          for (const node of nodes) await node.close();
          await deletePrefix(redis.url, prefix);
        }
      }
      // OWN_ID_DUMP=file: both transcripts written there, to read a difference whole.
      if (process.env.OWN_ID_DUMP) writeFileSync(process.env.OWN_ID_DUMP, JSON.stringify(transcripts, null, 1));
      expectDeliveries(transcripts[0]);
      expect(transcripts[1]).to.deep.equal(transcripts[0]);
    });

    it("the cluster nodes' adapters hold no Set for a socket's own room", async () => {
      const prefix = uniquePrefix('own-id-nodes');
      const nodes = await startNodes(2, redis.url, prefix);
      const sockets: ClientSocket[] = [];
      try {
        for (const node of nodes) {
          const socket = connectClient(`${node.url}/layout`, { transports: ['websocket'], reconnection: false, forceNew: true });
          sockets.push(socket);
          await clientEvent(socket, 'connect');
        }
        for (const [i, node] of nodes.entries()) {
          const adapter = node.service.io.of('/layout').adapter;
          const id = sockets[i]!.id!;
          expect(adapter.rooms).to.be.instanceOf(OwnIdRooms);
          expect(storesOwnRoom(adapter, id), 'an own-id Set stored').to.equal(false);
          expect(adapter.rooms.has(id)).to.equal(true);
        }
      } finally {
        for (const socket of sockets) socket.disconnect();
        for (const node of nodes) await node.close();
        await deletePrefix(redis.url, prefix);
      }
    });
  });
});
