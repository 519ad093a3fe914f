/**
 * Steps that are synchronous with in-memory stores and asynchronous with Redis or PostgreSQL
 * (MaybePromise): `andThen` runs the next step at once after a synchronous one, so a JOIN on one
 * node makes no promise (Hub.join), and after a promise's settling otherwise.
 */
import type { MaybePromise } from './types.js';

export function andThen<T, R>(step: MaybePromise<T>, next: (value: T) => MaybePromise<R>): MaybePromise<R> {
  return step instanceof Promise ? step.then(next) : next(step);
}
