/**
 * Node's EventEmitter keeps its listeners in `_events`, made as `{ __proto__: null }`: an object V8
 * keeps in dictionary mode, a hash table of 160 B with a few event names and 448 B with eight or
 * more (a TCP socket has eight). An idle socket.io connection over WebSocket has seven emitters
 * (TCP socket, ws WebSocket and its Receiver, Engine.IO socket and transport, socket.io Socket and
 * its decoder's emitter aside), ~1.1 KB of such tables per connection (heap snapshots,
 * docs/PERFORMANCE.md).
 *
 * Once a connection is set up and its listeners are in place, each table is copied into an
 * ordinary (fast-mode) object whose prototype has no properties (streams' tables, object literals
 * from the start, keep Object.prototype): the same lookups as before
 * (`events[type]` finds nothing that is not its own), the same own keys in the same order, and
 * connections whose emitters listen to the same events in the same order share one hidden class.
 * A listener removed later puts that one table back in dictionary mode (as before); nothing else
 * changes. Relies on EventEmitter's `_events` (checked at start-up, internals.ts).
 */
import { EventEmitter } from 'node:events';

/** Compacted tables of null-prototype emitters: a constructor, so V8 reserves in-object slots for them. */
function CompactEvents(): void {}
CompactEvents.prototype = Object.create(null) as object;
/** The prototype of every compacted table: no properties, no prototype. */
const NO_EVENTS: object = CompactEvents.prototype as object;

type Listeners = Record<string | symbol, unknown>;

/** Copies one emitter's listener table into a fast-mode object (a no-op for anything else). */
export function compactListeners(emitter: unknown): void {
  if (!(emitter instanceof EventEmitter)) return;
  const internals = emitter as unknown as { _events?: Listeners };
  const events = internals._events;
  if (events === undefined) return;
  // Streams make theirs as an object literal (Object.prototype): the copy keeps the prototype it had.
  const proto = Object.getPrototypeOf(events) as object | null;
  if (proto !== null && proto !== Object.prototype) return;
  const compact = (proto === null ? new (CompactEvents as unknown as new () => object)() : {}) as Listeners;
  // for-in (own keys only: the prototype, null or Object.prototype, has no enumerable ones) is
  // several times faster than Reflect.ownKeys here; event names that are symbols are rare.
  for (const key in events) compact[key] = events[key];
  const symbols = Object.getOwnPropertySymbols(events);
  for (let i = 0; i < symbols.length; i++) compact[symbols[i]!] = events[symbols[i]!];
  internals._events = compact;
  if (proto !== null && testing) compacted.add(compact);
}

/** Tests note the compacted tables of streams (which look like any object literal); off in service. */
let testing = false;
export function noteCompactedTables(): void {
  testing = true;
}

const compacted = new WeakSet<object>();

/** Whether `emitter`'s listener table is a compacted one (for the tests that fail when it is not). */
export function hasCompactListeners(emitter: unknown): boolean {
  const events = (emitter as { _events?: object })._events;
  return events !== undefined && (Object.getPrototypeOf(events) === NO_EVENTS || compacted.has(events));
}
