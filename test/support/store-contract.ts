/**
 * The Store contract: one suite every store implementation must pass (memory and redis run the
 * same tests), so core code can never tell which one it talks to.
 */
import { expect } from 'chai';
import { fields, type Queued } from '../../src/protocol/event';
import type { NewSession, Store, StoreSettings, Subscriber } from '../../src/store/store';
import { waitFor } from './wait';

/** Reads and removes everything queued for `id`, oldest first (as a client's response does). */
export async function drain(store: Store, id: string): Promise<Queued[]> {
  const events = await store.peek(id);
  await store.ack(id, events);
  return events;
}

/** Makes an empty store with these settings; the suite closes it after each test. */
export type StoreFactory = (settings: StoreSettings) => Promise<Store>;

const LEASE = 180_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let counter = 0;
function newId(prefix = 's'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

function newSession(id: string, over: Partial<NewSession> = {}): NewSession {
  return {
    id, format: 'xml-strict', temporary: true, createDate: Date.now(),
    userAgent: 'curl/7.88.1', address: '127.0.0.1', ...over,
  };
}

function data(n: number, extra: Record<string, string> = {}): Queued {
  return { event: fields({ p_event: 'data', p_subject: '/t/a', p_time: '1795782499', n: String(n), ...extra }), sid: '/t/a' };
}

async function collect(it: AsyncIterable<Subscriber[]>): Promise<Subscriber[][]> {
  const pages: Subscriber[][] = [];
  for await (const page of it) pages.push(page);
  return pages;
}

/** The subscribers of each subject, one after the other. */
async function subscribers(store: Store, subjects: string[]): Promise<Subscriber[]> {
  const out: Subscriber[] = [];
  for (const s of subjects) out.push(...(await collect(store.subscribersOf(s))).flat());
  return out;
}

export function storeContract(name: string, makeStore: StoreFactory): void {
  describe(`Store contract: ${name}`, function () {
    this.timeout(10_000);
    let store: Store;
    // Exact matching unless a test asks for prefix: most tests look one subject up.
    const open = async (over: Partial<StoreSettings> = {}) => {
      store = await makeStore({ leaseMs: LEASE, queueSize: 256, subjectMatch: 'exact', pageSize: 100, ...over });
      return store;
    };

    afterEach(async () => {
      await store?.close();
    });

    describe('sessions', () => {
      beforeEach(() => open());

      it('opens a session and reads it back online', async () => {
        const id = newId();
        const rec = newSession(id, { format: 'json', address: '10.1.2.3' });
        await store.openSession(rec);
        const got = await store.getSession(id);
        expect(got).to.include({
          id, format: 'json', temporary: true, createDate: rec.createDate, userAgent: 'curl/7.88.1',
          address: '10.1.2.3', online: true,
        });
        expect(got!.mode).to.equal(undefined);
      });

      it('knows no session it never opened', async () => {
        expect(await store.getSession(newId('unknown'))).to.equal(null);
      });

      it('kick renews the lease, records address and mode, and sets lastSeen', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        const before = Date.now();
        await store.kick(id, { address: '192.168.0.9', mode: 'pull' });
        const got = await store.getSession(id);
        expect(got).to.include({ address: '192.168.0.9', mode: 'pull', online: true });
        expect(got!.lastSeen).to.be.a('number').within(before, Date.now());
        await store.kick(id, { mode: 'stream' });
        expect(await store.getSession(id)).to.include({ address: '192.168.0.9', mode: 'stream' });
      });

      it('kick never creates a session', async () => {
        const id = newId('ghost');
        await store.kick(id, { address: '1.2.3.4', mode: 'stream' });
        expect(await store.getSession(id)).to.equal(null);
      });

      it('stopping a temporary session deletes it with its subscriptions and queue', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        await store.subscribe(id, '/stop/a');
        expect(await store.enqueue([{ id, q: data(1) }])).to.deep.equal(['ok']);
        await store.stopSession(id);
        expect(await store.getSession(id)).to.equal(null);
        expect(await subscribers(store, ['/stop/a'])).to.deep.equal([]);
        expect(await drain(store, id)).to.deep.equal([]);
        expect(await store.enqueue([{ id, q: data(2) }])).to.deep.equal(['gone']);
      });

      it('stopping a persistent session keeps it offline with subscriptions and queue', async () => {
        const id = newId('persist');
        await store.openSession(newSession(id, { temporary: false }));
        await store.subscribe(id, '/keep/a', 'L');
        await store.enqueue([{ id, q: data(1) }]);
        await store.stopSession(id);
        expect(await store.getSession(id)).to.include({ id, temporary: false, online: false });
        const subs = await subscribers(store, ['/keep/a']);
        expect(subs.map((s) => [s.id, s.subject, s.label, s.online])).to.deep.equal([[id, '/keep/a', 'L', false]]);
        // Offline persistent sessions still collect events.
        expect(await store.enqueue([{ id, q: data(2) }])).to.deep.equal(['ok']);
        await store.kick(id);
        expect(await store.getSession(id)).to.include({ online: true });
        expect((await drain(store, id)).map((q) => q.event.n)).to.deep.equal(['1', '2']);
      });

      it('re-opening a persistent session keeps its subscriptions and queue', async () => {
        const id = newId('persist');
        await store.openSession(newSession(id, { temporary: false }));
        await store.subscribe(id, '/re/a');
        await store.enqueue([{ id, q: data(7) }]);
        await store.stopSession(id);
        await store.openSession(newSession(id, { temporary: false, format: 'js', userAgent: 'mozilla/5.0' }));
        expect(await store.getSession(id)).to.include({ online: true, format: 'js', userAgent: 'mozilla/5.0' });
        expect((await subscribers(store, ['/re/a'])).map((s) => s.id)).to.deep.equal([id]);
        expect((await drain(store, id)).map((q) => q.event.n)).to.deep.equal(['7']);
      });
    });

    describe('subscriptions', () => {
      beforeEach(() => open());

      it('subscribe returns the subscription and lists the session under its subject', async () => {
        const a = newId();
        const b = newId();
        await store.openSession(newSession(a));
        await store.openSession(newSession(b, { temporary: false }));
        await store.kick(a, { mode: 'pull' });
        expect(await store.subscribe(a, '/sub/x')).to.deep.equal({ subject: '/sub/x' });
        expect(await store.subscribe(b, '/sub/x', 'lbl')).to.deep.equal({ subject: '/sub/x', label: 'lbl' });
        const subs = await subscribers(store, ['/sub/x']);
        const byId = new Map(subs.map((s) => [s.id, s]));
        expect(byId.get(a)).to.include({ subject: '/sub/x', online: true, temporary: true, mode: 'pull' });
        expect(byId.get(a)!.label).to.equal(undefined);
        expect(byId.get(b)).to.include({ subject: '/sub/x', label: 'lbl', online: true, temporary: false });
        expect(byId.size).to.equal(2);
      });

      it('lists a multi-subject subscription under each part, with the whole string as subject', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        await store.subscribe(id, '/m/d,/m/e');
        for (const part of ['/m/d', '/m/e']) {
          const subs = await subscribers(store, [part]);
          expect(subs.map((s) => [s.id, s.subject])).to.deep.equal([[id, '/m/d,/m/e']]);
        }
        expect(await subscribers(store, ['/m/d,/m/e'])).to.deep.equal([]);
      });

      it('subscribing twice to the same string is one subscription (the last label wins)', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        await store.subscribe(id, '/twice');
        await store.subscribe(id, '/twice', 'second');
        const subs = await subscribers(store, ['/twice']);
        expect(subs.map((s) => [s.id, s.label])).to.deep.equal([[id, 'second']]);
        await store.subscribe(id, '/twice');
        expect((await subscribers(store, ['/twice'])).map((s) => [s.id, s.label]), 'no label the last time').to.deep.equal([[id, undefined]]);
        await store.subscribe(id, '/twice/more', 'M');
        await store.subscribe(id, '/twice', 'third');
        expect(await store.unsubscribe(id, '/twice/more')).to.deep.equal([{ subject: '/twice/more', label: 'M' }]);
        expect(await store.subscribedSubjects(id)).to.deep.equal(['/twice']);
        expect(await store.unsubscribe(id)).to.deep.equal([{ subject: '/twice', label: 'third' }]);
      });

      it('unsubscribe by sid removes that one; an unknown sid gives null', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        await store.subscribe(id, '/u/a');
        await store.subscribe(id, '/u/b', 'B');
        expect(await store.unsubscribe(id, '/u/zzz')).to.equal(null);
        expect(await store.unsubscribe(id, '/u/b')).to.deep.equal([{ subject: '/u/b', label: 'B' }]);
        expect(await subscribers(store, ['/u/b'])).to.deep.equal([]);
        expect((await subscribers(store, ['/u/a'])).map((s) => s.id)).to.deep.equal([id]);
        expect(await store.unsubscribe(id, '/u/b')).to.equal(null);
      });

      it('unsubscribe without sid removes and returns them all', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        await store.subscribe(id, '/all/a');
        await store.subscribe(id, '/all/b,/all/c', 'BC');
        const removed = await store.unsubscribe(id);
        expect(removed!.slice().sort((x, y) => x.subject.localeCompare(y.subject))).to.deep.equal([
          { subject: '/all/a' }, { subject: '/all/b,/all/c', label: 'BC' },
        ]);
        expect(await subscribers(store, ['/all/a', '/all/b', '/all/c'])).to.deep.equal([]);
        expect(await store.unsubscribe(id)).to.deep.equal([]);
      });

      it('keeps a session listed under a part that another of its subscriptions still covers', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        await store.subscribe(id, '/o/a');
        await store.subscribe(id, '/o/a,/o/b');
        await store.unsubscribe(id, '/o/a');
        const subs = await subscribers(store, ['/o/a']);
        expect(subs.map((s) => [s.id, s.subject])).to.deep.equal([[id, '/o/a,/o/b']]);
      });

      it('lists subscribers of several parts (a session may come once per part)', async () => {
        const a = newId();
        const b = newId();
        await store.openSession(newSession(a));
        await store.openSession(newSession(b));
        await store.subscribe(a, '/p/1');
        await store.subscribe(b, '/p/2');
        await store.subscribe(b, '/p/1');
        const subs = await subscribers(store, ['/p/1', '/p/2']);
        expect(new Set(subs.map((s) => s.id))).to.deep.equal(new Set([a, b]));
      });

      it('prefix matching: lists each session once, with its longest matching subscription', async () => {
        await open({ subjectMatch: 'prefix', pageSize: 2 });
        const a = newId();
        const b = newId();
        const c = newId();
        for (const id of [a, b, c]) await store.openSession(newSession(id));
        await store.subscribe(a, '/px');
        await store.subscribe(a, '/px/news', 'long');
        await store.subscribe(b, '/p');
        await store.subscribe(c, '/px/other');
        const subs = (await collect(store.subscribersOf('/px/news/today'))).flat();
        expect(subs.map((s) => s.id).sort()).to.deep.equal([a, b].sort());
        expect(subs.find((s) => s.id === a)).to.include({ subject: '/px/news', label: 'long' });
      });
    });

    describe('paging', () => {
      it('yields subscribers in pages of at most pageSize, every one of them', async () => {
        await open({ pageSize: 3 });
        const ids: string[] = [];
        for (let i = 0; i < 10; i++) {
          const id = newId('page');
          ids.push(id);
          await store.openSession(newSession(id));
          await store.subscribe(id, '/paged');
        }
        const pages = await collect(store.subscribersOf('/paged'));
        for (const p of pages) expect(p.length).to.be.within(1, 3);
        expect(pages.flat().map((s) => s.id).sort()).to.deep.equal(ids.slice().sort());
      });
    });

    describe('queues', () => {
      beforeEach(() => open());

      it('enqueue answers per delivery: ok, full at capacity, gone for a missing session', async () => {
        await open({ queueSize: 2 });
        const id = newId();
        await store.openSession(newSession(id));
        const res = await store.enqueue(
          [{ id, q: data(1) }, { id, q: data(2) }, { id: newId('nobody'), q: data(3) }, { id, q: data(4) }]);
        expect(res).to.deep.equal(['ok', 'ok', 'gone', 'full']);
        expect((await drain(store, id)).map((q) => q.event.n)).to.deep.equal(['1', '2']);
      });

      it('take returns events oldest first and empties the queue', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        for (let n = 1; n <= 5; n++) await store.enqueue([{ id, q: data(n) }]);
        expect((await drain(store, id)).map((q) => q.event.n)).to.deep.equal(['1', '2', '3', '4', '5']);
        expect(await drain(store, id)).to.deep.equal([]);
      });

      it('keeps every field, the receiver own sid and label, and odd names and values', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        const ev = fields({
          p_event: 'data', p_subject: '/t/a', p_from: 'x', txt: '你好 <b>bold</b> "dq" \'sq\' & \\ back\nline2 \u2028',
          empty: '', __proto__: 'proto', constructor: 'c',
        });
        await store.enqueue([{ id, q: { event: ev, sid: '/t/a,/t/b', label: 'lab' } }, { id, q: { event: ev } }]);
        const [withOwn, without] = await drain(store, id);
        expect(withOwn.sid).to.equal('/t/a,/t/b');
        expect(withOwn.label).to.equal('lab');
        expect({ ...withOwn.event }).to.deep.equal({ ...ev });
        expect(Object.getPrototypeOf(withOwn.event)).to.equal(null);
        expect(without.sid).to.equal(undefined);
        expect(without.label).to.equal(undefined);
        expect({ ...without.event }).to.deep.equal({ ...ev });
      });

      it('peek leaves events queued until ack removes those written; what came meanwhile stays', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        await store.enqueue([{ id, q: data(1) }, { id, q: data(2) }, { id, q: data(3) }]);
        const peeked = await store.peek(id);
        expect(peeked.map((q) => q.event.n)).to.deep.equal(['1', '2', '3']);
        expect((await store.peek(id)).map((q) => q.event.n), 'a second peek sees the same').to.deep.equal(['1', '2', '3']);
        await store.enqueue([{ id, q: data(4) }]);
        await store.ack(id, peeked.slice(0, 2));
        expect((await store.peek(id)).map((q) => q.event.n)).to.deep.equal(['3', '4']);
      });

      it('ack of events already gone (acked twice, or the session stopped) removes nothing else', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        await store.enqueue([{ id, q: data(1) }, { id, q: data(2) }]);
        const [first] = await store.peek(id);
        await store.ack(id, [first]);
        await store.ack(id, [first]);
        expect((await store.peek(id)).map((q) => q.event.n)).to.deep.equal(['2']);
        await store.stopSession(id);
        await store.ack(id, [first]);
        expect(await store.peek(id)).to.deep.equal([]);
      });
    });

    describe('waiting', () => {
      beforeEach(() => open());

      it('wakes a waiter within milliseconds of an enqueue', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        const t0 = Date.now();
        const waiting = waitFor(store, id, 5000);
        setTimeout(() => void store.enqueue([{ id, q: data(1) }]), 50);
        await waiting;
        expect(Date.now() - t0).to.be.within(40, 1000);
        expect((await drain(store, id)).map((q) => q.event.n)).to.deep.equal(['1']);
      });

      it('returns at once when events are already queued', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        await store.enqueue([{ id, q: data(1) }]);
        const t0 = Date.now();
        await waitFor(store, id, 5000);
        expect(Date.now() - t0).to.be.below(500);
      });

      it('times out after ms when nothing comes', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        const t0 = Date.now();
        await waitFor(store, id, 300);
        expect(Date.now() - t0).to.be.within(280, 1500);
      });

      it('returns when the request is cancelled', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        let listener: { expire(): void } | undefined;
        const cancel = { cancelled: false, onCancel: (l: { expire(): void } | undefined) => (listener = l) };
        const t0 = Date.now();
        setTimeout(() => {
          cancel.cancelled = true;
          listener?.expire();
        }, 50);
        await waitFor(store, id, 5000, cancel);
        expect(Date.now() - t0).to.be.within(40, 1000);
        expect(listener, 'the wait took its listener off').to.equal(undefined);
        expect(await waitFor(store, id, 5000, cancel), 'a cancelled request does not wait').to.equal(undefined);
        expect(Date.now() - t0).to.be.within(40, 1000);
      });

      it('tells the waiting request once, and never before returning, even with events already queued', async () => {
        const id = newId();
        await store.openSession(newSession(id));
        await store.enqueue([{ id, q: data(1) }]);
        const told: string[] = [];
        const done = new Promise<void>((resolve) => {
          store.waitForEvents(id, 5000, {
            cancelled: false,
            onCancel: () => undefined,
            woken: (found) => {
              told.push(`woken ${found === undefined ? 'without events' : found.map((q) => q.event.n).join(',')}`);
              resolve();
            },
            failed: (err) => {
              told.push(`failed ${String(err)}`);
              resolve();
            },
          });
          expect(told, 'nothing told before returning').to.deep.equal([]);
        });
        await done;
        await sleep(50);
        expect(told).to.have.length(1);
        expect(told[0]).to.match(/^woken (1|without events)$/);
        expect((await store.peek(id)).map((q) => q.event.n), 'left in the queue').to.deep.equal(['1']);
      });

      it('returns when the session is stopped, temporary or persistent', async () => {
        for (const temporary of [true, false]) {
          const id = newId();
          await store.openSession(newSession(id, { temporary }));
          const t0 = Date.now();
          const waiting = waitFor(store, id, 5000);
          setTimeout(() => void store.stopSession(id), 50);
          await waiting;
          expect(Date.now() - t0, `temporary=${temporary}`).to.be.within(40, 1000);
        }
      });
    });

    describe('aging', () => {
      beforeEach(() => open());

      it('stops a session whose lease ran out, and returns it once', async () => {
        await open({ leaseMs: 150 });
        const id = newId();
        await store.openSession(newSession(id));
        expect((await store.expire(Date.now())).map((s) => s.id)).to.not.include(id);
        await sleep(250);
        const expired = await store.expire(Date.now());
        expect(expired.filter((s) => s.id === id)).to.have.length(1);
        expect(expired.find((s) => s.id === id)).to.include({ temporary: true, online: false });
        expect(await store.getSession(id), 'a temporary one is deleted').to.equal(null);
        expect((await store.expire(Date.now())).map((s) => s.id)).to.not.include(id);
      });

      it('does not return a session whose lease was renewed', async () => {
        await open({ leaseMs: 300 });
        const id = newId();
        await store.openSession(newSession(id));
        await sleep(200);
        await store.kick(id);
        await store.expire(Date.now());
        await sleep(200);
        expect((await store.expire(Date.now())).map((s) => s.id)).to.not.include(id);
        expect(await store.getSession(id)).to.include({ online: true });
      });

      it('stops persistent sessions too: they stay, offline, with their subscriptions', async () => {
        await open({ leaseMs: 100 });
        const id = newId('persist');
        await store.openSession(newSession(id, { temporary: false }));
        await store.subscribe(id, '/age/p');
        await sleep(200);
        const expired = (await store.expire(Date.now())).filter((s) => s.id === id);
        expect(expired).to.have.length(1);
        expect(expired[0].temporary).to.equal(false);
        expect(await store.getSession(id)).to.include({ online: false, temporary: false });
        expect((await subscribers(store, ['/age/p'])).map((s) => s.id)).to.deep.equal([id]);
        expect((await store.expire(Date.now())).map((s) => s.id)).to.not.include(id);
      });
    });
  });
}
