/**
 * At most 16 packets per long-polling response (python-engineio 4.x drops the connection past
 * that), for Engine.IO v4 and v3 alike, the rest in the next polls in order; and the recovery
 * offset on the wire only for the connections that read it. Raw HTTP polling clients, so every
 * response is seen as sent.
 */
import { expect } from 'chai';
import { MAX_PACKETS_PER_POLL } from '../lib/transport/index.js';
import { connect, request } from './helpers/clients.js';
import { MODES, inModeForSuite } from './helpers/cluster.js';

/** A long-polling client speaking Engine.IO by hand; `query` is the handshake query as a client writes it. */
class RawPolling {
  private sid = '';
  /** Packets per GET response, in order. */
  readonly responses: string[][] = [];
  private constructor(
    private readonly base: string,
    private readonly eio: 3 | 4,
  ) {}

  static async open(url: string, query: string, eio: 3 | 4): Promise<RawPolling> {
    const client = new RawPolling(url + '/socket.io/', eio);
    const [open] = await client.get(`?${query}`);
    client.sid = (JSON.parse(open!.slice(1)) as { sid: string }).sid;
    return client;
  }

  private decode(body: string): string[] {
    if (this.eio === 4) return body.split('\x1e');
    const packets: string[] = []; // "<length>:<packet>" repeated (ASCII only here)
    for (let i = 0; i < body.length; ) {
      const colon = body.indexOf(':', i);
      const length = Number(body.slice(i, colon));
      packets.push(body.substr(colon + 1, length));
      i = colon + 1 + length;
    }
    return packets;
  }

  private async get(query = `?EIO=${this.eio}&transport=polling&sid=${this.sid}`): Promise<string[]> {
    const res = await fetch(this.base + query + (this.eio === 3 ? '&b64=1' : ''));
    const body = await res.text();
    expect(res.status, body).to.equal(200);
    const packets = this.decode(body);
    if (this.sid) this.responses.push(packets);
    return packets;
  }

  async send(...packets: string[]): Promise<void> {
    const body = this.eio === 4 ? packets.join('\x1e') : packets.map((p) => `${p.length}:${p}`).join('');
    const res = await fetch(`${this.base}?EIO=${this.eio}&transport=polling&sid=${this.sid}`, { method: 'POST', body, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
    expect(await res.text()).to.equal('ok');
  }

  /** Polls until a packet satisfies `match`; returns the socket.io packets (Engine.IO type 4 stripped) seen on the way. */
  async pollUntil(match: (packet: string) => boolean): Promise<string[]> {
    const seen: string[] = [];
    for (;;) {
      const packets = (await this.get()).filter((p) => p.startsWith('4')).map((p) => p.slice(1));
      seen.push(...packets);
      if (packets.some(match)) return seen;
    }
  }
}

for (const mode of MODES) {
  describe(`long-polling: packets per response and recovery offsets (${mode === 'memory' ? 'one node in memory' : 'cluster mode'})`, function () {
    const svc = inModeForSuite(mode);

    const cases = [
      // socket.io-client 4's handshake: gets the recovery offset.
      { client: 'Engine.IO v4, socket.io-client 4 URL', eio: 4, query: 'EIO=4&transport=polling&t=abc123', offsets: true },
      // python-engineio's: no offset.
      { client: 'Engine.IO v4, python-engineio URL', eio: 4, query: 'transport=polling&EIO=4&t=1733000000.123456', offsets: false },
      { client: 'Engine.IO v4, socket.io-client 4 URL with recoveryOffsets=0', eio: 4, query: 'recoveryOffsets=0&EIO=4&transport=polling&t=abc123', offsets: false },
      // socket.io-client 1.x/2.x never resume: no offset either.
      { client: 'Engine.IO v3 (socket.io-client 2.x URL)', eio: 3, query: 'EIO=3&transport=polling&t=NbT3x9k', offsets: false },
    ] as const;

    for (const c of cases) {
      it(`${c.client}: a burst of 100 comes in responses of at most ${MAX_PACKETS_PER_POLL} packets, in order, ${c.offsets ? 'with' : 'without'} the offset`, async () => {
        const room = `cap-${c.eio}-${c.offsets}-${c.query.length}`;
        const raw = await RawPolling.open(svc.url, c.query, c.eio);
        await raw.send('40/layout,');
        await raw.pollUntil((p) => p.startsWith('0/layout,'));
        await raw.send(`42/layout,1["JOIN",{"room":"${room}","name":"raw"}]`);
        await raw.pollUntil((p) => p.startsWith('3/layout,1'));

        const pub = await connect('v4', svc.url, '/layout');
        const acks = await Promise.all(Array.from({ length: 100 }, (_, i) => request(pub, 'NOTIFY', { room, message: i })));
        for (const ack of acks) expect(ack).to.include({ ok: true, recipients: 1 });
        const before = raw.responses.length;
        const events = (await raw.pollUntil((p) => p.includes('"message":99'))).filter((p) => p.startsWith('2/layout,'));

        const sizes = raw.responses.slice(before).map((r) => r.length);
        expect(Math.max(...sizes), `packets per response: ${sizes.join(', ')}`).to.be.at.most(MAX_PACKETS_PER_POLL);
        const args = events.map((p) => JSON.parse(p.slice('2/layout,'.length)) as unknown[]);
        expect(args.map((a) => (a[1] as { message: number }).message)).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
        expect(new Set(args.map((a) => a.length))).to.deep.equal(new Set([c.offsets ? 3 : 2]));
      });
    }
  });
}
