/**
 * The wire contract in one place: every event a client may send, every event the server sends,
 * and the reply shapes. docs/PROTOCOL.md describes the same in prose.
 *
 * Client payloads arrive either as objects or as JSON strings (the 2-IMMERSE client library sends
 * `emit('JOIN', JSON.stringify({room, name}), ack)`); the namespace modules accept both.
 */
import type { ErrorBody } from './errors.js';
import type { MessageMeta, Position, RecoveryFailure } from '../history/types.js';

export type { MessageMeta, Position };

export type JsonString = string;

/** /layout and /bus */
export interface RoomClientEvents {
  /** `presence: true`: this membership gets JOINED / LEFT (RoomPresenceNotice) about the room's other members. */
  JOIN: (
    payload: { room: string; name?: string; since?: Position; presence?: boolean } | JsonString,
    ack?: Ack<{ room: string; name: string; presence?: true } & Partial<JoinRecovery>>,
  ) => void;
  LEAVE: (payload: { room: string } | JsonString, ack?: Ack<{ room: string; wasMember: boolean }>) => void;
  NOTIFY: (payload: { room: string; message: unknown; store?: boolean } | JsonString, ack?: Ack<{ room: string } & PublishReceipt>) => void;
  CLIENTS: (payload: { room: string } | JsonString, ack?: Ack<ClientsReply>) => void;
  HISTORY: (payload: { room: string; limit?: number; before?: Position } | JsonString, ack?: Ack<HistoryReply<EventEnvelope>>) => void;
}

/** What the ack of every publishing verb (and the HTTP publish reply) reports. */
export type PublishReceipt = {
  /** The message's offset in its room. */
  offset: number;
  /** How many connections it was sent to (the publisher excluded). */
  recipients: number;
};

/** Ack fields of a JOIN with `since`. */
export type JoinRecovery =
  | { recovered: true; replayed: number; epoch: string; offset: number }
  | { recovered: false; reason: RecoveryFailure; epoch: string; offset: number };

/** HISTORY ack fields, and the HISTORY event sent when there is no ack: oldest first. */
export interface HistoryReply<M> {
  room: string;
  messages: M[];
}

/** A /trigger message in a HISTORY reply. */
export interface TriggerHistoryItem {
  event: 'EVENTS' | 'UPDATES' | 'STATUS';
  data: unknown;
  meta: MessageMeta;
}

/** /lobby */
export interface LobbyClientEvents {
  JOIN: (lobbyId: string, ack?: Ack<{ lobby: string; id: string; peers: string[] }>) => void;
  LEAVE: (lobbyId: string, ack?: Ack<{ lobby: string }>) => void;
  BROADCAST: (payload: { message: unknown; store?: boolean } | JsonString, ack?: Ack<{ lobby: string } & PublishReceipt>) => void;
  HISTORY: (payload?: { limit?: number; before?: Position } | JsonString, ack?: Ack<HistoryReply<{ from: string; message: unknown; meta: MessageMeta }>>) => void;
  RTCSIGNAL: (payload: ({ to: string } & Record<string, unknown>) | JsonString, ack?: Ack<{ to: string }>) => void;
}

/** /trigger */
export interface TriggerClientEvents {
  JOIN: (id: string, options?: { since?: Position }, ack?: Ack<{ room: string } & Partial<JoinRecovery>>) => void;
  LEAVE: (id: string, ack?: Ack<{ room: string; wasMember: boolean }>) => void;
  BROADCAST_EVENTS: (id: string, data: unknown, options?: { store?: boolean }, ack?: Ack<{ room: string } & PublishReceipt>) => void;
  BROADCAST_UPDATES: (id: string, data: unknown, options?: { store?: boolean }, ack?: Ack<{ room: string } & PublishReceipt>) => void;
  BROADCAST_STATUS: (id: string, data: unknown, options?: { store?: boolean }, ack?: Ack<{ room: string } & PublishReceipt>) => void;
  HISTORY: (id: string, options?: { limit?: number; before?: Position }, ack?: Ack<HistoryReply<TriggerHistoryItem>>) => void;
}

/** /chat (Avaya Spaces-style channels): a channel as clients name it. */
export interface ChatChannel {
  _id: string;
  type: 'topic';
}

/** /chat: who sent a message or a presence event, from the connection's identity (never from the payload). */
export interface ChatSender {
  _id: string;
  displayname: string;
  /** 'service' for a message published over HTTP (sender `POST`). */
  type: 'user' | 'service';
}

/** /chat message content: `cid` is set by the server to the sender's `_id`. */
export interface ChatContent {
  bodyText: string;
  data?: unknown[];
  description?: string;
  assignees?: unknown[];
  status?: string;
  dueDate?: string;
  cid: string;
}

/** /chat MESSAGE_SENT: a message as every subscriber of its channel gets it. */
export interface ChatMessage {
  _id: string;
  category: 'chat' | 'idea' | 'task';
  /** A client's content; a message published over HTTP carries the request body as it is. */
  content: ChatContent | unknown;
  topicId: string;
  created: string;
  parentMsg?: string;
  sender: ChatSender;
  /** In the sending connection's copy only. */
  loopbackMetadata?: unknown;
  meta?: MessageMeta;
}

export interface ChatFailure {
  channel: unknown;
  error: ErrorBody;
}

export interface ChatPresenceEvent {
  channel: ChatChannel;
  category: string;
  content?: unknown;
  sender: ChatSender;
}

/** /chat: every verb also answers with an event (below); the ack, when given, carries the same. */
export interface ChatClientEvents {
  SUBSCRIBE_CHANNEL: (payload: { channel: ChatChannel; since?: Position } | JsonString, ack?: Ack<ChatSubscribed>) => void;
  UNSUBSCRIBE_CHANNEL: (payload: { channel: ChatChannel } | JsonString, ack?: Ack<{ channel: ChatChannel }>) => void;
  SEND_MESSAGE: (
    payload:
      | { category: string; content: { bodyText: string } & Record<string, unknown>; topicId: string; created?: string; parentMsg?: string; loopbackMetadata?: unknown }
      | JsonString,
    ack?: Ack<{ topicId: string; _id: string } & PublishReceipt>,
  ) => void;
  GET_HISTORY: (payload: { channel: ChatChannel; limit?: number; before?: Position } | JsonString, ack?: Ack<ChatHistory>) => void;
  SEND_PRESENCE_EVENT: (payload: { channel: ChatChannel; category: string; content?: unknown } | JsonString, ack?: Ack<{ channel: ChatChannel }>) => void;
}

export type ChatSubscribed = { channel: ChatChannel; sessionId: string } & Partial<JoinRecovery>;

export interface ChatHistory {
  channel: ChatChannel;
  messages: ChatMessage[];
}

export interface ClientsReply {
  room: string;
  clients: string[];
}

/**
 * Fan-out envelope of /layout and /bus. `sender` is the publisher's display name. `meta` is added
 * by the core's publish path (lib/history/types.ts).
 */
export interface EventEnvelope {
  sender: string;
  room: string;
  message: unknown;
  meta?: MessageMeta;
}

/**
 * /layout and /bus JOINED / LEFT, sent only to the members that joined the room with
 * `presence: true`: another member (`id` its connection id, the same on every node) joined, or
 * left (LEAVE, disconnect, its node died), under `name` (what CLIENTS lists).
 */
export interface RoomPresenceNotice {
  room: string;
  id: string;
  name: string;
}

export interface ErrorEvent extends ErrorBody {
  /** The client event that failed. */
  event: string;
}

/**
 * /sock (plain WebSocket, namespaces/sock.ts): a frame as it goes out. The connection writes it as
 * one JSON text frame; `meta` is added by the core's publish path to a published message.
 */
export interface SockFrame {
  action: string;
  timestamp: string;
  topic?: string;
  sender?: string;
  payload?: unknown;
  store?: boolean;
  meta?: MessageMeta;
  historical?: true;
}

export interface ServerEvents {
  EVENT: (envelope: EventEnvelope) => void;
  CLIENTS: (reply: ClientsReply) => void;
  PEERS: (peers: string[]) => void;
  /** /lobby: the peer's id, to the whole lobby; /layout and /bus: a RoomPresenceNotice, to the room's presence watchers. */
  JOINED: (who: string | RoomPresenceNotice) => void;
  LEFT: (who: string | RoomPresenceNotice) => void;
  MESSAGE: (message: { from: string; message: unknown; meta?: MessageMeta }) => void;
  RTCSIGNAL: (signal: Record<string, unknown> & { from: string }) => void;
  /** Trigger events carry their meta as a trailing argument: `data` may be any JSON value. */
  EVENTS: (data: unknown, meta?: MessageMeta) => void;
  UPDATES: (data: unknown, meta?: MessageMeta) => void;
  STATUS: (data: unknown, meta?: MessageMeta) => void;
  /** /layout, /lobby, /trigger: `{room, messages}`; /chat: `{channel, messages}`. */
  HISTORY: (reply: HistoryReply<unknown> | ChatHistory) => void;
  ERROR: (error: ErrorEvent) => void;
  CHANNEL_SUBSCRIBED: (reply: ChatSubscribed) => void;
  CHANNEL_UNSUBSCRIBED: (reply: { channel: ChatChannel }) => void;
  MESSAGE_SENT: (message: ChatMessage) => void;
  PRESENCE_EVENT_RESPONSE: (event: ChatPresenceEvent) => void;
  SUBSCRIBE_CHANNEL_FAILED: (failure: ChatFailure) => void;
  UNSUBSCRIBE_CHANNEL_FAILED: (failure: ChatFailure) => void;
  GET_HISTORY_FAILED: (failure: ChatFailure) => void;
  SEND_PRESENCE_EVENT_FAILED: (failure: ChatFailure) => void;
  SEND_MESSAGE_FAILED: (failure: { topicId: unknown; loopbackMetadata?: unknown; type?: string; error: ErrorBody }) => void;
  /** /sock: a published message (with meta), delivered to every subscriber of the topic, the sender included. */
  SOCK_MESSAGE: (frame: SockFrame) => void;
  /** /sock: a notice about a participant (subscribe-topic, unsubscribe-topic). */
  SOCK_NOTICE: (frame: SockFrame) => void;
}

export type AckReply<T> = ({ ok: true } & T) | { ok: false; error: ErrorBody };
export type Ack<T> = (reply: AckReply<T>) => void;
