import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CoreMetrics } from '../core/metrics';
import { E } from '../protocol/constants';

const KNOWN_EVENTS = new Set<string>(Object.values(E));

/**
 * Prometheus metrics of one server (its own registry, so several servers can share a process).
 * Served at `/metrics`.
 */
export class Metrics implements CoreMetrics {
  readonly registry = new Registry();
  private readonly publishedTotal = new Counter({ name: 'pushlet_events_published_total', help: 'Events published (multicast or unicast)', registers: [this.registry] });
  private readonly queuedTotal = new Counter({ name: 'pushlet_events_queued_total', help: 'Event copies queued for receivers', registers: [this.registry] });
  private readonly deliveredTotal = new Counter({ name: 'pushlet_events_delivered_total', help: 'Events written to clients', registers: [this.registry] });
  private readonly droppedTotal = new Counter({ name: 'pushlet_events_dropped_total', help: 'Events dropped because a receiver\'s queue stayed full', registers: [this.registry] });
  private readonly requests = new Histogram({
    name: 'pushlet_request_duration_seconds',
    help: 'Time to answer a protocol request (to the ack, not the whole data channel), by p_event and status',
    labelNames: ['p_event', 'status'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly held = new Gauge({ name: 'pushlet_held_requests', help: 'Open data-channel responses (stream, or pull waiting for events)', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Adds a gauge read when scraped (e.g. sessions from the store). */
  gauge(name: string, help: string, read: () => Promise<number> | number): void {
    new Gauge({
      name, help, registers: [this.registry],
      async collect() { this.set(await read()); },
    });
  }

  /** Adds a counter whose value is read when scraped (e.g. Redis round trips). */
  counter(name: string, help: string, read: () => number): void {
    new Counter({
      name, help, registers: [this.registry],
      collect() { this.reset(); this.inc(read()); },
    });
  }

  published(receivers: number): void {
    this.publishedTotal.inc();
    this.queuedTotal.inc(receivers);
  }

  delivered(n: number): void {
    if (n > 0) this.deliveredTotal.inc(n);
  }

  dropped(n: number): void {
    if (n > 0) this.droppedTotal.inc(n);
  }

  /** The histogram's series per p_event and status, looked up once (labelling costs a lookup per call). */
  private readonly series = new Map<string, { observe(v: number): void }>();

  /** Records one request; unknown event names are counted as `other` to bound the label set. */
  request(pEvent: string | undefined, status: number, seconds: number): void {
    const label = pEvent === undefined ? 'none' : KNOWN_EVENTS.has(pEvent) ? pEvent : 'other';
    const key = `${label} ${status}`;
    let series = this.series.get(key);
    if (!series) this.series.set(key, (series = this.requests.labels(label, String(status))));
    series.observe(seconds);
  }
}
