/**
 * How many new sessions each client address opened lately, so that one client cannot take every
 * session a node may hold (`limit.sessions.per.address`). Counted per node, over a sliding
 * window of one session lease: after a lease, sessions that were only opened (a flood) have run
 * out and are reclaimed, while sessions in use stay but no longer count.
 */
export class AddressWindow {
  /** Per address: joins in the current window, in the one before, and when the current began. */
  private readonly counts = new Map<string, { now: number; before: number; since: number }>();
  private lastSweep: number;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.lastSweep = clock();
  }

  /** Counts one new session from `address`; false (nothing counted) when it is at its limit. */
  take(address: string): boolean {
    const t = this.clock();
    if (t - this.lastSweep >= this.windowMs) this.sweep(t);
    let c = this.counts.get(address);
    if (!c) this.counts.set(address, (c = { now: 0, before: 0, since: t }));
    const elapsed = t - c.since;
    if (elapsed >= 2 * this.windowMs) Object.assign(c, { now: 0, before: 0, since: t });
    else if (elapsed >= this.windowMs) Object.assign(c, { before: c.now, now: 0, since: c.since + this.windowMs });
    // The window before weighs by how much of it still overlaps the last windowMs.
    const recent = c.now + c.before * Math.max(0, 1 - (t - c.since) / this.windowMs);
    if (recent >= this.limit) return false;
    c.now++;
    return true;
  }

  /** Forgets addresses with nothing in the last two windows, so the map holds only recent ones. */
  private sweep(t: number): void {
    this.lastSweep = t;
    for (const [address, c] of this.counts) if (t - c.since >= 2 * this.windowMs) this.counts.delete(address);
  }
}
