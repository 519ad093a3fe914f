/**
 * Sockets corked until a flush point, each once however many writes it gets meanwhile: a burst of
 * publications handled before the flush leaves in one writev per socket, with no added delay past
 * the flush. The caller picks the point: `process.nextTick` (after the current event and the
 * promise jobs it started) or `setImmediate` (the check phase of the same loop iteration, for
 * node's HTTP server, which handles each pipelined request in an event of its own).
 */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

export class CorkUntilFlush {
  /** Socket flushes (uncorks) so far, for the fast-path tests: fewer than the writes when sockets share a flush. */
  flushes = 0;
  private corked: Corkable[] = [];
  /** Marks a socket corked meanwhile (one symbol per flush point: a socket may be on both lists). */
  private readonly mark = Symbol('corkedUntilFlush');

  constructor(private readonly schedule: (flush: () => void) => void) {}

  /** Corks `socket` until the flush (once however many writes it gets meanwhile). */
  cork(socket: Corkable): void {
    const marked = socket as Corkable & { [key: symbol]: boolean | undefined };
    if (marked[this.mark] === true) return;
    marked[this.mark] = true;
    socket.cork();
    if (this.corked.push(socket) === 1) this.schedule(this.flush);
  }

  private readonly flush = (): void => {
    const list = this.corked;
    this.corked = [];
    this.flushes += list.length;
    for (const socket of list) {
      (socket as Corkable & { [key: symbol]: boolean | undefined })[this.mark] = false;
      socket.uncork();
    }
  };
}
