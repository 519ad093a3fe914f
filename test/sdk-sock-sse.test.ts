/**
 * The SDK's dependency-free entries against a real service: `/sock` over a plain WebSocket (`ws`
 * passed in) and SSE (an EventSource passed in), each getting every message once and in order
 * across a dropped connection, and typed errors.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import { createSockClient, type SockClient, type WebSocketConstructor } from '../client/src/sock.js';
import { createSseClient, type SseStream } from '../client/src/sse.js';
import type { NotifyError, ResetEvent } from '../client/src/index.js';
import { waitUntil } from './helpers/cluster.js';
import { TestEventSource } from './helpers/event-source.js';
import { serviceForSuite } from './helpers/service.js';

const FAST = { reconnect: { min: 50, max: 200 } };
const sockClients: SockClient[] = [];
const streams: SseStream[] = [];
afterEach(() => {
  sockClients.splice(0).forEach((c) => c.close());
  streams.splice(0).forEach((s) => s.close());
});

function sock(url: string, name: string): SockClient {
  const c = createSockClient(url, { ...FAST, name, WebSocket: WebSocket as unknown as WebSocketConstructor });
  sockClients.push(c);
  return c;
}

const publishHttp = (url: string, ns: string, room: string, message: unknown) => fetch(`${url}/publish/${ns}/${room}`, { method: 'POST', body: JSON.stringify(message) }).then((r) => r.json());

async function rejection(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (err) {
    return err as NotifyError;
  }
  throw new Error('expected a rejection');
}

describe('client SDK: /sock entry', () => {
  const svc = serviceForSuite();

  it('every publication once and in order across a dropped WebSocket, the missed ones read back', async () => {
    const reader = sock(svc.url, 'reader');
    const got: unknown[] = [];
    const resets: ResetEvent[] = [];
    let connects = 0;
    reader.on('connect', () => connects++);
    const subscription = reader.subscribe('t', (f) => got.push(f.payload));
    subscription.on('reset', (e) => resets.push(e));
    await subscription.ready;
    const writer = sock(svc.url, 'writer');
    await writer.subscribe('t', () => undefined).ready;
    for (let i = 1; i <= 3; i++) expect(await writer.publish('t', `p${i}`)).to.deep.equal({ offset: i });
    await waitUntil('p1-p3', () => got.length === 3);

    // The TCP connection drops under the reader; more is published while it is away.
    (reader as unknown as { ws: { _socket: { destroy(): void } } }).ws._socket.destroy();
    await writer.publish('t', 'p4');
    await publishHttp(svc.url, 'sock', 't', 'p5');
    await writer.publish('t', 'p6');
    await waitUntil('reconnected', () => connects === 2);
    await writer.publish('t', 'p7');
    await waitUntil('p1-p7', () => got.length >= 7);
    expect(got).to.deep.equal(['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);
    expect(resets).to.deep.equal([]);
  });

  it('typed errors: BAD_REQUEST for a reserved action, NOT_SUBSCRIBED for a topic not subscribed', async () => {
    const c = sock(svc.url, 'c');
    await c.subscribe('mine', () => undefined).ready;
    expect(await rejection(c.publish('mine', 1, { action: 'connected' }))).to.include({ code: 'BAD_REQUEST', temporary: false });
    expect(await rejection(c.publish('other', 1))).to.include({ code: 'NOT_SUBSCRIBED', temporary: false });
    // The connection is still good, and answers stay matched to their requests.
    expect(await c.publish('mine', 'ok')).to.deep.equal({ offset: 1 });
  });
});

describe('client SDK: SSE entry', () => {
  const svc = serviceForSuite();

  it('every message once and in order across a dropped stream, resumed from the last event id', async () => {
    const client = createSseClient(svc.url, { ...FAST, EventSource: TestEventSource });
    const got: unknown[] = [];
    const resets: ResetEvent[] = [];
    let opens = 0;
    const stream = client.follow<{ message: unknown }>('layout', 'ev', (m) => got.push(m.data.message));
    streams.push(stream as SseStream);
    stream.on('open', () => opens++);
    stream.on('reset', (e) => resets.push(e));
    await waitUntil('open', () => opens === 1);
    for (let i = 1; i <= 3; i++) await publishHttp(svc.url, 'layout', 'ev', `m${i}`);
    await waitUntil('m1-m3', () => got.length === 3);

    TestEventSource.opened.at(-1)!.cut();
    await publishHttp(svc.url, 'layout', 'ev', 'm4');
    await publishHttp(svc.url, 'layout', 'ev', 'm5');
    await waitUntil('reopened', () => opens === 2);
    await publishHttp(svc.url, 'layout', 'ev', 'm6');
    await waitUntil('m1-m6', () => got.length >= 6);
    expect(got).to.deep.equal(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    expect(resets).to.deep.equal([]);
    expect(stream.lastEventId).to.match(/:6$/);
  });

  it('a position the room cannot resume from: `reset`, then the live messages', async () => {
    const client = createSseClient(svc.url, { ...FAST, EventSource: TestEventSource });
    const got: unknown[] = [];
    const stream = client.follow<{ message: unknown }>('layout', 'gone', (m) => got.push(m.data.message), { lastEventId: 'no-such-epoch:4' });
    streams.push(stream as SseStream);
    const reset = new Promise<ResetEvent>((resolve) => stream.on('reset', resolve));
    expect(await reset).to.deep.include({ room: 'gone', reason: 'EPOCH_CHANGED' });
    await publishHttp(svc.url, 'layout', 'gone', 'fresh');
    await waitUntil('fresh', () => got.length === 1);
    expect(got).to.deep.equal(['fresh']);
  });
});
