/**
 * A Map for the usual case of one entry: the entry inline (~40 B) instead of a Map and its hash
 * table (~180 B); a second key moves everything into a real Map. The Map API socket.io's Client uses
 * on its `sockets` and `nsps` (size, has, get, set, delete, clear, values; checked at start-up,
 * internals.ts), plus keys, entries, forEach and iteration. Iterating while deleting is safe (a
 * copy of the one entry, or the Map's own iterator).
 */
const NONE: unique symbol = Symbol('none');

export class SmallMap<K, V> {
  private key: K | typeof NONE = NONE;
  private value: V | undefined = undefined;
  private map: Map<K, V> | undefined = undefined;

  get size(): number {
    return this.map ? this.map.size : this.key === NONE ? 0 : 1;
  }

  has(key: K): boolean {
    return this.map ? this.map.has(key) : this.key !== NONE && Object.is(this.key, key);
  }

  get(key: K): V | undefined {
    if (this.map) return this.map.get(key);
    return this.key !== NONE && Object.is(this.key, key) ? this.value : undefined;
  }

  set(key: K, value: V): this {
    if (this.map) this.map.set(key, value);
    else if (this.key === NONE || Object.is(this.key, key)) {
      this.key = key;
      this.value = value;
    } else {
      this.map = new Map<K, V>([[this.key, this.value as V], [key, value]]);
      this.key = NONE;
      this.value = undefined;
    }
    return this;
  }

  delete(key: K): boolean {
    if (this.map) return this.map.delete(key);
    if (this.key === NONE || !Object.is(this.key, key)) return false;
    this.key = NONE;
    this.value = undefined;
    return true;
  }

  clear(): void {
    this.map = undefined;
    this.key = NONE;
    this.value = undefined;
  }

  entries(): IterableIterator<[K, V]> {
    if (this.map) return this.map.entries();
    return (this.key === NONE ? [] : [[this.key, this.value as V] as [K, V]]).values();
  }

  keys(): IterableIterator<K> {
    if (this.map) return this.map.keys();
    return (this.key === NONE ? [] : [this.key]).values();
  }

  values(): IterableIterator<V> {
    if (this.map) return this.map.values();
    return (this.key === NONE ? [] : [this.value as V]).values();
  }

  forEach(fn: (value: V, key: K, map: this) => void): void {
    for (const [key, value] of this.entries()) fn(value, key, this);
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'SmallMap';
  }
}
