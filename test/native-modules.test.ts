/**
 * The native helpers the speed figures assume are the ones loaded: ws (engine.io's own copy)
 * unmasks WebSocket frames with bufferutil where a prebuilt binary exists, instead of its
 * JavaScript fallback (4 MB: ~0.2 ms against ~25 ms).
 */
import { expect } from 'chai';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** Platforms bufferutil ships prebuilt binaries for. */
const PREBUILT = ['linux-x64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-ia32'];

describe('native modules', () => {
  it('ws, as engine.io loads it, unmasks with bufferutil: native where prebuilt, its JavaScript fallback elsewhere', () => {
    const fromEngine = createRequire(require.resolve('engine.io'));
    const bufferUtil = createRequire(fromEngine.resolve('ws')).resolve('bufferutil');
    const loaded = require(bufferUtil) as { unmask: (b: Buffer, m: Buffer) => void };
    const prebuilt = PREBUILT.includes(`${process.platform}-${process.arch}`);
    expect(String(loaded.unmask).includes('[native code]'), `${process.platform}-${process.arch}`).to.equal(prebuilt);
  });
});
