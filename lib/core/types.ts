/**
 * The vocabulary every part shares: what a room delivery is (Envelope), who receives it
 * (Subscriber, MemberGroup), who publishes (Publisher), and the error codes. Types only: any module
 * may import this file without pulling in an implementation (and without an import cycle).
 *
 * The hub (lib/core/hub.ts) owns rooms and fan-out in these terms; a protocol (namespaces/, and the
 * socket.io binding in lib/core/socketio-members.ts) turns its connections into subscribers; a
 * broker (lib/broker/) carries envelopes between nodes.
 */
import type { AuthState } from '../auth/principal.js';
import type { RoomNames } from './room-names.js';

export type { ErrorBody, ErrorCode } from './errors.js';

export type MaybePromise<T> = T | Promise<T>;

/** Added to every message as it goes out (`meta`). */
export interface MessageMeta {
  /** Per room, +1 per message, starting at 1 in each epoch. */
  offset: number;
  /** Changes whenever the room's history is lost; compare for equality only (the store orders them by time). */
  epoch: string;
  /** Server time of publication, ms since 1970. */
  ts: number;
}

/** What a client sends to resume: the meta of the last message it got (ts is not needed). */
export interface Position {
  offset: number;
  epoch: string;
}

/**
 * One delivery to the members of a room: a message (with its meta) or a notice about a member
 * (lobby JOINED / LEFT, without). `args` are the event's arguments exactly as a socket.io member
 * receives them (the meta inside them for a message: lib/history/types.ts META_STYLE); other
 * protocols write the same content in their own framing.
 */
export interface Envelope {
  readonly ns: string;
  readonly room: string;
  readonly event: string;
  readonly args: unknown[];
  readonly meta: MessageMeta | undefined;
}

/**
 * Rare events about clients that the metrics count (lib/metrics/metrics.ts): every protocol reaches
 * them through the hub (`core.counts`); without metrics they do nothing.
 */
export interface ClientCounts {
  /** A coded error sent to a client (ack, ERROR event, /sock error frame, SSE error event). */
  error(code: string): void;
  /** A request refused by a rate limit. */
  limited(limit: 'events' | 'bytes' | 'connections' | 'control'): void;
  /** A connection closed for not reading its messages. */
  slowConsumer(): void;
}

/** The protocols a subscriber can speak (metrics and logs name them so). */
export type Protocol = 'socketio' | 'sock' | 'sse';

/** Who publishes: a connection, or the server side (an HTTP publisher with an API key, a node's notice). */
export interface Publisher {
  readonly ns: string;
  /** A connection's id, unique in the cluster: it never receives its own publication. */
  readonly id: string | undefined;
  /** Identity and rights from the credentials (auth on). */
  readonly auth: AuthState | undefined;
  /** Authorized already (an API key was checked): the hub asks no rights. */
  readonly trusted: boolean;
  /**
   * Where its publications come from, for the metrics (`notify_messages_published_total{source}`);
   * absent: `http` for a trusted publisher without a connection, else its namespace's (hub.publishSource).
   */
  readonly source?: PublishSource;
}

/** Where a publication came from: a socket.io verb, an HTTP call, a /sock frame, a /chat message. */
export type PublishSource = 'socket' | 'http' | 'sock' | 'chat';

/**
 * A member of rooms: a socket.io socket, a plain WebSocket, an SSE response. The hub keeps the
 * members of every room; a member delivers what it is sent in its own framing and keeps its own
 * send buffer (a slow reader is cut by its transport, never waited for by the hub).
 */
export interface Subscriber extends Publisher {
  readonly id: string;
  readonly protocol: Protocol;
  /** The rooms it is in, with the display name it joined each under. */
  readonly rooms: RoomNames;
  /** False once its connection closed: a join that finishes later leaves no ghost behind. */
  readonly connected: boolean;
  /**
   * Members that are written to together (socket.io's: one encoding per broadcast, held in
   * socket.io's adapter rooms); absent, the hub holds the member itself and calls `send` for it.
   */
  readonly group: MemberGroup | undefined;
  /** Writes one delivery (or replayed message) to this member, in order with everything else. */
  send(envelope: Envelope): void;
  /** Bytes written to it and not yet sent: its backpressure. */
  unsentBytes(): number;
  /**
   * What presence lists it under in every room, in place of the name it joined with (a /sock
   * participant: its user, name and role, which the other nodes read from presence).
   */
  readonly presenceName?: string;
  /**
   * Told, on a join with a position, whether what it missed was replayed (`reason` when not: the
   * history's RecoveryFailure), in the join's synchronous block: before any live message of the room.
   */
  onRecovery?(room: string, recovered: boolean, reason: string | undefined): void;
}

/**
 * The members of one protocol in one namespace, delivered to as a group: socket.io's encodes a
 * broadcast once and writes the same frame to every member (lib/core/socketio-members.ts).
 */
export interface MemberGroup {
  /** Adds a member to a room; synchronous for an in-memory room (a join and its replay are one block). */
  add(member: Subscriber, room: string): MaybePromise<void>;
  remove(member: Subscriber, room: string): MaybePromise<void>;
  /** Members of the room on this node. */
  count(room: string): number;
  /**
   * Writes a delivery to the group's members of the room on this node, except `except`; answers
   * how many it wrote to (the metrics).
   * `streamOffset`: the cluster stream entry it came from (connection-state recovery resumes from it).
   */
  deliver(envelope: Envelope, except: string | undefined, streamOffset: string | undefined): number;
  /** Each room of the group with members on this node, and how many (read when metrics are scraped). */
  roomSizes(): Iterable<[string, number]>;
  /** Sends to one member by id, on whichever node it is. */
  sendTo(id: string, event: string, args: unknown[]): void;
}
