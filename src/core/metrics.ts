/** What core counts; the HTTP layer exposes it (prom-client). Tests and library users may omit it. */
export interface CoreMetrics {
  /** One event published (multicast or unicast), with the number of receivers it was queued for. */
  published(receivers: number): void;
  /** Events written to clients. */
  delivered(n: number): void;
  /** Events dropped because a receiver's queue stayed full. */
  dropped(n: number): void;
}

export const NO_METRICS: CoreMetrics = { published() {}, delivered() {}, dropped() {} };
