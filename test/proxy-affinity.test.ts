/**
 * Two nodes in cluster mode behind a real HAProxy run with deploy/haproxy.cfg (affinity by client
 * address, the rule deploy/docker-compose.yml gives Traefik with `strategy=hrw`). Clients that keep
 * no cookies (socket.io-client 1.7 and 2.x in Node, and 4.x without withCredentials) on their default
 * transports (long-polling, then the upgrade to WebSocket) from several client addresses must connect
 * and talk across nodes; with round robin (the same file, `balance roundrobin`) they must not.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultAbuseLimits } from '../lib/auth/config.js';
import { clusterNodesForSuite, waitUntil } from './helpers/cluster.js';
import { closeAll, connect, next, request, VERSIONS, type ClientVersion, type TestClient } from './helpers/clients.js';
import { HAPROXY_CFG, requireHaproxyOrSkip, startHaproxy, variantOf, writeHaproxyPem, type Haproxy } from './helpers/haproxy.js';
import type { Running } from './helpers/service.js';

/** Client source addresses: all of 127.0.0.0/8 is loopback on Linux, so clients can bind to these. */
const ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7'];

/** Default transports (polling first, then upgrade), no cookies, from `address`, through TLS. */
function viaProxy(version: ClientVersion, proxy: Haproxy, address: string, listeners: Record<string, (...a: any[]) => void> = {}): Promise<TestClient> {
  const agent = new https.Agent({ localAddress: address, rejectUnauthorized: false });
  return connect(version, proxy.url, '/layout', { extra: { transports: ['polling', 'websocket'], upgrade: true, agent }, listeners });
}

interface EngineSocket {
  transport: { name: string };
  request: { headers: Record<string, string | string[] | undefined> };
}
/** The client address HAProxy forwarded (the replicas run with TRUST_PROXY behind it). */
function addressOf(s: EngineSocket): string {
  return String(s.request.headers['x-forwarded-for']).split(',').pop()!.trim();
}
/** The Engine.IO sessions a node holds for clients from ADDRESSES (not the raw handshakes from 127.0.0.1). */
function engineClients(node: Running): EngineSocket[] {
  const all = Object.values((node.service.io.engine as unknown as { clients: Record<string, EngineSocket> }).clients);
  return all.filter((s) => ADDRESSES.includes(addressOf(s)));
}

/** GET over HTTPS through the proxy (self-signed certificate), from 127.0.0.1. */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/** An Engine.IO v3 long-polling handshake, then the first poll of that session, both through `proxy`. */
async function handshakeThenPoll(proxy: Haproxy): Promise<{ status: number; body: string }> {
  const handshake = await get(`${proxy.url}/socket.io/?EIO=3&transport=polling&t=a`);
  expect(handshake.status).to.equal(200);
  const sid = /"sid":"([^"]+)"/.exec(handshake.body)?.[1];
  expect(sid, handshake.body).to.be.a('string');
  return get(`${proxy.url}/socket.io/?EIO=3&transport=polling&t=b&sid=${encodeURIComponent(sid!)}`);
}

describe('behind HAProxy with deploy/haproxy.cfg: affinity by client address', function () {
  this.timeout(20_000);
  // Before the nodes start: without haproxy there is nothing to start them for.
  before(function () {
    requireHaproxyOrSkip(this);
  });
  const nodes = clusterNodesForSuite('proxy', 2, { abuse: { ...defaultAbuseLimits(), trustProxy: true } });
  let dir = '';
  let byAddress: Haproxy;
  let roundRobin: Haproxy;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ns-haproxy-'));
    const pem = await writeHaproxyPem(dir);
    const backends = nodes().map((n) => `127.0.0.1:${n.port}`);
    byAddress = await startHaproxy(HAPROXY_CFG, pem, backends);
    roundRobin = await startHaproxy(variantOf(dir, 'balance source', 'balance roundrobin'), pem, backends);
  });
  after(async () => {
    await byAddress?.stop();
    await roundRobin?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(closeAll);

  it('the polls of one long-polling session reach the node that holds it (400 "Session ID unknown" with round robin)', async () => {
    for (let i = 0; i < 3; i++) {
      const poll = await handshakeThenPoll(byAddress);
      expect(poll.status, poll.body).to.equal(200);
    }
    // Round robin sends the second request to the other node, which does not know the session.
    const poll = await handshakeThenPoll(roundRobin);
    expect(poll.status).to.equal(400);
    expect(poll.body).to.include('Session ID unknown');
  });

  it('an SSE stream over HTTPS through the proxy gets each message as it is published (nothing buffered on the way)', async () => {
    const events: string[] = [];
    let got: () => void = () => undefined;
    const request = https.get(`${byAddress.url}/events/layout/proxied`, { rejectUnauthorized: false, headers: { accept: 'text/event-stream' } });
    const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => request.once('response', resolve).once('error', reject));
    expect(response.statusCode).to.equal(200);
    expect(response.headers['content-type']).to.match(/^text\/event-stream/);
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.startsWith('data: ')) events.push(line.slice(6));
      got();
    });
    try {
      await waitUntil('the stream joined', () => nodes().some((n) => n.service.core.localCount('/layout', 'proxied') === 1));
      // One at a time: each must come through before the next is published.
      for (const n of [1, 2, 3]) {
        const arrived = new Promise<void>((resolve) => (got = () => events.length >= n && resolve()));
        const res = await fetch(`${nodes()[n % 2]!.url}/publish/layout/proxied`, { method: 'POST', body: String(n) });
        expect(res.status).to.equal(200);
        await arrived;
        expect(JSON.parse(events[n - 1]!).message).to.equal(n);
      }
    } finally {
      request.destroy();
    }
  });

  it('v1.7, v2 and v4 clients on default transports from 6 addresses connect, upgrade, JOIN and get NOTIFYs across nodes', async () => {
    const disconnects: string[] = [];
    const clients = await Promise.all(
      ADDRESSES.flatMap((address) =>
        VERSIONS.map(async (version) => {
          const client = await viaProxy(version, byAddress, address, { disconnect: (why: string) => disconnects.push(`${version}@${address}: ${why}`) });
          return { client, address, name: `${version}@${address}` };
        }),
      ),
    );
    // Every session upgraded to WebSocket on the node that held its long-polling session.
    await waitUntil('every client upgraded to WebSocket', () => {
      const all = nodes().flatMap(engineClients);
      return all.length === clients.length && all.every((s) => s.transport.name === 'websocket');
    }, 10_000);

    // Each address is served by one node only, and the hash spread the addresses over both nodes.
    const nodesOf = new Map<string, Set<number>>();
    nodes().forEach((node, i) => {
      for (const s of engineClients(node)) {
        const address = addressOf(s);
        nodesOf.set(address, (nodesOf.get(address) ?? new Set()).add(i));
      }
    });
    expect([...nodesOf.keys()]).to.have.members(ADDRESSES);
    for (const [address, on] of nodesOf) expect(on.size, `clients of ${address} on nodes ${[...on]}`).to.equal(1);
    const nodeOf = (address: string) => [...nodesOf.get(address)!][0]!;
    expect(new Set(ADDRESSES.map(nodeOf)).size, 'both nodes serve some addresses').to.equal(2);

    for (const c of clients) {
      expect(await request(c.client, 'JOIN', JSON.stringify({ room: 'behind-proxy', name: c.name }))).to.include({ ok: true });
    }
    // A sender on each node; every other client, on both nodes, gets the EVENT once.
    for (const node of [0, 1]) {
      const sender = clients.find((c) => nodeOf(c.address) === node)!;
      const others = clients.filter((c) => c !== sender);
      const received = others.map((c) => next(c.client, 'EVENT'));
      expect(await request(sender.client, 'NOTIFY', JSON.stringify({ room: 'behind-proxy', message: { from: sender.name } }))).to.include({ ok: true });
      for (const got of await Promise.all(received)) {
        expect(got).to.deep.include({ sender: sender.name, room: 'behind-proxy', message: { from: sender.name } });
      }
    }
    expect(disconnects).to.deep.equal([]);
  });

  for (const version of VERSIONS) {
    it(`${version} on default transports does not stay connected with round robin instead (control: the rule is what makes it work)`, async () => {
      const outcome = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('still connected'), 6000);
        const done = (what: string) => {
          clearTimeout(timer);
          resolve(what);
        };
        viaProxy(version, roundRobin, ADDRESSES[0]!, { disconnect: (why: string) => done(`disconnect: ${why}`) }).catch((err: Error) =>
          done(`connect_error: ${err.message}`),
        );
      });
      expect(outcome).to.not.equal('still connected');
    });
  }
});

describe('deploy/docker-compose.yml gives Traefik the rule tested above', () => {
  const compose = readFileSync(fileURLToPath(new URL('../../deploy/docker-compose.yml', import.meta.url)), 'utf8');
  const active = compose.split('\n').filter((line) => !line.trim().startsWith('#'));

  it('strategy=hrw (affinity by client address) on a Traefik image that has it (3.6 or later), and no sticky cookie', () => {
    expect(active.some((line) => /^\s*- traefik\.http\.services\.notify\.loadbalancer\.strategy=hrw\s*$/i.test(line))).to.equal(true);
    const image = /^\s*image:\s*traefik:v(\d+)\.(\d+)/m.exec(active.join('\n'));
    expect(image, 'a traefik:vX.Y image').to.not.equal(null);
    const [major, minor] = [Number(image![1]), Number(image![2])];
    expect(major > 3 || (major === 3 && minor >= 6), `traefik v${major}.${minor}`).to.equal(true);
    // Traefik ignores sticky.cookie under hrw; a label there would only mislead.
    expect(active.filter((line) => /loadbalancer\.sticky/i.test(line))).to.deep.equal([]);
  });
});
