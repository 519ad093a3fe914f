/**
 * What a kept message costs, for the byte budgets of the recent history and the recovery buffer.
 *
 * An estimate of the message's JSON size, read off the value it is kept as: string lengths, 8 per
 * number, a few bytes of punctuation per value. One walk of the value in which only containers go
 * on the stack (a 2-million-number array is one loop, not 2 million pushes), so a small notification
 * costs a handful of steps and a large one less than the JSON.parse that made it. An explicit stack,
 * not recursion: a deeply nested payload (JSON.parse builds any depth) cannot overflow the call stack.
 *
 * One publication is measured twice, by the history and by the recovery buffer, each with its own
 * argument list around the same payload object: the last large payload measured is remembered (by a
 * weak reference), so the second measure of a megabyte message is one comparison.
 */

import { RawJson } from '../json/raw-json.js';

/** Payloads at least this large are remembered; smaller ones cost less to walk than to remember. */
const REMEMBER_FROM = 64 * 1024;
let remembered: WeakRef<object> | undefined;
let rememberedBytes = 0;

/** Approximate bytes of a JSON-like value (binary attachments by their byte length). */
export function approxBytes(value: unknown): number {
  if (!Array.isArray(value)) return valueBytes(value);
  // An argument list: its payloads one by one, so a payload measured already is not walked again.
  let bytes = 2 + value.length;
  for (let i = 0; i < value.length; i++) bytes += valueBytes(value[i]);
  return bytes;
}

function valueBytes(value: unknown): number {
  if (typeof value !== 'object' || value === null) return scalarBytes(value);
  if (value instanceof RawJson) return value.length;
  if (remembered !== undefined && remembered.deref() === value) return rememberedBytes;
  const bytes = walk(value);
  if (bytes >= REMEMBER_FROM) {
    remembered = new WeakRef(value);
    rememberedBytes = bytes;
  }
  return bytes;
}

function scalarBytes(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return v.length + 2;
    case 'number':
    case 'bigint':
      return 8;
    case 'object':
      return 4; // null
    default:
      return 5; // booleans, undefined
  }
}

/** A container's size: scalars are counted where they stand, only containers go on the stack. */
function walk(root: object): number {
  let bytes = 0;
  const stack: object[] = [root];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (Array.isArray(v)) {
      bytes += 2 + v.length;
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (typeof item === 'object' && item !== null) stack.push(item);
        else bytes += scalarBytes(item);
      }
    } else if (v instanceof RawJson) {
      bytes += v.length;
    } else if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
      bytes += v.byteLength;
    } else {
      bytes += 2;
      for (const key in v) {
        if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
        bytes += key.length + 4;
        const item: unknown = (v as Record<string, unknown>)[key];
        if (typeof item === 'object' && item !== null) stack.push(item);
        else bytes += scalarBytes(item);
      }
    }
  }
  return bytes;
}
