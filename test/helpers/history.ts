/** Helpers of the history, recovery and storage suites: transport drops, test databases, log capture. */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Running } from './service.js';

/** The server-side socket of a client, by namespace and id. */
export function serverSocket(svc: Running, nsp: string, id: string) {
  const socket = svc.service.io.of(nsp).sockets.get(id);
  if (!socket) throw new Error(`no socket ${id} in ${nsp}`);
  return socket;
}

/**
 * Cuts a client's connection the way a network does: the server's TCP socket is destroyed, with
 * whatever was still queued in it, and no close handshake of any layer. Resolves once the server
 * has noticed (its socket's `disconnect`).
 */
export function dropTransport(svc: Running, nsp: string, id: string): { gone: Promise<string> } {
  const socket = serverSocket(svc, nsp, id);
  const gone = new Promise<string>((resolve) => socket.once('disconnect', (reason: string) => resolve(reason)));
  type Req = { socket: { destroy(): void } };
  const transport = (
    socket.conn as unknown as { transport: { name: string; socket?: { _socket?: { destroy(): void } }; req?: Req | null; prependOnceListener(e: 'ready', l: () => void): void } }
  ).transport;
  if (transport.name === 'websocket') {
    const tcp = transport.socket?._socket;
    if (!tcp) throw new Error('no TCP socket under the WebSocket transport');
    tcp.destroy();
  } else if (transport.req) {
    // Long-polling: the pending GET's connection...
    transport.req.socket.destroy();
  } else {
    // ...or the next one, when the client is between two polls (before anything is flushed into it).
    transport.prependOnceListener('ready', () => transport.req?.socket.destroy());
  }
  return { gone };
}

/** The server URL of the tests' PostgreSQL: TEST_DATABASE_URL, else the local trust-auth default. */
export const POSTGRES_ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  url: string;
  name: string;
  /** A query on the test database itself (fault injection, checks). */
  query(sql: string, params?: unknown[]): Promise<pg.QueryResult>;
  drop(): Promise<void>;
}

/** Whether PostgreSQL answers at POSTGRES_ADMIN_URL; the reason when it does not. */
/**
 * Call in a suite's `before` (with mocha's `this`): skips the suite, with a message saying why,
 * when no PostgreSQL answers at POSTGRES_ADMIN_URL; fails instead when REQUIRE_POSTGRES=1 (CI).
 */
export async function requirePostgresOrSkip(ctx: Mocha.Context): Promise<void> {
  const reason = await postgresReachable();
  if (reason === undefined) return;
  const where = POSTGRES_ADMIN_URL.replace(/\/\/[^@]*@/, '//');
  if (process.env.REQUIRE_POSTGRES === '1') throw new Error(`REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at ${where}: ${reason}`);
  // eslint-disable-next-line no-console
  console.log(`    PostgreSQL not reachable at ${where} (${reason}): skipping. Set TEST_DATABASE_URL to point at one; REQUIRE_POSTGRES=1 makes this a failure.`);
  ctx.skip();
}

export async function postgresReachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates a database with a random name on the test server; drop() removes it (connections included). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `ns_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
  pool.on('error', () => undefined);
  return {
    url: url.toString(),
    name,
    query: (sql, params) => pool.query(sql, params),
    async drop() {
      await pool.end().catch(() => undefined);
      const a = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 5000 });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}
