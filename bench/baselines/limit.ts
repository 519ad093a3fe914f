/**
 * Limit: what fan-out costs with nothing but `ws`. Speaks just enough Engine.IO v4 + Socket.IO v5
 * on /layout (handshake, namespace connect, ping/pong, JOIN and NOTIFY with acks) to serve the
 * same load generator unchanged. Each EVENT is serialized and framed once and the same frame
 * buffers are written to every member socket: the floor any socket.io-compatible server can reach
 * on this machine.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as wsModule from 'ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { ACK_PREFIX, CONNECT, DISCONNECT, EVENT_PREFIX, splitIdAndBody } from '../protocol.js';
import { optionDefault } from '../../lib/config/option-values.js';
import { announce, exitOnSignals, heartbeat, listenArgs } from './args.js';

/** The service's default message limit. */
const MAX_PAYLOAD = optionDefault('max-payload');
const PING_INTERVAL_MS = 25_000;
const PING_TIMEOUT_MS = 20_000;

/** ws's frame builder and per-socket writer: untyped, but what socket.io's own broadcast uses too. */
type FrameList = Buffer[];
const Sender = (wsModule as unknown as { Sender: { frame(data: Buffer, options: object): FrameList } }).Sender;
const writeFrame = (ws: WebSocket, frame: FrameList): void =>
  (ws as unknown as { _sender: { sendFrame(list: FrameList): void } })._sender.sendFrame(frame);

interface Conn {
  ws: WebSocket;
  sid: string;
  name: string;
  inNamespace: boolean;
  rooms: Set<string>;
  /** Answered the last ping. */
  alive: boolean;
}

const conns = new Set<Conn>();
const rooms = new Map<string, Set<Conn>>();
let nextSid = 0;
const sidPrefix = randomBytes(6).toString('base64url');

function payloadObject(raw: unknown): Record<string, unknown> {
  const value: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
  if (typeof value !== 'object' || value === null) throw new Error('payload must be an object');
  return value as Record<string, unknown>;
}

function roomName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error('room must be a non-empty string');
  return value;
}

function join(conn: Conn, raw: unknown): void {
  const payload = payloadObject(raw);
  const room = roomName(payload.room);
  conn.name = typeof payload.name === 'string' ? payload.name : conn.sid;
  let members = rooms.get(room);
  if (!members) rooms.set(room, (members = new Set()));
  members.add(conn);
  conn.rooms.add(room);
}

function notify(conn: Conn, raw: unknown): void {
  const payload = payloadObject(raw);
  const room = roomName(payload.room);
  const members = rooms.get(room);
  if (!members) return;
  const text = EVENT_PREFIX + JSON.stringify(['EVENT', { sender: conn.name, room, message: payload.message }]);
  const frame = Sender.frame(Buffer.from(text), { readOnly: false, mask: false, rsv1: false, opcode: 1, fin: true });
  for (const member of members) {
    if (member !== conn && member.ws.readyState === member.ws.OPEN) writeFrame(member.ws, frame);
  }
}

function leaveAll(conn: Conn): void {
  for (const room of conn.rooms) {
    const members = rooms.get(room);
    members?.delete(conn);
    if (members?.size === 0) rooms.delete(room);
  }
  conn.rooms.clear();
}

function onText(conn: Conn, text: string): void {
  if (text === '3') {
    conn.alive = true;
  } else if (text.startsWith(EVENT_PREFIX) && conn.inNamespace) {
    const { id, body } = splitIdAndBody(text, EVENT_PREFIX.length);
    let reply: unknown = { ok: true };
    try {
      const [event, payload] = JSON.parse(body) as [unknown, unknown];
      if (event === 'JOIN') join(conn, payload);
      else if (event === 'NOTIFY') notify(conn, payload);
      else throw new Error('unknown event');
    } catch (err) {
      reply = { ok: false, error: (err as Error).message };
    }
    if (id >= 0) conn.ws.send(`${ACK_PREFIX}${id}${JSON.stringify([reply])}`);
  } else if (text === CONNECT || text.startsWith(`${CONNECT}{`)) {
    conn.inNamespace = true;
    conn.ws.send(`${CONNECT}${JSON.stringify({ sid: `${conn.sid}n` })}`);
  } else if (text === DISCONNECT) {
    conn.inNamespace = false;
    leaveAll(conn);
  } else if (text === '1') {
    conn.ws.close();
  }
}

const { port, host } = listenArgs();
const httpServer = http.createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: httpServer, path: '/socket.io/', perMessageDeflate: false, maxPayload: MAX_PAYLOAD, clientTracking: false });

wss.on('connection', (ws) => {
  const conn: Conn = { ws, sid: `${sidPrefix}${nextSid++}`, name: '', inNamespace: false, rooms: new Set(), alive: true };
  conns.add(conn);
  ws.send(`0${JSON.stringify({ sid: conn.sid, upgrades: [], pingInterval: PING_INTERVAL_MS, pingTimeout: PING_TIMEOUT_MS, maxPayload: MAX_PAYLOAD })}`);
  ws.on('message', (data: Buffer) => onText(conn, data.toString('utf8')));
  ws.on('error', () => ws.terminate());
  ws.on('close', () => {
    conns.delete(conn);
    leaveAll(conn);
  });
});

// Engine.IO v4 heartbeat: the server pings ('2'), the client answers ('3').
heartbeat(conns, PING_INTERVAL_MS, (conn) => conn.ws.send('2'));

exitOnSignals();
httpServer.listen(port, host, () => announce((httpServer.address() as AddressInfo).port));
