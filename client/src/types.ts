/** The shapes the service sends on /layout and /bus (docs/PROTOCOL.md sections 4 and 4a). */
import type { Position } from './cursor.js';

/** The socket.io namespaces with rooms to subscribe (the same protocol on both). */
export type RoomNamespace = 'layout' | 'bus';

/** Where a message sits in its room: offset 1, 2, 3… per epoch; `ts` the service's time (ms). */
export interface MessageMeta extends Position {
  ts: number;
}

/** One message as subscribers get it (`EVENT`). `sender` is `'POST'` for HTTP publications. */
export interface NotifyMessage<M = unknown> {
  room: string;
  sender: string;
  message: M;
  meta: MessageMeta;
}

/** What a publication's ack says: its offset in the room, and how many connections it went to. */
export interface PublishResult {
  offset: number;
  recipients: number;
}

/** A presence notice (JOIN with `presence: true`): another member joined or left. */
export interface PresenceNotice {
  room: string;
  id: string;
  name: string;
}
