/**
 * How far this node's cluster adapter has delivered the shared stream (cluster mode).
 *
 * Every node reads the adapter's Redis stream in order and delivers each entry to its local
 * members. Room messages are written to that stream by the same Lua script that gives them their
 * offset (lib/history/redis.ts), so on every node they are delivered in offset order. A client
 * that resumes a room on this node must get from the room's history exactly the messages this node
 * has delivered already (the ones after it arrive live once it has joined), and the cursor says
 * which those are:
 *
 * - `processed(ns)`: the id of the last stream entry of the namespace this node delivered; every
 *   entry up to it has been delivered, none after it;
 * - `lastOfRoom(ns, key)`: the id of the last broadcast delivered to an adapter room (`r:<room>`,
 *   or a socket id), remembered for a few minutes, so a resume can tell whether something for its
 *   rooms was delivered between its read from Redis and its join (then it reads again).
 */

/** A Redis stream id ("<ms>-<seq>") as a comparable pair. */
export function compareStreamIds(a: string, b: string): number {
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const ma = Number(a.slice(0, da));
  const mb = Number(b.slice(0, db));
  if (ma !== mb) return ma < mb ? -1 : 1;
  const sa = Number(a.slice(da + 1));
  const sb = Number(b.slice(db + 1));
  return sa === sb ? 0 : sa < sb ? -1 : 1;
}

/** How long a node waits for its reader to deliver its own marker entry. */
const MARKER_WAIT_MS = 2000;

/**
 * How long a resume waits for this node to deliver the last message the client saw (on another
 * node, further along the stream): normally a few ms.
 */
export const CATCH_UP_WAIT_MS = 2000;

/** How long the last delivered id of a quiet room is remembered: far beyond any read-to-join window. */
const ROOM_MEMORY_MS = 5 * 60_000;

interface Waiter {
  id: string;
  resolve: () => void;
}

export class DeliveryCursor {
  private readonly namespaces = new Map<string, string>();
  /** ns -> adapter room -> last delivered id (no object per message: the id's time says its age). */
  private readonly rooms = new Map<string, Map<string, string>>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly timer: NodeJS.Timeout;

  /**
   * @param writeMarker writes an entry of `ns` to the stream that no adapter acts on, resolving with
   *   its id (undefined when it cannot): how a node that has delivered nothing yet learns where its
   *   reader is.
   */
  constructor(
    private readonly writeMarker: (ns: string) => Promise<string | undefined>,
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.forget(), ROOM_MEMORY_MS);
    this.timer.unref();
  }

  /** Called by the adapter after it delivered stream entry `id` of `ns` (to the adapter rooms `rooms`, for a broadcast). */
  delivered(ns: string, id: string, rooms: readonly string[] | undefined): void {
    this.namespaces.set(ns, id);
    if (rooms) {
      let last = this.rooms.get(ns);
      if (!last) this.rooms.set(ns, (last = new Map()));
      for (const key of rooms) last.set(key, id);
    }
    const waiting = this.waiters.get(ns);
    if (!waiting) return;
    const still = waiting.filter((w) => {
      if (compareStreamIds(w.id, id) > 0) return true;
      w.resolve();
      return false;
    });
    if (still.length) this.waiters.set(ns, still);
    else this.waiters.delete(ns);
  }

  processed(ns: string): string | undefined {
    return this.namespaces.get(ns);
  }

  lastOfRoom(ns: string, key: string): string | undefined {
    return this.rooms.get(ns)?.get(key);
  }

  /**
   * The last entry of `ns` delivered here. When there is none yet (a node that just started), a
   * marker entry is written and waited for, so that everything before it counts as delivered (it
   * was before this node's reader started, or delivered since). Undefined when Redis cannot tell.
   */
  async position(ns: string): Promise<string | undefined> {
    const current = this.namespaces.get(ns);
    if (current !== undefined) return current;
    const marker = await this.writeMarker(ns).catch(() => undefined);
    if (marker === undefined || !(await this.reached(ns, marker, MARKER_WAIT_MS))) return undefined;
    return this.namespaces.get(ns);
  }

  /** Resolves once the entry `id` of `ns` (or a later one) has been delivered here, false after `timeoutMs`. */
  reached(ns: string, id: string, timeoutMs: number): Promise<boolean> {
    const current = this.namespaces.get(ns);
    if (current !== undefined && compareStreamIds(current, id) >= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const list = this.waiters.get(ns);
        if (list) this.waiters.set(ns, list.filter((w) => w !== waiter));
        resolve(false);
      }, timeoutMs);
      const waiter: Waiter = {
        id,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const list = this.waiters.get(ns) ?? [];
      list.push(waiter);
      this.waiters.set(ns, list);
    });
  }

  private forget(): void {
    // Stream ids start with Redis's clock in ms; minutes of margin cover any skew with ours.
    const cutoff = this.now() - ROOM_MEMORY_MS;
    for (const last of this.rooms.values()) {
      for (const [key, id] of last) if (Number(id.slice(0, id.indexOf('-'))) < cutoff) last.delete(key);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.rooms.clear();
  }
}
