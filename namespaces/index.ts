/**
 * The namespaces the service serves. A new namespace is a new module file plus one line here.
 */
import type { NamespaceModule } from '../lib/core/dispatch.js';
import type { WsModule } from '../lib/core/ws-modules.js';
import { sock } from './sock.js';
import { bus } from './bus.js';
import { chat } from './chat.js';
import { layout } from './layout.js';
import { lobby } from './lobby.js';
import { trigger } from './trigger.js';

export const namespaces: readonly NamespaceModule[] = [
  layout,
  bus,
  lobby,
  trigger,
  chat,
];

/** Protocols on a plain WebSocket (lib/core/ws-modules.ts), each at its own path. */
export const wsModules: readonly WsModule[] = [
  sock,
];
