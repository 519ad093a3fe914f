/**
 * What a cluster adapter (socket.io-adapter's ClusterAdapter, which the Redis Streams adapter
 * extends) has just handled from its stream. `onMessage(message, offset)` and `uid` are protected
 * members of ClusterAdapter: wrapped here, on the instance, and nowhere else.
 */
import { MessageType } from 'socket.io-adapter';

/** A decoded entry of the adapter's stream, as far as it is looked at here. */
interface StreamMessage {
  uid: string;
  nsp: string;
  type: number;
  data?: { opts?: { rooms?: string[] } };
}

interface ReaderInternals {
  uid: string;
  onMessage(message: StreamMessage, offset?: string): void;
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
    const rooms = message.type === MessageType.BROADCAST && message.uid !== uid ? message.data?.opts?.rooms : undefined;
    handled(message.nsp, offset, rooms);
  };
}
