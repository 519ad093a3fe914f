/**
 * Who is in which room, under which display name: the interface every presence store meets. The
 * memory store (memory.ts) serves a single node; the cluster store (redis.ts) implements the same
 * interface so handlers never know the difference.
 */
export interface Member {
  /** socket id */
  id: string;
  name: string;
}

/** The contract every store meets is test/contracts/presence.contract.ts. */
export interface PresenceStore {
  /** Adds the member, or renames it when its id is in the room already. */
  add(namespace: string, room: string, member: Member): Promise<void>;
  /** Removes a member this store added (a cluster node removes its own only); absent: nothing happens. */
  remove(namespace: string, room: string, id: string): Promise<void>;
  /** Every member once, in no particular order. */
  list(namespace: string, room: string): Promise<Member[]>;
  has(namespace: string, room: string, id: string): Promise<boolean>;
  count(namespace: string, room: string): Promise<number>;
  /** Takes every member this store added out of presence; may be called more than once. */
  close(): Promise<void>;
}
