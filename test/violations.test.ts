/**
 * Repeat offenders (--violation-limit): an address whose connections keep being closed for breaking
 * the protocol cannot just reconnect and start over; its handshakes are refused for a while, other
 * addresses and exempt ones are not affected.
 */
import { expect } from 'chai';
import WebSocket from 'ws';
import { defaultAbuseLimits, type AbuseLimits } from '../lib/auth/config.js';
import { Violations } from '../lib/abuse/violations.js';
import { serviceForSuite } from './helpers/service.js';

const limits = (overrides: Partial<AbuseLimits>): AbuseLimits => ({ ...defaultAbuseLimits(), ...overrides });

/** A packet nested deeper than --max-depth: the server closes the connection that sends it. */
const DEEP = `42/layout,["NOTIFY",${'['.repeat(100)}${']'.repeat(100)}]`;

/** A valid frame over --preauth-max-frame (64 KiB), acked as request 1. */
const BIG = `42/layout,1["NOTIFY",{"room":"r","message":"${'x'.repeat(100 * 1024)}"}]`;

type Outcome = 'refused-handshake' | 'closed-after-deep-packet' | 'kept';

/**
 * Connects from `localAddress` (any 127.x address reaches the service on this machine), joins
 * /layout and sends `frame`; tells whether the handshake was refused, the server closed the
 * connection, or it stayed open (answered a ping).
 */
function attempt(url: string, localAddress: string, frame: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { localAddress });
    let joined = false;
    ws.on('unexpected-response', () => resolve('refused-handshake'));
    ws.on('error', () => undefined);
    ws.on('close', () => resolve(joined ? 'closed-after-deep-packet' : 'refused-handshake'));
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text[0] === '0') ws.send('40/layout,');
      else if (text.startsWith('40/layout,')) {
        joined = true;
        ws.send(frame);
        ws.send('42/layout,1["CLIENTS",{"room":"r"}]');
      } else if (text.startsWith('43/layout,1')) {
        resolve('kept');
        ws.close();
      }
    });
  });
}

describe('violations: repeat offenders are refused at the handshake', function () {
  this.timeout(20_000);
  const svc = serviceForSuite({ abuse: limits({ violationsPerMinute: 3, exempt: ['127.0.0.1'] }) });

  it('refuses an address after --violation-limit closes, and only that address', async () => {
    for (let i = 0; i < 3; i++) expect(await attempt(svc.url, '127.0.0.2', DEEP)).to.equal('closed-after-deep-packet');
    // The fourth violation goes over the limit: from now on the address cannot even connect.
    expect(await attempt(svc.url, '127.0.0.2', DEEP)).to.equal('closed-after-deep-packet');
    expect(await attempt(svc.url, '127.0.0.2', '42/layout,["CLIENTS",{"room":"r"}]')).to.equal('refused-handshake');
    // Another address, and well-behaved traffic, are not affected.
    expect(await attempt(svc.url, '127.0.0.3', '42/layout,["CLIENTS",{"room":"r"}]')).to.equal('kept');
  });

  it('holds a new connection from an address on probation to small frames, refused from the frame header', async () => {
    expect(await attempt(svc.url, '127.0.0.4', DEEP)).to.equal('closed-after-deep-packet');
    // Within the minute: a large (valid) frame closes the connection with 1009 before it is read.
    const sendBig = (): Promise<number> =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${svc.url.replace('http', 'ws')}/socket.io/?EIO=4&transport=websocket`, { localAddress: '127.0.0.4' });
        ws.on('error', () => undefined);
        ws.on('unexpected-response', () => resolve(403));
        ws.on('close', (code) => resolve(code));
        ws.on('message', (data: Buffer) => {
          const text = data.toString();
          if (text[0] === '0') ws.send('40/layout,');
          else if (text.startsWith('40/layout,')) ws.send(BIG);
        });
      });
    expect(await sendBig()).to.equal(1009);
    // Small frames still work from there; large ones from other addresses too.
    expect(await attempt(svc.url, '127.0.0.4', '42/layout,["CLIENTS",{"room":"r"}]')).to.equal('kept');
    expect(await attempt(svc.url, '127.0.0.5', BIG.replace('42/layout,1', '42/layout,2'))).to.equal('kept');
    // Each refused frame counts: past the limit (3) the address cannot connect.
    expect(await sendBig()).to.equal(1009);
    expect(await sendBig()).to.equal(1009);
    expect(await attempt(svc.url, '127.0.0.4', '42/layout,["CLIENTS",{"room":"r"}]')).to.equal('refused-handshake');
  });

  it('never blocks an exempt address, nor puts it on probation', async () => {
    for (let i = 0; i < 6; i++) expect(await attempt(svc.url, '127.0.0.1', DEEP)).to.equal('closed-after-deep-packet');
    expect(await attempt(svc.url, '127.0.0.1', BIG.replace('42/layout,1', '42/layout,2'))).to.equal('kept');
  });

  it('forgets: probation and block last a minute from the last violation', () => {
    let t = 0;
    const v = new Violations({ violationsPerMinute: 2, exempt: [] }, () => t);
    v.record('10.0.0.9');
    expect([v.onProbation('10.0.0.9'), v.blocked('10.0.0.9')]).to.deep.equal([true, false]);
    v.record('10.0.0.9');
    v.record('10.0.0.9');
    expect(v.blocked('10.0.0.9')).to.equal(true);
    t = 59_999;
    expect([v.onProbation('10.0.0.9'), v.blocked('10.0.0.9')]).to.deep.equal([true, true]);
    t = 60_000;
    expect([v.onProbation('10.0.0.9'), v.blocked('10.0.0.9')]).to.deep.equal([false, false]);
    // The count drained meanwhile: one violation puts it on probation, not over the limit.
    v.record('10.0.0.9');
    expect([v.onProbation('10.0.0.9'), v.blocked('10.0.0.9')]).to.deep.equal([true, false]);
  });

  it('keeps at most 10 000 addresses, forgetting the least recently seen', () => {
    const v = new Violations({ violationsPerMinute: 5, exempt: [] }, () => 0);
    v.record('first');
    for (let i = 0; i < 10_000; i++) v.record(`a${i}`);
    expect(v.onProbation('first')).to.equal(false);
    expect(v.onProbation('a0')).to.equal(true);
    expect(v.onProbation('a9999')).to.equal(true);
  });

  it('counts nothing when off (0)', async () => {
    const off = new Violations({ violationsPerMinute: 0, exempt: [] });
    for (let i = 0; i < 5; i++) off.record('10.0.0.1');
    expect(off.blocked('10.0.0.1')).to.equal(false);
    const on = new Violations({ violationsPerMinute: 2, exempt: [] });
    for (let i = 0; i < 3; i++) on.record('10.0.0.1');
    expect(on.blocked('10.0.0.1')).to.equal(true);
    expect(on.blocked('10.0.0.2')).to.equal(false);
  });
});
