/**
 * Test helpers for authentication: token minting, real HTTP servers for JWKS, RFC 7662
 * introspection and --authorize-url (on port 0, counting their calls), and
 * the refusal a client sees when its connection is refused.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { defaultAuthConfig, type AuthConfig, type JwtKeySource } from '../../lib/auth/config.js';
import { connect, type ClientVersion, type ConnectOptions } from './clients.js';

export const SECRET = 'test-secret-of-at-least-32-bytes-0123456789';
export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'notification-service';
export const ALL_ROOMS = { subscribe: ['*'], publish: ['*'] };

export const nowSeconds = (): number => Date.now() / 1000;

export interface TokenOptions {
  secret?: string;
  /** seconds from now; fractional allowed (NumericDate), so expiry tests take milliseconds; null: no exp */
  expiresIn?: number | null;
  notBefore?: number;
  issuer?: string | null;
  audience?: string | null;
  kid?: string;
}

/** An HS256 token with iss/aud/exp set like a real issuer would (override or drop with null). */
export function hsToken(claims: Record<string, unknown>, opts: TokenOptions = {}): Promise<string> {
  return sign(claims, new TextEncoder().encode(opts.secret ?? SECRET), 'HS256', opts);
}

export function sign(claims: Record<string, unknown>, key: CryptoKey | Uint8Array, alg: string, opts: TokenOptions = {}): Promise<string> {
  const payload: Record<string, unknown> = { ...claims };
  if (opts.expiresIn !== null) payload.exp = nowSeconds() + (opts.expiresIn ?? 3600);
  if (opts.notBefore !== undefined) payload.nbf = nowSeconds() + opts.notBefore;
  if (opts.issuer !== null) payload.iss = opts.issuer ?? ISSUER;
  if (opts.audience !== null) payload.aud = opts.audience ?? AUDIENCE;
  return new SignJWT(payload).setProtectedHeader({ alg, ...(opts.kid ? { kid: opts.kid } : {}) }).setIssuedAt().sign(key);
}

export function jwtAuth(key: JwtKeySource, extra: Partial<AuthConfig> = {}): AuthConfig {
  return {
    ...defaultAuthConfig(),
    mode: 'jwt',
    jwt: { key, issuer: ISSUER, audience: AUDIENCE, jwksCooldownMs: 0, jwksMaxAgeMs: 600_000 },
    ...extra,
  };
}

export const secretAuth = (extra: Partial<AuthConfig> = {}): AuthConfig => jwtAuth({ kind: 'secret', secret: SECRET }, extra);

export interface KeyPair {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** the public key as a PEM file */
  file: string;
  jwk: JWK;
  pem: string;
}

const keyDir = mkdtempSync(join(tmpdir(), 'ns-keys-'));

export async function keyPair(alg: string, kid: string = randomUUID()): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const pem = await exportSPKI(publicKey);
  const file = join(keyDir, `${kid}.pem`);
  writeFileSync(file, pem);
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicKey, file, jwk, pem };
}

/** A small HTTP server on port 0 answering with a handler; counts requests. */
export class TestHttpServer {
  calls = 0;
  readonly bodies: string[] = [];
  readonly headers: http.IncomingHttpHeaders[] = [];
  private readonly server: http.Server;
  url = '';

  constructor(private readonly handler: (body: string, req: http.IncomingMessage) => { status?: number; json?: unknown; delayMs?: number }) {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        this.calls++;
        this.bodies.push(body);
        this.headers.push(req.headers);
        const answer = this.handler(body, req);
        const send = () => {
          if (res.destroyed) return;
          res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(answer.json ?? {}));
        };
        if (answer.delayMs) setTimeout(send, answer.delayMs).unref();
        else send();
      });
    });
  }

  async start(path = '/'): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A JWKS endpoint serving the current key set; `keys` can be swapped (rotation). */
export class JwksServer extends TestHttpServer {
  keys: KeyPair[] = [];

  constructor() {
    super(() => ({ json: { keys: this.keys.map((k) => k.jwk) } }));
  }
}

export interface Refusal {
  code: string;
  message: string;
}

/**
 * Connects expecting a refusal; resolves with what the client got: a v4 connect_error's `data`,
 * or a 1.x / 2.x client's `error` event payload. Rejects if the connection succeeds.
 */
export async function refusal(version: ClientVersion, url: string, nsp: string, opts: ConnectOptions = {}): Promise<Refusal> {
  let data: unknown;
  let connected = false;
  const grab = (e: unknown) => {
    data ??= e instanceof Error ? (e as Error & { data?: unknown }).data ?? { message: e.message } : e;
  };
  await connect(version, url, nsp, {
    ...opts,
    expectError: true,
    listeners: { ...opts.listeners, connect_error: grab, error: grab, connect: () => (connected = true) },
  });
  if (connected) throw new Error(`${version} connected to ${nsp}, a refusal was expected`);
  return data as Refusal;
}

/** v4: token in the handshake auth; v1/v2: in the query, as legacy clients send it. */
export function withToken(version: ClientVersion, token: string, opts: ConnectOptions = {}): ConnectOptions {
  if (version === 'v4') return { ...opts, extra: { ...opts.extra, auth: { token } } };
  return { ...opts, query: { ...opts.query, token, tokenType: 'jwt' } };
}
