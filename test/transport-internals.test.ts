/**
 * The dependency internals lib/transport/ relies on (lib/transport/internals.ts): present on the
 * pinned versions, and a start that stops with the package, its version and what is missing when
 * one is not there. The dependencies are pinned to exact versions, with one ws.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { expect } from 'chai';
import { defaultConfig } from '../lib/config/index.js';
import { DependencyError } from '../lib/core/errors.js';
import { createLogger } from '../lib/log/logger.js';
import { createService } from '../lib/service.js';
import { missingInternals } from '../lib/transport/index.js';
import { startService } from './helpers/service.js';

const require = createRequire(import.meta.url);
const ROOT = new URL('../../', import.meta.url);
const PINNED = ['socket.io', 'engine.io', 'ws', 'socket.io-parser', 'socket.io-adapter', '@socket.io/redis-streams-adapter'];

/** The version of the copy of `pkg` that `from` loads. */
const installedVersion = (pkg: string, from = require): string => {
  for (let dir = dirname(from.resolve(pkg)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version: string };
      if (manifest.name === pkg) return manifest.version;
    } catch {
      // no package.json at this level
    }
  }
  throw new Error(`no package.json for ${pkg}`);
};

/** A start that must fail: no store, no port, nothing to close. */
const start = () =>
  createService(defaultConfig({ port: 0, host: '127.0.0.1', storage: { kind: 'off' } }), { logger: createLogger({ level: 'error', format: 'json', silent: true }) });

/** Runs `fn` with `proto[name]` deleted, then puts it back. */
async function without(proto: Record<string, unknown>, name: string, fn: () => Promise<void>): Promise<void> {
  const own = Object.getOwnPropertyDescriptor(proto, name);
  expect(own, `${name} is an own member of the prototype`).to.not.equal(undefined);
  delete proto[name];
  try {
    await fn();
  } finally {
    Object.defineProperty(proto, name, own!);
  }
}

describe('transport internals', () => {
  it('are all there on the installed versions, and the service starts', async () => {
    expect(missingInternals()).to.deep.equal([]);
    const running = await startService();
    await running.close();
  });

  it('the transport packages are pinned to the installed versions, engine.io directly, with one ws', () => {
    const manifest = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { dependencies: Record<string, string> };
    for (const pkg of PINNED) {
      expect(manifest.dependencies[pkg], `${pkg} is a direct dependency`).to.be.a('string');
      expect(manifest.dependencies[pkg], `${pkg} pinned exactly`).to.equal(installedVersion(pkg));
    }
    // engine.io's ws (whose receivers and senders are changed) is the one the service imports.
    const fromEngine = createRequire(require.resolve('engine.io'));
    expect(fromEngine.resolve('ws')).to.equal(require.resolve('ws'));
  });

  it('a missing socket.io internal stops the start, naming the package, its version and what is missing', async () => {
    const { Client } = require(join(dirname(require.resolve('socket.io')), 'client.js')) as { Client: { prototype: Record<string, unknown> } };
    await without(Client.prototype, 'writeToEngine', async () => {
      expect(missingInternals().map((m) => m.what)).to.deep.equal(['Client.prototype.writeToEngine()']);
      const err = await start().then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(DependencyError);
      expect((err as Error).message).to.include(`socket.io ${installedVersion('socket.io')}: Client.prototype.writeToEngine() is missing`);
    });
    expect(missingInternals()).to.deep.equal([]);
  });

  it('a changed socket.io-adapter or ws internal is named too', async () => {
    const { Adapter } = require('socket.io-adapter') as { Adapter: { prototype: Record<string, unknown> } };
    await without(Adapter.prototype, '_encode', async () => {
      const err = await start().then(() => undefined, (e: unknown) => e);
      expect((err as Error).message).to.match(new RegExp(`socket\\.io-adapter ${installedVersion('socket.io-adapter').replace(/\./g, '\\.')}: Adapter\\.prototype\\._encode\\(\\) .* is missing`));
    });
    const { Sender } = require('ws') as { Sender: { prototype: Record<string, unknown> } };
    await without(Sender.prototype, 'sendFrame', async () => {
      expect(missingInternals()).to.deep.equal([
        { pkg: 'ws', version: installedVersion('ws'), what: 'Sender.frame() and Sender.prototype.sendFrame()', usedBy: 'direct-writes, ws-frames' },
      ]);
    });
  });

  it('socket.io-adapter keeping rooms otherwise than own-id-rooms.ts serves them is named', async () => {
    const { Adapter } = require('socket.io-adapter') as { Adapter: { prototype: Record<string, unknown> } };
    const delAll = Adapter.prototype.delAll as (id: string) => void;
    // A delAll that no longer walks `sids` (as a rewrite that walked `rooms` would).
    Adapter.prototype.delAll = function (this: unknown, id: string) {
      delAll.call(this, id);
    };
    try {
      expect(missingInternals().map((m) => m.usedBy)).to.deep.equal(['own-id-rooms']);
    } finally {
      Adapter.prototype.delAll = delAll;
    }
    expect(missingInternals()).to.deep.equal([]);
  });
});
