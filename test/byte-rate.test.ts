/**
 * Per-connection rate limits are applied before a packet is parsed (lib/abuse/packet-rates.ts, in the
 * socket.io decoder of lib/transport/guarded-parser.ts): a flood of large frames past the byte budget
 * (--byte-rate) is answered RATE_LIMITED without being parsed, the handler never runs, the sender
 * is cut past twice the burst, and others are not affected; events past --event-burst are not
 * parsed either. Every client version, WebSocket and long-polling.
 */
import { expect } from 'chai';
import { defaultAbuseLimits, type AbuseLimits } from '../lib/auth/config.js';
import type { NamespaceModule } from '../lib/core/dispatch.js';
import { namespaces } from '../namespaces/index.js';
import { connect, next, request, TRANSPORTS, VERSIONS } from './helpers/clients.js';
import { serviceForSuite } from './helpers/service.js';

const limits = (overrides: Partial<AbuseLimits>): AbuseLimits => ({ ...defaultAbuseLimits(), ...overrides });

/** Texts at least this long are the test's big frames (nothing else in these tests is as large). */
const BIG = 30_000;

/** Counts JSON.parse calls on big texts: the parse path of every socket.io packet, in this process. */
function parseSpy(): { readonly count: number; restore(): void } {
  const original = JSON.parse;
  const spy = { count: 0, restore: () => void (JSON.parse = original) };
  JSON.parse = function (this: unknown, text: string, reviver?: (this: unknown, key: string, value: unknown) => unknown) {
    if (typeof text === 'string' && text.length >= BIG) spy.count++;
    return original.call(JSON, text, reviver);
  } as typeof JSON.parse;
  return spy;
}

/** A test namespace whose verb counts its calls: proof that a refused packet reached no handler. */
function probe(): NamespaceModule & { calls: number } {
  const module = {
    name: '/probe',
    calls: 0,
    verbs: {
      BIG: () => {
        module.calls++;
      },
    },
  };
  return module;
}

/** A valid argument of about `bytes` bytes nested 60 levels deep (the worst kind to parse). */
const deepArgument = (bytes: number): unknown => {
  let value: unknown = Array.from({ length: Math.floor(bytes / 2) }, () => 0);
  for (let i = 0; i < 59; i++) value = [value];
  return value;
};

const code = (reply: { ok: boolean; error?: { code: string } }): string => (reply.ok ? 'ok' : reply.error!.code);

describe('rate limits before parsing: bytes per connection', () => {
  // maxPayload 64 KiB: the byte burst is 128 KiB (one maximal message and its envelope), the cut
  // 256 KiB; 16 KiB/s drains little while a test runs.
  const module = probe();
  const svc = serviceForSuite({ maxPayload: 64 * 1024, abuse: limits({ bytesPerSecond: 16 * 1024 }) }, { namespaces: [...namespaces, module] });
  let spy: ReturnType<typeof parseSpy> | undefined;
  afterEach(() => spy?.restore());

  for (const version of VERSIONS) {
    for (const transport of TRANSPORTS) {
      it(`${version} over ${transport}: frames past the burst get RATE_LIMITED unparsed, past twice it the connection is cut; others go on`, async () => {
        const [attacker, bystander] = await Promise.all([connect(version, svc.url, '/probe', { transport }), connect('v4', svc.url, '/layout')]);
        const calls = module.calls;
        spy = parseSpy();
        const frame = deepArgument(40 * 1024); // ~40 KiB of text
        // Sent at once (over polling several packets share one request): 3 fit the burst.
        const replies = await Promise.all(Array.from({ length: 4 }, () => request(attacker, 'BIG', frame)));
        expect(replies.map(code)).to.deep.equal(['ok', 'ok', 'ok', 'RATE_LIMITED']);
        expect(replies[3].error.message).to.match(/bytes per second/);
        expect(module.calls - calls).to.equal(3);
        expect(spy.count).to.equal(3); // the refused frame was never parsed
        // The bystander's acks keep coming.
        expect(await request(bystander, 'CLIENTS', { room: 'calm' })).to.include({ ok: true });
        // Keep going: refused (still counted), then cut past twice the burst (256 KiB).
        const gone = next(attacker, 'disconnect');
        for (let i = 0; i < 4; i++) attacker.emit('BIG', frame, () => undefined);
        await gone;
        expect(module.calls - calls).to.equal(3);
        expect(spy.count).to.equal(3);
        expect(await request(bystander, 'CLIENTS', { room: 'calm' })).to.include({ ok: true });
      });
    }
  }

  it('legacy clients without an ack get an ERROR event RATE_LIMITED naming the event', async () => {
    const a = await connect('v1', svc.url, '/probe');
    const error = next(a, 'ERROR');
    const frame = deepArgument(40 * 1024);
    for (let i = 0; i < 4; i++) a.emit('BIG', frame);
    expect(await error).to.include({ code: 'RATE_LIMITED', event: 'BIG' });
  });

  it('binary attachments count their bytes; the attachments of a refused packet are dropped', async () => {
    const a = await connect('v4', svc.url, '/probe');
    const calls = module.calls;
    const blob = Buffer.alloc(50 * 1024, 1);
    // A packet is admitted on its header; its attachments then fill the bucket (150 KiB after three).
    const replies = await Promise.all(Array.from({ length: 4 }, () => request(a, 'BIG', blob)));
    expect(replies.map(code)).to.deep.equal(['ok', 'ok', 'ok', 'RATE_LIMITED']);
    expect(module.calls - calls).to.equal(3);
    // The refused packet's attachment was dropped, not taken for a packet being rebuilt (the parser
    // would close the connection): the connection still answers.
    expect(code(await request(a, 'NOPE'))).to.equal('RATE_LIMITED');
    expect(a.raw.connected).to.equal(true);
  });

  it('a packet larger than any message is refused unparsed with PAYLOAD_TOO_LARGE', async () => {
    const a = await connect('v4', svc.url, '/probe');
    spy = parseSpy();
    const reply = await request<{ ok: boolean; error: { code: string } }>(a, 'BIG', deepArgument(150 * 1024));
    expect(code(reply)).to.equal('PAYLOAD_TOO_LARGE');
    expect(spy.count).to.equal(0);
  });

  it('traffic under the budget is not affected', async () => {
    const a = await connect('v2', svc.url, '/layout');
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => request(a, 'NOTIFY', { room: 'small', message: 'x'.repeat(500) + i })));
    expect(replies.map(code)).to.deep.equal(Array(100).fill('ok'));
  });
});

describe('rate limits before parsing: events per connection', () => {
  const module = probe();
  const svc = serviceForSuite({ maxPayload: 64 * 1024, abuse: limits({ eventsPerSecond: 5, eventBurst: 5, bytesPerSecond: 0 }) }, { namespaces: [...namespaces, module] });
  let spy: ReturnType<typeof parseSpy> | undefined;
  afterEach(() => spy?.restore());

  it('events past the burst are refused RATE_LIMITED without being parsed', async () => {
    const a = await connect('v4', svc.url, '/probe');
    spy = parseSpy();
    const replies = await Promise.all(Array.from({ length: 7 }, () => request(a, 'BIG', deepArgument(40 * 1024))));
    expect(replies.map(code)).to.deep.equal([...Array(5).fill('ok'), 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(module.calls).to.equal(5);
    expect(spy.count).to.equal(5);
  });
});
