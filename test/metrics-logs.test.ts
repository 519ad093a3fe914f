/**
 * The operator's log lines: one `info` line per closed connection (socket.io, /sock, SSE) with a
 * reason code and its duration, one `http` line per plain HTTP request; never a token or a query
 * string.
 */
import { expect } from 'chai';
import { closeAll, connect } from './helpers/clients.js';
import { ALL_ROOMS, hsToken, secretAuth } from './helpers/auth.js';
import { waitUntil } from './helpers/cluster.js';
import { captureLogger } from './helpers/logs.js';
import { startService, type Running } from './helpers/service.js';
import { closeSockets, openSock } from './helpers/sock.js';
import { closeStreams, openSse } from './helpers/sse.js';

describe('logs: connections closed and HTTP requests', () => {
  const { logger, entries } = captureLogger();
  let svc: Running;
  let token: string;
  before(async () => {
    svc = await startService({ auth: secretAuth({ apiKeys: ['logs-test-api-key-0123456789'] }) }, { logger });
    token = await hsToken({ sub: 'user-7', name: 'Seven', rooms: ALL_ROOMS });
  });
  after(() => svc.close());
  afterEach(() => {
    closeAll();
    closeSockets();
    closeStreams();
  });

  const closedLine = async (protocol: string): Promise<Record<string, unknown>> => {
    let line: Record<string, unknown> | undefined;
    await waitUntil(`a ${protocol} close line`, () => (line = entries.find((e) => e.message === 'connection closed' && e.protocol === protocol)) !== undefined);
    return line!;
  };

  it('socket.io: info, with namespace, transport, reason, duration and user, never the token', async () => {
    const client = await connect('v4', svc.url, '/layout', { extra: { auth: { token } } });
    client.close();
    const line = await closedLine('socketio');
    expect(line).to.include({ level: 'info', namespace: '/layout', transport: 'websocket', reason: 'client_namespace_disconnect', user: 'user-7' });
    expect(line.durationMs).to.be.a('number').and.at.least(0);
  });

  it('/sock: info, with the path, the close code and its name', async () => {
    const sock = await openSock(svc.url, `/sock?token=${token}`);
    sock.ws.close(1000);
    const line = await closedLine('sock');
    expect(line).to.include({ level: 'info', path: '/sock', reason: 'normal', code: 1000, user: 'user-7' });
    expect(line.durationMs).to.be.a('number');
  });

  it('SSE: info, with the namespace, its rooms and client_closed', async () => {
    const sse = await openSse(`${svc.url}/events/layout/a?room=b`, { authorization: `Bearer ${token}` });
    expect(sse.status).to.equal(200);
    await waitUntil('the stream started', () => sse.retry !== undefined);
    sse.close();
    const line = await closedLine('sse');
    expect(line).to.include({ level: 'info', namespace: '/layout', rooms: 2, reason: 'client_closed', user: 'user-7' });
  });

  it('HTTP: one http-level line per request, the path without its query string', async () => {
    await fetch(`${svc.url}/healthcheck?token=${token}`);
    await fetch(`${svc.url}/no-such-route`);
    let lines: Record<string, unknown>[] = [];
    await waitUntil('both request lines', () => (lines = entries.filter((e) => e.message === 'http request' && (e.path === '/healthcheck' || e.path === '/no-such-route'))).length >= 2);
    const health = lines.find((l) => l.path === '/healthcheck')!;
    expect(health).to.include({ level: 'http', method: 'GET', status: 200 });
    expect(health.ms).to.be.a('number');
    expect(lines.find((l) => l.path === '/no-such-route')).to.include({ status: 404 });
  });

  it('never logs the token above debug', () => {
    const shown = entries.filter((e) => e.level !== 'debug' && e.level !== 'silly');
    expect(shown.length).to.be.greaterThan(3);
    expect(JSON.stringify(shown)).not.to.include(token);
  });
});
