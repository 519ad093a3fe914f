/**
 * The service's live heap per idle joined connection, garbage collected before each reading (the
 * capacity scenarios read RSS, which also holds the connect burst's garbage until V8 collects it:
 * a saving of a few hundred bytes is lost in that). The service runs in this process (the build
 * under `dist`), the clients (socket.io-client 4 over WebSocket, each JOINing a room of `members`
 * on /layout) in a child process.
 *
 *   node --expose-gc dist/bench/heap-per-connection.js [dist=this build] [connections=5000] [members=5]
 * prints `heapBytesPerConn=<n>`.
 */
import { fork } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const CLIENT = 'client';

async function clients(url: string, connections: number, members: number): Promise<void> {
  const { io } = await import('socket.io-client');
  const sockets = [];
  for (let i = 0; i < connections; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, connections - i) }, (_, k) => {
        const n = i + k;
        const socket = io(`${url}/layout`, { transports: ['websocket'], reconnection: false, forceNew: true });
        sockets.push(socket);
        return new Promise<void>((done, fail) => {
          socket.once('connect_error', fail);
          socket.once('connect', () =>
            socket.emit('JOIN', { room: `cap-${Math.floor(n / members)}`, name: `c-${n}` }, (ack: { ok?: boolean }) => (ack?.ok ? done() : fail(new Error(JSON.stringify(ack))))),
          );
        });
      }),
    );
  }
  process.send!('joined');
  // Stay connected until the parent is done.
  process.on('disconnect', () => process.exit(0));
}

async function server(dist: string, connections: number, members: number): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const at = (path: string) => import(pathToFileURL(resolve(dist, path)).href);
  const { defaultConfig } = await at('lib/config/index.js');
  const { createLogger } = await at('lib/log/logger.js');
  const { createService } = await at('lib/service.js');
  const config = defaultConfig({ port: 0, host: '127.0.0.1', logFormat: 'json', storage: { kind: 'off' } });
  const service = await createService(config, { logger: createLogger({ level: 'error', format: 'json', silent: true }) });
  const { port } = await service.listen();
  const url = `http://127.0.0.1:${port}`;
  const heap = async (): Promise<number> => {
    for (let i = 0; i < 4; i++) {
      gc();
      await new Promise((r) => setImmediate(r));
    }
    return process.memoryUsage().heapUsed;
  };
  const run = async (n: number): Promise<ReturnType<typeof fork>> => {
    const child = fork(fileURLToPath(import.meta.url), [CLIENT, url, String(n), String(members)], { stdio: 'inherit' });
    await new Promise<void>((done, fail) => {
      child.once('message', () => done());
      child.once('exit', (code) => fail(new Error(`clients exited with ${code}`)));
    });
    return child;
  };
  // Warm-up connections (lazy loading, JIT), outside the measurement.
  const warm = await run(100);
  const before = await heap();
  const measured = await run(connections);
  const after = await heap();
  console.log(`heapBytesPerConn=${((after - before) / connections).toFixed(0)}`);
  warm.disconnect();
  measured.disconnect();
  warm.kill();
  measured.kill();
  await service.close();
  process.exit(0);
}

const [first, ...rest] = process.argv.slice(2);
if (first === CLIENT) await clients(rest[0]!, Number(rest[1]), Number(rest[2]));
else await server(first ?? fileURLToPath(new URL('..', import.meta.url)), Number(rest[0] ?? 5000), Number(rest[1] ?? 5));
