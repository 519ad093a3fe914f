/**
 * Delivery accounting for one subscriber: which sequence numbers arrived, how many twice, how many
 * after a later one. A bitset per subscriber is exact and small (a few hundred messages per run).
 */
export class DeliveryTracker {
  /** Frames received, duplicates included. */
  received = 0;
  distinct = 0;
  duplicates = 0;
  outOfOrder = 0;
  /** EVENTs for a room this subscriber is not in. */
  foreign = 0;
  private highest = 0;
  private seen = new Uint8Array(64);

  record(seq: number): void {
    this.received++;
    const byte = seq >>> 3;
    if (byte >= this.seen.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.seen.length * 2));
      grown.set(this.seen);
      this.seen = grown;
    }
    const bit = 1 << (seq & 7);
    if (this.seen[byte]! & bit) {
      this.duplicates++;
      return;
    }
    this.seen[byte]! |= bit;
    this.distinct++;
    if (seq < this.highest) this.outOfOrder++;
    else this.highest = seq;
  }

  /** Messages 1..expected that never arrived. */
  lost(expected: number): number {
    let missing = 0;
    for (let seq = 1; seq <= expected; seq++) {
      const byte = seq >>> 3;
      if (byte >= this.seen.length || !(this.seen[byte]! & (1 << (seq & 7)))) missing++;
    }
    return missing;
  }
}
