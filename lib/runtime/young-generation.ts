/**
 * Keeps V8's young generation at its initial size (1 MB semi-spaces) instead of letting it
 * double up to 16 MB semi-spaces the first time many objects survive a scavenge, as they do at
 * startup and during a connect burst (every new connection survives). The grown space is never
 * given back while the process idles, so it stays in RSS: ~30 MB, ~1.5-2 KB per connection at
 * 10k. Held only until the node carries messages (young-generation-growth.ts): under message load
 * a small young generation means a scavenge every ~100 ms.
 *
 * Process-wide, so only the CLI entry imports it, first, before the rest of the service is
 * loaded. An operator who passes --semi-space-growth-factor (or --max-semi-space-size) to node
 * keeps their choice.
 */
import { holdYoungGeneration } from './young-generation-growth.js';

const nodeFlags = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' ');
if (!/semi[-_]space/.test(nodeFlags)) holdYoungGeneration();
