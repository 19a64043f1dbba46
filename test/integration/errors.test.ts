/**
 * One error path: a refusal answers its status with the reason, an unavailable store 503 with
 * its reason and no stack in the log, a bug 500 with a generic body and its stack logged.
 */
import { expect } from 'chai';
import { StoreUnavailableError } from '../../src/errors';
import { MemoryStore } from '../../src/store/memory';
import type { SessionPatch } from '../../src/store/store';
import { http, qs, TestClient } from '../support/client';
import { recorder } from '../support/log';
import { startServer } from '../support/server';

/** A memory store whose session reads fail as `fail` says, for the requests that name `broken`. */
class FailingStore extends MemoryStore {
  constructor(private readonly fail: () => Error) { super(); }
  override async getSession(id: string) {
    if (id === 'broken') throw this.fail();
    return super.getSession(id);
  }
  override async touch(id: string, patch?: SessionPatch, revive?: boolean) {
    if (id === 'broken') throw this.fail();
    return super.touch(id, patch, revive);
  }
}

describe('errors: status, reason and log', () => {
  for (const [what, fail, status, body] of [
    ['a bug', () => new TypeError("Cannot read properties of undefined (reading 'secret')"), 500, 'Internal server error\n'],
    ['an unavailable store', () => new StoreUnavailableError('Redis at 10.0.0.5:6379 is unavailable'), 503, 'Redis at 10.0.0.5:6379 is unavailable\n'],
  ] as const) {
    it(`${what}: answers ${status} with ${status === 500 ? 'a generic body' : 'its reason'}, and logs ${status === 500 ? 'the stack' : 'no line for it'}`, async () => {
      const log = recorder();
      const s = await startServer({}, { store: new FailingStore(fail), logger: log });
      try {
        const atStart = log.lines.length;
        const r = await http(`${s.srv}?${qs({ p_event: 'hb', p_id: 'broken' })}`);
        expect(r.status).to.equal(status);
        expect(r.text).to.equal(body);
        const errors = log.lines.slice(atStart).filter((l) => l.level === 'error' || l.level === 'warn');
        if (status === 500) {
          expect(errors).to.have.length(1);
          expect((errors[0].obj.err as Error).stack).to.include('TypeError');
        } else {
          expect(errors, 'an outage is logged once by the store, not per request').to.have.length(0);
        }
      } finally { await s.server.close(); }
    });
  }
});

describe('subject parts per session (limit.subject.parts.per.session)', () => {
  it('refuses a subscription that would list more single subjects than the limit, with a nack naming it', async () => {
    const s = await startServer({ 'limit.subject.parts.per.session': 5 });
    try {
      const c = new TestClient(s.srv);
      await c.join();
      expect((await c.event('subscribe', { p_subject: '/a,/b,/c' }))[0].p_event).to.equal('subscribe-ack');
      const [refused] = await c.event('subscribe', { p_subject: '/d,/e,/f' });
      expect(refused.p_event).to.equal('nack');
      expect(refused.p_reason).to.include('(limit.subject.parts.per.session)');
      expect((await c.event('listen', { p_subject: '/x,/y,/z', p_mode: 'pull' }))[0].p_event, 'listen too').to.equal('nack');
      expect((await c.event('subscribe', { p_subject: '/d,/e' }))[0].p_event, 'up to the limit').to.equal('subscribe-ack');
      expect((await c.event('subscribe', { p_subject: '/a,/b,/c' }))[0].p_event, 'the same subscription again').to.equal('subscribe-ack');
    } finally { await s.server.close(); }
  });
});
