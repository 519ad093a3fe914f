/**
 * The client SDK's errors and tokens against a real service: every refusal is a NotifyError with
 * the service's code and `temporary`; the SDK's code list is the service's catalog; the token is
 * renewed before it expires (REFRESH) and, at the latest, on TOKEN_EXPIRED.
 */
import { expect } from 'chai';
import { defaultAbuseLimits } from '../lib/auth/config.js';
import { ErrorCodes, type ErrorCode } from '../lib/core/errors.js';
import { CLIENT_ERROR_CODES, NotifyError, SERVICE_ERROR_CODES, createClient, tokenExpiry, type NotifyClient, type ServiceErrorCode } from '../client/src/index.js';
import { ALL_ROOMS, hsToken, secretAuth } from './helpers/auth.js';
import { waitUntil } from './helpers/cluster.js';
import { serviceForSuite } from './helpers/service.js';

// The SDK's union is the catalog's, both ways, checked by the compiler as well as at run time.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameCodes: Same<ServiceErrorCode, ErrorCode> = true;

const clients: NotifyClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

async function rejection(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(NotifyError);
    return err as NotifyError;
  }
  throw new Error('expected a rejection');
}

describe('client SDK: error codes', () => {
  it('SERVICE_ERROR_CODES is exactly the catalog of lib/core/errors.ts; client codes do not collide with it', () => {
    expect(sameCodes).to.equal(true);
    expect([...SERVICE_ERROR_CODES].sort()).to.deep.equal(Object.keys(ErrorCodes).sort());
    for (const code of CLIENT_ERROR_CODES) expect(ErrorCodes).not.to.have.property(code);
  });

  it('temporary: only where trying again may help', () => {
    const temporary = (code: ServiceErrorCode, details?: Record<string, unknown>) => new NotifyError(code, '', details).temporary;
    expect(SERVICE_ERROR_CODES.filter((c) => temporary(c))).to.deep.equal(['TOKEN_EXPIRED', 'RATE_LIMITED', 'SHUTTING_DOWN', 'NOT_READY', 'STORE_FAILED', 'INTERNAL_ERROR']);
    // Delivered but not stored: publishing again would deliver it twice.
    expect(temporary('STORE_FAILED', { offset: 3, recipients: 1 })).to.equal(false);
  });
});

describe('client SDK: typed refusals', () => {
  const svc = serviceForSuite({ auth: secretAuth(), abuse: { ...defaultAbuseLimits(), eventsPerSecond: 20, eventBurst: 10 } });

  it('FORBIDDEN: a subscription and a publication without the right', async () => {
    const token = await hsToken({ sub: 'u-reader', rooms: { subscribe: ['open-*'], publish: [] } });
    const c = createClient(svc.url, { token });
    clients.push(c);
    const sub = c.subscribe('closed', () => undefined);
    const errors: NotifyError[] = [];
    sub.on('error', (e) => errors.push(e));
    const refused = await rejection(sub.ready);
    expect(refused).to.include({ code: 'FORBIDDEN', temporary: false });
    expect(errors).to.deep.equal([refused]);
    expect(await rejection(c.publish('open-1', 'hi'))).to.include({ code: 'FORBIDDEN', temporary: false });
    // The room it may read works on the same connection.
    await c.subscribe('open-1', () => undefined).ready;
  });

  it('INVALID_ROOM and INVALID_PAYLOAD (the socket.io namespaces\' bad requests)', async () => {
    const c = createClient(svc.url, { token: await hsToken({ sub: 'u-any', rooms: ALL_ROOMS }) });
    clients.push(c);
    expect(await rejection(c.publish('', 'x'))).to.include({ code: 'INVALID_ROOM', temporary: false });
    expect(await rejection(c.history('r', { limit: 5000 }))).to.include({ code: 'INVALID_PAYLOAD', temporary: false });
  });

  it('RATE_LIMITED past the event burst, temporary', async () => {
    const c = createClient(svc.url, { token: await hsToken({ sub: 'u-fast', rooms: ALL_ROOMS }) });
    clients.push(c);
    await c.subscribe('flood', () => undefined).ready;
    const results = await Promise.allSettled(Array.from({ length: 13 }, (_, i) => c.publish('flood', i)));
    const limited = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as NotifyError);
    expect(limited.length).to.be.greaterThan(0);
    for (const err of limited) expect(err).to.be.instanceOf(NotifyError).and.include({ code: 'RATE_LIMITED', temporary: true });
  });

  it('UNAUTHORIZED at connect reaches the `error` listeners of the client', async () => {
    const c = createClient(svc.url, { token: 'not-a-jwt' });
    clients.push(c);
    const error = new Promise<NotifyError>((resolve) => c.once('error', resolve));
    c.subscribe('r', () => undefined);
    expect(await error).to.include({ code: 'UNAUTHORIZED', temporary: false });
  });
});

describe('client SDK: token renewal', () => {
  const svc = serviceForSuite({ auth: secretAuth({ refreshGraceMs: 300 }) });

  it('asks getToken again at 80 % of the lifetime and sends REFRESH: the connection outlives several tokens', async () => {
    const issued: string[] = [];
    const getToken = async () => {
      const token = await hsToken({ sub: 'u-long', rooms: ALL_ROOMS }, { expiresIn: 1.2 });
      issued.push(token);
      return token;
    };
    const c = createClient(svc.url, { getToken });
    clients.push(c);
    const failures: NotifyError[] = [];
    const disconnects: string[] = [];
    let refreshed = 0;
    c.on('error', (e) => failures.push(e));
    c.on('disconnect', (e) => disconnects.push(e.reason));
    c.on('refreshed', () => refreshed++);
    const got: unknown[] = [];
    await c.subscribe('long', (m) => got.push(m.message)).ready;
    await waitUntil('three refreshes', () => refreshed >= 3, 6000);
    // Past the first token's expiry, by the clock the service uses as well.
    expect(Date.now() / 1000).to.be.greaterThan(tokenExpiry(issued[0]!)!);
    const pub = createClient(svc.url, { token: await hsToken({ sub: 'u-pub', rooms: ALL_ROOMS }) });
    clients.push(pub);
    await pub.publish('long', 'still here');
    await waitUntil('the message', () => got.length === 1);
    expect(failures).to.deep.equal([]);
    expect(disconnects).to.deep.equal([]);
  });

  it('on TOKEN_EXPIRED at the latest: a renewal that failed on schedule is reported, done again then, and calls work again', async () => {
    let calls = 0;
    const getToken = async () => {
      calls++;
      // The scheduled renewal (second call) fails: the token runs out, the service says TOKEN_EXPIRED.
      if (calls === 2) throw new Error('identity provider down');
      return hsToken({ sub: 'u-late', rooms: ALL_ROOMS }, { expiresIn: calls === 1 ? 0.6 : 3600 });
    };
    const c = createClient(svc.url, { getToken });
    clients.push(c);
    const failures: string[] = [];
    c.on('error', (e) => failures.push(e.code));
    let refreshed = 0;
    c.on('refreshed', () => refreshed++);
    await c.subscribe('late', () => undefined).ready;
    await waitUntil('renewed after TOKEN_EXPIRED', () => refreshed === 1, 5000);
    expect(calls).to.equal(3);
    expect(failures).to.deep.equal(['UNAUTHORIZED']); // the failed scheduled renewal, reported
    expect(await c.publish('late', 'ok')).to.include({ recipients: 0 });
  });
});
