import { performance } from 'node:perf_hooks';

/**
 * Something with a deadline in a TimerWheel: the owner's own object (a waiting request, an
 * answer being flushed), so a timeout costs no `Timeout` and no closure.
 */
export interface Timed {
  /** The wheel's bookkeeping: the tick it is due at, -1 when not in the wheel. */
  slot: number;
  /** Called once when its time has come (it is out of the wheel by then). */
  expire(): void;
}

/**
 * One timer for every read timeout and flush timeout of the process, instead of one `Timeout`
 * per held request: deadlines are rounded up to the next tick (never early, at most a tick
 * late) on a monotonic clock, kept in one set per tick, and a single interval runs while any are
 * pending.
 */
export class TimerWheel {
  private readonly slots = new Map<number, Set<Timed>>();
  private size = 0;
  /** The last tick whose deadlines have been expired. */
  private done: number;
  private timer?: NodeJS.Timeout;

  /** A monotonic clock: a wall clock set back would hold every pending timeout that much longer. */
  private clock: () => number = () => performance.now();

  constructor(private readonly tickMs = 20) {
    this.done = this.tick() - 1;
  }

  /** For tests that mock the clock (Date.now with mocked timers); only while nothing is pending. */
  useClock(clock: () => number): void {
    if (this.size > 0) throw new Error('the timer wheel has timeouts pending');
    this.clock = clock;
    this.done = this.tick() - 1;
  }

  private tick(): number {
    return Math.floor(this.clock() / this.tickMs);
  }

  /** Calls `t.expire()` once `ms` have passed, unless it is removed first. */
  add(t: Timed, ms: number): void {
    if (t.slot >= 0) this.remove(t);
    // Idle until now: no tick of the idle time is left to run.
    if (this.size === 0) this.done = this.tick() - 1;
    const slot = Math.max(Math.ceil((this.clock() + ms) / this.tickMs), this.done + 1);
    t.slot = slot;
    let set = this.slots.get(slot);
    if (!set) this.slots.set(slot, (set = new Set()));
    set.add(t);
    if (this.size++ === 0) this.timer = setInterval(() => this.run(), this.tickMs);
  }

  remove(t: Timed): void {
    const slot = t.slot;
    if (slot < 0) return;
    t.slot = -1;
    const set = this.slots.get(slot);
    if (!set?.delete(t)) return;
    if (set.size === 0) this.slots.delete(slot);
    this.shrunk(1);
  }

  private shrunk(n: number): void {
    this.size -= n;
    if (this.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private run(): void {
    const now = this.tick();
    for (let slot = this.done + 1; slot <= now; slot++) {
      // Each tick is marked done first: a timeout set by an expire call lands in a later one.
      this.done = slot;
      const set = this.slots.get(slot);
      if (!set) continue;
      this.slots.delete(slot);
      this.shrunk(set.size);
      let failed: { err: unknown } | undefined;
      for (const t of set) {
        t.slot = -1;
        // One failing entry (a bug) must not leave the others of its tick waiting forever.
        try {
          t.expire();
        } catch (err) {
          failed ??= { err };
        }
      }
      // Thrown as a failing setTimeout callback would be.
      if (failed) throw failed.err;
    }
  }
}

/** The wheel every timeout of the process shares. */
export const wheel = new TimerWheel();
