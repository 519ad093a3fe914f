/**
 * Cluster mode's publish duration (lib/metrics/streamed-publications.ts): timed from accepted to
 * this node's write of the message read back from the stream, whichever of the broker's answer
 * and the read comes first; nothing kept for failures or reads of other nodes' messages.
 */
import { expect } from 'chai';
import { NamespaceRecorder } from '../lib/metrics/recorder.js';
import { positionKey, StreamedPublications } from '../lib/metrics/streamed-publications.js';

const key = (offset: number): string => positionKey('/layout', 'r', { epoch: 'e', offset, ts: 0 });

/** A recorder whose durations (in seconds) are kept for the test to read. */
function recorded(): { recorder: NamespaceRecorder; seconds: number[] } {
  const seconds: number[] = [];
  return { recorder: new NamespaceRecorder((s) => seconds.push(s)), seconds };
}

describe('streamed publications (cluster publish duration)', () => {
  it('answer first, then the read: timed once, at the read', () => {
    const timer = new StreamedPublications();
    const { recorder, seconds } = recorded();
    timer.sent();
    timer.answered(key(1), performance.now() - 5, recorder);
    expect(seconds.length).to.equal(0);
    expect(timer.busy).to.equal(true);
    timer.delivered(key(1));
    expect(seconds.length).to.equal(1);
    expect(seconds[0]).to.be.at.least(0.005);
    timer.delivered(key(1));
    expect(seconds.length).to.equal(1);
    expect(timer.busy).to.equal(false);
  });

  it('the read first (before the answer): timed when the answer comes', () => {
    const timer = new StreamedPublications();
    const { recorder, seconds } = recorded();
    const started = performance.now();
    timer.sent();
    timer.delivered(key(2));
    expect(seconds.length).to.equal(0);
    timer.answered(key(2), started, recorder);
    expect(seconds.length).to.equal(1);
    expect(timer.busy).to.equal(false);
  });

  it("keeps nothing for a failed publication, nor for other nodes' messages read while none is in flight", () => {
    const timer = new StreamedPublications();
    const { recorder, seconds } = recorded();
    timer.delivered(key(3));
    expect(timer.busy).to.equal(false);
    timer.sent();
    timer.delivered(key(4)); // another node's, read while one of ours is in flight
    timer.answered(undefined, performance.now(), recorder);
    expect(timer.busy).to.equal(false);
    expect(seconds.length).to.equal(0);
  });
});
