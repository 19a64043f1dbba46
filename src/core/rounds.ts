import { performance } from 'node:perf_hooks';

/** Answers let out together. */
export class Round {
  /** Answers of this round not yet written. */
  open = 0;
  size = 0;
  done = false;
  /** Whether answers were pressing for it: due before it could start, or it followed the last round closely. */
  constructor(readonly started: number, readonly pressed: boolean) {}
}

/**
 * Lets data answers out in rounds, so that a loaded server answers each client with more events
 * rather than more often.
 *
 * Answers due in the same turn of the event loop form a round; one round is written at a time
 * (with the Redis store a round spans several turns). Under pressure (answers were due before a
 * round could start, or it began less than half a round's duration after the last one ended),
 * the next round may start only `share` times the round's duration after it started (capped at
 * `maxMillis`); answers due before then wait for it. A light load is never held back: a round
 * not under pressure, of fewer than `minSize` answers, or shorter than `minMillis` leaves no
 * gap (a round that short does not keep anything else waiting long). So 20 publishes a second to 200 pull sessions go out at once, each in its own round,
 * while a flood of them goes out in rounds that each carry many events per answer.
 *
 * Why: under a flood of publishes to many pull sessions, writing a round of hundreds of answers
 * takes tens of milliseconds, during which nothing else runs. Without the gap the next round
 * would start at once, publishers would get one turn per round, and each answer would carry
 * one or two events. The gap leaves the loop to the publishers, the events pile up in the
 * queues, and the next round carries them all.
 */
export class Rounds {
  private notBefore = 0;
  private lastFinish = -Infinity;
  private lastTook = 0;
  /** The round answers may still join: started in this turn of the loop. */
  private joinable?: Round;
  /** The round being written, which the next one waits for. */
  private writing?: Round;
  private waiting: ((round: Round) => void)[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly maxMillis: number,
    private readonly share = 2.5,
    private readonly minSize = 8,
    private readonly minMillis = 10,
  ) {}

  /**
   * Joins the round an answer goes out with: at once, or (a promise) when its round starts.
   * undefined when rounds are off. Every round joined must be left once the answer is written.
   */
  enter(): Round | Promise<Round> | undefined {
    if (this.maxMillis <= 0) return undefined;
    if (this.joinable) return join(this.joinable);
    const now = performance.now();
    if (!this.timer && now >= this.notBefore && (!this.writing || now >= this.writing.started + this.maxMillis)) {
      return join(this.begin(now - this.lastFinish < this.lastTook / 2));
    }
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

  private begin(pressed: boolean): Round {
    const round = new Round(performance.now(), pressed);
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
    this.lastFinish = now;
    this.lastTook = took;
    const gap = round.pressed && round.size >= this.minSize && took >= this.minMillis;
    this.notBefore = gap ? round.started + Math.min(this.maxMillis, took * this.share) : 0;
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
    const round = this.begin(true);
    for (const resolve of waiting) resolve(join(round));
  }
}

function join(round: Round): Round {
  round.open++;
  round.size++;
  return round;
}
