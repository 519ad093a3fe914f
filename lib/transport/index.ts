/**
 * The transport: everything that reaches into socket.io, engine.io, ws, socket.io-parser or
 * socket.io-adapter beyond their public API lives in lib/transport/, and the rest of the service
 * (and the tests) import it from here only (test/import-cycles.test.ts checks that). The versions
 * these modules were written for are pinned in package.json; `checkTransportInternals` (internals.ts)
 * checks at start-up that every internal they rely on is still there.
 */
export { checkTransportInternals, missingInternals, type MissingInternal } from './internals.js';

// Writing to connections: the short path to the wire and the single-room fan-out.
export { directFlushCount, directFrameCount, useDirectWrites } from './direct-writes.js';
export { deliverHere, FanoutAdapter, roomDeliveryCount, singleRoomBroadcastCount } from './fanout-adapter.js';
export { isServedOwnIdRoom, OwnIdRooms, serveOwnIdRooms, servesOwnIdRooms, storedRooms } from './own-id-rooms.js';
export { emitHere } from './emit-here.js';
export { socketsOnConnection } from './connection-sockets.js';
export { limitSendBuffers, observeSendBuffers, unsentBytes, type EngineConn } from './slow-consumers.js';

// Plain WebSocket endpoints (/sock): upgrade, admission, frame limits, pings.
export { createWsEndpoint, newConnectionId, WS_CLOSE, type WsConnection, type WsEndpoint, type WsEndpointOptions, type WsSession } from './ws-endpoint.js';
export { SharedFrame, sharedFrameCount } from './ws-frames.js';
// Server-Sent Events streams: one shared chunk per delivery, straight to the sockets.
export { SharedChunk, sharedChunkCount, writeSharedChunk } from './sse-writes.js';

// Reading from connections: socket.io's parser with the limits in front.
export { guardedParser, jsonStart, noteConnectionAddress } from './guarded-parser.js';
export { acceptFastEvents, fastEventCount, useFastEvents, type Ack, type FastEventHandler, type FastSocket } from './event-fast-path.js';
export { encodedEventCount } from './raw-encoder.js';
export { limitPreauthFrames, type OpeningRequest, type PreauthFrames } from './preauth-frames.js';
export { limitControlFrames } from './control-frames.js';

// Engine.IO: protocol versions, handshake memory, long-polling fixes.
export { serveOnlyEio3And4 } from './eio-versions.js';
export { isSharedHeaderValue, releaseHandshakeRequests } from './lean-connections.js';
export { heldUpgradeCount, shortenUpgrades } from './websocket-upgrades.js';
export { isWebSocketSession, serveWebSocketSessions, webSocketSessionCount, WebSocketSession } from './websocket-sessions.js';
export { compactSocketListeners, installLeanSockets, isLeanSocket, NO_AUTH, onAnyEvent } from './lean-sockets.js';
export { hasSharedHeartbeat, heartbeatQueues, HeartbeatTimer, installSharedHeartbeats, scheduledHeartbeatSockets, type HeartbeatQueueState } from './shared-heartbeats.js';
export { installLeanEngine, isLeanEngineSocket } from './lean-engine.js';
export { hasCompactListeners, noteCompactedTables } from './compact-listeners.js';
export { SmallMap } from './small-map.js';
export { capPollingResponses, MAX_PACKETS_PER_POLL } from './polling-packet-cap.js';
export { asciiSafeSocketIoPacket, decodeUtf8ByteString, installLegacyPollingFix, installLegacyPollingUtf8, type LegacyClientKind } from './legacy-polling-utf8.js';

// Connection-state recovery and cluster delivery: offsets per connection, the cluster adapter's
// stream and its entry format.
export { argsFor, chooseOffsetPerConnection, chooseOffsetsAtHandshake, getsOffsets, markOffset, offsetsWanted } from './recovery-offsets.js';
export { readStreamEntries, type StreamReader } from './stream-entries.js';
export { fillBroadcast, markerEntry, parseBroadcast, roomBroadcastTemplate, ROOM_MESSAGE_UID, type BroadcastTemplate, type ParsedBroadcast, type RoomBroadcast, type RoomDelivery, type StreamFields } from './stream-format.js';
