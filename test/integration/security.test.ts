import { expect } from 'chai';
import { connect } from 'node:net';
import { join } from 'node:path';
import { http, parseXmlEvents, qs, sleep, stream, TestClient } from '../support/client';
import { recorder } from '../support/log';
import { startServer, storeOverrides, type Running, isolatedServer } from '../support/server';

const ROOT = join(__dirname, '..', '..', '..');

describe('limits and bad input', () => {
  let s: Running;
  before(async () => {
    s = await startServer({ 'limit.fields.per.event': 8, 'limit.field.name.length': 10, 'limit.field.value.length': 50, 'limit.subject.length': 12, 'limit.body.bytes': 2000 });
  });
  after(async () => { await s.server.close(); });

  const get = (f: Record<string, string>) => http(`${s.srv}?${qs(f)}`);

  it('refuses too many fields with 400 naming the limit', async () => {
    const f: Record<string, string> = { p_event: 'join' };
    for (let i = 0; i < 8; i++) f[`f${i}`] = 'x';
    const r = await get(f);
    expect(r.status).to.equal(400);
    expect(r.text).to.include('limit.fields.per.event');
  });

  it('refuses a too long field name or value with 400 naming the limit', async () => {
    expect((await get({ p_event: 'join', abcdefghijk: '1' })).text).to.include('limit.field.name.length');
    const r = await get({ p_event: 'join', v: 'x'.repeat(51) });
    expect(r.status).to.equal(400);
    expect(r.text).to.include('limit.field.value.length');
  });

  it('answers a too long subject with a nack, on subscribe, listen and publish', async () => {
    const c = new TestClient(s.srv);
    await c.join();
    for (const type of ['subscribe', 'listen', 'publish']) {
      const [e] = await c.event(type, { p_subject: '/' + 'x'.repeat(12), p_mode: 'pull' });
      expect(e, type).to.include({ p_event: 'nack', p_reason: 'subject longer than 12 characters (limit.subject.length)' });
    }
  });

  it('refuses a body over limit.body.bytes with 413', async () => {
    const r = await http(s.srv, { method: 'POST', body: `<event v="${'x'.repeat(3000)}"/>` });
    expect(r.status).to.equal(413);
  });

  it('never lets a published value inject markup into a js page', async () => {
    const r = await startServer();
    try {
      const recv = await http(`${r.srv}?p_event=join-listen&p_format=js&p_mode=pull&p_subject=/inj`);
      const id = /'p_id', "([^"]+)"/.exec(recv.text)![1];
      await http(`${r.srv}?${qs({ p_event: 'publish', p_id: id, p_subject: '/inj', evil: '</script><script>alert(1)</script>', q: '"); alert(2); ("' })}`);
      const page = (await http(`${r.srv}?p_event=refresh&p_id=${encodeURIComponent(id)}`)).text;
      expect(page).to.not.include('<script>alert');
      expect(page).to.not.match(/[^\\]"\); alert\(2\)/);
      expect(page.match(/<script/g)!.length).to.equal(page.match(/<\/script>/g)!.length);
    } finally { await r.server.close(); }
  });
});

describe('session and subscription limits', () => {
  let s: Running;
  before(async () => {
    // A store of its own: earlier suites' sessions would count, or be reclaimed.
    s = await isolatedServer({ 'limit.sessions': 2 });
  });
  after(async () => { await s.server.close(); });

  it('refuses a join beyond limit.sessions with 429, and a re-join of an existing id is not counted', async () => {
    const a = new TestClient(s.srv);
    await a.join({ p_id: `lim-a-${Date.now()}` });
    await new TestClient(s.srv).join();
    const r = await http(`${s.srv}?p_event=join&p_format=xml`);
    expect(r.status).to.equal(429);
    expect(r.text).to.include('limit.sessions');
    expect((await a.join({ p_id: a.id })).p_event).to.equal('join-ack');
    await a.event('leave');
  });

  it('answers a subscription beyond limit.subscriptions.per.session with a nack', async () => {
    const r = await startServer({ 'limit.subscriptions.per.session': 2 });
    try {
      const c = new TestClient(r.srv);
      await c.join();
      await c.event('subscribe', { p_subject: '/l/1' });
      await c.event('listen', { p_mode: 'pull', p_subject: '/l/2' });
      const [nack] = await c.event('subscribe', { p_subject: '/l/3' });
      expect(nack).to.include({ p_event: 'nack', p_reason: 'too many subscriptions: at most 2 per session (limit.subscriptions.per.session)' });
    } finally { await r.server.close(); }
  });
});

describe('publishing restrictions', () => {
  let s: Running;
  before(async () => { s = await startServer({ 'publish.unicast': false }); });
  after(async () => { await s.server.close(); });

  it('publish.unicast=false refuses p_to with a nack but allows multicast', async () => {
    const c = await new TestClient(s.srv).joinPull('/r');
    expect((await c.event('publish', { p_subject: '/r', p_to: c.id }))[0]).to.include({ p_event: 'nack', p_reason: 'unicast by clients is disabled (publish.unicast=false)' });
    expect((await c.event('publish', { p_subject: '/r' }))[0].p_event).to.equal('publish-ack');
  });

  it('publish.clients=false refuses client publishing; server code still publishes', async () => {
    const r = await startServer({ 'publish.clients': false });
    try {
      const c = await new TestClient(r.srv).joinPull('/srv-only');
      expect((await c.event('publish', { p_subject: '/srv-only' }))[0]).to.include({ p_event: 'nack', p_reason: 'publishing by clients is disabled (publish.clients=false)' });
      expect(await r.server.publish('/srv-only', { k: 'from-server' })).to.equal(1);
      expect(await r.server.unicast(c.id, { k: 'direct' })).to.equal(1);
      const other = await new TestClient(r.srv).joinPull('/elsewhere');
      expect(await r.server.broadcast({ k: 'to-all' })).to.be.at.least(2);
      expect((await c.refresh()).map((e) => e.k)).to.deep.equal(['from-server', 'direct', 'to-all']);
      expect((await other.refresh()).map((e) => e.k)).to.deep.equal(['to-all']);
    } finally { await r.server.close(); }
  });
});

describe('authorisation hook (examples/auth-signed-token.js)', () => {
  let s: Running;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  let example: { makeToken(user: string, ttl?: number): string };
  before(async () => {
    process.env.PUSHLET_TOKEN_SECRET = 'test-secret';
    example = require(join(ROOT, 'examples', 'auth-signed-token.js'));
    s = await startServer({ 'auth.module': join(ROOT, 'examples', 'auth-signed-token.js') });
  });
  after(async () => { await s.server.close(); });

  it('denies a join without a valid token with a nack carrying the reason', async () => {
    const c = new TestClient(s.srv);
    expect(await c.join()).to.include({ p_event: 'nack', p_reason: 'a valid token is required' });
    expect(await c.join({ token: 'forged.token' })).to.include({ p_event: 'nack' });
    expect(await c.join({ token: example.makeToken('ann', -10) }), 'expired').to.include({ p_event: 'nack' });
  });

  it('allows a signed user, limits subjects, and rewrites published fields', async () => {
    const token = example.makeToken('ann');
    const c = new TestClient(s.srv);
    expect(await c.join({ p_id: 'user-ann', token })).to.include({ p_event: 'join-ack', p_id: 'user-ann' });
    expect((await c.event('subscribe', { p_subject: '/user/bob/inbox' }))[0]).to.include({ p_event: 'nack', p_reason: 'not allowed to subscribe to /user/bob/inbox' });
    await c.event('listen', { p_mode: 'pull', p_subject: '/public/chat' });
    const other = new TestClient(s.srv);
    await other.join({ p_id: 'user-bob', token: example.makeToken('bob') });
    await other.event('listen', { p_mode: 'pull', p_subject: '/public/chat' });
    expect((await c.event('publish', { p_subject: '/public/chat' }))[0].p_event).to.equal('nack');
    expect((await c.event('publish', { p_subject: '/chat/x', user: 'mallory' }))[0].p_event).to.equal('publish-ack');
    expect((await c.event('publish', { p_subject: '/public/chat', p_to: 'user-bob' }))[0].p_event, 'publish outside /chat/').to.equal('nack');
    const r = await startServer({ 'auth.module': join(ROOT, 'examples', 'auth-signed-token.js'), 'subject.match': 'prefix' });
    await r.server.close();
  });

  it('denies with a nack when the hook itself fails, and keeps serving', async () => {
    const r = await startServer({}, { auth: (req) => { if (req.action === 'publish') throw new Error('hook bug'); return { allow: true }; } });
    try {
      const c = new TestClient(r.srv);
      await c.join();
      expect((await c.event('publish', { p_subject: '/x' }))[0]).to.include({ p_event: 'nack', p_reason: 'authorisation failed' });
      expect((await c.event('hb'))[0].p_event).to.equal('hb-ack');
    } finally { await r.server.close(); }
  });

  it('refuses to start when the module exports no authorize function', async () => {
    await startServer({ 'auth.module': join(ROOT, 'package.json') }).then(
      () => expect.fail('started'),
      (err: Error) => expect(err.message).to.match(/auth\.module: .* exports no authorize/),
    );
  });
});

describe('session binding (session.bind=cookie)', () => {
  let s: Running;
  before(async () => { s = await startServer({ 'session.bind': 'cookie', 'session.bind.secret': 'k' }); });
  after(async () => { await s.server.close(); });

  const cookieOf = (setCookie: string | string[] | undefined) => String(setCookie).split(';')[0];

  it('join sets an HttpOnly cookie; requests without it are refused with a reason', async () => {
    const join1 = await http(`${s.srv}?p_event=join&p_format=xml`);
    expect(String(join1.headers['set-cookie'])).to.match(/^PLB_[0-9a-f]{16}=[\w-]+; Path=\/; HttpOnly/);
    const id = parseXmlEvents(join1.text)[0].p_id;
    const cookie = cookieOf(join1.headers['set-cookie']);
    const ok = await http(`${s.srv}?p_event=hb&p_id=${id}`, { headers: { cookie } });
    expect(parseXmlEvents(ok.text)[0].p_event).to.equal('hb-ack');
    const stolen = await http(`${s.srv}?p_event=publish&p_id=${id}&p_subject=/x`);
    expect(stolen.status).to.equal(400);
    expect(stolen.text).to.include(`Session ${id} is bound to another client`);
    const forged = await http(`${s.srv}?p_event=hb&p_id=${id}`, { headers: { cookie: cookie.replace(/=.*/, '=AAAA') } });
    expect(forged.status).to.equal(400);
  });

  it('refuses a join that takes over a bound persistent id', async () => {
    const id = `bound-${Date.now()}`;
    const first = await http(`${s.srv}?p_event=join&p_format=xml&p_id=${id}`);
    expect(first.status).to.equal(200);
    const thief = await http(`${s.srv}?p_event=join&p_format=xml&p_id=${id}`);
    expect(thief.status).to.equal(400);
    const owner = await http(`${s.srv}?p_event=join&p_format=xml&p_id=${id}`, { headers: { cookie: cookieOf(first.headers['set-cookie']) } });
    expect(owner.status).to.equal(200);
  });

  it('with session.bind=none (the default) an id alone is enough', async () => {
    const r = await startServer();
    try {
      const c = new TestClient(r.srv);
      await c.join();
      expect((await c.event('hb'))[0].p_event).to.equal('hb-ack');
    } finally { await r.server.close(); }
  });
});

describe('CORS, health, readiness, metrics', () => {
  let s: Running;
  before(async () => { s = await startServer({ 'cors.origins': 'http://app.example' }); });
  after(async () => { await s.server.close(); });

  it('allows a listed origin, with credentials, and answers preflight', async () => {
    const r = await http(`${s.srv}?p_event=join&p_format=xml`, { headers: { origin: 'http://app.example' } });
    expect(r.headers['access-control-allow-origin']).to.equal('http://app.example');
    expect(r.headers['access-control-allow-credentials']).to.equal('true');
    const pre = await http(s.srv, { method: 'OPTIONS', headers: { origin: 'http://app.example', 'access-control-request-method': 'POST' } });
    expect(pre.status).to.equal(204);
    expect(pre.headers['access-control-allow-methods']).to.include('POST');
    const bad = await http(`${s.srv}?p_event=hb`, { headers: { origin: 'http://evil.example' } });
    expect(bad.headers).to.not.have.property('access-control-allow-origin');
  });

  it('applies the same policy to the bundled files, which Koa serves', async () => {
    const r = await http(`${s.base}/pushlet/lib/ajax-pushlet-client.js`, { headers: { origin: 'http://app.example' } });
    expect(r.status).to.equal(200);
    expect(r.headers['access-control-allow-origin']).to.equal('http://app.example');
    expect(r.headers.vary).to.include('Origin');
  });

  it('answers /health and /ready', async () => {
    expect(JSON.parse((await http(`${s.base}/health`)).text)).to.deep.equal({ status: 'ok' });
    expect((await http(`${s.base}/ready`)).status).to.equal(200);
  });

  it('counts published and delivered events, held requests and request latency by p_event', async () => {
    const c = await new TestClient(s.srv).joinPull('/metrics');
    await c.event('publish', { p_subject: '/metrics' });
    await c.refresh();
    // The answer reached the client before its events were acked (a Redis round trip on that
    // store): the request stops counting as held once acked.
    let text = '';
    for (let i = 0; i < 20; i++) {
      text = (await http(`${s.base}/metrics`)).text;
      if (/^pushlet_held_requests 0$/m.test(text)) break;
      await sleep(50);
    }
    expect(text).to.match(/^pushlet_events_published_total 1$/m);
    expect(text).to.match(/^pushlet_events_delivered_total 1$/m);
    expect(text).to.match(/^pushlet_held_requests 0$/m);
    expect(Number(/^pushlet_subscriptions (\d+)$/m.exec(text)?.[1])).to.be.at.least(1);
    expect(Number(/^pushlet_sessions (\d+)$/m.exec(text)?.[1])).to.be.at.least(1);
    expect(text).to.match(/pushlet_request_duration_seconds_count\{p_event="publish",status="200"\} 1/);
    if (storeOverrides()['redis.url']) expect(text).to.match(/^pushlet_redis_commands_total [1-9]\d*$/m);
    else expect(text).to.not.include('pushlet_redis_commands_total');
  });
});

describe('graceful shutdown', () => {
  it('ends held requests with a refresh so clients come back', async () => {
    const s = await startServer({ 'queue.read.timeout.millis': 10000 });
    const c = await new TestClient(s.srv).joinPull('/bye');
    const pending = stream(`${s.srv}?p_event=refresh&p_id=${c.id}`, () => false, 5000);
    await sleep(100);
    const t0 = Date.now();
    await s.server.close();
    const r = await pending;
    expect(Date.now() - t0).to.be.below(1000);
    expect(parseXmlEvents(r.text).map((e) => e.p_event)).to.deep.equal(['refresh-ack', 'refresh']);
  });
});

describe('JSONP (p_callback, json format)', () => {
  let s: Running;
  before(async () => { s = await startServer(); });
  after(async () => { await s.server.close(); });

  it('wraps the json answer in the named callback', async () => {
    const r = await http(`${s.srv}?p_event=join&p_format=json&p_callback=app.onPushlet`);
    expect(r.headers['content-type']).to.equal('application/javascript; charset=UTF-8');
    const calls: unknown[] = [];
    new Function('app', r.text)({ onPushlet: (a: unknown) => calls.push(a) });
    expect(calls).to.have.length(1);
    expect((calls[0] as Record<string, string>[])[0].p_event).to.equal('join-ack');
  });

  for (const bad of ['alert(1)', 'a;b', 'x y', '1abc', 'a..b', 'a'.repeat(200)]) {
    it(`refuses the callback name ${JSON.stringify(bad.slice(0, 20))} with 400`, async () => {
      const r = await http(`${s.srv}?${qs({ p_event: 'join', p_format: 'json', p_callback: bad })}`);
      expect(r.status).to.equal(400);
      expect(r.text).to.include('Invalid p_callback');
    });
  }
});

describe('logs', () => {
  it('writes one info line per session joined, left and expired, and refused requests at warn', async () => {
    const logger = recorder();
    const { lines } = logger;
    const s = await startServer({ 'session.lease.millis': 200, 'session.aging.interval.millis': 50 }, { logger });
    try {
      const a = new TestClient(s.srv);
      await a.join();
      await a.event('leave');
      const b = new TestClient(s.srv);
      await b.join();
      await sleep(400);
      await http(`${s.srv}?p_event=hb`);
      const find = (level: string, msg: string, session?: string) =>
        lines.filter((l) => l.level === level && l.msg === msg && (session === undefined || l.obj.session === session));
      expect(find('info', 'session joined', a.id)).to.have.length(1);
      expect(find('info', 'session left', a.id)).to.have.length(1);
      expect(find('info', 'session joined', b.id)).to.have.length(1);
      expect(find('info', 'session expired', b.id)).to.have.length(1);
      expect(find('warn', 'request refused')[0].obj).to.include({ status: 400, reason: 'No id specified' });
    } finally { await s.server.close(); }
  });
});

describe('request target and client address', () => {
  it('takes the client address from X-Forwarded-For only when proxy.trust is on', async () => {
    const forwarded = { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' };
    for (const [trust, expected] of [[true, '203.0.113.7'], [false, '127.0.0.1']] as const) {
      const r = await startServer({ 'proxy.trust': trust });
      try {
        const join = await http(`${r.srv}?p_event=join&p_format=xml`, { headers: forwarded });
        const id = parseXmlEvents(join.text)[0].p_id;
        expect((await r.server.store.getSession(id))?.address, `proxy.trust=${trust}`).to.equal(expected);
      } finally { await r.server.close(); }
    }
  });

  it('serves a request whose target is an absolute URL (as sent to a proxy)', async () => {
    const r = await startServer();
    try {
      const { hostname: host, port } = new URL(r.base);
      const text = await new Promise<string>((resolve, reject) => {
        const sock = connect(Number(port), host, () => {
          sock.write(`GET ${r.base}/pushlet/pushlet.srv?p_event=join&p_format=xml HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`);
        });
        let out = '';
        sock.setEncoding('utf8');
        sock.on('data', (d: string) => (out += d));
        sock.on('end', () => resolve(out));
        sock.on('error', reject);
      });
      expect(text).to.match(/^HTTP\/1\.1 200/);
      expect(parseXmlEvents(text.slice(text.indexOf('\r\n\r\n') + 4))[0].p_event).to.equal('join-ack');
    } finally { await r.server.close(); }
  });
});
