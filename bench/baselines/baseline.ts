/**
 * Baseline: the obvious hand-written socket.io v4 server for /layout's JOIN and NOTIFY, with the
 * options anyone would write. What "us" is compared against: same library, no extra layers.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { optionDefault } from '../../lib/config/option-values.js';
import { announce, exitOnSignals, listenArgs } from './args.js';

type Ack = (reply: unknown) => void;

const { port, host } = listenArgs();
const httpServer = http.createServer();
// Accepts the messages the service accepts by default.
const io = new Server(httpServer, { allowEIO3: true, maxHttpBufferSize: optionDefault('max-payload') });

/** Payloads arrive as objects or as JSON strings. */
function parse(raw: unknown): { room?: unknown; name?: unknown; message?: unknown } {
  const value: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
  if (typeof value !== 'object' || value === null) throw new Error('payload must be an object');
  return value;
}

io.of('/layout').on('connection', (socket) => {
  socket.on('JOIN', (raw: unknown, ack?: Ack) => {
    try {
      const { room, name } = parse(raw);
      if (typeof room !== 'string') throw new Error('room must be a string');
      socket.join(room);
      socket.data.name = typeof name === 'string' ? name : socket.id;
      ack?.({ ok: true });
    } catch (err) {
      ack?.({ ok: false, error: (err as Error).message });
    }
  });

  socket.on('NOTIFY', (raw: unknown, ack?: Ack) => {
    try {
      const { room, message } = parse(raw);
      if (typeof room !== 'string') throw new Error('room must be a string');
      socket.broadcast.to(room).emit('EVENT', { sender: socket.data.name as string, room, message });
      ack?.({ ok: true });
    } catch (err) {
      ack?.({ ok: false, error: (err as Error).message });
    }
  });
});

exitOnSignals();
httpServer.listen(port, host, () => announce((httpServer.address() as AddressInfo).port));
