/**
 * What a cluster adapter (socket.io-adapter's ClusterAdapter, which the Redis Streams adapter
 * extends) has just handled from its stream. `onMessage(message, offset)` and `uid` are protected
 * members of ClusterAdapter: wrapped here, on the instance, and nowhere else. The Redis Streams
 * adapter calls it with each entry of its stream decoded and the entry's id as `offset`.
 */
import { decodedBroadcastRooms, type DecodedMessage } from './stream-format.js';

interface ReaderInternals {
  uid: string;
  onMessage(message: DecodedMessage, offset?: string): void;
}

/**
 * Calls `handled(nsp, offset, rooms)` after the adapter handled each entry of its stream (not the
 * pub/sub messages, which have no offset). `rooms`: the rooms of a broadcast another node (or the
 * publish script) wrote, which this adapter has just delivered; undefined for anything else,
 * including its own broadcasts, which it delivered when they were published.
 */
export function afterStreamEntries(adapter: object, handled: (nsp: string, offset: string, rooms: string[] | undefined) => void): void {
  const reader = adapter as ReaderInternals;
  const uid = reader.uid;
  const onMessage = reader.onMessage.bind(reader);
  reader.onMessage = (message, offset) => {
    onMessage(message, offset);
    if (offset === undefined) return;
    const rooms = message.uid !== uid ? decodedBroadcastRooms(message) : undefined;
    handled(message.nsp, offset, rooms);
  };
}
