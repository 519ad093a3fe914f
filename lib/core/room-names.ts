/**
 * room -> display name of one connection: a Map that keeps its first entry inline. Most
 * connections are in one room, and an idle connection's Map (object plus hash table) costs
 * ~190 bytes of heap; this costs ~50 until a second room is joined.
 */
export class RoomNames {
  private room: string | undefined = undefined;
  private name: string | undefined = undefined;
  private more: Map<string, string> | undefined = undefined;

  get size(): number {
    return (this.room === undefined ? 0 : 1) + (this.more?.size ?? 0);
  }

  has(room: string): boolean {
    return this.room === room || (this.more?.has(room) ?? false);
  }

  get(room: string): string | undefined {
    return this.room === room ? this.name : this.more?.get(room);
  }

  set(room: string, name: string): this {
    if (this.room === room || (this.room === undefined && !this.more?.has(room))) {
      this.room = room;
      this.name = name;
    } else {
      (this.more ??= new Map()).set(room, name);
    }
    return this;
  }

  delete(room: string): boolean {
    if (this.room !== room) return this.more?.delete(room) ?? false;
    this.room = this.name = undefined;
    return true;
  }

  keys(): string[] {
    const rooms = this.more ? [...this.more.keys()] : [];
    if (this.room !== undefined) rooms.unshift(this.room);
    return rooms;
  }

  clear(): void {
    this.room = this.name = this.more = undefined;
  }
}
