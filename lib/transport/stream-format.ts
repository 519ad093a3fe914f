/**
 * The entry format of the Redis Streams adapter's stream (@socket.io/redis-streams-adapter, pinned
 * in package.json), owned here and nowhere else. The adapter's format is private: the history's
 * publish script writes room broadcasts in it (lib/history/redis.ts), the delivery cursor writes
 * markers, connection-state recovery reads broadcasts back (lib/history/cluster-recovery.ts).
 * test/stream-format.test.ts holds this module to the real adapter, and internals.ts checks at
 * start that the installed adapter still encodes and decodes entries this way.
 *
 * An entry: fields `uid` (the writing adapter's id), `nsp`, `type` (socket.io-adapter's MessageType
 * as decimal text) and, for a broadcast, `data`: the JSON of `{ packet, opts }` (a text starting
 * with `{`; base64 msgpack otherwise, for binary payloads, which this service never publishes).
 */
import { MessageType } from 'socket.io-adapter';
import { PacketType } from 'socket.io-parser';

/** The fields of a stream entry as XRANGE answers them. */
export type StreamFields = Record<string, string | undefined>;

/** The uid of room messages: no adapter has it, so every node delivers them, the publisher's too. */
export const ROOM_MESSAGE_UID = 'notify-room-message';
/** Markers (DeliveryCursor.position): a type no adapter acts on, which every node's reader passes. */
const MARKER_UID = 'notify-marker';
const MARKER_TYPE = '99';
const BROADCAST_TYPE = String(MessageType.BROADCAST);

/** A marker entry for namespace `nsp`: read and passed by every node's adapter, acted on by none. */
export function markerEntry(nsp: string): Record<string, string> {
  return { uid: MARKER_UID, nsp, type: MARKER_TYPE };
}

/** What a room broadcast carries: `nsp.to(...rooms).except(...except).emit(event, ...args)`. */
export interface RoomBroadcast {
  nsp: string;
  rooms: string[];
  except: string[];
  event: string;
}

/**
 * A broadcast entry with the event's arguments left out, for a writer that puts them in later
 * (the publish script, which adds the offset it takes): `fields` are XADD's names and values in
 * order, the last value being the `data` text before the arguments; `after` follows them.
 */
export interface BroadcastTemplate {
  fields: string[];
  after: string;
}

/**
 * The template socket.io's cluster adapter would write for `broadcast`, with ROOM_MESSAGE_UID (the
 * packet also names its namespace, which the adapter leaves to socket.io-adapter's broadcast).
 */
export function roomBroadcastTemplate(broadcast: RoomBroadcast): BroadcastTemplate {
  const opts = JSON.stringify({ rooms: broadcast.rooms, except: broadcast.except, flags: {} });
  const before = `{"opts":${opts},"packet":{"type":${PacketType.EVENT},"nsp":${JSON.stringify(broadcast.nsp)},"data":[${JSON.stringify(broadcast.event)},`;
  return { fields: ['uid', ROOM_MESSAGE_UID, 'nsp', broadcast.nsp, 'type', BROADCAST_TYPE, 'data', before], after: ']}}' };
}

/** The template's entry with `argsJson` (the arguments' JSON, comma-separated, not empty) filled in. */
export function fillBroadcast(template: BroadcastTemplate, argsJson: string): Record<string, string> {
  const entry: Record<string, string> = {};
  const { fields } = template;
  for (let i = 0; i < fields.length; i += 2) entry[fields[i]!] = fields[i + 1]!;
  const dataField = fields[fields.length - 2]!;
  entry[dataField] += argsJson + template.after;
  return entry;
}

/** A broadcast entry read back: the packet's data (event and arguments), its rooms and exceptions. */
export interface ParsedBroadcast {
  data: unknown[];
  rooms: Set<string>;
  except: Set<string>;
}

interface BroadcastData {
  requestId?: string;
  packet?: { type: number; data: unknown[] };
  opts?: { rooms: string[]; except: string[]; flags?: { volatile?: boolean; compress?: boolean; timeout?: number } };
}

/** A broadcast entry of namespace `nsp` that goes to sockets as an event (no ack, not volatile), or undefined. */
export function parseBroadcast(entry: StreamFields, nsp: string): ParsedBroadcast | undefined {
  if (entry.nsp !== nsp || entry.type !== BROADCAST_TYPE || !entry.data?.startsWith('{')) return undefined;
  let parsed: BroadcastData;
  try {
    parsed = JSON.parse(entry.data) as BroadcastData;
  } catch {
    return undefined; // not written by socket.io: the adapter skips it too
  }
  const { packet, opts } = parsed;
  if (!Array.isArray(packet?.data) || !Array.isArray(opts?.rooms) || !Array.isArray(opts.except)) return undefined;
  if (parsed.requestId !== undefined || packet.type !== PacketType.EVENT || opts.flags?.volatile) return undefined;
  return { data: packet.data, rooms: new Set(opts.rooms), except: new Set(opts.except) };
}

/** A message as the adapter hands it to ClusterAdapter.onMessage() (an entry decoded; `opts` still encoded). */
export interface DecodedMessage {
  uid: string;
  nsp: string;
  type: number;
  data?: BroadcastData;
}

/** A broadcast of one event to the members of one room, except at most one socket. */
export interface RoomDelivery {
  nsp: string;
  /** The adapter room. */
  room: string;
  /** The event and its arguments. */
  data: unknown[];
  except: string | undefined;
}

/**
 * A decoded broadcast that is a plain delivery to one room (an event, no ack, not volatile, at
 * most one socket excepted), or undefined for anything else.
 */
export function decodedRoomDelivery(message: DecodedMessage): RoomDelivery | undefined {
  if (message.type !== MessageType.BROADCAST) return undefined;
  const data = message.data;
  const packet = data?.packet;
  const opts = data?.opts;
  if (data?.requestId !== undefined || packet?.type !== PacketType.EVENT || !Array.isArray(packet.data) || !opts) return undefined;
  const { rooms, except, flags } = opts;
  if (!Array.isArray(rooms) || rooms.length !== 1 || !Array.isArray(except) || except.length > 1) return undefined;
  if (flags && (flags.volatile || flags.compress !== undefined || flags.timeout !== undefined)) return undefined;
  return { nsp: message.nsp, room: rooms[0]!, data: packet.data, except: except[0] };
}

/** The rooms of a decoded broadcast, or undefined for any other message. */
export function decodedBroadcastRooms(message: DecodedMessage): string[] | undefined {
  return message.type === MessageType.BROADCAST ? message.data?.opts?.rooms : undefined;
}
