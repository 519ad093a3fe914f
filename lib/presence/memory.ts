/** Presence on a single node: the members of each room in this process's memory. */
import type { Member, PresenceStore } from './types.js';

/** Maps all the way down: room names such as `__proto__` are plain keys here. */
export class MemoryPresence implements PresenceStore {
  private readonly rooms = new Map<string, Map<string, string>>();

  private static key(namespace: string, room: string): string {
    return `${namespace}\u0000${room}`;
  }

  async add(namespace: string, room: string, member: Member): Promise<void> {
    const key = MemoryPresence.key(namespace, room);
    let members = this.rooms.get(key);
    if (!members) this.rooms.set(key, (members = new Map()));
    members.set(member.id, member.name);
  }

  async remove(namespace: string, room: string, id: string): Promise<void> {
    const key = MemoryPresence.key(namespace, room);
    const members = this.rooms.get(key);
    if (!members) return;
    members.delete(id);
    if (members.size === 0) this.rooms.delete(key);
  }

  async list(namespace: string, room: string): Promise<Member[]> {
    const members = this.rooms.get(MemoryPresence.key(namespace, room));
    return members ? [...members].map(([id, name]) => ({ id, name })) : [];
  }

  async has(namespace: string, room: string, id: string): Promise<boolean> {
    return this.rooms.get(MemoryPresence.key(namespace, room))?.has(id) ?? false;
  }

  async count(namespace: string, room: string): Promise<number> {
    return this.rooms.get(MemoryPresence.key(namespace, room))?.size ?? 0;
  }

  async close(): Promise<void> {
    this.rooms.clear();
  }
}
