/**
 * The wire contract in one place: every event a client may send, every event the server sends,
 * and the reply shapes. docs/PROTOCOL.md describes the same in prose.
 *
 * Client payloads arrive either as objects or as JSON strings (the 2-IMMERSE client library sends
 * `emit('JOIN', JSON.stringify({room, name}), ack)`); the namespace modules accept both.
 */
import type { ErrorBody } from './errors.js';

export type JsonString = string;

/** /layout and /bus */
export interface RoomClientEvents {
  JOIN: (payload: { room: string; name?: string } | JsonString, ack?: Ack<{ room: string; name: string }>) => void;
  LEAVE: (payload: { room: string } | JsonString, ack?: Ack<{ room: string; wasMember: boolean }>) => void;
  NOTIFY: (payload: { room: string; message: unknown } | JsonString, ack?: Ack<{ room: string }>) => void;
  CLIENTS: (payload: { room: string } | JsonString, ack?: Ack<ClientsReply>) => void;
}

/** /lobby */
export interface LobbyClientEvents {
  JOIN: (lobbyId: string, ack?: Ack<{ lobby: string; id: string; peers: string[] }>) => void;
  LEAVE: (lobbyId: string, ack?: Ack<{ lobby: string }>) => void;
  BROADCAST: (payload: { message: unknown } | JsonString, ack?: Ack<{ lobby: string }>) => void;
  RTCSIGNAL: (payload: ({ to: string } & Record<string, unknown>) | JsonString, ack?: Ack<{ to: string }>) => void;
}

/** /trigger */
export interface TriggerClientEvents {
  JOIN: (id: string, ack?: Ack<{ room: string }>) => void;
  LEAVE: (id: string, ack?: Ack<{ room: string; wasMember: boolean }>) => void;
  BROADCAST_EVENTS: (id: string, data: unknown, ack?: Ack<{ room: string }>) => void;
  BROADCAST_UPDATES: (id: string, data: unknown, ack?: Ack<{ room: string }>) => void;
  BROADCAST_STATUS: (id: string, data: unknown, ack?: Ack<{ room: string }>) => void;
}

export interface ClientsReply {
  room: string;
  clients: string[];
}

/** Fan-out envelope of /layout and /bus. `sender` is the publisher's display name. */
export interface EventEnvelope {
  sender: string;
  room: string;
  message: unknown;
}

export interface ErrorEvent extends ErrorBody {
  /** The client event that failed. */
  event: string;
}

export interface ServerEvents {
  EVENT: (envelope: EventEnvelope) => void;
  CLIENTS: (reply: ClientsReply) => void;
  PEERS: (peers: string[]) => void;
  JOINED: (id: string) => void;
  LEFT: (id: string) => void;
  MESSAGE: (message: { from: string; message: unknown }) => void;
  RTCSIGNAL: (signal: Record<string, unknown> & { from: string }) => void;
  EVENTS: (data: unknown) => void;
  UPDATES: (data: unknown) => void;
  STATUS: (data: unknown) => void;
  ERROR: (error: ErrorEvent) => void;
}

export type AckReply<T> = ({ ok: true } & T) | { ok: false; error: ErrorBody };
export type Ack<T> = (reply: AckReply<T>) => void;
