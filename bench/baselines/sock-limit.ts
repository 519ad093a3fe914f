/**
 * Limit for /sock: what topic fan-out costs with nothing but `ws`. Speaks the /sock frames the load
 * generator needs (docs/PROTOCOL.md, "/sock"): `connected` on open, `subscribe` answered with the
 * subscriber's `subscribe-topic` notice, and publications: any other action from a subscriber goes
 * to every subscriber of the topic, the sender included, as `{sender, action, topic, payload,
 * store, timestamp, meta}`. Each publication is serialized and framed once and the same frame
 * buffers are written to every member socket (as bench/baselines/limit.ts does for socket.io): the
 * floor any /sock server can reach on this machine. No presence, no rights, no limits. With
 * `--coalesce` (server kind `limit-coalesced`) it also corks each socket for the rest of the
 * event-loop iteration, as the service does.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as wsModule from 'ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { optionDefault } from '../../lib/config/option-values.js';
import { announce, corker, exitOnSignals, heartbeat, listenArgs } from './args.js';

const MAX_PAYLOAD = optionDefault('max-payload');
const PING_INTERVAL_MS = 25_000;

type FrameList = Buffer[];
const Sender = (wsModule as unknown as { Sender: { frame(data: Buffer, options: object): FrameList } }).Sender;
const FRAME_OPTIONS = { readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true };
type Internals = { _sender: { sendFrame(list: FrameList): void }; _socket: { cork(): void; uncork(): void } };
const { port, host, coalesce } = listenArgs();
const cork = corker(coalesce);
const writeFrame = (ws: WebSocket, frame: FrameList): void => {
  const internals = ws as unknown as Internals;
  cork(internals._socket);
  internals._sender.sendFrame(frame);
};

interface Conn {
  ws: WebSocket;
  id: string;
  name: string;
  topics: Set<string>;
  alive: boolean;
}

const conns = new Set<Conn>();
const topics = new Map<string, Set<Conn>>();
const epoch = Date.now().toString(36);
let nextId = 0;
let offset = 0;

const now = (): string => new Date().toISOString();

function subscribe(conn: Conn, topic: string): void {
  let members = topics.get(topic);
  if (!members) topics.set(topic, (members = new Set()));
  members.add(conn);
  conn.topics.add(topic);
  const participant = { scid: conn.name, cids: [conn.id], name: conn.name, role: '', online: true };
  conn.ws.send(JSON.stringify({ action: 'subscribe-topic', topic, sender: conn.id, payload: [participant], timestamp: now() }));
}

function publish(conn: Conn, action: string, topic: string, body: Record<string, unknown>): void {
  const members = topics.get(topic);
  if (!members?.has(conn)) return error(conn, topic, 'NOT_SUBSCRIBED');
  const ts = Date.now();
  const out = { sender: conn.id, action, topic, payload: body.payload ?? null, store: false, timestamp: new Date(ts).toISOString(), meta: { offset: ++offset, epoch, ts } };
  const frame = Sender.frame(Buffer.from(JSON.stringify(out)), FRAME_OPTIONS);
  for (const member of members) {
    if (member.ws.readyState === member.ws.OPEN) writeFrame(member.ws, frame);
  }
}

function error(conn: Conn, topic: string | undefined, code: string): void {
  conn.ws.send(JSON.stringify({ action: 'error', topic, payload: { code, message: code }, timestamp: now() }));
}

function onText(conn: Conn, text: string): void {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return error(conn, undefined, 'BAD_REQUEST');
  }
  const { action, topic } = body;
  if (typeof action !== 'string' || typeof topic !== 'string' || topic === '') return error(conn, undefined, 'BAD_REQUEST');
  if (action === 'subscribe') subscribe(conn, topic);
  else publish(conn, action, topic, body);
}

function leaveAll(conn: Conn): void {
  for (const topic of conn.topics) {
    const members = topics.get(topic);
    members?.delete(conn);
    if (members?.size === 0) topics.delete(topic);
  }
}

const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: httpServer, path: '/sock', perMessageDeflate: false, maxPayload: MAX_PAYLOAD, clientTracking: false });

wss.on('connection', (ws, req) => {
  const id = `ws-${nextId++}`;
  const name = new URL(req.url ?? '/', 'http://x').searchParams.get('name') ?? id;
  const conn: Conn = { ws, id, name, topics: new Set(), alive: true };
  conns.add(conn);
  ws.send(JSON.stringify({ action: 'connected', payload: { connectionId: id }, timestamp: now() }));
  ws.on('message', (data: Buffer) => onText(conn, data.toString('utf8')));
  ws.on('pong', () => void (conn.alive = true));
  ws.on('error', () => ws.terminate());
  ws.on('close', () => {
    conns.delete(conn);
    leaveAll(conn);
  });
});

// WebSocket pings, as the service's /sock endpoint.
heartbeat(conns, PING_INTERVAL_MS, (conn) => conn.ws.ping());

exitOnSignals();
httpServer.listen(port, host, () => announce((httpServer.address() as AddressInfo).port));
