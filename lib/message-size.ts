/**
 * What a kept message costs, for the byte budgets of the recent history and the recovery buffer.
 *
 * An estimate of the message's JSON size, read off the value it is kept as: string lengths, 8 per
 * number, a few bytes of punctuation per value. One walk of the value, no allocation per node,
 * so a small notification costs a handful of steps; a large one is walked once, which is less
 * than the encoding it goes through anyway. An explicit stack, not recursion: a deeply nested
 * payload (JSON.parse builds any depth) cannot overflow the call stack.
 */

/** Approximate bytes of a JSON-like value (binary attachments by their byte length). */
export function approxBytes(value: unknown): number {
  let bytes = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    switch (typeof v) {
      case 'string':
        bytes += v.length + 2;
        break;
      case 'number':
      case 'bigint':
        bytes += 8;
        break;
      case 'object':
        if (v === null) {
          bytes += 4;
        } else if (Array.isArray(v)) {
          bytes += 2 + v.length;
          for (let i = 0; i < v.length; i++) stack.push(v[i]);
        } else if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
          bytes += v.byteLength;
        } else {
          bytes += 2;
          for (const key in v) {
            if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
            bytes += key.length + 4;
            stack.push((v as Record<string, unknown>)[key]);
          }
        }
        break;
      default:
        bytes += 5; // booleans, undefined
    }
  }
  return bytes;
}
