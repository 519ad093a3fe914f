/**
 * /bus: the layout protocol under another name, for service-to-device notifications; HTTP
 * publishers reach it through POST /bus-message/:room.
 */
import type { NamespaceModule } from '../lib/core/dispatch.js';
import { layout } from './layout.js';

export const bus: NamespaceModule = { ...layout, name: '/bus' };
