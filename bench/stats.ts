/** Latency samples (ms) and their percentiles. */
export class Samples {
  private values = new Float64Array(1024);
  private n = 0;

  add(ms: number): void {
    if (this.n === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.n++] = ms;
  }

  /** `n` deliveries that never arrived, as infinitely late samples. */
  addMissing(n: number): void {
    for (let i = 0; i < n; i++) this.add(Infinity);
  }

  /** Count, median, 99th percentile (nearest rank) and maximum; NaN when empty. */
  summary(): { count: number; p50: number; p99: number; max: number } {
    if (this.n === 0) return { count: 0, p50: NaN, p99: NaN, max: NaN };
    const sorted = this.values.slice(0, this.n).sort();
    const at = (p: number) => sorted[Math.min(this.n - 1, Math.max(0, Math.ceil((p / 100) * this.n) - 1))];
    return { count: this.n, p50: at(50), p99: at(99), max: sorted[this.n - 1] };
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Milliseconds on one clock shared by the publisher (a worker thread) and the receivers (the
 * main thread): each thread's performance.now() starts at its own origin, their sum does not.
 */
export const now = (): number => performance.timeOrigin + performance.now();
