import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { CoreMetrics } from '../core/metrics';
import { E } from '../protocol/constants';

const KNOWN_EVENTS = new Set<string>(Object.values(E));

/**
 * Prometheus metrics of one server (its own registry, so several servers can share a process).
 * Served at `/metrics`.
 */
export class Metrics implements CoreMetrics {
  readonly registry = new Registry();
  // Counted as plain numbers on the hot path and handed to prom-client when scraped.
  private readonly counts = { published: 0, queued: 0, delivered: 0, dropped: 0, stopped: 0 };
  /** Request latency, counted here: prom-client's labelled observe hashes the labels on every request. */
  private readonly requests = new RequestHistogram(
    'pushlet_request_duration_seconds',
    'Time to answer a protocol request (to the ack, not the whole data channel), by p_event and status',
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  );

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const c = this.counts;
    this.counter('pushlet_events_published_total', 'Events published (multicast or unicast)', () => c.published);
    this.counter('pushlet_events_queued_total', 'Event copies queued for receivers', () => c.queued);
    this.counter('pushlet_events_delivered_total', 'Events written to clients', () => c.delivered);
    this.counter('pushlet_events_dropped_total', 'Events dropped with receivers stopped for not keeping up', () => c.dropped);
    this.counter('pushlet_receivers_stopped_total', 'Receivers stopped because their queue or output stayed full', () => c.stopped);
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
    this.counts.published++;
    this.counts.queued += receivers;
  }

  delivered(n: number): void {
    this.counts.delivered += n;
  }

  stopped(dropped: number): void {
    this.counts.stopped++;
    this.counts.dropped += dropped;
  }

  /** Records one request; unknown event names are counted as `other` to bound the label set. */
  request(pEvent: string | undefined, status: number, seconds: number): void {
    this.requests.observe(pEvent === undefined ? 'none' : KNOWN_EVENTS.has(pEvent) ? pEvent : 'other', status, seconds);
  }

  /** Everything in the Prometheus text format, for `/metrics`. */
  async text(): Promise<string> {
    return (await this.registry.metrics()) + this.requests.text();
  }
}

interface Series {
  labels: string;
  /** Observations per bucket (not cumulative); the last is above every bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/** A histogram with the labels p_event and status, written out in the Prometheus text format. */
class RequestHistogram {
  private readonly series = new Map<string, Series>();

  constructor(private readonly name: string, private readonly help: string, private readonly bounds: readonly number[]) {}

  /** `pEvent` is one of a bounded set of plain names (see KNOWN_EVENTS). */
  observe(pEvent: string, status: number, seconds: number): void {
    const key = `${pEvent} ${status}`;
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: `p_event="${pEvent}",status="${status}"`, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }));
    let i = 0;
    while (i < this.bounds.length && seconds > this.bounds[i]) i++;
    s.counts[i]++;
    s.sum += seconds;
    s.count++;
  }

  text(): string {
    const { name } = this;
    let out = `# HELP ${name} ${this.help}\n# TYPE ${name} histogram\n`;
    for (const s of this.series.values()) {
      let below = 0;
      this.bounds.forEach((le, i) => {
        below += s.counts[i];
        out += `${name}_bucket{${s.labels},le="${le}"} ${below}\n`;
      });
      out += `${name}_bucket{${s.labels},le="+Inf"} ${s.count}\n${name}_sum{${s.labels}} ${s.sum}\n${name}_count{${s.labels}} ${s.count}\n`;
    }
    return out;
  }
}
