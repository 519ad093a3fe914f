/**
 * Limit for SSE: what stream fan-out costs with nothing but node:http. `GET /events/<ns>/<room>`
 * keeps the response open (the service's headers, `retry:`); `POST /publish/<ns>/<room>` parses
 * the JSON body and writes one pre-built event (`id: <epoch>:<offset>`, `event: EVENT`, `data:` the
 * /layout envelope `{sender, room, message, meta}`) to every response of the room as the same
 * Buffer, then answers `{offset, recipients}`. The floor any SSE server on node:http can reach on
 * this machine. No rights, no resumption, no limits. With `--coalesce` (server kind
 * `limit-coalesced`) it also corks each socket for the rest of the event-loop iteration, as the
 * service does.
 */
import http, { type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { optionDefault } from '../../lib/config/option-values.js';
import { announce, corker, exitOnSignals, listenArgs } from './args.js';

const MAX_PAYLOAD = optionDefault('max-payload');
const PING_MS = 25_000;
const PING = Buffer.from(': ping\n\n');

const { port, host, coalesce } = listenArgs();
const cork = corker(coalesce);
const rooms = new Map<string, Set<ServerResponse>>();
const epoch = Date.now().toString(36);
let offset = 0;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text);
}

function stream(res: ServerResponse, room: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' });
  res.write('retry: 3000\n\n');
  let members = rooms.get(room);
  if (!members) rooms.set(room, (members = new Set()));
  members.add(res);
  res.on('close', () => {
    members.delete(res);
    if (members.size === 0 && rooms.get(room) === members) rooms.delete(room);
  });
}

function publish(res: ServerResponse, room: string, body: string): void {
  let message: unknown;
  try {
    message = JSON.parse(body);
  } catch {
    return json(res, 400, { error: { code: 'BAD_REQUEST', message: 'not JSON' } });
  }
  const members = rooms.get(room);
  const meta = { offset: ++offset, epoch, ts: Date.now() };
  const chunk = Buffer.from(`id: ${epoch}:${meta.offset}\nevent: EVENT\ndata: ${JSON.stringify({ sender: 'POST', room, message, meta })}\n\n`);
  let recipients = 0;
  if (members) {
    for (const member of members) {
      if (member.socket) cork(member.socket);
      member.write(chunk);
      recipients++;
    }
  }
  json(res, 200, { offset: meta.offset, recipients });
}

const server = http.createServer((req, res) => {
  const m = /^\/(events|publish)\/([^/?]+)\/([^/?]+)/.exec(req.url ?? '');
  if (!m) return json(res, 404, { error: { code: 'NOT_FOUND', message: 'not found' } });
  const room = decodeURIComponent(m[3]!);
  if (m[1] === 'events' && req.method === 'GET') return stream(res, room);
  if (m[1] !== 'publish' || req.method !== 'POST') return json(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'no' } });
  const parts: Buffer[] = [];
  let size = 0;
  req.on('data', (part: Buffer) => {
    size += part.length;
    if (size > MAX_PAYLOAD) return void req.destroy();
    parts.push(part);
  });
  req.on('end', () => publish(res, room, parts.length === 1 ? parts[0]!.toString('utf8') : Buffer.concat(parts).toString('utf8')));
});

// As the service: a comment line every 25 s keeps proxies from closing idle streams.
setInterval(() => {
  for (const members of rooms.values()) for (const res of members) res.write(PING);
}, PING_MS);

exitOnSignals();
server.listen(port, host, () => announce((server.address() as AddressInfo).port));
