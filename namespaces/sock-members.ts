/**
 * /sock connections as hub members (namespaces/sock.ts maps their frames to hub calls): the
 * subscriber that writes each delivery as one JSON text frame, who it is (its identity, kept in
 * presence so that every node can list it) and the participants of a topic read back from presence.
 */
import type { Principal } from '../lib/auth/principal.js';
import type { SockFrame } from '../lib/core/events.js';
import type { Hub } from '../lib/core/hub.js';
import { RoomNames } from '../lib/core/room-names.js';
import type { Envelope, Protocol, Publisher, Subscriber } from '../lib/core/types.js';
import type { Member } from '../lib/presence/types.js';
import { SharedFrame, type WsConnection } from '../lib/transport/index.js';

export const NS = '/sock';

/** Who a connection is, as every node reads it from presence. */
export interface Identity {
  /** Stable user id: the token's `sub`, the `?name=` of an anonymous connection, else its connection id. */
  scid: string;
  name: string;
  role: string;
}

export interface Participant extends Identity {
  /** The user's connection ids in the topic. */
  cids: string[];
  online: true;
}

export const frame = (action: string, fields: Omit<SockFrame, 'action' | 'timestamp'>): SockFrame => ({ action, ...fields, timestamp: new Date().toISOString() });

/** A delivery's frame, serialized and framed once however many subscribers it goes to. */
const encoded = new WeakMap<object, SharedFrame>();
function encode(value: SockFrame): SharedFrame {
  let shared = encoded.get(value);
  if (shared === undefined) encoded.set(value, (shared = new SharedFrame(JSON.stringify(value))));
  return shared;
}

/** A /sock connection as a hub member: held by the hub (no group), written to one JSON frame per delivery. */
export class SockMember implements Subscriber {
  readonly protocol: Protocol = 'sock';
  readonly ns = NS;
  readonly trusted = false;
  readonly group = undefined;
  readonly rooms = new RoomNames();
  readonly presenceName: string;
  /**
   * How it publishes. A /sock publication reaches every subscriber of the topic, the sender's own
   * connection included (the Awayto contract; socket.io publishers are skipped). The hub skips the
   * publisher whose `id` it is given, so the connection publishes as a publisher with no id but its
   * own rights: the sender then gets its copy through the same path as everyone, in the topic's
   * order, on whichever node it is.
   */
  readonly publisher: Publisher;
  closed = false;

  constructor(
    readonly conn: WsConnection,
    readonly auth: Principal | undefined,
    readonly identity: Identity,
  ) {
    this.presenceName = JSON.stringify(identity);
    this.publisher = { ns: NS, id: undefined, auth, trusted: false, source: 'sock' };
  }

  get id(): string {
    return this.conn.id;
  }

  get connected(): boolean {
    return !this.closed && this.conn.open;
  }

  /** A delivery of the hub: SOCK_MESSAGE or SOCK_NOTICE, whose one argument is the frame. */
  send(envelope: Envelope): void {
    const value = envelope.args[0];
    if (typeof value === 'object' && value !== null) this.conn.sendShared(encode(value as SockFrame));
  }

  sendFrame(value: SockFrame): void {
    this.conn.send(JSON.stringify(value));
  }

  unsentBytes(): number {
    return this.conn.unsentBytes();
  }
}

/** Each service's open /sock connections by id (a hub per service): what onMembersBack announces again. */
const registries = new WeakMap<Hub, Map<string, SockMember>>();
export function registryOf(core: Hub): Map<string, SockMember> {
  let registry = registries.get(core);
  if (!registry) registries.set(core, (registry = new Map()));
  return registry;
}

/** A presence entry's identity (another node's member included); a foreign entry stands for itself. */
export function identityOf(member: Member): Identity {
  try {
    const parsed = JSON.parse(member.name) as Partial<Identity>;
    if (typeof parsed.scid === 'string' && typeof parsed.name === 'string' && typeof parsed.role === 'string') {
      return { scid: parsed.scid, name: parsed.name, role: parsed.role };
    }
  } catch {
    // not one of ours
  }
  return { scid: member.id, name: member.name, role: '' };
}

/** Members grouped by user, in the order presence listed them. */
export function participants(members: Member[]): Participant[] {
  const byUser = new Map<string, Participant>();
  for (const member of members) {
    const identity = identityOf(member);
    const known = byUser.get(identity.scid);
    if (known) known.cids.push(member.id);
    else byUser.set(identity.scid, { scid: identity.scid, cids: [member.id], name: identity.name, role: identity.role, online: true });
  }
  return [...byUser.values()];
}
