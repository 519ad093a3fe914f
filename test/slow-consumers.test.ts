/**
 * The send-buffer limit holds at every write: a subscriber that stops reading never has more than
 * --max-send-buffer queued on the server, and is cut as soon as a message would pass it; readers of
 * the same room are not affected.
 */
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { defaultAbuseLimits } from '../lib/auth/config.js';
import { ROOM_PREFIX, type AppSocket } from '../lib/core/app-socket.js';
import { type EngineConn, observeSendBuffers, unsentBytes } from '../lib/transport/index.js';
import { closeAll, connect, next, request } from './helpers/clients.js';
import { scrape } from './helpers/metrics.js';
import { startService } from './helpers/service.js';

const LIMIT = 1024 * 1024;
const CHUNK = 60 * 1024;

/** A raw WebSocket client on /layout, joined to `room`: it reads nothing once paused. */
function rawSubscriber(url: string, room: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`);
    ws.once('error', reject);
    ws.once('message', () => {
      ws.send('40/layout,');
      ws.once('message', () => {
        ws.send(`42/layout,1["JOIN",{"room":"${room}"}]`);
        ws.once('message', () => resolve(ws));
      });
    });
  });
}

describe('slow consumers: the send-buffer limit at each write', function () {
  this.timeout(30_000);

  for (const path of ['fast path (one room)', 'socket.io broadcast (two rooms)'] as const) {
    it(`never queues more than the limit for a client that stops reading: ${path}`, async () => {
      const svc = await startService({ maxPayload: 64 * 1024, abuse: { ...defaultAbuseLimits(), maxSendBuffer: LIMIT, bytesPerSecond: 0 } }); // a firehose publisher: no byte rate
      try {
        const layout = svc.service.io.of('/layout');
        const joined = new Promise<AppSocket>((resolve) => layout.once('connection', resolve));
        const slow = await rawSubscriber(svc.url, 'firehose');
        const serverSide = await joined;
        const conn = serverSide.conn as unknown as EngineConn;
        // Every write the hook admits for the slow connection, with its unsent bytes after it.
        let largestSeen = 0;
        let writes = 0;
        observeSendBuffers(svc.service.io, (c, queued) => {
          if (c !== conn) return;
          writes++;
          largestSeen = Math.max(largestSeen, queued);
        });
        (slow as unknown as { _socket: { pause(): void } })._socket.pause();
        let closed = false;
        const disconnected = new Promise<string>((resolve) => serverSide.once('disconnect', (reason) => ((closed = true), resolve(reason))));

        const [publisher, healthy] = await Promise.all([connect('v4', svc.url, '/layout'), connect('v4', svc.url, '/layout')]);
        await request(healthy, 'JOIN', { room: 'firehose' });
        let received = 0;
        healthy.on('EVENT', () => received++);
        const chunk = 'x'.repeat(CHUNK);
        const rooms = path.startsWith('fast') ? ['firehose'] : ['firehose', 'other'];
        // Two rooms: socket.io's own broadcast (the adapter's generic path) carries it.
        const publish = (message: string) =>
          rooms.length === 1
            ? request(publisher, 'NOTIFY', { room: 'firehose', message })
            : new Promise((resolve) => {
                layout.to(rooms.map((r) => ROOM_PREFIX + r)).emit('EVENT', { sender: 'test', room: 'firehose', message });
                resolve(undefined);
              });
        let largestAfterAck = 0;
        let sent = 0;
        while (!closed && sent < 2000) {
          await publish(chunk);
          sent++;
          if (!closed) largestAfterAck = Math.max(largestAfterAck, unsentBytes(conn));
          if (rooms.length > 1) await new Promise((resolve) => setImmediate(resolve));
        }
        expect(await disconnected).to.be.oneOf(['transport close', 'forced close', 'transport error']);
        // Counted for the metrics (notify_slow_consumer_disconnects_total): this one connection only.
        expect((await scrape(svc.url)).value('notify_slow_consumer_disconnects_total')).to.equal(1);
        const oneMessage = CHUNK + 1024;
        expect(largestAfterAck, 'unsent bytes after a publication').to.be.at.most(LIMIT + oneMessage);
        expect(largestSeen, 'unsent bytes at a write').to.be.at.most(LIMIT + oneMessage);
        expect(writes).to.be.greaterThan(0);
        if (rooms.length === 1) {
          // A reading subscriber got everything.
          const got = next(healthy, 'EVENT');
          await request(publisher, 'NOTIFY', { room: 'firehose', message: 'last' });
          expect((await got).message).to.equal('last');
          expect(received).to.equal(sent + 1);
        }
        slow.terminate();
      } finally {
        await svc.close();
        closeAll();
      }
    });
  }
});
