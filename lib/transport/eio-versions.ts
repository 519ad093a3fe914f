/**
 * Serves Engine.IO protocol versions 3 (socket.io-client 1.x, 2.x) and 4 (socket.io-client 3+)
 * only. Stock Engine.IO with `allowEIO3` takes anything but `EIO=4` (`EIO=2`, `EIO=99`, `EIO=abc`,
 * none) for version 3; here such a request gets HTTP 400 naming the supported versions, on
 * long-polling and on the WebSocket upgrade alike: both go through Engine.IO's `verify()`, which
 * is wrapped (checked when installed).
 */
import type { AppServer } from '../core/app-socket.js';

type VerifyCallback = (errorCode?: number, errorContext?: Record<string, unknown>) => void;
interface EngineInternals {
  verify(req: { _query?: Record<string, string | undefined> }, upgrade: boolean, fn: VerifyCallback): unknown;
}

export function serveOnlyEio3And4(io: AppServer): void {
  const engine = io.engine as unknown as EngineInternals;
  const verify = engine.verify;
  // Engine.IO's BAD_REQUEST code: answered with HTTP 400 and errorContext.message.
  const BAD_REQUEST = (engine.constructor as { errors?: Record<string, number> }).errors?.BAD_REQUEST;
  if (typeof verify !== 'function' || typeof BAD_REQUEST !== 'number') {
    throw new Error('eio-versions: engine.io has no verify() or errors.BAD_REQUEST (engine.io changed): cannot check protocol versions');
  }
  engine.verify = function (this: unknown, req, upgrade, fn) {
    const version = req._query?.EIO;
    if (version !== '3' && version !== '4') {
      const shown = version === undefined ? 'none' : `"${String(version).slice(0, 16)}"`;
      return fn(BAD_REQUEST, { name: 'UNSUPPORTED_PROTOCOL_VERSION', message: `unsupported Engine.IO protocol version ${shown}: this server speaks EIO=3 and EIO=4` });
    }
    return verify.call(this, req, upgrade, fn);
  };
}
