/**
 * Every internal of socket.io, engine.io, ws, socket.io-parser, socket.io-adapter, node:http and the Redis
 * Streams adapter that the modules of lib/transport/ rely on, in one list, checked once when the service starts
 * (`checkTransportInternals`, from createService) rather than at the first message. The versions
 * these were written for are pinned in package.json; an upgrade that drops or renames one of them
 * stops the start with the package, its installed version and what is missing.
 *
 * Static checks only (prototypes, classes, the source text of the methods whose behaviour is
 * relied on): no server is made. Members set on instances are found in the source of the method
 * that sets them; the Redis Streams adapter's class is not exported, so its module's source is read.
 * The modules still guard the objects they are given (an adapter, an engine) where
 * one could come from elsewhere.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { OutgoingMessage } from 'node:http';
import { clearTimeout as nodeClearTimeout } from 'node:timers';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Adapter, ClusterAdapter } from 'socket.io-adapter';
import { Decoder, Encoder, PacketType, protocol } from 'socket.io-parser';
import * as wsImported from 'ws';
import { DependencyError } from '../core/errors.js';
import { originalOf } from './replaced-methods.js';
import { CORS_MIDDLEWARE_NAME } from './websocket-upgrades.js';

export type Package = 'socket.io' | 'engine.io' | 'ws' | 'socket.io-parser' | 'socket.io-adapter' | '@socket.io/redis-streams-adapter' | 'node';

interface Internal {
  pkg: Package;
  /** What must be there, as the error names it. */
  what: string;
  /** The transport modules that rely on it. */
  usedBy: string;
  present(): boolean;
}

export interface MissingInternal {
  pkg: Package;
  version: string;
  what: string;
  usedBy: string;
}

const requireHere = createRequire(import.meta.url);

/** The directory of the installed package `name` as `require` from `from` finds it. */
function packageDir(name: string, from: NodeRequire = requireHere): string {
  let dir = dirname(from.resolve(name));
  for (;;) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === name) return dir;
    } catch {
      // no package.json here: look further up
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the package.json of ${name}`);
    dir = up;
  }
}

function versionOf(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
}

/** The copies socket.io and engine.io load (those are the ones patched). */
const ioDir = packageDir('socket.io');
const requireFromIo = createRequire(join(ioDir, 'package.json'));
const engineDir = packageDir('engine.io', requireFromIo);
const requireFromEngine = createRequire(join(engineDir, 'package.json'));
const DIRS: Record<Exclude<Package, 'node'>, string> = {
  'socket.io': ioDir,
  'engine.io': engineDir,
  ws: packageDir('ws', requireFromEngine),
  'socket.io-parser': packageDir('socket.io-parser'),
  'socket.io-adapter': packageDir('socket.io-adapter', requireFromIo),
  '@socket.io/redis-streams-adapter': packageDir('@socket.io/redis-streams-adapter'),
};
const requireFromStreams = createRequire(join(DIRS['@socket.io/redis-streams-adapter'], 'package.json'));

type Fn = (...args: any[]) => unknown;
type Members = Record<string, unknown>;

const isFunction = (value: unknown): value is Fn => typeof value === 'function';
const sourceOf = (fn: unknown): string => (isFunction(fn) ? Function.prototype.toString.call(fn) : '');
/** A prototype's method (own or inherited). */
/** A library method as the library wrote it (through any replacement of ours: replaced-methods.ts). */
const method = (target: unknown, name: string): unknown => originalOf((target as Members | undefined)?.[name]);
/** Whether the source of `fn` (a method or a constructor) contains every one of `parts`. */
const says = (fn: unknown, ...parts: string[]): boolean => {
  const source = sourceOf(fn);
  return source !== '' && parts.every((part) => source.includes(part));
};

/** The text of the file at `path` ('' when it cannot be read). */
const fileText = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

/** Whether the file at `path` contains every one of `parts` (false when it cannot be read). */
const fileSays = (path: string, ...parts: string[]): boolean => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false;
  }
  return parts.every((part) => text.includes(part));
};

/**
 * Whether every use of `this.rooms` in these files (all of which must be readable) is a get/has/set/delete
 * call or the constructor's assignment: what own-id-rooms.ts serves.
 */
const roomsReadOnlyBy = (...paths: string[]): boolean =>
  paths.every((path) => {
    const text = fileText(path);
    return text !== '' && [...text.matchAll(/this\.rooms\b(\.\w+\(| = new Map\(\))?/g)].every((m) => ['.get(', '.has(', '.set(', '.delete(', ' = new Map()'].includes(m[1] ?? ''));
  });

/** A module of a package by its path (most of these are not exported), or undefined if it is not there. */
function load<T>(from: NodeRequire, ...path: string[]): T | undefined {
  try {
    return from(join(...path)) as T;
  } catch {
    return undefined;
  }
}

interface Class {
  prototype: Members;
}

/** engine.io's heartbeat callbacks, as shared-heartbeats' HeartbeatTimer.expire() runs them (engine.io 6.6). */
const HEARTBEAT_SOURCE = [
  `this.pingIntervalTimer = (0, timers_1.setTimeout)(() => {
            debug("writing ping packet - expecting pong within %sms", this.server.opts.pingTimeout);
            this.hasRefreshedPingTimeout = false;
            this.sendPacket("ping");
            this.resetPingTimeout();
        }, this.server.opts.pingInterval);`,
  `this.pingTimeoutTimer = (0, timers_1.setTimeout)(() => {
            if (this.readyState === "closed")
                return;
            this.onClose("ping timeout");
        }, this.protocol === 3
            ? this.server.opts.pingInterval + this.server.opts.pingTimeout
            : this.server.opts.pingTimeout);`,
];

/** Every line of engine.io's socket.js that names a heartbeat timer, in order (engine.io 6.6). */
const HEARTBEAT_USES = [
  'this.pingTimeoutTimer = null;',
  'this.pingIntervalTimer = null;',
  'this.pingTimeoutTimer !== null &&',
  'this.pingTimeoutTimer.refresh();',
  '(_a = this.pingTimeoutTimer) === null || _a === void 0 ? void 0 : _a.refresh();',
  '(0, timers_1.clearTimeout)(this.pingTimeoutTimer);',
  'this.pingTimeoutTimer = null;',
  '(_b = this.pingIntervalTimer) === null || _b === void 0 ? void 0 : _b.refresh();',
  'this.pingIntervalTimer = (0, timers_1.setTimeout)(() => {',
  '(0, timers_1.clearTimeout)(this.pingTimeoutTimer);',
  'this.pingTimeoutTimer = (0, timers_1.setTimeout)(() => {',
  '(0, timers_1.clearTimeout)(this.pingTimeoutTimer);',
  'this.pingTimeoutTimer = null;',
  '(0, timers_1.clearTimeout)(this.pingIntervalTimer);',
  '(0, timers_1.clearTimeout)(this.pingTimeoutTimer);',
];

function loadInternals(): Internal[] {
  // The module objects socket.io and engine.io themselves load (CommonJS, by path where not exported).
  const Client = load<{ Client?: Class }>(requireFromIo, ioDir, 'dist', 'client.js')?.Client;
  const IoSocket = load<{ Socket?: Class }>(requireFromIo, ioDir, 'dist', 'socket.js')?.Socket;
  const engineServer = load<{ BaseServer?: Class; Server?: Class & { errors?: Record<string, unknown> } }>(requireFromEngine, engineDir, 'build', 'server.js');
  const EngineServer = engineServer?.Server;
  const BaseServer = engineServer?.BaseServer;
  const EngineSocket = load<{ Socket?: Class }>(requireFromEngine, engineDir, 'build', 'socket.js')?.Socket;
  const EngineTransport = load<{ Transport?: Class }>(requireFromEngine, engineDir, 'build', 'transport.js')?.Transport;
  const Polling = load<{ Polling?: Class }>(requireFromEngine, engineDir, 'build', 'transports', 'polling.js')?.Polling;
  const WsTransport = load<{ WebSocket?: Class }>(requireFromEngine, engineDir, 'build', 'transports', 'websocket.js')?.WebSocket;
  const engineTransports = load<{ default?: Members }>(requireFromEngine, engineDir, 'build', 'transports', 'index.js')?.default;
  const engineSocketSource = fileText(join(engineDir, 'build', 'socket.js'));
  const parserV3 = load<Members>(requireFromEngine, engineDir, 'build', 'parser-v3', 'index.js') ?? {};
  const ws = (load<Members>(requireFromEngine, 'ws') ?? {}) as { Receiver?: new (options: object) => Members; Sender?: Fn & { frame?: unknown; prototype: Members }; WebSocket?: Class; WebSocketServer?: Class };
  const wsServer = ws.WebSocketServer;
  const engineErrors = EngineServer?.errors;
  const io = 'socket.io';
  const eio = 'engine.io';
  const parser = 'socket.io-parser';
  const adapter = 'socket.io-adapter';
  const streams = '@socket.io/redis-streams-adapter';
  const streamsSource = join(DIRS[streams], 'dist', 'adapter.js');

  return [
    // socket.io
    { pkg: io, what: 'Client.prototype.writeToEngine()', usedBy: 'direct-writes, fanout-adapter, recovery-offsets', present: () => isFunction(method(Client?.prototype, 'writeToEngine')) },
    { pkg: io, what: 'Client keeps its sockets in `this.sockets` (a Map)', usedBy: 'connection-sockets', present: () => says(Client, 'this.sockets = new Map()') },
    { pkg: io, what: 'Socket.prototype.packet()', usedBy: 'emit-here, event-fast-path', present: () => isFunction(method(IoSocket?.prototype, 'packet')) },
    { pkg: io, what: 'Client `conn` and `decoder` (made in its constructor), `nsps` keyed by namespace name', usedBy: 'event-fast-path', present: () => says(Client, 'this.conn = conn', 'this.decoder = new server._parser.Decoder()') && says(method(Client?.prototype, 'doConnect'), 'this.nsps.set(nsp.name, socket)') },
    {
      pkg: io,
      what: 'Socket `fns` (per-packet middlewares), `_anyListeners` (onAny) and _onpacket() handling EVENT packets by onevent()',
      usedBy: 'event-fast-path',
      present: () => says(IoSocket, 'this.fns = []') && says(method(IoSocket?.prototype, 'onAny'), 'this._anyListeners') && says(method(IoSocket?.prototype, '_onpacket'), 'this.onevent(packet)') && says(method(IoSocket?.prototype, 'onevent'), 'this._anyListeners', 'this.dispatch(args)'),
    },
    { pkg: io, what: 'Client.ondecoded() defers a packet to its socket on process.nextTick', usedBy: 'event-fast-path', present: () => says(method(Client?.prototype, 'ondecoded'), 'process.nextTick', 'socket._onpacket(packet)') },
    { pkg: io, what: 'Socket.prototype.notifyOutgoingListeners()', usedBy: 'emit-here, fanout-adapter', present: () => isFunction(method(IoSocket?.prototype, 'notifyOutgoingListeners')) },
    { pkg: io, what: 'the Socket constructor assigns `this.acks = new Map()` and buildHandshake() builds `time` and `auth`', usedBy: 'lean-sockets', present: () => says(IoSocket, 'this.acks = new Map()', 'this.handshake = this.buildHandshake(auth)') && says(originalOf(method(IoSocket?.prototype, 'buildHandshake')), 'time: new Date() + ""', 'issued: +new Date()', 'auth,') && !says(IoSocket, 'this.handshake.time') },
    {
      pkg: io,
      what: 'the Client assigns `this.sockets = new Map()` and `this.nsps = new Map()` and uses only size, has, get, set, delete, clear, values of them',
      usedBy: 'lean-sockets',
      present: () => says(Client, 'this.sockets = new Map()', 'this.nsps = new Map()') && [...fileText(join(ioDir, 'dist', 'client.js')).matchAll(/this\.(?:sockets|nsps)\.(\w+)/g)].every((m) => ['size', 'has', 'get', 'set', 'delete', 'clear', 'values'].includes(m[1]!)),
    },
    { pkg: io, what: 'Socket `_anyListeners`, an array onAny() pushes to', usedBy: 'lean-sockets', present: () => says(method(IoSocket?.prototype, 'onAny'), 'this._anyListeners = this._anyListeners || []', 'this._anyListeners.push(listener)') },
    { pkg: io, what: 'the engine.io it loads is the one the service imports', usedBy: 'every engine.io hook', present: () => load(requireFromIo, 'engine.io') === load(requireHere, 'engine.io') },

    // engine.io
    { pkg: eio, what: 'Server.prototype.verify() and Server.errors.BAD_REQUEST', usedBy: 'eio-versions', present: () => isFunction(method(EngineServer?.prototype, 'verify')) && typeof engineErrors?.BAD_REQUEST === 'number' },
    { pkg: eio, what: 'the WebSocketResponse forwards the socket\'s close with `() => this.emit("close")`; onWebSocket() adds an `onUpgradeError` listener', usedBy: 'lean-connections', present: () => fileSays(join(engineDir, 'build', 'server.js'), 'socket.once("close", () => this.emit("close"));', 'websocket.on("error", onUpgradeError);', 'function onUpgradeError()') },
    { pkg: eio, what: 'Server.prototype.createTransport()', usedBy: 'lean-connections, legacy-polling-utf8, preauth-frames, control-frames', present: () => isFunction(method(EngineServer?.prototype, 'createTransport')) },
    { pkg: eio, what: 'the server keeps its connections in `this.clients`', usedBy: 'preauth-frames', present: () => says(BaseServer, 'this.clients = {}') },
    { pkg: eio, what: 'the handshake sets a polling transport\'s `maxHttpBufferSize`', usedBy: 'preauth-frames', present: () => says(method(EngineServer?.prototype, 'handshake'), 'transport.maxHttpBufferSize = ') },
    { pkg: eio, what: 'handleUpgrade() builds a WebSocketResponse holding `req`', usedBy: 'lean-connections', present: () => says(method(EngineServer?.prototype, 'handleUpgrade'), 'new WebSocketResponse(') },
    { pkg: eio, what: 'Socket `writeBuffer`, `server` and `transport`', usedBy: 'direct-writes, slow-consumers, polling-packet-cap', present: () => says(EngineSocket, 'this.writeBuffer = []', 'this.server = server') && says(method(EngineSocket?.prototype, 'setTransport'), 'this.transport = transport') },
    {
      pkg: eio,
      what: 'Socket heartbeat: schedulePing() and resetPingTimeout() make the timers and their callbacks are the ones shared-heartbeats runs; otherwise the timers are only refresh()ed and cleared (then set to null, or the socket closed) in onPacket(), clearTransport() and onClose()',
      usedBy: 'shared-heartbeats',
      present: () => {
        const lines = engineSocketSource.split('\n').map((line) => line.trim());
        const uses = lines.filter((line) => /ping(?:Interval|Timeout)Timer/.test(line));
        return (
          HEARTBEAT_SOURCE.every((part) => engineSocketSource.includes(part)) &&
          uses.length === HEARTBEAT_USES.length &&
          uses.every((line, i) => line === HEARTBEAT_USES[i]) &&
          ['schedulePing', 'resetPingTimeout', 'clearTransport', 'onClose', 'onPacket', 'sendPacket'].every((m) => isFunction(method(EngineSocket?.prototype, m)))
        );
      },
    },
    {
      pkg: eio,
      what: 'Socket.setTransport() wires its transport with error (once), ready, packet, drain, close (once) listeners and one cleanup pushed to `cleanupFn`',
      usedBy: 'lean-engine',
      present: () =>
        says(
          originalOf(method(EngineSocket?.prototype, 'setTransport')),
          'const onError = this.onError.bind(this);',
          'const onReady = () => this.flush();',
          'const onPacket = this.onPacket.bind(this);',
          'const onDrain = this.onDrain.bind(this);',
          'const onClose = this.onClose.bind(this, "transport close");',
          'this.transport = transport;',
          'this.transport.once("error", onError);',
          'this.transport.once("close", onClose);',
          'this.cleanupFn.push(function () {',
        ),
    },
    {
      pkg: eio,
      what: 'Socket `cleanupFn` is only assigned `[]` in the constructor, pushed to by setTransport() and read (length, shift) by clearTransport(); setTransport() runs only from the constructor and after clearTransport()',
      usedBy: 'lean-engine',
      present: () =>
        says(EngineSocket, 'this.cleanupFn = [];') &&
        says(method(EngineSocket?.prototype, 'clearTransport'), 'const toCleanUp = this.cleanupFn.length;', 'cleanup = this.cleanupFn.shift();', 'cleanup();') &&
        [...engineSocketSource.matchAll(/cleanupFn[.\s=]*(\w*)/g)].every((m) => ['', 'push', 'length', 'shift'].includes(m[1]!)) &&
        [...engineSocketSource.matchAll(/this\.setTransport\(/g)].length === 2 &&
        /this\.clearTransport\(\);\s*this\.setTransport\(transport\);/.test(engineSocketSource),
    },
    {
      pkg: eio,
      what: 'the WebSocket transport\'s constructor (ws listeners for message, close (once), error; _doSend, _doSendLast, _onSent, _onSentLast) and send() reading those four',
      usedBy: 'lean-engine',
      present: () =>
        says(
          WsTransport,
          'super(req);',
          'this.socket.send(data, this._onSent);',
          'this.socket.send(data, this._onSentLast);',
          'this.onError("write error", err.stack);',
          'this.emit("drain");\n                this.writable = true;\n                this.emit("ready");',
          'this.socket = req.websocket;',
          'const message = isBinary ? data : data.toString();',
          'super.onData(message);',
          'this.socket.once("close", this.onClose.bind(this));',
          'this.socket.on("error", this.onError.bind(this));',
          'this.writable = true;\n        this.perMessageDeflate = null;',
        ) &&
        says(method(WsTransport?.prototype, 'send'), 'this._onSentLast : this._onSent', 'this._doSendLast : this._doSend') &&
        originalOf(engineTransports?.websocket) === WsTransport,
    },
    {
      pkg: eio,
      what: 'Server.handshake() forgets the client on the socket\'s close and forwards the transport\'s headers (initial_headers, headers, the cookie)',
      usedBy: 'lean-engine',
      present: () =>
        says(
          method(EngineServer?.prototype, 'handshake'),
          'transport.on("headers", (headers, req) => {',
          'const isInitialRequest = !req._query.sid;',
          'if (this.opts.cookie) {',
          'this.emit("initial_headers", headers, req);',
          'this.emit("headers", headers, req);',
          'socket.once("close", () => {\n            delete this.clients[id];\n            this.clientsCount--;\n        });',
        ),
    },
    {
      pkg: eio,
      what: 'init() makes its ws server as `this.ws`; onWebSocket() starts handshake() from ws\'s upgrade callback; handshake() awaits generateId(), then makes the socket and emits "connection" before it settles, and answers a failure with closeConnection(); the `cors` option is the first middleware; _applyMiddlewares(req, res, callback)',
      usedBy: 'websocket-upgrades',
      present: () =>
        says(method(EngineServer?.prototype, 'init'), 'this.ws = new this.opts.wsEngine(') &&
        says(method(EngineServer?.prototype, 'onWebSocket'), 'this.handshake(req._query.transport, req, closeConnection);') &&
        says(method(EngineServer?.prototype, 'handleUpgrade'), 'this._applyMiddlewares(engineRequest, res, (err) => {', 'this.ws.handleUpgrade(engineRequest, socket, head, (websocket) => {') &&
        says(method(BaseServer?.prototype, 'handshake'), 'id = await this.generateId(req);', 'closeConnection(Server.errors.BAD_REQUEST);', 'this.emit("connection", socket);\n        return transport;') &&
        says(BaseServer, 'this.use(require("cors")(this.opts.cors));') &&
        says(method(BaseServer?.prototype, '_applyMiddlewares'), 'this.middlewares.length === 0', 'return callback();') &&
        (load<(options: object) => Fn>(requireFromEngine, 'cors')?.({})?.name ?? '') === CORS_MIDDLEWARE_NAME,
    },
    {
      pkg: eio,
      what: 'onWebSocket() keeps ws\'s WebSocket as `req.websocket` and starts a session without an id through this.handshake(transport, req, closeConnection), ignoring what it returns; a new session is entered in `clients` and `clientsCount` and emitted as "connection"; ids from contrib/base64id.js unless generateId() is replaced; v4 Socket semantics served the same way (open packet fields, PING from the server, PONG clears the deadline and refreshes the interval, another packet while waiting refreshes the deadline once, a client PING is an error)',
      usedBy: 'websocket-sessions',
      present: () =>
        says(method(EngineServer?.prototype, 'onWebSocket'), 'req.websocket = websocket;', 'this.handshake(req._query.transport, req, closeConnection);\n        }') &&
        says(method(BaseServer?.prototype, 'handshake'), 'this.clients[id] = socket;', 'this.clientsCount++;', 'this.emit("connection", socket);') &&
        says(method(BaseServer?.prototype, 'generateId'), 'base64id_1.base64id.generateId()') &&
        isFunction(load<{ base64id?: Members }>(requireFromEngine, engineDir, 'build', 'contrib', 'base64id.js')?.base64id?.generateId) &&
        says(method(EngineSocket?.prototype, 'onOpen'), 'sid: this.id,', 'upgrades: this.getAvailableUpgrades(),', 'pingInterval: this.server.opts.pingInterval,', 'pingTimeout: this.server.opts.pingTimeout,', 'maxPayload: this.server.opts.maxHttpBufferSize,') &&
        says(method(EngineSocket?.prototype, 'onPacket'), '!this.hasRefreshedPingTimeout', 'packet.type !== "pong"', 'this.onError(new Error("invalid heartbeat direction"));', 'this.pingTimeoutTimer = null;', 'this.emit("data", packet.data);') &&
        says(method(EngineSocket?.prototype, 'schedulePing'), 'this.sendPacket("ping");'),
    },
    { pkg: eio, what: 'Socket.prototype.flush()', usedBy: 'polling-packet-cap', present: () => isFunction(method(EngineSocket?.prototype, 'flush')) },
    { pkg: eio, what: 'Transport `protocol` and `parser`', usedBy: 'legacy-polling-utf8', present: () => says(EngineTransport, 'this.protocol = ', 'this.parser = ') },
    { pkg: eio, what: 'the v3 parser\'s encodePacket, encodePayload, encodePayloadAsBinary, decodePayload', usedBy: 'legacy-polling-utf8', present: () => ['encodePacket', 'encodePayload', 'encodePayloadAsBinary', 'decodePayload'].every((f) => isFunction(parserV3[f])) },
    { pkg: eio, what: 'polling transport onDataRequest() and `shouldClose`', usedBy: 'preauth-frames, polling-packet-cap', present: () => isFunction(method(Polling?.prototype, 'onDataRequest')) && says(method(Polling?.prototype, 'onDataRequest'), 'this.maxHttpBufferSize') && says(Polling, 'this.shouldClose') },
    { pkg: eio, what: 'the WebSocket transport keeps ws\'s socket in `this.socket`', usedBy: 'direct-writes, preauth-frames, slow-consumers', present: () => says(WsTransport, 'this.socket = ') },
    { pkg: eio, what: 'the ws it loads is the one the service imports', usedBy: 'direct-writes, preauth-frames', present: () => ws.Receiver === (wsImported as unknown as Members).Receiver && ws.Sender === (wsImported as unknown as Members).Sender },

    // ws (engine.io's copy)
    { pkg: 'ws', what: 'Receiver `_maxPayload`', usedBy: 'preauth-frames', present: () => isFunction(ws.Receiver) && new ws.Receiver({ maxPayload: 12345 })._maxPayload === 12345 },
    { pkg: 'ws', what: 'Sender.frame() and Sender.prototype.sendFrame()', usedBy: 'direct-writes, ws-frames', present: () => isFunction(ws.Sender?.frame) && isFunction(method(ws.Sender?.prototype, 'sendFrame')) },
    { pkg: 'ws', what: 'Sender `_state` and `_queue`', usedBy: 'direct-writes, ws-frames', present: () => says(ws.Sender, 'this._state = ', 'this._queue = []') },
    { pkg: 'ws', what: 'WebSocket `_sender`, `_receiver` and `_socket` (set by setSocket())', usedBy: 'direct-writes, preauth-frames, ws-frames', present: () => says(method(ws.WebSocket?.prototype, 'setSocket'), 'this._sender = ', 'this._receiver = ', 'this._socket = ') },

    {
      pkg: 'ws',
      what: 'WebSocketServer: handleUpgrade() calls this.completeUpgrade(extensions, key, protocols, req, socket, head, cb), which writes the 101 with socket.write() and calls cb synchronously',
      usedBy: 'websocket-upgrades',
      present: () =>
        says(method(wsServer?.prototype, 'handleUpgrade'), 'this.completeUpgrade(extensions, key, protocols, req, socket, head, cb);') &&
        says(method(wsServer?.prototype, 'completeUpgrade'), 'completeUpgrade(extensions, key, protocols, req, socket, head, cb) {', "socket.write(headers.concat('\\r\\n').join('\\r\\n'));", 'cb(ws, req);') &&
        !says(method(wsServer?.prototype, 'completeUpgrade'), 'process.nextTick(cb') &&
        !says(method(wsServer?.prototype, 'completeUpgrade'), 'setImmediate(cb'),
    },

    // node:timers
    { pkg: 'node', what: 'clearTimeout() ignores an object without `_onTimeout` (a shared heartbeat timer)', usedBy: 'shared-heartbeats', present: () => says(nodeClearTimeout, 'if (timer && timer._onTimeout)', "typeof timer === 'number' || typeof timer === 'string'") },

    // node:http (the runtime itself: Node's major version is pinned in package.json engines)
    {
      pkg: 'node',
      what: 'http OutgoingMessage writes straight to its socket when it owns it (`socket._httpMessage`, `outputData`, `_headerSent`, `chunkedEncoding`)',
      usedBy: 'sse-writes',
      present: () =>
        says(OutgoingMessage, 'this.outputData = []', 'this._headerSent = false', 'this.chunkedEncoding = false') &&
        says(method(OutgoingMessage.prototype, '_writeRaw'), 'conn._httpMessage === this', 'this.outputData.length', 'conn.write(data'),
    },

    // socket.io-parser (the ESM build the service imports: the parser socket.io is given)
    { pkg: parser, what: 'Decoder.prototype.add(), destroy() and emitReserved()', usedBy: 'guarded-parser', present: () => ['add', 'destroy', 'emitReserved'].every((f) => isFunction(method(Decoder.prototype, f))) },
    { pkg: parser, what: 'the Decoder keeps its options in `this.opts`, and its emitter its listeners in `_callbacks[\'$\' + event]`', usedBy: 'guarded-parser', present: () => says(Decoder, 'this.opts = Object.assign(') && says(method(Decoder.prototype, 'on'), "this._callbacks['$' + event]") },
    { pkg: parser, what: 'Encoder.prototype.encode()', usedBy: 'raw-encoder', present: () => isFunction(method(Encoder.prototype, 'encode')) },
    { pkg: parser, what: 'protocol 5 with packet types EVENT 2, ACK 3, BINARY_EVENT 5, BINARY_ACK 6', usedBy: 'guarded-parser, emit-here, recovery-offsets', present: () => protocol === 5 && PacketType.EVENT === 2 && PacketType.ACK === 3 && PacketType.BINARY_EVENT === 5 && PacketType.BINARY_ACK === 6 },

    // socket.io-adapter
    { pkg: adapter, what: 'Adapter.prototype.broadcast() calling this._encode(), this.apply() and writeToEngine()', usedBy: 'fanout-adapter, recovery-offsets', present: () => says(method(Adapter.prototype, 'broadcast'), 'this._encode(', 'this.apply(', 'writeToEngine(') },
    { pkg: adapter, what: 'Adapter.prototype._encode() setting wsPreEncodedFrame, and apply()', usedBy: 'fanout-adapter, recovery-offsets', present: () => says(method(Adapter.prototype, '_encode'), 'wsPreEncodedFrame') && isFunction(method(Adapter.prototype, 'apply')) },
    { pkg: adapter, what: 'ClusterAdapter `uid`, onMessage() and addOffsetIfNecessary()', usedBy: 'stream-entries, recovery-offsets', present: () => says(ClusterAdapter, 'this.uid = ') && isFunction(method(ClusterAdapter.prototype, 'onMessage')) && isFunction(method(ClusterAdapter.prototype, 'addOffsetIfNecessary')) },
    {
      pkg: adapter,
      what: 'the Adapter makes `rooms` and `sids` Maps, keeps each socket\'s rooms in `sids` (addAll adds, del and delAll remove) with create-room/join-room/leave-room/delete-room events, and every read of `this.rooms` (in-memory and cluster adapters, Redis Streams adapter) is get/has/set/delete',
      usedBy: 'own-id-rooms',
      present: () =>
        says(Adapter, 'this.rooms = new Map()', 'this.sids = new Map()') &&
        says(method(Adapter.prototype, 'addAll'), 'this.sids.get(id).add(room)', 'this.emit("create-room", room)', 'this.emit("join-room", room, id)') &&
        says(method(Adapter.prototype, 'del'), 'this.sids.get(id).delete(room)', 'this._del(room, id)') &&
        says(method(Adapter.prototype, '_del'), 'this.emit("leave-room", room, id)', 'this.emit("delete-room", room)') &&
        says(method(Adapter.prototype, 'delAll'), 'for (const room of this.sids.get(id))', 'this._del(room, id)', 'this.sids.delete(id)') &&
        roomsReadOnlyBy(join(DIRS[adapter], 'dist', 'in-memory-adapter.js'), join(DIRS[adapter], 'dist', 'cluster-adapter.js'), streamsSource) &&
        !readdirSync(join(ioDir, 'dist')).some((f) => f.endsWith('.js') && fileText(join(ioDir, 'dist', f)).includes('adapter.rooms')),
    },
    { pkg: adapter, what: 'the copy socket.io loads is the one the service imports', usedBy: 'fanout-adapter', present: () => load<{ Adapter?: unknown }>(requireFromIo, 'socket.io-adapter')?.Adapter === Adapter },

    // @socket.io/redis-streams-adapter (its stream's entries are written and read by the service too)
    { pkg: streams, what: 'the socket.io-adapter it extends is the one the service imports', usedBy: 'stream-entries, stream-format', present: () => load<{ ClusterAdapter?: unknown }>(requireFromStreams, 'socket.io-adapter')?.ClusterAdapter === ClusterAdapter },
    { pkg: streams, what: 'its reader passes each stream entry, decoded, with its id to onMessage()', usedBy: 'stream-entries', present: () => fileSays(streamsSource, 'onRawMessage(rawMessage, offset)', 'this.onMessage(message, offset)') },
    {
      pkg: streams,
      what: 'stream entries with fields uid, nsp, type (a number as text) and data (JSON of the message when it starts with "{")',
      usedBy: 'stream-format',
      present: () => fileSays(streamsSource, 'uid: message.uid', 'nsp: message.nsp', 'type: message.type.toString()', 'rawMessage.data = JSON.stringify(message.data)', 'rawMessage.data.startsWith("{")', 'JSON.parse(rawMessage.data)', 'type: parseInt(rawMessage.type, 10)'),
    },
  ];
}

/** The internals that are not there, with their package's installed version; empty when all are. */
export function missingInternals(): MissingInternal[] {
  const internals = loadInternals();
  const missing: MissingInternal[] = [];
  for (const internal of internals) {
    let ok: boolean;
    try {
      ok = internal.present();
    } catch {
      ok = false;
    }
    if (!ok) missing.push({ pkg: internal.pkg, version: internal.pkg === 'node' ? process.version : versionOf(DIRS[internal.pkg]), what: internal.what, usedBy: internal.usedBy });
  }
  return missing;
}

/** Throws a DependencyError naming every missing internal (see the header); called once per start. */
export function checkTransportInternals(): void {
  const missing = missingInternals();
  if (missing.length === 0) return;
  const lines = missing.map((m) => `${m.pkg} ${m.version}: ${m.what} is missing (lib/transport: ${m.usedBy})`);
  throw new DependencyError(
    `the installed dependencies lack internals the transport relies on:\n  ${lines.join('\n  ')}\n` +
      'lib/transport/ was written for the versions pinned in package.json: install those (npm ci) or adapt lib/transport/.',
  );
}
