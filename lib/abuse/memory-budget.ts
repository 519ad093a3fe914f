/**
 * The worst-case memory of a configuration, above the process's idle footprint: what clients can
 * make the service hold, whatever they send (docs/PERFORMANCE.md "Memory bound" states it with the
 * default numbers; test/memory-bound.test.ts holds a flood to it).
 *
 *   connections × (send buffer cap + inbound frame + what may queue behind it + connection state)
 *   + recent history (every room together)
 *   + namespaces × recovery buffer
 *   + the message being handled (frame, parsed, encoded, framed)
 *
 * Not in it: `store: true` writes waiting for the database (one per publication in flight).
 */
import type { Config } from '../config/index.js';
import { byteBurst } from './packet-rates.js';

/** Largest frame Engine.IO reads (maxHttpBufferSize): beyond twice the message limit the connection is dropped. */
export function maxFrameBytes(maxPayload: number): number {
  return 2 * maxPayload + 64 * 1024;
}

/**
 * What a connection may send while one of its large packets is read in slices (lib/transport/guarded-parser.ts);
 * more closes it. With a byte rate that is its cut-off anyway (twice the burst); without one (the
 * operator allows floods), four maximal frames: a publisher may pipeline a few large messages.
 */
export function maxQueuedBytes(config: Pick<Config, 'maxPayload' | 'abuse'>): number {
  return config.abuse.bytesPerSecond > 0 ? 2 * byteBurst(config.maxPayload) : 4 * maxFrameBytes(config.maxPayload);
}

/** Live state of one idle connection, generously (docs/PERFORMANCE.md "Memory per connection": ~10 KB). */
export const CONNECTION_STATE_BYTES = 16 * 1024;
/** Namespaces with an adapter (and so a recovery buffer): /layout, /bus, /lobby, /trigger and '/'. */
export const DEFAULT_NAMESPACES = 5;

export interface MemoryBudget {
  perConnection: number;
  history: number;
  recovery: number;
  inFlight: number;
  /** For `connections` connections; Infinity when a term is unbounded (--max-send-buffer 0). */
  total: number;
}

export function memoryBudget(config: Config, connections: number, namespaces = DEFAULT_NAMESPACES): MemoryBudget {
  const sendBuffer = config.abuse.maxSendBuffer > 0 ? config.abuse.maxSendBuffer : Infinity;
  // Inbound: a large packet being read in slices, and what may queue behind it meanwhile.
  const perConnection = sendBuffer + maxFrameBytes(config.maxPayload) + maxQueuedBytes(config) + CONNECTION_STATE_BYTES;
  const keeps = config.history.size > 0 && config.history.ttlMs > 0;
  const history = keeps ? (config.history.memory ?? Infinity) : 0;
  const recovery = config.recoveryWindowMs > 0 ? namespaces * config.recoveryMemory : 0;
  const inFlight = 4 * config.maxPayload;
  return { perConnection, history, recovery, inFlight, total: connections * perConnection + history + recovery + inFlight };
}

export function worstCaseMemory(config: Config, connections: number): number {
  return memoryBudget(config, connections).total;
}
