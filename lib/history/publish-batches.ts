/**
 * The publications of one event, sent to Redis as one script call (lib/history/redis.ts PUBLISH).
 *
 * A publisher's burst (several NOTIFYs in one read, a server-side loop) used to be one call per
 * message. Redis answers a node blocked on the cluster stream right after the first message's
 * XADD, so every node read the first message alone and the rest in a second read: its members got
 * the burst in two writes each instead of one. One call per burst wakes the readers once.
 *
 * The batch is sent on `process.nextTick`, after the event's other publications (a NOTIFY read from
 * the wire is handed to its handler on a tick of its own, queued before this one), in the order
 * they were made; batches go out in order on the one connection, so a room's messages keep theirs.
 * A batch is bounded: past MAX_MESSAGES messages or MAX_BYTES of message text it is sent at once
 * and a new one begins. A failed call rejects every message of its batch (NOT_READY to each
 * publisher), as a failed call of one message did; Redis does not undo a script's writes, so a call
 * that failed part way (a write refused for lack of memory) has published the messages before it.
 */

/** Messages in one call at most: a script runs alone in Redis, so a call stays short. */
export const MAX_MESSAGES = 64;
/** Bytes of message text in one call at most (a larger message goes in a call of its own). */
export const MAX_BYTES = 1024 * 1024;

interface Pending {
  values: string[];
  resolve(reply: [epoch: string, offset: number]): void;
  reject(err: unknown): void;
}

/** Sends one call: KEYS (the stream, then two per message) and ARGV (per message: its count, then its values). */
export type SendBatch = (keys: string[], args: string[]) => Promise<unknown>;

/** Calls made so far by every node of the process (test/history-cluster.test.ts: a burst is one). */
let calls = 0;
export function publishCallCount(): number {
  return calls;
}

export class PublishBatches {
  private keys: string[] = [];
  private pending: Pending[] = [];
  private bytes = 0;

  constructor(
    private readonly stream: string,
    private readonly send: SendBatch,
  ) {}

  /** Adds a message with its two room keys; resolves with its epoch and offset once Redis has it. */
  add(roomHash: string, roomStream: string, values: string[], bytes: number): Promise<[epoch: string, offset: number]> {
    if (this.pending.length > 0 && (this.pending.length >= MAX_MESSAGES || this.bytes + bytes > MAX_BYTES)) this.flush();
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) {
        this.keys = [this.stream];
        process.nextTick(this.flushIfPending);
      }
      this.keys.push(roomHash, roomStream);
      this.pending.push({ values, resolve, reject });
      this.bytes += bytes;
    });
  }

  private readonly flushIfPending = (): void => {
    if (this.pending.length > 0) this.flush();
  };

  private flush(): void {
    const batch = this.pending;
    const keys = this.keys;
    this.pending = [];
    this.keys = [];
    this.bytes = 0;
    const args: string[] = [];
    for (const p of batch) args.push(String(p.values.length), ...p.values);
    calls++;
    this.send(keys, args).then(
      (reply) => {
        const answers = reply as (string | number)[];
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve([String(answers[2 * i]), Number(answers[2 * i + 1])]);
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
  }
}
