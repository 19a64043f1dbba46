/** What core counts; the HTTP layer exposes it (prom-client). Tests and library users may omit it. */
export interface CoreMetrics {
  /** One event published (multicast or unicast), with the number of receivers it was queued for. */
  published(receivers: number): void;
  /** Events written to clients. */
  delivered(n: number): void;
  /** A receiver stopped because it could not keep up (its queue or its output stayed full), with the events it lost. */
  stopped(dropped: number): void;
}

export const NO_METRICS: CoreMetrics = { published() {}, delivered() {}, stopped() {} };
