/**
 * socket.io's and engine.io's own modules (most are not exported), loaded as socket.io loads them:
 * engine.io from socket.io's location, so the classes patched or reused are the ones the server runs.
 * Resolved lazily (on first use), once per process.
 */
import { createRequire } from 'node:module';

let fromIo: NodeRequire | undefined;
let fromEngine: NodeRequire | undefined;

/** A module of socket.io by its path in socket.io's main directory (`./socket.js`). */
export function ioModule<T>(path: string): T {
  fromIo ??= createRequire(createRequire(import.meta.url).resolve('socket.io'));
  return fromIo(path) as T;
}

/** A module of the engine.io socket.io loads, by its path in engine.io's build directory (`./socket.js`). */
export function engineModule<T>(path: string): T {
  fromIo ??= createRequire(createRequire(import.meta.url).resolve('socket.io'));
  fromEngine ??= createRequire(fromIo.resolve('engine.io'));
  return fromEngine(path) as T;
}
