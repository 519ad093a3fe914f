/**
 * The adapter's heap bytes per connection, measured directly: N socket ids each joined to its own
 * room (as socket.io does at connect) and to one room of `members` sockets (as capacity-10k's idle
 * clients), on socket.io-adapter's Adapter and on FanoutAdapter (own-id rooms served, not stored:
 * lib/transport/own-id-rooms.ts; the cluster adapter gets the same). Only the adapter's tables: no
 * server, no sockets.
 *
 *   node --expose-gc dist/bench/adapter-bytes.js [connections=10000] [members=5] [repeats=5]
 */
import { randomBytes } from 'node:crypto';
import { Adapter } from 'socket.io-adapter';
import { FanoutAdapter } from '../lib/transport/index.js';

const [connections = 10_000, members = 5, repeats = 5] = process.argv.slice(2).map(Number);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

/** What the adapters' constructors read of a namespace. */
const nsp = () => ({ name: '/', server: { encoder: {} }, sockets: new Map() });

/** Socket ids as socket.io makes them (base64url of 15 random bytes, 20 characters). */
const ids = Array.from({ length: connections }, () => randomBytes(15).toString('base64url'));

function bytesPerConnection(make: () => Adapter): number {
  gc!();
  gc!();
  const before = process.memoryUsage().heapUsed;
  const adapter = make();
  ids.forEach((id, i) => {
    adapter.addAll(id, new Set([id]));
    adapter.addAll(id, new Set([`r:room-${Math.floor(i / members!)}`]));
  });
  gc!();
  gc!();
  const after = process.memoryUsage().heapUsed;
  if (adapter.sids.size !== connections) throw new Error('not every socket joined');
  return (after - before) / connections!;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const stock: number[] = [];
const ours: number[] = [];
for (let r = 0; r < repeats!; r++) {
  stock.push(bytesPerConnection(() => new Adapter(nsp() as never)));
  ours.push(bytesPerConnection(() => new FanoutAdapter(nsp() as never)));
}
const s = median(stock);
const o = median(ours);
console.log(`connections ${connections}, rooms of ${members}, median of ${repeats}`);
console.log(`socket.io-adapter Adapter: ${s.toFixed(0)} B per connection`);
console.log(`FanoutAdapter (own-id rooms served): ${o.toFixed(0)} B per connection`);
console.log(`saved: ${(s - o).toFixed(0)} B per connection`);
