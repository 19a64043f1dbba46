import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { Round, Rounds } from '../../src/core/rounds';

/** Keeps the thread busy for `ms`, as writing a large round of answers does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Enters `n` answers in this turn; all must go at once. */
function enterNow(rounds: Rounds, n: number): Round {
  const got = Array.from({ length: n }, () => rounds.enter());
  for (const r of got) expect(r).to.be.instanceOf(Round);
  expect(new Set(got).size, 'one round').to.equal(1);
  return got[0] as Round;
}

function leaveAll(rounds: Rounds, round: Round, n: number): void {
  for (let i = 0; i < n; i++) rounds.leave(round);
}

describe('delivery rounds', () => {
  it('lets the first answers go at once, all those of the same turn in one round', () => {
    const round = enterNow(new Rounds(50), 3);
    expect(round.size).to.equal(3);
  });

  it('holds answers due while a round is still being written (several turns, as on Redis) until it is done', async () => {
    const rounds = new Rounds(50);
    const first = enterNow(rounds, 1);
    await nextTurn();
    const next = rounds.enter();
    expect(next).to.be.instanceOf(Promise);
    let started = false;
    void (next as Promise<Round>).then(() => (started = true));
    await nextTurn();
    expect(started, 'not while the first round is open').to.equal(false);
    rounds.leave(first);
    const second = (await next)!;
    expect(second).to.not.equal(first);
    expect(second.size).to.equal(1);
  });

  /** A round of `n` answers that takes `ms`, finished by the end of the call. */
  async function round(rounds: Rounds, n: number, ms: number): Promise<Round> {
    const r = enterNow(rounds, n);
    busy(ms);
    leaveAll(rounds, r, n);
    await nextTurn();
    await nextTurn();
    return r;
  }

  it('a large round with no pressure (the last round ended long before) leaves no gap', async () => {
    const rounds = new Rounds(1000, 2.5, 8);
    const first = await round(rounds, 10, 30);
    expect(first.pressed).to.equal(false);
    expect(rounds.enter(), 'the next answer goes at once').to.be.instanceOf(Round);
  });

  it('under pressure (a large round right after another), holds answers back for a share of its duration, then lets them go together', async () => {
    const rounds = new Rounds(1000, 2.5, 8);
    await round(rounds, 10, 30);
    const start = performance.now();
    const pressed = await round(rounds, 10, 30);
    expect(pressed.pressed).to.equal(true);
    const a = rounds.enter();
    const b = rounds.enter();
    expect(a).to.be.instanceOf(Promise);
    expect(b).to.be.instanceOf(Promise);
    const [ra, rb] = await Promise.all([a, b]);
    expect(performance.now() - start).to.be.at.least(72); // 2.5 x 30 ms after the round started (timers may fire 1-2 ms early)
    expect(ra).to.equal(rb);
    expect(ra!.size).to.equal(2);
    expect(ra!.pressed, 'answers waited for it').to.equal(true);
  });

  it('a small round leaves no gap, even under pressure', async () => {
    const rounds = new Rounds(1000, 2.5, 8);
    await round(rounds, 3, 30);
    const pressed = await round(rounds, 3, 30);
    expect(pressed.pressed).to.equal(true);
    expect(rounds.enter()).to.be.instanceOf(Round);
  });

  it('never holds an answer back longer than its cap', async () => {
    const rounds = new Rounds(10, 2.5, 1);
    await round(rounds, 1, 30);
    const pressed = await round(rounds, 1, 30);
    expect(pressed.pressed).to.equal(true);
    // The cap counts from the start of the last round, 30 ms ago: the next round is already due.
    expect(rounds.enter()).to.be.instanceOf(Round);
  });

  it('a round held up by one slow answer holds the next one up for at most the cap', async () => {
    const rounds = new Rounds(30);
    const start = performance.now();
    enterNow(rounds, 1); // never left
    await nextTurn();
    const next = await rounds.enter();
    expect(next).to.be.instanceOf(Round);
    expect(performance.now() - start).to.be.at.least(27); // the cap, less the 1-2 ms a timer may fire early
  });

  it('is off with a cap of 0', () => {
    const rounds = new Rounds(0);
    expect(rounds.enter()).to.equal(undefined);
    rounds.leave(undefined);
  });
});
