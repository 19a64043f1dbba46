/**
 * The dispatcher's publish path over the memory store: runs shared by publishes to one subject,
 * one publisher's order across subjects, and answering before the fan-out when the store keeps
 * an outbox (here a memory one: what a Redis outbox does is tested in test/faults).
 */
import { expect } from 'chai';
import { loadConfig } from '../../src/config/config';
import { Dispatcher } from '../../src/core/dispatcher';
import type { CoreSettings } from '../../src/core/settings';
import { StoreUnavailableError } from '../../src/errors';
import { SILENT } from '../../src/logger';
import { fields, type Fields } from '../../src/protocol/event';
import { storeSettings } from '../../src/server';
import { MemoryStore } from '../../src/store/memory';
import type { Delivery, EnqueueResult, KeptPublish, OutboxStore, Subscriber } from '../../src/store/store';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A memory store that counts subscriber reads and can hold or fail its pushes. */
class WatchedStore extends MemoryStore {
  reads = 0;
  /** Resolved to let pushes go on; undefined: they go at once. */
  gate?: Promise<void>;
  /** Pushes that fail as if the store were away, from now on. */
  failing = 0;
  outbox?: OutboxStore;
  sharedFanOut = true;

  override async *subscribersOf(subject: string): AsyncIterable<Subscriber[]> {
    this.reads++;
    yield* super.subscribersOf(subject);
  }

  override async enqueue(deliveries: readonly Delivery[]): Promise<EnqueueResult[]> {
    await this.gate;
    if (this.failing > 0) {
      this.failing--;
      throw new StoreUnavailableError('store away (test)');
    }
    return super.enqueue(deliveries);
  }
}

/** An outbox in memory: what is kept and not yet released. */
class MemoryOutbox implements OutboxStore {
  readonly kept = new Set<KeptPublish>();
  orphans: KeptPublish[] = [];
  async keep(p: KeptPublish): Promise<void> {
    this.kept.add(p);
  }
  async release(p: KeptPublish): Promise<void> {
    this.kept.delete(p);
  }
  async adopt(): Promise<KeptPublish[]> {
    const taken = this.orphans.splice(0);
    for (const p of taken) this.kept.add(p);
    return taken;
  }
}

function setup(overrides: Record<string, string | number> = {}) {
  const config = loadConfig({ overrides: { 'publish.adopt.millis': 600, ...overrides } });
  const settings: CoreSettings = config;
  const store = new WatchedStore(storeSettings(config));
  const dispatcher = new Dispatcher(store, settings, SILENT);
  const receiver = async (id: string, ...subjects: string[]) => {
    await store.openSession({ id, format: 'xml', temporary: false, createDate: Date.now(), userAgent: 't', address: 'a' });
    for (const s of subjects) await store.subscribe(id, s);
  };
  const publish = (subject: string, n: number, from = 'pub'): Fields => fields({ p_event: 'data', p_subject: subject, p_from: from, n: String(n) });
  const queued = async (id: string) => (await store.peek(id)).map((q) => Number(q.event.n));
  return { store, dispatcher, receiver, publish, queued };
}

describe('dispatcher: publishing', () => {
  it('publishes to one subject that arrive during a fan-out share the next subscriber read, each counted', async () => {
    const { store, dispatcher, receiver, publish, queued } = setup();
    await receiver('r1', '/a');
    await receiver('r2', '/a');
    let open!: () => void;
    store.gate = new Promise((r) => (open = r));
    const first = dispatcher.multicast(publish('/a', 1), false);
    await sleep(5);
    const rest = [2, 3, 4].map((n) => dispatcher.multicast(publish('/a', n), false));
    open();
    const results = await Promise.all([first, ...rest]);
    expect(results.map((r) => r.delivered)).to.deep.equal([2, 2, 2, 2]);
    expect(store.reads, 'one read for the first publish, one for the three that waited').to.equal(2);
    expect(await queued('r1')).to.deep.equal([1, 2, 3, 4]);
    expect(await queued('r2')).to.deep.equal([1, 2, 3, 4]);
  });

  it("keeps one publisher's order across subjects, even when the first fan-out is slower", async () => {
    const { store, dispatcher, receiver, publish, queued } = setup();
    await receiver('r', '/a', '/b');
    let open!: () => void;
    store.gate = new Promise((r) => (open = r));
    const a = dispatcher.accept(publish('/a', 1), false);
    await sleep(5);
    // Without the order, this one (another subject, its own run) would be queued first.
    store.gate = undefined;
    const b = dispatcher.accept(publish('/b', 2), false);
    const other = dispatcher.accept(publish('/b', 3, 'someone-else'), false);
    await other;
    expect(await queued('r'), 'another publisher is not held up').to.deep.equal([3]);
    open();
    await Promise.all([a, b]);
    expect(await queued('r')).to.deep.equal([3, 1, 2]);
  });

  it('with an outbox, answers once kept and publish.answer.millis passed, then releases after the fan-out', async () => {
    const { store, dispatcher, receiver, publish, queued } = setup({ 'publish.answer.millis': 20 });
    const outbox = (store.outbox = new MemoryOutbox());
    await receiver('r', '/a');
    let open!: () => void;
    store.gate = new Promise((r) => (open = r));
    const t0 = Date.now();
    await dispatcher.accept(publish('/a', 1), false);
    expect(Date.now() - t0, 'answered while the fan-out still waits').to.be.below(500);
    expect(outbox.kept.size, 'kept until fanned out').to.equal(1);
    expect(await queued('r')).to.deep.equal([]);
    open();
    await dispatcher.drain(1000);
    expect(await queued('r')).to.deep.equal([1]);
    expect(outbox.kept.size, 'released').to.equal(0);
  });

  it('with an outbox, a fan-out that finds the store away is tried again and released once done', async () => {
    const { store, dispatcher, receiver, publish, queued } = setup({ 'publish.answer.millis': 0 });
    const outbox = (store.outbox = new MemoryOutbox());
    await receiver('r', '/a');
    store.failing = 1;
    await dispatcher.accept(publish('/a', 1), false);
    await sleep(50);
    expect(outbox.kept.size, 'still kept after the failed fan-out').to.equal(1);
    await dispatcher.drain(3000);
    expect(await queued('r')).to.deep.equal([1]);
    expect(outbox.kept.size).to.equal(0);
    dispatcher.close();
  });

  it('publish.answer.early=false answers after the fan-out, as Java', async () => {
    const { store, dispatcher, receiver, publish, queued } = setup({ 'publish.answer.early': 'false' });
    store.outbox = new MemoryOutbox();
    await receiver('r', '/a');
    let open!: () => void;
    store.gate = new Promise((r) => (open = r));
    let answered = false;
    const accepted = dispatcher.accept(publish('/a', 1), false).then(() => (answered = true));
    await sleep(50);
    expect(answered).to.equal(false);
    open();
    await accepted;
    expect(await queued('r')).to.deep.equal([1]);
  });

  it('fans out what a stopped node kept (adopt), every few publish.adopt.millis', async () => {
    const { store, dispatcher, receiver, publish, queued } = setup({ 'publish.adopt.millis': 600 });
    const outbox = (store.outbox = new MemoryOutbox());
    await receiver('r', '/a');
    outbox.orphans.push({ event: publish('/a', 7, 'gone-node-publisher'), onlineOnly: false });
    dispatcher.start();
    try {
      for (let i = 0; i < 40 && (await queued('r')).length === 0; i++) await sleep(50);
      expect(await queued('r')).to.deep.equal([7]);
      await dispatcher.drain(1000);
      expect(outbox.kept.size).to.equal(0);
    } finally {
      dispatcher.close();
    }
  });
});
