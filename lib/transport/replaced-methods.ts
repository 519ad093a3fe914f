/**
 * Which library functions this layer replaced with its own (lean-sockets, lean-engine,
 * shared-heartbeats): the start-up checks (internals.ts) read the library's original source, not
 * the replacement's, and a replacement of a replacement leads back to the original.
 */
const originals = new WeakMap<object, unknown>();

export function noteReplaced(replacement: object, original: unknown): void {
  originals.set(replacement, original);
}

/** The library's own function (or class) that `fn` replaces, or `fn` itself. */
export function originalOf(fn: unknown): unknown {
  let current = fn;
  while ((typeof current === 'function' || (typeof current === 'object' && current !== null)) && originals.has(current)) current = originals.get(current);
  return current;
}
