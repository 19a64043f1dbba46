import { performance } from 'node:perf_hooks';

/** Answers let out together. */
export class Round {
  /** Answers of this round not yet written. */
  open = 0;
  size = 0;
  done = false;
  constructor(readonly started: number) {}
}

/**
 * Lets data answers out in rounds, so that a loaded server answers each client with more events
 * rather than more often.
 *
 * Answers due in the same turn of the event loop form a round; one round is written at a time
 * (with the Redis store a round spans several turns). The next round may start only `share`
 * times the last round's duration after that one started (capped at `maxMillis`); answers due
 * before then wait for it. A light load is never held back: a round of fewer than `minSize`
 * answers, or one shorter than a millisecond, leaves no gap.
 *
 * Why: under a flood of publishes to many pull sessions, writing a round of hundreds of answers
 * takes tens of milliseconds, during which nothing else runs. Without the gap the next round
 * would start at once, publishers would get one turn per round, and each answer would carry
 * one or two events. The gap leaves the loop to the publishers, the events pile up in the
 * queues, and the next round carries them all.
 */
export class Rounds {
  private notBefore = 0;
  /** The round answers may still join: started in this turn of the loop. */
  private joinable?: Round;
  /** The round being written, which the next one waits for. */
  private writing?: Round;
  private waiting: ((round: Round) => void)[] = [];
  private timer?: NodeJS.Timeout;

  constructor(private readonly maxMillis: number, private readonly share = 1.5, private readonly minSize = 8) {}

  /**
   * Joins the round an answer goes out with: at once, or (a promise) when its round starts.
   * undefined when rounds are off. Every round joined must be left once the answer is written.
   */
  enter(): Round | Promise<Round> | undefined {
    if (this.maxMillis <= 0) return undefined;
    if (this.joinable) return join(this.joinable);
    const now = performance.now();
    if (!this.timer && now >= this.notBefore && (!this.writing || now >= this.writing.started + this.maxMillis)) return join(this.begin());
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.timer) this.schedule();
    });
  }

  /** The answer is written. The round ends once all its answers are, at the end of that turn. */
  leave(round: Round | undefined): void {
    if (!round || --round.open > 0) return;
    setImmediate(() => {
      if (round.open === 0 && !round.done) this.finish(round);
    });
  }

  private begin(): Round {
    const round = new Round(performance.now());
    this.joinable = round;
    this.writing = round;
    setImmediate(() => {
      if (this.joinable === round) this.joinable = undefined;
    });
    return round;
  }

  private finish(round: Round): void {
    round.done = true;
    if (this.writing === round) this.writing = undefined;
    const now = performance.now();
    const took = now - round.started;
    this.notBefore = round.size < this.minSize || took < 1 ? 0 : round.started + Math.min(this.maxMillis, took * this.share);
    if (this.waiting.length) this.schedule();
  }

  /**
   * Starts the next round when it is due: after the gap, or while a round is still being
   * written, when that one has taken `maxMillis` (its end reschedules; a round held up by one
   * slow answer must not hold up the others for longer).
   */
  private schedule(): void {
    clearTimeout(this.timer);
    const due = this.writing ? this.writing.started + this.maxMillis : this.notBefore;
    this.timer = setTimeout(() => this.release(), Math.max(0, due - performance.now()));
  }

  private release(): void {
    this.timer = undefined;
    const waiting = this.waiting;
    this.waiting = [];
    const round = this.begin();
    for (const resolve of waiting) resolve(join(round));
  }
}

function join(round: Round): Round {
  round.open++;
  round.size++;
  return round;
}
