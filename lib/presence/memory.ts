/** Presence on a single node: the members of each room in this process's memory. */
import { decodeMember, encodeMember, MARK, pageOfRooms, type Member, type PresenceStore, type RoomCount, type RoomQuery } from './types.js';

/**
 * A member as this store keeps it. The usual entry, a socket.io connection without a user, is its
 * name alone: the very string its room membership holds, so it costs nothing. The rest are marked
 * (encodeMember), without the node, which is always this one: the encoded entry with this node's
 * id was ~160 bytes per member (a 36-character id in two cons strings of JSON.stringify's parts).
 */
export function storedMember(member: Member): string {
  if (member.protocol === 'socketio' && member.user == null && !member.name.startsWith(MARK)) return member.name;
  if (member.protocol === undefined) return MARK + JSON.stringify([member.name]);
  return encodeMember(member, undefined);
}

export function readStoredMember(id: string, value: string, node: string | undefined): Member {
  const member: Member = value.startsWith(MARK) ? decodeMember(id, value) : { id, name: value, user: null, protocol: 'socketio' };
  if (member.protocol !== undefined && node !== undefined) member.node = node;
  return member;
}

/** Maps all the way down: room names such as `__proto__` are plain keys here. */
export class MemoryPresence implements PresenceStore {
  /** room key -> socket id -> the member as storedMember writes it (one string, as in Redis). */
  private readonly byRoom = new Map<string, Map<string, string>>();

  /** `nodeId`: what a connection's entry lists as its `node`. */
  constructor(private readonly nodeId?: string) {}

  private static key(namespace: string, room: string): string {
    return `${namespace}\u0000${room}`;
  }

  add(namespace: string, room: string, member: Member): void {
    const key = MemoryPresence.key(namespace, room);
    let members = this.byRoom.get(key);
    if (!members) this.byRoom.set(key, (members = new Map()));
    members.set(member.id, storedMember(member));
  }

  remove(namespace: string, room: string, id: string): void {
    const key = MemoryPresence.key(namespace, room);
    const members = this.byRoom.get(key);
    if (!members) return;
    members.delete(id);
    if (members.size === 0) this.byRoom.delete(key);
  }

  async list(namespace: string, room: string): Promise<Member[]> {
    const members = this.byRoom.get(MemoryPresence.key(namespace, room));
    return members ? [...members].map(([id, value]) => readStoredMember(id, value, this.nodeId)) : [];
  }

  async has(namespace: string, room: string, id: string): Promise<boolean> {
    return this.byRoom.get(MemoryPresence.key(namespace, room))?.has(id) ?? false;
  }

  async count(namespace: string, room: string): Promise<number> {
    return this.byRoom.get(MemoryPresence.key(namespace, room))?.size ?? 0;
  }

  async rooms(query: RoomQuery): Promise<{ rooms: RoomCount[]; more: boolean }> {
    const all: RoomCount[] = [];
    for (const [key, members] of this.byRoom) {
      const cut = key.indexOf('\u0000');
      all.push({ namespace: key.slice(0, cut), room: key.slice(cut + 1), members: members.size });
    }
    return pageOfRooms(all, query);
  }

  async close(): Promise<void> {
    this.byRoom.clear();
  }
}
