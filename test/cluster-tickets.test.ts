/**
 * Tickets in cluster mode: issued by one node, redeemed once on any other (they live in Redis).
 */
import { expect } from 'chai';
import { ALL_ROOMS, hsToken, refusal, secretAuth } from './helpers/auth.js';
import { closeAll, connect, request } from './helpers/clients.js';
import { clusterNodesForSuite } from './helpers/cluster.js';
import type { Running } from './helpers/service.js';

describe('cluster: tickets across nodes', function () {
  const nodes = clusterNodesForSuite('tickets', 2, { auth: secretAuth() });
  afterEach(closeAll);

  async function ticketFrom(url: string): Promise<string> {
    const token = await hsToken({ sub: 'u-bob', name: 'Bob', rooms: ALL_ROOMS });
    const res = await fetch(`${url}/ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(res.status).to.equal(200);
    return ((await res.json()) as { ticket: string }).ticket;
  }

  it('a ticket from node A connects on node B once, with the identity of its token', async () => {
    const [a, b] = nodes() as [Running, Running];
    const ticket = await ticketFrom(a.url);
    const client = await connect('v4', b.url, '/layout', { query: { ticket } });
    expect(await request(client, 'JOIN', { room: 'x', name: 'mallory' })).to.deep.equal({ ok: true, room: 'x', name: 'Bob' });
    // Used: refused on either node.
    for (const url of [a.url, b.url]) {
      expect(await refusal('v4', url, '/layout', { query: { ticket } })).to.deep.equal({ code: 'UNAUTHORIZED', message: 'invalid ticket' });
    }
  });

  it('a forged auth code burns the ticket on every node', async () => {
    const [a, b] = nodes() as [Running, Running];
    const ticket = await ticketFrom(a.url);
    const [id] = ticket.split(':');
    const forged = `${id}:${'A'.repeat(43)}`;
    expect(await refusal('v4', b.url, '/layout', { query: { ticket: forged } })).to.deep.equal({ code: 'UNAUTHORIZED', message: 'invalid ticket' });
    expect(await refusal('v4', a.url, '/layout', { query: { ticket } })).to.deep.equal({ code: 'UNAUTHORIZED', message: 'invalid ticket' });
  });
});
