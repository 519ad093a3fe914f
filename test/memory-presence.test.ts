import { expect } from 'chai';
import { MemoryPresence, readStoredMember, storedMember } from '../lib/presence/memory.js';
import { decodeMember, encodeMember, type Member } from '../lib/presence/types.js';

describe('MemoryPresence entries (a socket.io member without a user is its name alone)', () => {
  const members: Member[] = [
    { id: 'a', name: 'ann', user: null, protocol: 'socketio' },
    { id: 'b', name: 'bob', user: 'u-1', protocol: 'socketio' },
    { id: 'c', name: '\u0001odd', user: null, protocol: 'socketio' },
    { id: 'd', name: 'dee', user: null, protocol: 'sock' },
    { id: 'e', name: 'eve', user: 'u-2', protocol: 'sse' },
    { id: 'f', name: 'fay' },
    { id: 'g', name: '\u0001marked' },
    { id: 'h', name: '["json",null]', user: null, protocol: 'socketio' },
  ];

  it('lists every member as the encoded entry with the node did', () => {
    for (const node of ['node-1', undefined]) {
      for (const member of members) {
        expect(readStoredMember(member.id, storedMember(member), node)).to.deep.equal(decodeMember(member.id, encodeMember(member, node)));
      }
    }
  });

  it('keeps the name string itself for a socket.io member without a user (no string per member)', async () => {
    const presence = new MemoryPresence('node-1');
    const name = ['c', 'arl'].join('');
    await presence.add('/layout', 'room', { id: 'x', name, user: null, protocol: 'socketio' });
    const byRoom = (presence as unknown as { byRoom: Map<string, Map<string, string>> }).byRoom;
    expect([...byRoom.values()][0]!.get('x')).to.equal(name);
    expect(await presence.list('/layout', 'room')).to.deep.equal([{ id: 'x', name, user: null, protocol: 'socketio', node: 'node-1' }]);
  });
});
