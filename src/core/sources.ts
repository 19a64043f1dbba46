import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger';

/** What a source is given: a way to publish, and a logger. */
export interface SourceContext {
  publish(subject: string, fields: Record<string, string>): Promise<unknown>;
  log: Logger;
}

/**
 * A server-side event source (the Java `sources.properties` idea): started on one node of a
 * cluster, stopped when that node stops or loses its lease.
 */
export interface EventSource {
  name: string;
  start(ctx: SourceContext): void | Promise<void>;
  stop(): void | Promise<void>;
}

/** Cluster-wide leases: a source runs only where its lease is held. */
export interface Leases {
  /** Takes or renews the lease `name` for `holder`; false when another holder has it. */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
}

/**
 * Runs sources, each on exactly one node: every node tries to take each source's lease every
 * third of its time to live; the holder runs the source and renews, and when it dies another
 * node takes the lease over within one lease time.
 */
export class Sources {
  private readonly holder = randomUUID();
  private readonly running = new Set<string>();
  /** Sources whose lease could not be renewed at the last try (logged once until it can). */
  private readonly failing = new Set<string>();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;

  constructor(
    private readonly sources: EventSource[],
    private readonly leases: Leases,
    private readonly ctx: SourceContext,
    private readonly leaseMs: number,
  ) {}

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => {
      if (!this.ticking) this.ticking = this.tick().finally(() => (this.ticking = undefined));
    }, Math.max(10, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  /** Names of the sources running on this node. */
  get active(): string[] {
    return [...this.running];
  }

  private async tick(): Promise<void> {
    for (const src of this.sources) {
      let held = false;
      try {
        held = await this.leases.acquireLease(`source:${src.name}`, this.holder, this.leaseMs);
        this.failing.delete(src.name);
      } catch (err) {
        // Once per outage, without a stack: the store logs the outage itself. Not held: stopped here.
        if (!this.failing.has(src.name)) this.ctx.log.warn({ source: src.name, reason: (err as Error).message }, 'could not renew a source lease; retrying');
        this.failing.add(src.name);
      }
      if (held && !this.running.has(src.name)) {
        this.running.add(src.name);
        this.ctx.log.info({ source: src.name }, 'event source started on this node');
        await src.start(this.ctx);
      } else if (!held && this.running.has(src.name)) {
        this.running.delete(src.name);
        this.ctx.log.info({ source: src.name }, 'event source moved to another node');
        await src.stop();
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking;
    for (const src of this.sources) {
      if (!this.running.delete(src.name)) continue;
      await src.stop();
      await this.leases.releaseLease(`source:${src.name}`, this.holder).catch(() => undefined);
    }
  }
}

/** A source that publishes `next()` on `subject` every `intervalMs`. */
export function intervalSource(name: string, subject: string, intervalMs: number, next: () => Record<string, string>): EventSource {
  let timer: NodeJS.Timeout | undefined;
  return {
    name,
    start(ctx) {
      timer = setInterval(() => {
        ctx.publish(subject, next()).catch((err) => ctx.log.warn({ err, source: name }, 'source publish failed'));
      }, intervalMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
    },
  };
}
