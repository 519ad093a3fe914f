/**
 * The broker contract (lib/broker/types.ts Broker), written once and run against every broker:
 * what the hub relies on. A publication gets the room's next offset under the room's epoch, its
 * meta goes into its arguments, and it is handed to this node's deliver callback exactly once, in
 * offset order, with its namespace, room, event, arguments, meta and `except`; `since` and `page`
 * answer from the room's history.
 *
 * A single-node broker delivers in the publication's synchronous block; a cluster broker delivers
 * what this node reads back from the cluster stream, later: the suite waits for deliveries as they
 * are recorded (never for time), and shows that nothing came twice with a marker publication made
 * after the others (deliveries of one node come in publication order, so once the marker is in,
 * a duplicate before it would be in too).
 */
import { expect } from 'chai';
import type { Broker } from '../../lib/broker/types.js';
import type { Envelope } from '../../lib/core/types.js';
import { metaOf, type HistoryEntry, type MessageMeta, type Position, type Recovery } from '../../lib/history/types.js';

export interface BrokerUnderTest {
  readonly broker: Broker;
  /** Deliveries come back from the cluster stream (asynchronously, each with its stream entry id). */
  readonly viaStream: boolean;
  close(): Promise<void>;
}

export interface BrokerBackend {
  /** A broker of its own: no room of another one is seen. */
  open(): Promise<BrokerUnderTest>;
  cleanup(): Promise<void>;
}

/** One call of the deliver callback. */
export interface Delivery {
  envelope: Envelope;
  except: string | undefined;
  streamOffset: string | undefined;
}

/** Every delivery a broker hands this node, in order, and a way to wait for the ones to come. */
class Deliveries {
  readonly all: Delivery[] = [];
  private waiters: Array<{ done: () => boolean; resolve: () => void }> = [];

  constructor(broker: Broker) {
    broker.onDeliver((envelope, except, streamOffset) => {
      this.all.push({ envelope, except, streamOffset });
      this.waiters = this.waiters.filter((w) => {
        if (!w.done()) return true;
        w.resolve();
        return false;
      });
    });
  }

  /** The deliveries to ns/room, in the order they came. */
  of(ns: string, room: string): Delivery[] {
    return this.all.filter((d) => d.envelope.ns === ns && d.envelope.room === room);
  }

  /** Resolves once `done()` holds (checked at each delivery); fails the test after 5 s. */
  until(what: string, done: () => boolean, ms = 5000): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: not delivered within ${ms} ms (${this.all.length} deliveries)`)), ms);
      this.waiters.push({
        done,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Resolves once ns/room has had `count` deliveries. */
  count(ns: string, room: string, count: number): Promise<void> {
    return this.until(`${count} deliveries to ${ns} ${room}`, () => this.of(ns, room).length >= count);
  }

  /**
   * Publishes a marker to a room of its own and waits for it: every delivery of a publication
   * made before it (and any duplicate of one) has come by then.
   */
  async settle(broker: Broker): Promise<void> {
    const room = `marker-${this.all.length}`;
    await broker.publish('/layout', room, 'EVENT', [{ sender: 'marker', room, message: null }], undefined);
    await this.count('/layout', room, 1);
  }
}

const offsets = (items: Array<{ meta: MessageMeta | undefined }>): Array<number | undefined> => items.map((i) => i.meta?.offset);
const envelopes = (ds: Delivery[]): Envelope[] => ds.map((d) => d.envelope);
const event = (room: string, message: unknown): unknown[] => [{ sender: 's', room, message }];

/** A broker's answer to a JOIN since, completed as the hub completes it (nothing is delivered in between). */
async function since(broker: Broker, ns: string, room: string, position: Position): Promise<Recovery> {
  const found = broker.since(ns, room, position);
  if (!(found instanceof Promise)) return found;
  return (await found)(true)!;
}

export function describeBrokerContract(name: string, factory: () => Promise<BrokerBackend>): void {
  describe(`broker contract: ${name}`, () => {
    let backend: BrokerBackend;
    let under: BrokerUnderTest;
    let broker: Broker;
    let delivered: Deliveries;

    /** n EVENTs to ns/room one after the other (each awaited), except `except`; their metas and arguments. */
    const publish = async (n: number, room = 'r', ns = '/layout', except?: string): Promise<Array<{ meta: MessageMeta; args: unknown[] }>> => {
      const out: Array<{ meta: MessageMeta; args: unknown[] }> = [];
      for (let i = 0; i < n; i++) {
        const args = event(room, i);
        out.push({ meta: await broker.publish(ns, room, 'EVENT', args, except), args });
      }
      return out;
    };

    before(async () => {
      backend = await factory();
    });
    beforeEach(async () => {
      under = await backend.open();
      broker = under.broker;
      delivered = new Deliveries(broker);
    });
    afterEach(async () => {
      await under?.close();
    });
    after(async () => {
      await backend?.cleanup();
    });

    it('publish: offsets 1, 2, 3 under one epoch per room; the meta is in the arguments when publish returns', async () => {
      const field = event('r', 'hello');
      const first = await broker.publish('/layout', 'r', 'EVENT', field, undefined);
      expect(first).to.include({ offset: 1 });
      expect(first.epoch).to.be.a('string').and.not.equal('');
      expect(first.ts).to.be.a('number');
      // EVENT carries it in a `meta` field, STATUS as a trailing argument (lib/history/types.ts attachMeta).
      expect(field).to.deep.equal([{ sender: 's', room: 'r', message: 'hello', meta: first }]);
      expect(metaOf('EVENT', field)).to.deep.equal(first);
      const trailing: unknown[] = [{ state: 'ready' }];
      const second = await broker.publish('/layout', 'r', 'STATUS', trailing, undefined);
      expect(trailing).to.deep.equal([{ state: 'ready' }, second]);
      expect(metaOf('STATUS', trailing)).to.deep.equal(second);
      const [third] = await publish(1);
      expect([first, second, third!.meta].map((m) => m.offset)).to.deep.equal([1, 2, 3]);
      expect(new Set([first, second, third!.meta].map((m) => m.epoch)).size).to.equal(1);
    });

    it('delivers every publication exactly once, in offset order, with its ns, room, event, arguments, meta and except', async () => {
      const count = 20;
      // Concurrent publications: the order they are given offsets in is the order they are delivered in.
      const sent = Array.from({ length: count }, (_, i) => ({ args: event('r', i), except: i % 2 ? `socket-${i}` : undefined }));
      const metas = await Promise.all(sent.map((s) => broker.publish('/layout', 'r', 'EVENT', s.args, s.except)));
      await delivered.count('/layout', 'r', count);
      await delivered.settle(broker);
      const got = delivered.of('/layout', 'r');
      expect(got).to.have.length(count);
      expect(offsets(envelopes(got))).to.deep.equal(Array.from({ length: count }, (_, i) => i + 1));
      for (const d of got) {
        // Which publication this is: by its payload; it went out as published, with the meta publish gave it.
        const i = (d.envelope.args[0] as { message: number }).message;
        expect(d.envelope).to.deep.equal({ ns: '/layout', room: 'r', event: 'EVENT', args: sent[i]!.args, meta: metas[i] });
        expect(metaOf(d.envelope.event, d.envelope.args)).to.deep.equal(metas[i]);
        expect(d.except).to.equal(sent[i]!.except);
      }
    });

    it(`hands deliveries over as a single node or a cluster does: at once, or from the stream in its order`, async () => {
      const before = delivered.all.length;
      const publication = broker.publish('/bus', 'now', 'EVENT', event('now', 1), 'me');
      if (!under.viaStream) {
        // In the publication's synchronous block: a JOIN replay and the live messages cannot cross.
        expect(publication).to.not.be.an.instanceOf(Promise);
        expect(delivered.all.slice(before)).to.have.length(1);
        expect(delivered.all[before]).to.deep.include({ except: 'me', streamOffset: undefined });
        return;
      }
      await publication;
      await publish(3, 'now', '/bus');
      await delivered.count('/bus', 'now', 4);
      const ids = delivered.of('/bus', 'now').map((d) => d.streamOffset);
      for (const id of ids) expect(id).to.match(/^\d+-\d+$/);
      const order = (id: string) => id.split('-').map(Number) as [number, number];
      for (let i = 1; i < ids.length; i++) {
        const [a, b] = [order(ids[i - 1]!), order(ids[i]!)];
        expect(a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]), `stream ids in order: ${ids.join(', ')}`).to.equal(true);
      }
    });

    it('announce: a notice is delivered once, without meta, with its except, in order with the room\'s messages; no offset is taken', async () => {
      await publish(1, 'n');
      // (a message of another namespace's room 'n' first: independent of this one)
      await broker.announce({ ns: '/bus', room: 'n', event: 'JOINED', args: ['peer-1'], meta: undefined }, 'peer-1');
      await publish(1, 'n', '/bus');
      await broker.announce({ ns: '/bus', room: 'n', event: 'LEFT', args: ['peer-1'], meta: undefined }, undefined);
      await delivered.count('/bus', 'n', 3);
      await delivered.settle(broker);
      const got = delivered.of('/bus', 'n');
      expect(got.map((d) => d.envelope.event)).to.deep.equal(['JOINED', 'EVENT', 'LEFT']);
      expect(got[0]).to.deep.include({ except: 'peer-1' });
      expect(got[0]!.envelope).to.deep.equal({ ns: '/bus', room: 'n', event: 'JOINED', args: ['peer-1'], meta: undefined });
      expect(got[2]).to.deep.include({ except: undefined });
      // The message between them is the room's first: notices take no offset.
      expect(got[1]!.envelope.meta?.offset).to.equal(1);
    });

    it('rooms and namespaces are independent: offsets, epochs and deliveries of their own', async () => {
      const targets = [
        ['/layout', 'a'],
        ['/layout', 'b'],
        ['/bus', 'a'],
      ] as const;
      const metas = new Map<string, MessageMeta[]>(targets.map(([ns, room]) => [`${ns} ${room}`, []]));
      // Interleaved: a, b, a on the other namespace, a, ...
      for (let i = 0; i < 9; i++) {
        const [ns, room] = targets[i % 3]!;
        const args = [{ sender: 's', room, message: `${ns}${room}${i}` }];
        metas.get(`${ns} ${room}`)!.push(await broker.publish(ns, room, 'EVENT', args, undefined));
      }
      for (const [ns, room] of targets) await delivered.count(ns, room, 3);
      await delivered.settle(broker);
      const epochs = new Set<string>();
      for (const [ns, room] of targets) {
        const mine = metas.get(`${ns} ${room}`)!;
        expect(mine.map((m) => m.offset), `${ns} ${room}`).to.deep.equal([1, 2, 3]);
        expect(new Set(mine.map((m) => m.epoch)).size).to.equal(1);
        epochs.add(mine[0]!.epoch);
        const got = envelopes(delivered.of(ns, room));
        expect(got.map((e) => e.meta), `deliveries to ${ns} ${room}`).to.deep.equal(mine);
        for (const e of got) expect((e.args[0] as { message: string }).message.startsWith(`${ns}${room}`)).to.equal(true);
      }
      expect(epochs.size, 'one epoch per room and namespace').to.equal(3);
      expect(delivered.of('/bus', 'b')).to.deep.equal([]);
    });

    it('since: exactly the publications after the position, as delivered; none at the head; UNKNOWN_OFFSET beyond it; EPOCH_CHANGED for another epoch', async () => {
      const sent = await publish(4);
      await delivered.count('/layout', 'r', 4);
      const epoch = sent[0]!.meta.epoch;
      const head = { offset: 4, epoch };
      const missed = await since(broker, '/layout', 'r', { offset: 1, epoch });
      expect(missed).to.deep.include({ recovered: true, head });
      const asDelivered = envelopes(delivered.of('/layout', 'r')).map(({ event, args, meta }) => ({ event, args, meta }));
      expect(missed.recovered && missed.entries).to.deep.equal(asDelivered.slice(1));
      expect(await since(broker, '/layout', 'r', { offset: 0, epoch })).to.deep.include({ recovered: true, entries: asDelivered });
      expect(await since(broker, '/layout', 'r', head)).to.deep.equal({ recovered: true, entries: [], head });
      expect(await since(broker, '/layout', 'r', { offset: 5, epoch })).to.deep.equal({ recovered: false, reason: 'UNKNOWN_OFFSET', head });
      expect(await since(broker, '/layout', 'r', { offset: 1, epoch: 'another' })).to.deep.equal({ recovered: false, reason: 'EPOCH_CHANGED', head });
      // The same position in another namespace, or another room, is another epoch's.
      expect(await since(broker, '/bus', 'r', { offset: 1, epoch })).to.deep.include({ recovered: false, reason: 'EPOCH_CHANGED' });
      expect(await since(broker, '/layout', 'other', { offset: 1, epoch })).to.deep.include({ recovered: false, reason: 'EPOCH_CHANGED' });
      // More publications: the old position now misses them too, and only them.
      await publish(2);
      await delivered.count('/layout', 'r', 6);
      const later = await since(broker, '/layout', 'r', head);
      expect(later).to.deep.include({ recovered: true, head: { offset: 6, epoch } });
      expect(later.recovered && offsets(later.entries)).to.deep.equal([5, 6]);
    });

    it('page: oldest first, the most recent `limit`, before a position; another room or namespace has its own', async () => {
      const sent = await publish(6);
      await publish(2, 'r', '/bus');
      const epoch = sent[0]!.meta.epoch;
      const entries: HistoryEntry[] = sent.map(({ meta, args }) => ({ event: 'EVENT', args, meta }));
      expect(await broker.page('/layout', 'r', 100)).to.deep.equal(entries);
      expect(await broker.page('/layout', 'r', 2)).to.deep.equal(entries.slice(4));
      expect(await broker.page('/layout', 'r', 2, { epoch, offset: 4 })).to.deep.equal(entries.slice(1, 3));
      expect(await broker.page('/layout', 'r', 100, { epoch, offset: 3 })).to.deep.equal(entries.slice(0, 2));
      expect(await broker.page('/layout', 'r', 100, { epoch, offset: 1 })).to.deep.equal([]);
      expect(await broker.page('/layout', 'r', 0)).to.deep.equal([]);
      expect(offsets(await broker.page('/bus', 'r', 100))).to.deep.equal([1, 2]);
      expect(await broker.page('/layout', 'never', 10)).to.deep.equal([]);
    });

    it('close() may be called twice', async () => {
      await publish(1);
      broker.close();
      broker.close();
    });
  });
}
