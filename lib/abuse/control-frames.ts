/**
 * Control frames per connection: WebSocket pings and pongs, and Engine.IO's packets other than
 * messages (pings, pongs, noops, upgrades...). No message rate sees them, yet each costs the server
 * a read, and a ping also a write (the pong). A client needs a few a minute (an Engine.IO heartbeat
 * every 25 s, a probe when it upgrades, a keep-alive ping now and then); a flood from one
 * connection kept a core busy answering it. So every connection may send at most
 * CONTROL_FRAME_LIMIT of them in a window of CONTROL_WINDOW_MS: past that it is closed with
 * RATE_LIMITED (WebSocket close 1008). Nothing it sends after that is read: the socket is paused
 * (what ws already read in the same chunk is parsed, not answered: ws sends nothing while closing)
 * and destroyed a second later, once the close frame has had time to reach the client.
 *
 * The count lives on the connection's own object, made on its first control frame: connections
 * that send none (most: Engine.IO's awaited PONG is not counted) hold nothing for it.
 */

/** Control frames a connection may send per window. */
export const CONTROL_FRAME_LIMIT = 50;
/** The window, in ms. */
export const CONTROL_WINDOW_MS = 10_000;

/** ok: within the limit; over: just past it (close the connection: closeFlooded); closing: past it before. */
export type ControlVerdict = 'ok' | 'over' | 'closing';

/** One connection's count in the current window. */
class ControlFrames {
  private count = 0;
  private since = 0;

  take(now: number): ControlVerdict {
    // Once over, it stays over: the connection is closing.
    if (this.count > CONTROL_FRAME_LIMIT) return 'closing';
    if (now - this.since >= CONTROL_WINDOW_MS) {
      this.since = now;
      this.count = 0;
    }
    return ++this.count <= CONTROL_FRAME_LIMIT ? 'ok' : 'over';
  }
}

const BUDGET = Symbol('control frames');
type Counted = { [BUDGET]?: ControlFrames };

/** Counts one control frame of the connection `owner` stands for. */
export function countControlFrame(owner: object): ControlVerdict {
  const counted = owner as Counted;
  return (counted[BUDGET] ??= new ControlFrames()).take(Date.now());
}

/** How long a flooded WebSocket has to take its close frame before its socket is destroyed. */
const FLOOD_CLOSE_GRACE_MS = 1000;

/** The parts of ws's WebSocket that closeFlooded uses (public API). */
export interface FloodedWebSocket {
  close(code: number, reason: string): void;
  pause(): void;
  terminate(): void;
}

/** Closes a WebSocket over the control-frame limit: 1008 RATE_LIMITED, nothing more read, destroyed a second later. */
export function closeFlooded(ws: FloodedWebSocket): void {
  ws.close(1008, CONTROL_FLOOD_REASON);
  ws.pause();
  setTimeout(() => ws.terminate(), FLOOD_CLOSE_GRACE_MS).unref();
}

/** What a connection closed for too many control frames is told (the WebSocket close reason). */
export const CONTROL_FLOOD_REASON = 'RATE_LIMITED';
/** The description of the close (socket.io's disconnect details). */
export const CONTROL_FLOOD_MESSAGE = `over ${CONTROL_FRAME_LIMIT} control frames (pings, pongs, noops) in ${CONTROL_WINDOW_MS / 1000} s`;

const REPORT = Symbol('control flood report');
/** Told of every Engine.IO connection closed for too many control frames (the violation, the metrics, a log line). */
export type ControlFloodReport = (conn: { request: unknown }) => void;

/** Sets what `engine`'s connections report when they are closed for a control-frame flood. */
export function onControlFlood(engine: object, report: ControlFloodReport): void {
  (engine as { [REPORT]?: ControlFloodReport })[REPORT] = report;
}

/** Reports a connection of `engine` closed for a control-frame flood (nothing when nobody listens). */
export function reportControlFlood(engine: object, conn: { request: unknown }): void {
  (engine as { [REPORT]?: ControlFloodReport })[REPORT]?.(conn);
}
