import type { Logger } from './logger.js';
import type { AppServer } from './pubsub.js';
// Placeholder until the Engine.IO v3 polling fix lands.
export function installLegacyPollingFix(_io: AppServer, _logger: Logger): void {}
