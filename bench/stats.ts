/** Latency samples (ms) and their percentiles. */
export class Samples {
  private buf = new Float64Array(1024);
  private n = 0;

  add(ms: number): void {
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = ms;
  }

  /** Adds every sample of `values` (another thread's, see values()). */
  addAll(values: Float64Array): void {
    for (const v of values) this.add(v);
  }

  /** A copy of the samples, to hand to another thread. */
  values(): Float64Array {
    return this.buf.slice(0, this.n);
  }

  /** `n` deliveries that never arrived, as infinitely late samples. */
  addMissing(n: number): void {
    for (let i = 0; i < n; i++) this.add(Infinity);
  }

  /** Count, median, 99th percentile (nearest rank) and maximum; NaN when empty. */
  summary(): { count: number; p50: number; p99: number; max: number } {
    if (this.n === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN };
    const sorted = this.buf.slice(0, this.n).sort();
    const at = (p: number) => sorted[Math.min(this.n - 1, Math.max(0, Math.ceil((p / 100) * this.n) - 1))];
    return { count: this.n, p50: at(50), p99: at(99), max: sorted[this.n - 1] };
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Milliseconds on one clock shared by the publisher and the receiver threads (and by other
 * processes): performance.now() counts from each thread's own start, but timeOrigin is the wall
 * clock at that start, read with microsecond resolution, so the sum is the wall clock with
 * sub-ms precision that stays monotonic within a thread. Date.now() would do across threads
 * too, but only to the millisecond.
 */
export const now = (): number => performance.timeOrigin + performance.now();
