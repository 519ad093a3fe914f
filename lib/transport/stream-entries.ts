/**
 * What a cluster adapter (socket.io-adapter's ClusterAdapter, which the Redis Streams adapter
 * extends) reads from its stream. `onMessage(message, offset)` and `uid` are protected members of
 * ClusterAdapter: wrapped here, on the instance, and nowhere else. The Redis Streams adapter calls
 * it with each entry of its stream decoded and the entry's id as `offset`.
 */
import { decodedBroadcastRooms, decodedRoomDelivery, type DecodedMessage, type RoomDelivery } from './stream-format.js';

interface ReaderInternals {
  uid: string;
  onMessage(message: DecodedMessage, offset?: string): void;
}

export interface StreamReader {
  /** Whether deliveries to this adapter room are taken over (`deliver`) instead of the adapter's own broadcast. */
  takes(room: string): boolean;
  /** A broadcast to one taken room, written by another node or the publish script, for this node to deliver. */
  deliver(delivery: RoomDelivery, offset: string): void;
  /**
   * After each entry of the stream (not the pub/sub messages, which have no offset). `rooms`: the
   * rooms of a broadcast another node (or the publish script) wrote, which this node has just
   * delivered; undefined for anything else, including its own broadcasts, which it delivered when
   * they were published.
   */
  handled(nsp: string, offset: string, rooms: string[] | undefined): void;
}

/** Reads the adapter's stream through `reader` (see StreamReader). */
export function readStreamEntries(adapter: object, reader: StreamReader): void {
  const internals = adapter as ReaderInternals;
  const uid = internals.uid;
  const onMessage = internals.onMessage.bind(internals);
  internals.onMessage = (message, offset) => {
    const delivery = offset !== undefined && message.uid !== uid ? decodedRoomDelivery(message) : undefined;
    if (delivery && reader.takes(delivery.room)) reader.deliver(delivery, offset!);
    else onMessage(message, offset);
    if (offset === undefined) return;
    const rooms = message.uid !== uid ? decodedBroadcastRooms(message) : undefined;
    reader.handled(message.nsp, offset, rooms);
  };
}
