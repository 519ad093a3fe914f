/**
 * The worst-case memory of a configuration, above the process's idle footprint: what clients can
 * make the service hold, whatever they send (docs/PERFORMANCE.md "Memory bound" states it with the
 * default numbers; test/memory-bound.test.ts holds a flood to it).
 *
 *   connections × (send buffer cap + one inbound frame + connection state)
 *   + recent history (every room together)
 *   + namespaces × recovery buffer
 *   + the message being handled (frame, parsed, encoded, framed)
 *
 * Not in it: `store: true` writes waiting for the database (one per publication in flight).
 */
import type { Config } from './config.js';

/** Largest frame Engine.IO reads (maxHttpBufferSize): beyond twice the message limit the connection is dropped. */
export function maxFrameBytes(maxPayload: number): number {
  return 2 * maxPayload + 64 * 1024;
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
  const perConnection = sendBuffer + maxFrameBytes(config.maxPayload) + CONNECTION_STATE_BYTES;
  const keeps = config.history.size > 0 && config.history.ttlMs > 0;
  const history = keeps ? (config.history.memory ?? Infinity) : 0;
  const recovery = config.recoveryWindowMs > 0 ? namespaces * config.recoveryMemory : 0;
  const inFlight = 4 * config.maxPayload;
  return { perConnection, history, recovery, inFlight, total: connections * perConnection + history + recovery + inFlight };
}

export function worstCaseMemory(config: Config, connections: number): number {
  return memoryBudget(config, connections).total;
}
