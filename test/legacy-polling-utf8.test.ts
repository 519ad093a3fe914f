/**
 * Unit-level tests of lib/transport/legacy-polling-utf8.ts on a bare socket.io server (allowEIO3), for what
 * legacy-clients.test.ts does not reach: pushes before the client speaks, classification, stock
 * parser paths, malformed input, install/uninstall, the helpers, and a browser-like 1.7 client.
 */
import http from 'node:http';
import Module, { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { Server, type Socket } from 'socket.io';
import type ioV1 from 'socket.io-client-v1';
import { asciiSafeSocketIoPacket, decodeUtf8ByteString, installLegacyPollingUtf8, type LegacyClientKind } from '../lib/transport/index.js';
import { closeAll, connect, request } from './helpers/clients.js';

const require = createRequire(import.meta.url);
// engine.io as socket.io loads it, and the two stock parsers its transports use
const engineRequire = createRequire(createRequire(require.resolve('socket.io')).resolve('engine.io'));
const stockV3: unknown = engineRequire('./parser-v3/index.js');
const stockV4: unknown = engineRequire('engine.io-parser');

type Decoded = { type: string; data?: unknown };
interface TransportView {
  readonly name: string;
  readonly protocol: number;
  parser: { decodePayload(d: string, cb: (p: Decoded) => unknown): void; encodePayload(ps: object[], b: boolean, cb: (e: unknown) => void): void };
}
type EngineView = { createTransport(name: string, req: unknown): TransportView };
const engineOf = (io: Server) => io.engine as unknown as EngineView;
const v3PollingRequest = { _query: { EIO: '3', transport: 'polling', b64: '1' } };

const TEXT = 'café 日本語 😀';
const ASTRAL = 'astral: 😀🎉👍🏽 𝄞 𠜎 🇫🇷';
const BIG = 'é😀日 '.repeat(40_000); // ~400 KB of UTF-8, > 0x2000 UTF-16 units
const JSON_TEXT = JSON.stringify({ s: TEXT, l: ['é', '𝄞🎉'] });
const MESSAGES = [TEXT, 'accents: àéîõü ÀÉÎÕÜ çñß ÿ', ASTRAL, JSON_TEXT, 'ascii only', 'mojibake-looking but genuine: Ã© Ã¨', BIG];
/** Strict equality with a short failure message (no multi-megabyte diffs). */
function same(actual: unknown, expected: string, what: string): void {
  const shown = typeof actual === 'string' && actual.length > 80 ? `<${actual.length} chars>` : JSON.stringify(actual);
  expect(actual === expected, `${what}: got ${shown}`).to.equal(true);
}

describe('legacy-polling-utf8', () => {
  describe('helpers', () => {
    it('decodeUtf8ByteString decodes UTF-8 byte strings and rejects anything else', () => {
      const bytes = (s: string) => Buffer.from(s).toString('latin1');
      expect(decodeUtf8ByteString(bytes(TEXT))).to.equal(TEXT);
      for (const ascii of ['', 'plain ascii', '\u0000\u007f']) expect(decodeUtf8ByteString(ascii)).to.equal(ascii);
      same(decodeUtf8ByteString(bytes(BIG)), BIG, 'chunked decode');
      expect(decodeUtf8ByteString('\u00ed\u00a0\u0080')).to.equal('\ud800'); // WTF-8 lone surrogate
      // not UTF-8 / beyond U+00FF / overlong (2 and 3 bytes) / > U+10FFFF / truncated / bad trail / stray trail
      const bad = ['caf\u00e9', '\u65e5', '\u00c0\u00af', '\u00e0\u0080\u0080', '\u00f4\u0090\u0080\u0080', '\u00c3', '\u00c3\u0100', '\u0080'];
      for (const s of bad) expect(decodeUtf8ByteString(s), JSON.stringify(s)).to.equal(null);
    });

    it('asciiSafeSocketIoPacket escapes the JSON body and keeps the header', () => {
      const safe = asciiSafeSocketIoPacket(`2/layout,7["ECHO",${JSON.stringify(TEXT)}]`);
      expect(safe).to.match(/^2\/layout,7\[[\x00-\x7f]*$/);
      expect(JSON.parse(safe!.slice('2/layout,7'.length))).to.deep.equal(['ECHO', TEXT]);
      expect(asciiSafeSocketIoPacket('2["é"]')).to.equal('2["\\u00e9"]');
      expect(asciiSafeSocketIoPacket('51-/n,3["é",{"_placeholder":true,"num":0}]')).to.equal('51-/n,3["\\u00e9",{"_placeholder":true,"num":0}]');
      for (const bad of ['2/é,[1]', 'hello é', '2/layout', '2é', '9["é"]', '5["é"]']) expect(asciiSafeSocketIoPacket(bad), bad).to.equal(null);
    });
  });

  describe('install', () => {
    let other: Server;
    beforeEach(() => void (other = new Server(http.createServer(), { allowEIO3: true }))); // attached, never listening
    afterEach(() => other.close());

    it('is idempotent and can be undone', () => {
      const engine = engineOf(other);
      const stockCreate = engine.createTransport;
      const off = installLegacyPollingUtf8(other);
      expect(installLegacyPollingUtf8(other.engine)).to.equal(off);
      expect(Object.getPrototypeOf(engine.createTransport('polling', v3PollingRequest).parser)).to.equal(stockV3);
      off();
      expect(engine.createTransport).to.equal(stockCreate);
      expect(Object.hasOwn(engine, 'createTransport')).to.equal(false);
      expect(engine.createTransport('polling', v3PollingRequest).parser).to.equal(stockV3);
      const again = installLegacyPollingUtf8(other);
      expect(again).to.not.equal(off);
      off(); // a stale uninstall leaves the new hook alone
      expect(engine.createTransport('polling', v3PollingRequest).parser).to.not.equal(stockV3);
      again();
      expect(engine.createTransport).to.equal(stockCreate);
    });

    it('throws a TypeError before socket.io is attached', () => {
      expect(() => installLegacyPollingUtf8(new Server({ allowEIO3: true }))).to.throw(TypeError, /attach/);
    });
  });

  describe('on a bare socket.io server', () => {
    let httpServer: http.Server;
    let io: Server;
    let base = '';
    const sockets = new Map<string, Socket>(); // handshake `tag` -> server socket
    const received = new Map<string, unknown[]>(); // tag -> ECHO payloads
    const classified = new Map<string, Array<{ kind: LegacyClientKind; reason: string }>>(); // engine sid -> events
    const eventsOf = (tag: string) => classified.get((sockets.get(tag)?.conn as { id?: string } | undefined)?.id ?? '') ?? []; // id is private
    const transportOf = (tag: string) => sockets.get(tag)!.conn.transport as unknown as TransportView;

    before(async () => {
      httpServer = http.createServer();
      io = new Server(httpServer, { allowEIO3: true, maxHttpBufferSize: 4 * 1024 * 1024 });
      installLegacyPollingUtf8(io, { onClassify: ({ sid = '', kind, reason }) => classified.set(sid, [...(classified.get(sid) ?? []), { kind, reason }]) });
      const wire = (socket: Socket) => {
        const tag = String(socket.handshake.query.tag);
        sockets.set(tag, socket);
        received.set(tag, []);
        socket.on('ECHO', (s: unknown, ack?: (x: unknown) => void) => {
          received.get(tag)!.push(s);
          ack?.(s);
        });
        // server-originated text (an echo can hide symmetric bugs)
        socket.on('GIMME', (i: number, ack?: (x: unknown) => void) => {
          socket.emit('SRV', i, MESSAGES[i]);
          ack?.(MESSAGES[i]);
        });
      };
      io.of('/layout').on('connection', wire);
      io.on('connection', (socket) => {
        wire(socket);
        // pushed before the client has sent anything: its generation is still unknown
        if (socket.handshake.query.hello) socket.emit('HELLO', TEXT, ASTRAL);
      });
      await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
    });
    after(async () => {
      const closed = io.close(); // discards every engine.io session, raw-HTTP ones included
      httpServer.closeAllConnections(); // and any request left hanging by a failed test
      await closed;
    });
    afterEach(closeAll);

    for (const [version, kind] of [['v1', 'legacy'], ['v2', 'modern']] as const) {
      it(`root namespace: pushes non-ASCII text to a ${version} polling client before it speaks`, async () => {
        const tag = `root-${version}`;
        let hello: (args: unknown[]) => void = () => {};
        const helloArgs = new Promise<unknown[]>((resolve) => (hello = resolve));
        const listeners = { HELLO: (...args: unknown[]) => hello(args) };
        const client = await connect(version, base, '/', { transport: 'polling', query: { tag, hello: '1' }, listeners });
        expect(await helloArgs).to.deep.equal([TEXT, ASTRAL]);
        expect(eventsOf(tag), 'still unclassified when pushed').to.deep.equal([]);
        const sent = [TEXT, MESSAGES[1]!, JSON_TEXT];
        for (const m of sent) expect(await request(client, 'ECHO', m)).to.equal(m);
        expect(received.get(tag)).to.deep.equal(sent);
        expect(eventsOf(tag).map((e) => e.kind)).to.deep.equal([kind]);
        expect(eventsOf(tag)[0]!.reason).to.match(/^non-ASCII text/);
      });
    }

    it('classifies 1.7 as legacy and 2.5 as modern from their namespace CONNECT (onClassify)', async () => {
      const [v1, v2] = await Promise.all(
        (['v1', 'v2'] as const).map((v) => connect(v, base, '/layout', { transport: 'polling', query: { tag: `cls-${v}` } })),
      );
      expect(eventsOf('cls-v1')).to.deep.equal([{ kind: 'legacy', reason: 'CONNECT without trailing comma' }]);
      expect(eventsOf('cls-v2')).to.deep.equal([{ kind: 'modern', reason: 'CONNECT with trailing comma' }]);
      for (const c of [v1!, v2!]) for (const m of [TEXT, ASTRAL]) expect(await request(c, 'ECHO', m)).to.equal(m);
      for (const v of ['v1', 'v2']) {
        expect(received.get(`cls-${v}`)).to.deep.equal([TEXT, ASTRAL]);
        expect(eventsOf(`cls-${v}`), 'no change once classified').to.have.length(1);
      }
    });

    it('leaves EIO=4 and websocket transports on the stock parser', async () => {
      const cases = [['v4', 'polling'], ['v1', 'websocket'], ['v2', 'websocket'], ['v1', 'polling']] as const;
      const clients = await Promise.all(cases.map(([v, t]) => connect(v, base, '/layout', { transport: t, query: { tag: `stock-${v}-${t}` } })));
      for (const c of clients) expect(await request(c, 'ECHO', TEXT)).to.equal(TEXT);
      const v4 = transportOf('stock-v4-polling');
      expect([v4.name, v4.protocol, v4.parser === stockV4]).to.deep.equal(['polling', 4, true]);
      for (const v of ['v1', 'v2']) {
        const ws = transportOf(`stock-${v}-websocket`);
        expect([ws.name, ws.protocol, ws.parser === stockV3], v).to.deep.equal(['websocket', 3, true]);
      }
      for (const tag of ['stock-v4-polling', 'stock-v1-websocket', 'stock-v2-websocket']) expect(eventsOf(tag), tag).to.deep.equal([]);
      const hooked = transportOf('stock-v1-polling'); // the control: EIO=3 polling is hooked
      expect(hooked.parser).to.not.equal(stockV3);
      expect(Object.getPrototypeOf(hooked.parser)).to.equal(stockV3);
    });

    it('the hooked v3 parser never throws on malformed or random payloads', () => {
      const fresh = () => engineOf(io).createTransport('polling', v3PollingRequest);
      // control: the hook is active and decodes a legacy byte string
      const control: Decoded[] = [];
      fresh().parser.decodePayload('3:4\u00c3\u00a9', (p) => void control.push(p));
      expect(control).to.deep.equal([{ type: 'message', data: 'é' }]);
      const inputs = [
        '', 'abc', ':', '0:', '5:42/x', '99999999999999999999999:4a', '3:4\u00e9', '3:4\u00c3', '4:4\u00ff\u00fe', '2:4\ud800',
        '4:4\u00ed\u00a0\u0080', '6:4\u00f4\u0090\u0080\u0080x', '1:4', '3:4é2:4', '-1:4', '8:40/layout', '9:40/layout', '10:40/layout,',
      ];
      let seed = 42; // deterministic linear congruential generator
      const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
      const pool = [...'0123456789:4/,[]"é日😀\u00c3\u00a9\u00e6\u0097\u00a5\u00f0\u009f\u0098\u0080', '\ud800'];
      for (let i = 0; i < 1000; i++) inputs.push(Array.from({ length: rnd(24) }, () => pool[rnd(pool.length)]).join(''));
      for (const input of inputs) {
        const t = fresh(); // classification is per transport: start each input unknown
        for (const data of [input, '3:4\u00e9']) expect(() => t.parser.decodePayload(data, () => {}), JSON.stringify(input)).to.not.throw();
      }
      const weird = [...['2\u00e9', Buffer.from('\u00e9'), 42, undefined, '\ud83d'].map((data) => ({ type: 'message', data })), { type: 'noop' }];
      for (const supportsBinary of [false, true]) {
        let out: unknown;
        expect(() => fresh().parser.encodePayload(weird, supportsBinary, (e) => (out = e))).to.not.throw();
        expect(typeof out === 'string' || Buffer.isBuffer(out), String(supportsBinary)).to.equal(true);
      }
    });

    it('malformed HTTP POST bodies on live EIO3 sessions do not crash the server', async () => {
      const bystander = await connect('v1', base, '/layout', { transport: 'polling', query: { tag: 'bystander' } });
      const send = (method: string, query: string, body?: string) =>
        new Promise<{ status: number; text: string }>((resolve, reject) => {
          const url = `${base}/socket.io/?EIO=3&transport=polling&b64=1${query}`;
          http.request(url, { method, headers: { 'content-type': 'text/plain;charset=UTF-8' }, agent: false }, (res) => {
            let text = '';
            res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          }).on('error', reject).end(body);
        });
      const bodies = ['abc', '5:42/x', '3:4\u00c3', '4:4\u00ff\u00fe', '12:42["x","\u00e9', `9:4${'\u00f0'.repeat(8)}`, '3:4é2:4', '99999999999:4'];
      // resolves once the server holds a GET poll of `sid` (engine.io's listener runs first, synchronously)
      const pollArrived = (sid: string) =>
        new Promise<void>((resolve) => {
          const spy = (req: http.IncomingMessage) => req.method === 'GET' && req.url?.includes(`sid=${sid}`) && resolve(void httpServer.off('request', spy));
          httpServer.on('request', spy);
        });
      for (const body of bodies) {
        const sid = /"sid":"([^"]+)"/.exec((await send('GET', '')).text)?.[1];
        expect(sid, 'handshake').to.be.a('string');
        expect((await send('GET', `&sid=${sid}`)).text, 'root namespace CONNECT').to.match(/^\d+:40/);
        // like a real client, POST while a long-poll is pending: a close can then complete at once
        // (otherwise engine.io keeps a 30 s close timer that holds the process open)
        const arrived = pollArrived(sid!);
        const poll = send('GET', `&sid=${sid}`);
        await arrived;
        const post = await send('POST', `&sid=${sid}`, body);
        expect([200, 400], `${JSON.stringify(body)} -> ${post.status}`).to.include(post.status);
        expect(await poll, 'orderly close on the pending poll').to.deep.equal({ status: 200, text: '1:1' });
      }
      expect((await send('GET', '')).status).to.equal(200);
      expect(await request(bystander, 'ECHO', TEXT)).to.equal(TEXT);
    });

    /*
     * Browser-like socket.io-client 1.7. In Node, engine.io-client 1.8 uses xmlhttprequest-ssl, which has
     * no `responseType`, so it claims no XHR2 and sends `b64=1`; browsers send no b64 and get binary
     * payloads, decoded by engine.io-parser's browser build. The trick: a second, private copy of the
     * package is loaded through require.cache (the copy helpers/clients.ts imported is left alone): the
     * cache entries under socket.io-client-v1/ are set aside, those of 'xmlhttprequest-ssl' and
     * 'engine.io-parser' as engine.io-client resolves them are pre-filled with BrowserLikeXHR and the
     * parser's `browser` build, the package is required, the cache restored. It relies on the package
     * layout and on CommonJS caching by resolved filename, hence this isolated describe.
     */
    describe('browser-like socket.io-client 1.7 (XHR2 without b64)', () => {
      class BrowserLikeXHR {
        readyState = 0;
        status = 0;
        responseType = ''; // present => engine.io-client detects XHR2 and sends no b64
        onreadystatechange: (() => void) | null = null;
        private method = 'GET';
        private url = '';
        private headers: Record<string, string> = {};
        private resHeaders: http.IncomingHttpHeaders = {};
        private body = Buffer.alloc(0);
        private req: http.ClientRequest | null = null;
        open(method: string, url: string): void {
          [this.method, this.url, this.readyState] = [method, url, 1];
        }
        setRequestHeader(k: string, v: string): void {
          this.headers[k] = v;
        }
        getResponseHeader(k: string): string | null {
          return this.resHeaders[k.toLowerCase()]?.toString() ?? null;
        }
        get responseText(): string {
          if (this.responseType !== '' && this.responseType !== 'text') throw new Error('InvalidStateError');
          return this.body.toString('utf8');
        }
        get response(): unknown {
          const { buffer, byteOffset, length } = this.body;
          return this.responseType === 'arraybuffer' ? buffer.slice(byteOffset, byteOffset + length) : this.responseText;
        }
        send(data?: unknown): void {
          const done = (status: number) => {
            [this.status, this.readyState] = [status, 4];
            this.onreadystatechange?.();
          };
          this.req = http.request(this.url, { method: this.method, headers: this.headers, agent: false }, (res) => {
            this.resHeaders = res.headers;
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
              this.body = Buffer.concat(chunks);
              done(res.statusCode ?? 0);
            });
          });
          // like browsers: strings go out as UTF-8, binary as is
          this.req.on('error', () => done(0)).end(typeof data === 'string' ? data : data instanceof ArrayBuffer ? Buffer.from(data) : undefined);
        }
        abort(): void {
          this.req?.destroy();
        }
      }

      function loadBrowserLikeV1(): typeof ioV1 {
        const main = require.resolve('socket.io-client-v1');
        const root = main.slice(0, main.lastIndexOf(`${path.sep}socket.io-client-v1${path.sep}`) + '/socket.io-client-v1/'.length);
        const fromEngineClient = createRequire(createRequire(main).resolve('engine.io-client'));
        const xhrPath = fromEngineClient.resolve('xmlhttprequest-ssl');
        const parserPath = fromEngineClient.resolve('engine.io-parser');
        const saved = Object.entries(require.cache).filter(([k]) => k.startsWith(root));
        const clear = () => Object.keys(require.cache).filter((k) => k.startsWith(root)).forEach((k) => delete require.cache[k]);
        clear();
        try {
          const shim = new Module(xhrPath);
          [shim.filename, shim.exports, shim.loaded] = [xhrPath, BrowserLikeXHR, true];
          require.cache[xhrPath] = shim;
          const parserPackage = fromEngineClient.resolve('engine.io-parser/package.json');
          const browserBuild = path.join(path.dirname(parserPackage), (require(parserPackage) as { browser: string }).browser);
          require(browserBuild);
          require.cache[parserPath] = require.cache[browserBuild];
          return require(main) as typeof ioV1;
        } finally {
          clear();
          for (const [k, m] of saved) require.cache[k] = m;
        }
      }

      let browserIo: typeof ioV1;
      const open: Array<ReturnType<typeof ioV1>> = [];
      before(() => void (browserIo = loadBrowserLikeV1()));
      afterEach(() => open.splice(0).forEach((s) => s.close()));

      it('receives pushes, echoes and server-originated text intact over binary payloads', async () => {
        const tag = 'browser-v1';
        const opts = { transports: ['polling'], upgrade: false, 'force new connection': true, multiplex: false, reconnection: false };
        const sock = browserIo(`${base}/?tag=${tag}&hello=1`, opts);
        open.push(sock);
        const hello = new Promise<unknown[]>((resolve) => sock.once('HELLO', (...args: unknown[]) => resolve(args)));
        await new Promise((resolve, reject) => sock.once('connect', resolve).once('connect_error', reject));
        expect(await hello).to.deep.equal([TEXT, ASTRAL]);
        expect(sockets.get(tag)!.handshake.query.b64, 'the emulation must suppress b64').to.equal(undefined);
        const pushed = new Map<number, unknown>();
        sock.on('SRV', (i: number, s: unknown) => pushed.set(i, s));
        const ack = (ev: string, arg: unknown) => new Promise<unknown>((resolve) => sock.emit(ev, arg, resolve));
        // all in flight at once, so that several packets share one polling payload
        const [echoes, originated] = await Promise.all([
          Promise.all(MESSAGES.map((m) => ack('ECHO', m))),
          Promise.all(MESSAGES.map((_, i) => ack('GIMME', i))),
        ]);
        MESSAGES.forEach((m, i) => {
          same(received.get(tag)![i], m, `client->server #${i}`);
          same(echoes[i], m, `echo ack #${i}`);
          same(originated[i], m, `server-originated ack #${i}`);
          same(pushed.get(i), m, `server-originated event #${i}`);
        });
        expect(eventsOf(tag).map((e) => e.kind)).to.deep.equal(['legacy']);
      });
    });
  });
});
