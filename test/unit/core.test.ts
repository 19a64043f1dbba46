/**
 * Core without HTTP and without the wall clock: the controller, dispatcher, data channel and
 * aging over the memory store, with Node's mock timers (Date, setTimeout, setInterval,
 * setImmediate) and a Sink that records what a response would carry.
 */
import { expect } from 'chai';
import { mock } from 'node:test';
import { performance } from 'node:perf_hooks';
import { wheel } from '../../src/timer-wheel';
import { loadConfig } from '../../src/config/config';
import { runChannel as startChannel, type ChannelDeps, type ChannelRequest, type Sink } from '../../src/core/channel';
import { Controller, type ProtocolRequest } from '../../src/core/controller';
import { Dispatcher } from '../../src/core/dispatcher';
import { Rounds } from '../../src/core/rounds';
import { Aging } from '../../src/core/sessions';
import { leaseMs, type CoreSettings } from '../../src/core/settings';
import { SILENT } from '../../src/logger';
import { fields, type Fields } from '../../src/protocol/event';
import { MemoryStore } from '../../src/store/memory';
import { storeSettings } from '../../src/server';

/** The data channel as a promise, settled when its `done` is called. */
function runChannel(deps: ChannelDeps, req: ChannelRequest, sink: Sink): Promise<void> {
  return new Promise((resolve, reject) => startChannel(deps, req, sink, (err) => (err === undefined ? resolve() : reject(err))));
}

/** A response as core sees it: events written, and a flush that succeeds or fails as told. */
class RecordingSink implements Sink {
  readonly events: Fields[] = [];
  cancelled = false;
  readonly draining = false;
  readonly path = '/pushlet/pushlet.srv';
  onCancel(): void {}
  unsent = 0;
  flushes = 0;
  /** What flush answers: true (the socket took it), false (the connection failed). */
  constructor(private readonly flushResult: () => boolean | Promise<boolean> = () => true) {}
  write(e: Fields, own?: Fields): boolean {
    this.events.push({ ...e, ...own });
    return true;
  }
  async flush(): Promise<boolean> {
    this.flushes++;
    return this.flushResult();
  }
  types(): string[] {
    return this.events.map((e) => e.p_event);
  }
}

function setup(overrides: Record<string, string | number> = {}) {
  const config = loadConfig({ overrides: { 'delivery.batch.max.millis': 0, 'queue.read.timeout.millis': 1000, ...overrides } });
  const settings: CoreSettings = config;
  const store = new MemoryStore(storeSettings(config));
  const stopped: string[] = [];
  const dispatcher = new Dispatcher(store, settings, SILENT);
  const controller = new Controller(store, settings, dispatcher, SILENT);
  const deps: ChannelDeps = {
    store, settings, rounds: new Rounds(0),
    stopReceiver: (id) => { stopped.push(id); dispatcher.bailOut(id, 0, 'test'); },
    hasLeft: (id) => controller.hasLeft(id),
  };
  const request = (f: Record<string, string>, address = '10.0.0.1'): ProtocolRequest => ({
    fields: fields(f), path: '/pushlet/pushlet.srv', userAgent: 'test', address, headers: {}, cookies: {},
  });
  const handle = async (f: Record<string, string>, address?: string) => {
    const out = await controller.handle(request(f, address));
    if (out.kind !== 'events') throw new Error(`${out.status} ${out.message}`);
    return out;
  };
  /** A session joined and listening in pull mode on `subject`. */
  const pullSession = async (subject: string) => {
    const joined = await handle({ p_event: 'join', p_format: 'xml' });
    const id = joined.events[0].p_id;
    await handle({ p_event: 'listen', p_id: id, p_mode: 'pull', p_subject: subject });
    return id;
  };
  return { config, settings, store, dispatcher, controller, deps, handle, pullSession, stopped };
}

/** Lets promise callbacks and immediates run, with the mock clock still. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    mock.timers.tick(0);
    await Promise.resolve();
    await new Promise<void>((r) => queueMicrotask(r));
  }
}

describe('core over the memory store, with mock timers', () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'setImmediate', 'Date'], now: 1_700_000_000_000 });
    // Timeouts on the mocked clock: the wheel reads a monotonic one, which mock timers leave alone.
    wheel.useClock(() => Date.now());
  });
  afterEach(() => {
    mock.timers.reset();
    wheel.useClock(() => performance.now());
  });

  it('a sink that throws (a bug) ends the channel with that error, and the event stays queued', async () => {
    const t = setup();
    const id = await t.pullSession('/c/throws');
    await t.handle({ p_event: 'publish', p_id: id, p_subject: '/c/throws', n: '1' });
    const broken = new RecordingSink();
    broken.write = () => {
      throw new Error('writer bug');
    };
    let failed: unknown;
    await runChannel(t.deps, { id, mode: 'pull', afterListen: false }, broken).catch((err: unknown) => (failed = err));
    expect((failed as Error | undefined)?.message).to.equal('writer bug');
    expect((await t.store.peek(id)).map((q) => q.event.n)).to.deep.equal(['1']);
    const stream = new RecordingSink();
    stream.write = broken.write;
    failed = undefined;
    await runChannel(t.deps, { id, mode: 'stream', afterListen: false }, stream).catch((err: unknown) => (failed = err));
    expect((failed as Error | undefined)?.message, 'a stream too').to.equal('writer bug');
  });

  it('a pull answer carries the published event and a refresh; the event leaves the queue only once flushed', async () => {
    const t = setup();
    const id = await t.pullSession('/c/a');
    await t.handle({ p_event: 'publish', p_id: id, p_subject: '/c/a', n: '1' });
    const failing = new RecordingSink(() => false);
    await runChannel(t.deps, { id, mode: 'pull', afterListen: false }, failing);
    expect(failing.types()).to.deep.equal(['data', 'refresh']);
    expect((await t.store.peek(id)).map((q) => q.event.n), 'a failed flush leaves it queued').to.deep.equal(['1']);
    const ok = new RecordingSink();
    await runChannel(t.deps, { id, mode: 'pull', afterListen: false }, ok);
    expect(ok.types()).to.deep.equal(['data', 'refresh']);
    expect(ok.events[0]).to.include({ n: '1', p_seq: '1', p_sid: '/c/a' });
    expect(await t.store.peek(id)).to.deep.equal([]);
  });

  it('an empty pull waits queue.read.timeout.millis on the clock, then answers hb and refresh', async () => {
    const t = setup();
    const id = await t.pullSession('/c/empty');
    const sink = new RecordingSink();
    let done = false;
    void runChannel(t.deps, { id, mode: 'pull', afterListen: false }, sink).then(() => (done = true));
    await settle();
    mock.timers.tick(999);
    await settle();
    expect(done, 'still held before the read timeout').to.equal(false);
    mock.timers.tick(1);
    await settle();
    expect(done).to.equal(true);
    expect(sink.types()).to.deep.equal(['hb', 'refresh']);
  });

  it('a stream whose output the socket does not take is stopped as a slow receiver', async () => {
    const t = setup();
    const id = await t.pullSession('/c/slow');
    await t.handle({ p_event: 'publish', p_id: id, p_subject: '/c/slow', n: '1' });
    const stuck = new RecordingSink(() => false);
    await runChannel(t.deps, { id, mode: 'stream', afterListen: false }, stuck);
    expect(t.stopped).to.deep.equal([id]);
    await settle();
    expect(await t.store.getSession(id), 'the temporary session is gone').to.equal(null);
  });

  it('ages a session out after its lease, by the clock', async () => {
    const t = setup({ 'session.lease.millis': 5000, 'session.aging.interval.millis': 1000 });
    const joined = await t.handle({ p_event: 'join', p_format: 'xml' });
    const id = joined.events[0].p_id;
    const aging = new Aging(t.store, t.settings, SILENT);
    aging.start();
    try {
      mock.timers.tick(4000);
      await settle();
      expect(await t.store.getSession(id)).to.include({ online: true });
      mock.timers.tick(2000);
      await settle();
      expect(await t.store.getSession(id)).to.equal(null);
    } finally {
      await aging.stop();
    }
    expect(leaseMs(t.settings)).to.equal(5000);
  });

  it('holds events for a full queue, then stops the receiver after queue.write.timeout.millis', async () => {
    const t = setup({ 'queue.size': 2, 'queue.write.timeout.millis': 3000 });
    const id = await t.pullSession('/c/full');
    const pub = (await t.handle({ p_event: 'join', p_format: 'xml' })).events[0].p_id;
    for (let n = 1; n <= 3; n++) await t.handle({ p_event: 'publish', p_id: pub, p_subject: '/c/full', n: String(n) });
    expect((await t.store.peek(id)).map((q) => q.event.n)).to.deep.equal(['1', '2']);
    mock.timers.tick(2900);
    await settle();
    expect(await t.store.getSession(id), 'still there within the write timeout').to.not.equal(null);
    mock.timers.tick(200);
    await settle();
    expect(await t.store.getSession(id), 'stopped after it').to.equal(null);
  });

  it('refuses a new session past limit.sessions.per.address for one address, not for another', async () => {
    const t = setup({ 'limit.sessions.per.address': 2 });
    for (let i = 0; i < 2; i++) await t.handle({ p_event: 'join' }, '192.0.2.1');
    const refused = await t.controller.handle({ fields: fields({ p_event: 'join' }), path: '/p', userAgent: '', address: '192.0.2.1', headers: {}, cookies: {} });
    expect(refused).to.include({ kind: 'error', status: 429 });
    expect((await t.handle({ p_event: 'join' }, '192.0.2.2')).events[0].p_event).to.equal('join-ack');
    // A lease later the window has moved on.
    mock.timers.tick(2 * leaseMs(t.settings));
    expect((await t.handle({ p_event: 'join' }, '192.0.2.1')).events[0].p_event).to.equal('join-ack');
  });
});
