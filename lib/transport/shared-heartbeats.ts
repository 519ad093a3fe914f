/**
 * Engine.IO's heartbeat timers on a few shared Node timers instead of one Node `Timeout` per
 * connection (docs/PERFORMANCE.md: ~250 B per idle connection for the Timeout, its closure and
 * context, and a new Timeout + closure per connection at every ping for the pong deadline).
 *
 * engine.io 6.6 keeps two timers per socket: `pingIntervalTimer` (v4: when to send the next PING,
 * re-armed by `refresh()` when the PONG comes) and `pingTimeoutTimer` (v4: the PONG deadline,
 * refreshed once by any other packet while waiting, cleared and set to null by the PONG; v3: the
 * deadline for the client's next PING, pingInterval + pingTimeout, refreshed by each PING). It
 * makes them in `schedulePing` and `resetPingTimeout`, which are replaced here, and otherwise only
 * calls `refresh()` on them and `clearTimeout()` (then sets null, or the socket is closed).
 *
 * Here each socket has one small `HeartbeatTimer` (v4: the same object is both timers, as
 * engine.io never has both pending: the PONG deadline starts when the interval has fired, and
 * the PONG clears it before refreshing the interval). Its `refresh()` moves it to the end of the
 * queue of its role and duration: an insertion-ordered Set, so each queue stays ordered by due
 * time, with one Node timer armed for its head. A timer has no `_onTimeout`, so Node's
 * `clearTimeout` on it does nothing: when an entry falls due it acts only if it is still the
 * socket's timer of that role and the socket is open, as engine.io's own callbacks would have.
 * The entries of a closed socket are dropped at once (onClose, clearTransport), and a queue
 * with no entries has no Node timer.
 *
 * Installed once per process on engine.io's Socket.prototype (every server in it shares the
 * class); checked at start-up (internals.ts reads engine.io's source of these methods).
 */
import { engineModule } from './library-modules.js';
import { performance } from 'node:perf_hooks';
import { noteReplaced } from './replaced-methods.js';

interface EngineSocket {
  readyState: string;
  protocol: number;
  server: { opts: { pingInterval: number; pingTimeout: number } };
  pingIntervalTimer: unknown;
  pingTimeoutTimer: unknown;
  hasRefreshedPingTimeout: boolean;
  sendPacket(type: string): void;
  resetPingTimeout(): void;
  onClose(reason: string, description?: unknown): void;
  clearTransport(): void;
  schedulePing(): void;
}

/** What a HeartbeatTimer reads and calls of its socket (an engine.io Socket, or a WebSocketSession). */
export type HeartbeatSocket = Pick<EngineSocket, 'readyState' | 'protocol' | 'server' | 'pingIntervalTimer' | 'pingTimeoutTimer' | 'hasRefreshedPingTimeout' | 'sendPacket' | 'resetPingTimeout' | 'onClose'>;

type Role = 'interval' | 'timeout';

/**
 * Due times in milliseconds of a monotonic clock, kept in 30 bits so that they are small integers
 * in the timer object rather than a heap number each; compared with wrap-around (correct while
 * the two are less than 2^29 ms, six days, apart; heartbeat durations are seconds).
 */
const MASK = 0x3fffffff;
const nowMs = (): number => Math.floor(performance.now()) & MASK;
/** `due - now` as a signed number of milliseconds. */
const until = (due: number, now: number): number => (((due - now) & MASK) << 2) >> 2;

/** The entries of one role and duration, in due order, and the Node timer for the first. */
class Queue {
  readonly entries = new Set<HeartbeatTimer>();
  private timer: NodeJS.Timeout | undefined = undefined;
  private firing = false;

  constructor(
    readonly role: Role,
    readonly ms: number,
  ) {}

  /** Puts `t` (already of this queue or of none) at the end, due in `ms`. */
  add(t: HeartbeatTimer): void {
    this.entries.delete(t);
    t.due = (nowMs() + this.ms) & MASK;
    this.entries.add(t);
    // A timer already armed is armed for an earlier entry, or for a time before this one's.
    if (this.timer === undefined && !this.firing) this.timer = setTimeout(this.fire, this.ms);
  }

  remove(t: HeartbeatTimer): void {
    this.entries.delete(t);
    if (this.entries.size === 0 && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  get armed(): boolean {
    return this.timer !== undefined;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.firing = true;
    const now = nowMs();
    try {
      for (const t of this.entries) {
        if (until(t.due, now) > 0) break;
        this.entries.delete(t);
        t.queue = undefined;
        t.expire(this.role);
      }
    } finally {
      // (Also after a throw, which then reaches the process as a timer callback's would.)
      this.firing = false;
      const head = this.entries.values().next();
      if (!head.done) this.timer = setTimeout(this.fire, Math.max(1, until(head.value.due, nowMs())));
    }
  };
}

/** Queues by role and duration (a few: the durations come from the servers' options). */
const queues: Record<Role, Map<number, Queue>> = { interval: new Map(), timeout: new Map() };

function queueFor(role: Role, ms: number): Queue {
  let q = queues[role].get(ms);
  if (q === undefined) {
    q = new Queue(role, ms);
    queues[role].set(ms, q);
  }
  return q;
}

/** One socket's heartbeat timer: what engine.io holds as `pingIntervalTimer` / `pingTimeoutTimer`. */
export class HeartbeatTimer {
  /** The queue it is in, if any. */
  queue: Queue | undefined = undefined;
  /** When it falls due (see `nowMs`). */
  due = 0;

  constructor(readonly socket: HeartbeatSocket) {}

  /**
   * As Node's `Timeout.refresh()`: due again one duration from now, pending or not. Its role is
   * the one engine.io calls it as: the PONG deadline while it is `pingTimeoutTimer`, else the
   * interval (v4 clears `pingTimeoutTimer` before refreshing the interval).
   */
  refresh(): this {
    const s = this.socket;
    if (s.readyState === 'closed') {
      this.drop();
      return this;
    }
    const opts = s.server.opts;
    const q = s.pingTimeoutTimer === this ? queueFor('timeout', s.protocol === 3 ? opts.pingInterval + opts.pingTimeout : opts.pingTimeout) : queueFor('interval', opts.pingInterval);
    if (this.queue !== q) {
      this.queue?.remove(this);
      this.queue = q;
    }
    q.add(this);
    return this;
  }

  /** Out of its queue (its socket closed, or engine.io cleared it). */
  drop(): void {
    this.queue?.remove(this);
    this.queue = undefined;
  }

  /** Fallen due in the queue of `role`: what engine.io's timer callbacks did, if still current. */
  expire(role: Role): void {
    const s = this.socket;
    if (s.readyState === 'closed') return;
    if (role === 'timeout') {
      // resetPingTimeout()'s callback.
      if (s.pingTimeoutTimer === this) s.onClose('ping timeout');
    } else if (s.pingIntervalTimer === this) {
      // schedulePing()'s callback.
      s.hasRefreshedPingTimeout = false;
      s.sendPacket('ping');
      s.resetPingTimeout();
    }
  }
}

const dropIfOurs = (t: unknown): void => {
  if (t instanceof HeartbeatTimer) t.drop();
};

let installed = false;

export function installSharedHeartbeats(): void {
  if (installed) return;
  installed = true;
  const proto = engineModule<{ Socket: { prototype: EngineSocket } }>('./socket.js').Socket.prototype;

  const schedulePing = function (this: EngineSocket) {
    const t = new HeartbeatTimer(this);
    this.pingIntervalTimer = t;
    t.refresh();
  };

  const resetPingTimeout = function (this: EngineSocket) {
    // engine.io clears the old deadline and makes a new one; v4 reuses the interval's object
    // (it has just fired), v3 its one deadline.
    const t = this.pingTimeoutTimer instanceof HeartbeatTimer ? this.pingTimeoutTimer : this.pingIntervalTimer instanceof HeartbeatTimer ? this.pingIntervalTimer : new HeartbeatTimer(this);
    this.pingTimeoutTimer = t;
    t.refresh();
  };
  noteReplaced(schedulePing, proto.schedulePing);
  noteReplaced(resetPingTimeout, proto.resetPingTimeout);
  proto.schedulePing = schedulePing;
  proto.resetPingTimeout = resetPingTimeout;

  // clearTransport() (an upgrade, or the close) clears the deadline and sets it to null: the entry
  // would otherwise stay queued, holding the socket, until it falls due.
  //
  // One deliberate difference from engine.io: for an Engine.IO v3 socket (socket.io-client 1.x/2.x)
  // an upgrade from polling to WebSocket, their default, leaves it with no PING deadline at all
  // (the client's PINGs only refresh a deadline that exists), so a legacy client that died after
  // upgrading would stay connected, and present in its rooms, until TCP noticed. The deadline is
  // re-armed from the upgrade instead (pingInterval + pingTimeout, as at the open).
  const clearTransport = proto.clearTransport;
  const clearTransportKeepingV3Deadline = function (this: EngineSocket) {
    const deadline = this.pingTimeoutTimer;
    clearTransport.call(this);
    if (deadline === this.pingTimeoutTimer) return;
    if (this.protocol === 3 && this.readyState === 'open' && deadline instanceof HeartbeatTimer) {
      this.pingTimeoutTimer = deadline;
      deadline.refresh();
      return;
    }
    dropIfOurs(deadline);
  };
  noteReplaced(clearTransportKeepingV3Deadline, clearTransport);
  proto.clearTransport = clearTransportKeepingV3Deadline;

  // onClose() clears both with clearTimeout() (the interval stays assigned).
  const onClose = proto.onClose;
  const onCloseDroppingTimers = function (this: EngineSocket, reason: string, description?: unknown) {
    const interval = this.pingIntervalTimer;
    const deadline = this.pingTimeoutTimer;
    onClose.call(this, reason, description);
    if (this.readyState === 'closed') {
      dropIfOurs(interval);
      dropIfOurs(deadline);
    }
  };
  noteReplaced(onCloseDroppingTimers, onClose);
  proto.onClose = onCloseDroppingTimers;
}

/** Whether an engine.io socket's heartbeat runs on the shared timers (for the tests that fail when not). */
export function hasSharedHeartbeat(conn: object): boolean {
  const s = conn as Partial<EngineSocket>;
  return (s.pingIntervalTimer ?? s.pingTimeoutTimer) instanceof HeartbeatTimer;
}

export interface HeartbeatQueueState {
  role: Role;
  ms: number;
  entries: number;
  /** Whether its Node timer is armed (it is, exactly while it has entries). */
  armed: boolean;
}

/** Every queue's state (tests, and the memory notes). */
export function heartbeatQueues(): HeartbeatQueueState[] {
  return (['interval', 'timeout'] as const).flatMap((role) => [...queues[role].values()].map((q) => ({ role, ms: q.ms, entries: q.entries.size, armed: q.armed })));
}

/** The engine.io sockets with a queued heartbeat entry. */
export function scheduledHeartbeatSockets(): object[] {
  return (['interval', 'timeout'] as const).flatMap((role) => [...queues[role].values()].flatMap((q) => [...q.entries].map((t) => t.socket)));
}
