import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { Rounds } from '../../src/core/rounds';

/** Keeps the thread busy for `ms`, as writing a large round of answers does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('delivery rounds', () => {
  it('lets the first answers go at once, and all those of the same turn', () => {
    const rounds = new Rounds(50);
    expect(rounds.pass()).to.equal(undefined);
    expect(rounds.pass(), 'same turn, same round').to.equal(undefined);
  });

  it('after a long round, holds answers back for a share of its duration, then lets them go together', async () => {
    const rounds = new Rounds(1000, 1.5);
    const start = performance.now();
    expect(rounds.pass()).to.equal(undefined);
    busy(40);
    await nextTurn();
    const order: number[] = [];
    const a = rounds.pass();
    const b = rounds.pass();
    expect(a).to.be.instanceOf(Promise);
    expect(b).to.be.instanceOf(Promise);
    await Promise.all([a!.then(() => order.push(1)), b!.then(() => order.push(2))]);
    const waited = performance.now() - start;
    expect(waited).to.be.at.least(55); // 1.5 x 40 ms after the first round started (timers may fire 1 ms early)
    expect(order).to.deep.equal([1, 2]);
  });

  it('never holds an answer back longer than its cap', async () => {
    const rounds = new Rounds(10);
    rounds.pass();
    busy(60);
    await nextTurn();
    // The cap counts from the start of the last round, 60 ms ago: the next round is already due.
    expect(rounds.pass()).to.equal(undefined);
  });

  it('is off with a cap of 0', async () => {
    const rounds = new Rounds(0);
    rounds.pass();
    busy(20);
    await nextTurn();
    expect(rounds.pass()).to.equal(undefined);
  });
});
