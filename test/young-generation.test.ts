/**
 * V8's young generation is held at 1 MB semi-spaces from the CLI's start (connect bursts: less RSS
 * and CPU per connection) until the node carries GROWTH_DELIVERIES_PER_SECOND deliveries in a second
 * (lib/runtime/young-generation-growth.ts): then V8 sizes it as by default. The hub counts the
 * deliveries; V8 must honour the flag changed at run time (checked in a child process, whose flags
 * are its own).
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect, request, type TestClient } from './helpers/clients.js';
import { serviceForSuite } from './helpers/service.js';
import { GROWTH_DELIVERIES_PER_SECOND, holdYoungGeneration, noteDeliveries, youngGenerationHeld } from '../lib/runtime/young-generation-growth.js';

const GROWTH_MODULE = fileURLToPath(new URL('../lib/runtime/young-generation-growth.js', import.meta.url));

/** Runs a churn of retained objects in a child process, held or not, with the deliveries noted after the first churn. */
function newSpaceSizes(hold: boolean, deliveries: number): Promise<{ held: number; after: number }> {
  const script = `
    import v8 from 'node:v8';
    const { holdYoungGeneration, noteDeliveries } = await import(${JSON.stringify(GROWTH_MODULE)});
    const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    // Many objects live through a scavenge or two, as at a connect burst or with a message history:
    // each is kept until 200 000 later ones replaced it.
    const kept = new Array(200000).fill(null);
    const churn = () => { for (let i = 0; i < 400000; i++) kept[i % 200000] = { i, s: 'x' + i }; };
    if (${hold}) holdYoungGeneration();
    churn();
    const held = newSpace();
    noteDeliveries(${deliveries});
    for (let i = 0; i < 3; i++) churn();
    console.log(JSON.stringify({ held, after: newSpace() }));`;
  return new Promise((resolve, reject) =>
    execFile(process.execPath, ['--input-type=module', '-e', script], (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout) as { held: number; after: number }))),
  );
}

describe('young generation: held until the node carries messages', function () {
  this.timeout(30_000);

  it('V8 keeps a held young generation at 1 MB semi-spaces, and grows it once enough deliveries are noted', async () => {
    const held = await newSpaceSizes(true, 0);
    expect(held.held).to.be.at.most(2 * 1024 * 1024);
    expect(held.after, 'never released: stays small').to.be.at.most(2 * 1024 * 1024);
    const released = await newSpaceSizes(true, GROWTH_DELIVERIES_PER_SECOND);
    expect(released.held).to.be.at.most(2 * 1024 * 1024);
    expect(released.after, 'released: V8 grows it again').to.be.above(2 * 1024 * 1024);
  });

  it(`lets it grow at ${GROWTH_DELIVERIES_PER_SECOND} deliveries in a second, once`, () => {
    const flags: string[] = [];
    holdYoungGeneration((f) => flags.push(f));
    expect(flags).to.deep.equal(['--semi-space-growth-factor=1']);
    noteDeliveries(GROWTH_DELIVERIES_PER_SECOND - 1);
    expect(youngGenerationHeld()).to.equal(true);
    noteDeliveries(1);
    expect(youngGenerationHeld()).to.equal(false);
    noteDeliveries(GROWTH_DELIVERIES_PER_SECOND);
    expect(flags).to.deep.equal(['--semi-space-growth-factor=1', '--semi-space-growth-factor=2']);
  });

  describe('the hub counts what it delivers', () => {
    const svc = serviceForSuite();
    const flags: string[] = [];
    afterEach(() => {
      // Never leave the test process's state held.
      noteDeliveries(GROWTH_DELIVERIES_PER_SECOND);
    });

    it('connects and JOINs do not release it; a publisher whose NOTIFYs reach 1000 members in a second does', async () => {
      holdYoungGeneration((f) => flags.push(f));
      const members: TestClient[] = [];
      for (let i = 0; i < 50; i++) members.push(await connect('v4', svc.url, '/layout'));
      await Promise.all(members.map((m, i) => request(m, 'JOIN', { room: 'load', name: `m${i}` })));
      expect(youngGenerationHeld()).to.equal(true);
      const publisher = await connect('v4', svc.url, '/layout');
      // Three times the rate's worth, all at once: well within a second even on a slow machine.
      const notifies = 3 * Math.ceil(GROWTH_DELIVERIES_PER_SECOND / members.length);
      const acks = await Promise.all(Array.from({ length: notifies }, (_, i) => request(publisher, 'NOTIFY', { room: 'load', message: i })));
      expect(acks.every((ack) => ack.ok === true && ack.recipients === members.length)).to.equal(true);
      expect(youngGenerationHeld()).to.equal(false);
      expect(flags.at(-1)).to.equal('--semi-space-growth-factor=2');
    });
  });
});
