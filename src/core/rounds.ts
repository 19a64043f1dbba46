import { performance } from 'node:perf_hooks';

/**
 * Lets data answers out in rounds, so that a loaded server answers each client with more events
 * rather than more often.
 *
 * Answers released in one turn of the event loop form a round. The next round may start only
 * `share` times the last round's duration after its start (capped at `maxMillis`); answers due
 * before then wait for it. A light load is never held back: a round of a few answers takes well
 * under a millisecond, and such a round leaves no gap. Under a flood of publishes to many pull sessions, writing a round of
 * hundreds of answers takes tens of milliseconds, during which nothing else runs; without the
 * gap, the next round would start at once, publishers would get one turn per round, and each
 * answer would carry one or two events. The gap leaves the loop to the publishers, the events
 * pile up in the queues, and the next round carries them all.
 */
export class Rounds {
  private notBefore = 0;
  private started = -1;
  private waiting: (() => void)[] = [];
  private timer?: NodeJS.Timeout;

  constructor(private readonly maxMillis: number, private readonly share = 1.5) {}

  /** undefined when an answer may go now; else a promise settled when its round starts. */
  pass(): Promise<void> | undefined {
    if (this.maxMillis <= 0) return undefined;
    const now = performance.now();
    if (!this.timer && now >= this.notBefore) {
      this.start(now);
      return undefined;
    }
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.timer ??= setTimeout(() => this.release(), Math.max(0, this.notBefore - now));
    });
  }

  private release(): void {
    this.timer = undefined;
    const waiting = this.waiting;
    this.waiting = [];
    this.start(performance.now());
    for (const resolve of waiting) resolve();
  }

  /** Marks a round as started now; once this turn of the loop is over, its duration sets the next gap. */
  private start(now: number): void {
    if (this.started >= 0) return;
    this.started = now;
    setImmediate(() => {
      const took = performance.now() - this.started;
      // A round shorter than a millisecond is a light load: no gap (and no timer).
      this.notBefore = took < 1 ? 0 : this.started + Math.min(this.maxMillis, took * this.share);
      this.started = -1;
    });
  }
}
