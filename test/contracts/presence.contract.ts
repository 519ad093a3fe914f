/**
 * The presence contract (lib/presence/types.ts PresenceStore), written once and run against every store:
 * what the lobby and CLIENTS rely on. `list` order is not part of it (a Redis hash has none), so
 * lists are compared sorted.
 */
import { expect } from 'chai';
import type { Member, PresenceStore } from '../../lib/presence/types.js';

export interface PresenceUnderTest {
  /** Opens a store on the backend; for a shared backend, one more node of the same cluster. */
  open(): Promise<PresenceStore>;
  /** Whether stores opened on the backend see each other's members (a cluster's nodes do). */
  shared: boolean;
  cleanup(): Promise<void>;
}

const sorted = (members: Member[]): Member[] => [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

export function describePresenceContract(name: string, factory: () => Promise<PresenceUnderTest>): void {
  describe(`presence contract: ${name}`, () => {
    let backend: PresenceUnderTest;
    let store: PresenceStore;
    const opened: PresenceStore[] = [];
    const open = async (): Promise<PresenceStore> => {
      const s = await backend.open();
      opened.push(s);
      return s;
    };
    /** Each case gets rooms of its own, so stores of a shared backend never see another case's. */
    let n = 0;
    let room: (name?: string) => string;

    /** list, count and has of a room, together. */
    const state = async (s: PresenceStore, ns: string, r: string, ids: string[] = []) => ({
      list: sorted(await s.list(ns, r)),
      count: await s.count(ns, r),
      has: await Promise.all(ids.map((id) => s.has(ns, r, id))),
    });

    before(async () => {
      backend = await factory();
    });
    beforeEach(async () => {
      const prefix = `case${++n}`;
      room = (suffix = '') => `${prefix}${suffix}`;
      store = await open();
    });
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });
    after(async () => {
      await backend?.cleanup();
    });

    it('an empty room: no member, count 0, has false', async () => {
      expect(await state(store, '/layout', room(), ['a'])).to.deep.equal({ list: [], count: 0, has: [false] });
    });

    it('add: list, count and has show the member with its name', async () => {
      await store.add('/layout', room(), { id: 'a', name: 'alice' });
      await store.add('/layout', room(), { id: 'b', name: 'bob' });
      expect(await state(store, '/layout', room(), ['a', 'b', 'c'])).to.deep.equal({
        list: [
          { id: 'a', name: 'alice' },
          { id: 'b', name: 'bob' },
        ],
        count: 2,
        has: [true, true, false],
      });
    });

    it('add is idempotent per id; adding an id again renames it', async () => {
      await store.add('/layout', room(), { id: 'a', name: 'alice' });
      await store.add('/layout', room(), { id: 'a', name: 'alice' });
      expect(await state(store, '/layout', room())).to.deep.equal({ list: [{ id: 'a', name: 'alice' }], count: 1, has: [] });
      await store.add('/layout', room(), { id: 'a', name: 'Alice ✓' });
      expect(await state(store, '/layout', room())).to.deep.equal({ list: [{ id: 'a', name: 'Alice ✓' }], count: 1, has: [] });
    });

    it('remove takes out that member only; removing an absent member, or from an unknown room, changes nothing', async () => {
      await store.add('/layout', room(), { id: 'a', name: 'alice' });
      await store.add('/layout', room(), { id: 'b', name: 'bob' });
      await store.remove('/layout', room(), 'a');
      expect(await state(store, '/layout', room(), ['a', 'b'])).to.deep.equal({ list: [{ id: 'b', name: 'bob' }], count: 1, has: [false, true] });
      await store.remove('/layout', room(), 'a');
      await store.remove('/layout', room(), 'nobody');
      await store.remove('/layout', room('-unknown'), 'b');
      expect(await state(store, '/layout', room(), ['b'])).to.deep.equal({ list: [{ id: 'b', name: 'bob' }], count: 1, has: [true] });
      await store.remove('/layout', room(), 'b');
      expect(await state(store, '/layout', room(), ['b'])).to.deep.equal({ list: [], count: 0, has: [false] });
      // A room emptied is a room like any other: it fills again.
      await store.add('/layout', room(), { id: 'b', name: 'bob' });
      expect(await store.count('/layout', room())).to.equal(1);
    });

    it('concurrent adds and removes: every member once, whatever the order', async () => {
      const members = Array.from({ length: 60 }, (_, i) => ({ id: `id${String(i).padStart(2, '0')}`, name: `name ${i}` }));
      await Promise.all(members.map((m) => store.add('/layout', room(), m)));
      expect(await state(store, '/layout', room())).to.deep.equal({ list: members, count: 60, has: [] });
      await Promise.all(members.filter((_, i) => i % 3 === 0).map((m) => store.remove('/layout', room(), m.id)));
      const left = members.filter((_, i) => i % 3 !== 0);
      expect(await state(store, '/layout', room())).to.deep.equal({ list: left, count: 40, has: [] });
    });

    it('keeps namespaces and rooms apart: a member in several rooms leaves one only', async () => {
      const rooms = [room(), room(':x'), room('|x'), room(' '), room('\nx'), room('X').toUpperCase()];
      for (const [i, r] of rooms.entries()) await store.add('/layout', r, { id: 'a', name: `in ${i}` });
      await store.add('/lobby', room(), { id: 'b', name: 'lobby' });
      for (const [i, r] of rooms.entries()) expect(await state(store, '/layout', r, ['a', 'b']), JSON.stringify(r)).to.deep.equal({ list: [{ id: 'a', name: `in ${i}` }], count: 1, has: [true, false] });
      expect(await state(store, '/lobby', room(), ['a', 'b'])).to.deep.equal({ list: [{ id: 'b', name: 'lobby' }], count: 1, has: [false, true] });
      expect(await state(store, '/trigger', room(), ['a', 'b'])).to.deep.equal({ list: [], count: 0, has: [false, false] });
      await store.remove('/layout', room(':x'), 'a');
      expect(await store.has('/layout', room(':x'), 'a')).to.equal(false);
      for (const r of rooms.filter((r) => r !== room(':x'))) expect(await store.has('/layout', r, 'a'), JSON.stringify(r)).to.equal(true);
      expect(await store.has('/lobby', room(), 'b')).to.equal(true);
    });

    it('room names, ids and names of any text round-trip: unicode, object-property names, long ones', async () => {
      const odd = [room('salle ✓ 🚀 ひらがな'), '__proto__', 'constructor', room('x'.repeat(500))];
      const members = [
        { id: 'a', name: 'Zoë ✓ 🚀 漢字' },
        { id: '__proto__', name: 'proto' },
        { id: 'hasOwnProperty', name: '__proto__' },
        { id: 'l', name: 'n'.repeat(1000) },
      ];
      const ns = `/layout-${room()}`; // the shared room names above are this case's own in this namespace
      for (const r of odd) for (const m of members) await store.add(ns, r, m);
      for (const r of odd) expect(await state(store, ns, r, members.map((m) => m.id)), r.slice(0, 40)).to.deep.equal({ list: sorted(members), count: 4, has: [true, true, true, true] });
      for (const r of odd) await store.remove(ns, r, '__proto__');
      for (const r of odd) expect(await store.has(ns, r, '__proto__')).to.equal(false);
      expect(await store.count(ns, odd[1]!)).to.equal(3);
    });

    it('close() is idempotent and takes the store’s members out of presence', async () => {
      await store.add('/layout', room(), { id: 'a', name: 'alice' });
      await store.add('/layout', room('-2'), { id: 'a', name: 'alice' });
      const other = await open();
      await Promise.all([store.close(), store.close()]);
      await store.close();
      expect(await state(other, '/layout', room(), ['a'])).to.deep.equal({ list: [], count: 0, has: [false] });
      expect(await other.count('/layout', room('-2'))).to.equal(0);
    });

    it('stores on one backend: a cluster’s nodes see each other’s members and each removes only its own; separate memory stores see nothing of each other', async () => {
      const other = await open();
      await store.add('/layout', room(), { id: 'a', name: 'alice' });
      await other.add('/layout', room(), { id: 'b', name: 'bob' });
      // Ids that are names of object properties are ids like any other, on the other node too.
      await other.add('/layout', room(), { id: '__proto__', name: 'proto' });
      await other.remove('/layout', room(), '__proto__');
      await other.add('/layout', room('-proto'), { id: '__proto__', name: 'proto' });
      const proto = { list: [{ id: '__proto__', name: 'proto' }], count: 1, has: [true] };
      expect(await state(store, '/layout', room('-proto'), ['__proto__'])).to.deep.equal(backend.shared ? proto : { list: [], count: 0, has: [false] });
      const both = { list: [{ id: 'a', name: 'alice' }, { id: 'b', name: 'bob' }], count: 2, has: [true, true] };
      if (backend.shared) {
        expect(await state(store, '/layout', room(), ['a', 'b'])).to.deep.equal(both);
        expect(await state(other, '/layout', room(), ['a', 'b'])).to.deep.equal(both);
        await other.remove('/layout', room(), 'a'); // not its member
        expect(await store.count('/layout', room())).to.equal(2);
        await store.remove('/layout', room(), 'a');
        expect(await state(other, '/layout', room(), ['a', 'b'])).to.deep.equal({ list: [{ id: 'b', name: 'bob' }], count: 1, has: [false, true] });
        await other.close();
        expect(await state(store, '/layout', room(), ['b'])).to.deep.equal({ list: [], count: 0, has: [false] });
      } else {
        expect(await state(store, '/layout', room(), ['a', 'b'])).to.deep.equal({ list: [{ id: 'a', name: 'alice' }], count: 1, has: [true, false] });
        expect(await state(other, '/layout', room(), ['a', 'b'])).to.deep.equal({ list: [{ id: 'b', name: 'bob' }], count: 1, has: [false, true] });
      }
    });

    it('a connection’s entry keeps its user and protocol and is listed with its store’s node; other entries stay {id, name}', async () => {
      const other = await open();
      await store.add('/layout', room(), { id: 'a', name: 'Ann', user: 'ann', protocol: 'socketio' });
      await store.add('/layout', room(), { id: 'b', name: '\u0001marked', user: null, protocol: 'sse' });
      await store.add('/layout', room(), { id: 'c', name: '\u0001plain' });
      await other.add('/layout', room(), { id: 'd', name: 'Dan', user: 'dan', protocol: 'sock' });
      const listed = sorted(await store.list('/layout', room()));
      const node = listed[0]!.node;
      expect(node).to.be.a('string');
      expect(listed.slice(0, 3)).to.deep.equal([
        { id: 'a', name: 'Ann', user: 'ann', protocol: 'socketio', node },
        { id: 'b', name: '\u0001marked', user: null, protocol: 'sse', node },
        { id: 'c', name: '\u0001plain' },
      ]);
      if (backend.shared) {
        expect(listed[3]).to.deep.include({ id: 'd', name: 'Dan', user: 'dan', protocol: 'sock' });
        expect(listed[3]!.node).to.be.a('string').and.not.equal(node);
      } else {
        expect(listed).to.have.length(3);
      }
      // Renaming keeps it a connection's entry.
      await store.add('/layout', room(), { id: 'a', name: 'Ann 2', user: 'ann', protocol: 'socketio' });
      expect((await store.list('/layout', room())).find((m) => m.id === 'a')).to.deep.equal({ id: 'a', name: 'Ann 2', user: 'ann', protocol: 'socketio', node });
    });

    it('rooms(): rooms with members by namespace then room, filtered by namespace and prefix, paged after a position', async () => {
      const ns = `/rooms-${room()}`;
      const other = await open();
      await store.add(ns, 'b-2', { id: 'a', name: 'a' });
      await store.add(ns, 'b-2', { id: 'b', name: 'b' });
      await store.add(ns, 'a-1', { id: 'a', name: 'a' });
      await store.add(ns, 'b-1', { id: 'a', name: 'a' });
      await store.add(`${ns}x`, 'b-1', { id: 'a', name: 'a' });
      await other.add(ns, 'b-3', { id: 'c', name: 'c' });
      await store.add(ns, 'gone', { id: 'a', name: 'a' });
      await store.remove(ns, 'gone', 'a');
      const b3 = backend.shared ? [{ namespace: ns, room: 'b-3', members: 1 }] : [];
      expect(await store.rooms({ namespace: ns, limit: 10 })).to.deep.equal({
        rooms: [{ namespace: ns, room: 'a-1', members: 1 }, { namespace: ns, room: 'b-1', members: 1 }, { namespace: ns, room: 'b-2', members: 2 }, ...b3],
        more: false,
      });
      const first = await store.rooms({ namespace: ns, prefix: 'b-', limit: 1 });
      expect(first).to.deep.equal({ rooms: [{ namespace: ns, room: 'b-1', members: 1 }], more: true });
      const second = await store.rooms({ namespace: ns, prefix: 'b-', limit: 1, after: first.rooms[0]! });
      expect(second).to.deep.equal({ rooms: [{ namespace: ns, room: 'b-2', members: 2 }], more: backend.shared });
      // A prefix is text, not a pattern.
      await store.add(ns, '*[x]?\\', { id: 'a', name: 'a' });
      expect((await store.rooms({ namespace: ns, prefix: '*[x]?\\', limit: 10 })).rooms).to.deep.equal([{ namespace: ns, room: '*[x]?\\', members: 1 }]);
      expect((await store.rooms({ namespace: ns, prefix: '*', limit: 10 })).rooms.map((r) => r.room)).to.deep.equal(['*[x]?\\']);
      const all = await store.rooms({ prefix: 'b-1', limit: 1000 });
      expect(all.rooms.filter((r) => r.namespace.startsWith(ns))).to.deep.equal([
        { namespace: ns, room: 'b-1', members: 1 },
        { namespace: `${ns}x`, room: 'b-1', members: 1 },
      ]);
    });
  });
}
