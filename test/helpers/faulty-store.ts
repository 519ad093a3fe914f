/**
 * A real message store whose store-first writes fail or wait while a test says so (the pending save,
 * step 1; the placement, step 2), for the store-first tests of /sock and /chat.
 */
import type { MessageStore } from '../../lib/storage/types.js';

/**
 * A real SQLite store whose pending saves (store-first step 1) or placements (step 2) fail while
 * the test says so, and whose pending saves can be held until released.
 */
export interface FaultyStore {
  store: MessageStore;
  fail: { savePending: boolean; place: boolean };
  /** Holds the next pending saves until the returned function is called; `started` resolves when one waits. */
  hold(): { started: Promise<void>; release: () => void };
  pendingSaves: number;
}

export function faultyStore(inner: MessageStore): FaultyStore {
  let gate: { promise: Promise<void>; started: () => void } | undefined;
  const faulty: FaultyStore = {
    fail: { savePending: false, place: false },
    pendingSaves: 0,
    hold() {
      let release!: () => void;
      let started!: () => void;
      const waiting = new Promise<void>((r) => (started = r));
      gate = { promise: new Promise<void>((r) => (release = r)), started };
      return {
        started: waiting,
        release: () => {
          gate = undefined;
          release();
        },
      };
    },
    store: {
      description: `faulty ${inner.description}`,
      save: (row) => inner.save(row),
      async savePending(row) {
        faulty.pendingSaves++;
        if (gate) {
          gate.started();
          await gate.promise;
        }
        if (faulty.fail.savePending) throw new Error('injected pending-save failure');
        return inner.savePending(row);
      },
      async place(id, placement) {
        if (faulty.fail.place) throw new Error('injected placement failure');
        return inner.place(id, placement);
      },
      page: (...args) => inner.page(...args),
      prune: (ts) => inner.prune(ts),
      probe: () => inner.probe(),
      close: () => inner.close(),
    },
  };
  return faulty;
}

