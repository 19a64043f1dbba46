import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import Koa from 'koa';
import { createServer, type PushletServer } from '../../src/index';
import { FAST, storeOverrides } from '../support/server';
import { http, parseXmlEvents, qs, stream, TestClient } from '../support/client';

const EXAMPLES = path.resolve(__dirname, '../../../examples');

function listening(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

/** A session on `srv` that streams `subject` and must receive a publish made through `publish`. */
async function streamsAPublish(srv: string, subject: string, publish: () => Promise<unknown>): Promise<string[]> {
  const c = new TestClient(srv);
  await c.join();
  await c.event('subscribe', { p_subject: subject });
  const got = stream(`${srv}?${qs({ p_event: 'listen', p_id: c.id, p_mode: 'stream' })}`, (t) => t.includes('p_event="data"'), 5000, () => void publish());
  return parseXmlEvents((await got).text).filter((e) => e.p_event === 'data').map((e) => e.msg);
}

describe('embedding: attach() to an application\'s http.Server, koa() middleware, and the examples', function () {
  this.timeout(20_000);
  const pushlets: PushletServer[] = [];
  const servers: Server[] = [];
  const make = () => {
    const p = createServer({ env: {}, overrides: { ...FAST, ...storeOverrides() } });
    pushlets.push(p);
    return p;
  };
  afterEach(async () => {
    await Promise.all(pushlets.splice(0).map((p) => p.close()));
    for (const s of servers.splice(0)) s.close();
  });

  it('attach(): the application\'s port serves a session and the clients, and keeps every other path', async () => {
    const app = createHttpServer((req, res) => res.writeHead(req.url === '/missing' ? 404 : 200).end(`app ${req.url}`));
    servers.push(app);
    const pushlet = make();
    await pushlet.attach(app, { path: '/live' });
    const base = await listening(app);

    const got = await streamsAPublish(`${base}/live/pushlet.srv`, '/embed/http', () => pushlet.publish('/embed/http', { msg: 'from the app' }));
    expect(got).to.deep.equal(['from the app']);
    // Any path under the prefix that ends in /pushlet.srv, as on our own port.
    expect((await http(`${base}/live/rooms/pushlet.srv?p_event=join&p_format=xml`)).text).to.include('join-ack');
    const client = await http(`${base}/live/lib/ajax-pushlet-client.js`);
    expect(client.status).to.equal(200);
    expect(client.text).to.include('window.Xparse');
    // The application's own answers, 404s included, and the protocol nowhere else.
    expect((await http(`${base}/`)).text).to.equal('app /');
    expect((await http(`${base}/live/lib/app.js`)).text).to.equal('app /live/lib/app.js');
    expect((await http(`${base}/missing`)).status).to.equal(404);
    expect((await http(`${base}/pushlet/pushlet.srv?p_event=join`)).text).to.equal('app /pushlet/pushlet.srv?p_event=join');

    // close() gives the paths back and leaves the application's server running.
    await pushlet.close();
    expect((await http(`${base}/live/pushlet.srv?p_event=join`)).text).to.equal('app /live/pushlet.srv?p_event=join');
  });

  it('koa(): a Koa app serves a session (GET and POST) before its own middleware, and starts the server on first use', async () => {
    const pushlet = make();
    const app = new Koa();
    app.use(pushlet.koa());
    app.use((ctx) => {
      ctx.body = `app ${ctx.path}`;
    });
    const server = createHttpServer(app.callback());
    servers.push(server);
    const base = await listening(server);
    const srv = `${base}/pushlet/pushlet.srv`;

    // No start() called: the first protocol request starts it.
    const got = await streamsAPublish(srv, '/embed/koa', () => pushlet.publish('/embed/koa', { msg: 'via koa' }));
    expect(got).to.deep.equal(['via koa']);
    const posted = await http(srv, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'p_event=join&p_format=xml' });
    expect(parseXmlEvents(posted.text)[0].p_event).to.equal('join-ack');
    expect((await http(`${base}/pushlet/js/xparse.js`)).text).to.include('window.Xparse');
    expect((await http(`${base}/pushlet/lib/nothing.js`)).text).to.equal('app /pushlet/lib/nothing.js');
    expect((await http(`${base}/elsewhere`)).text).to.equal('app /elsewhere');
  });

  for (const example of ['embed-http.js', 'embed-koa.js']) {
    it(`examples/${example} runs as documented: a session on the application's port, and a publish from its own route`, async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', PUSHLET_SOURCES_ACTIVATE: 'false', PUSHLET_QUEUE_READ_TIMEOUT_MILLIS: '300' };
      const redis = storeOverrides()['redis.url'];
      if (redis) env.REDIS_URL = redis;
      const proc: ChildProcess = spawn(process.execPath, [path.join(EXAMPLES, example)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        const base = await new Promise<string>((resolve, reject) => {
          let out = '';
          proc.stdout!.on('data', (d: Buffer) => {
            out += d;
            const m = /application on (http:\/\/[\d.]+:\d+)\//.exec(out);
            if (m) resolve(m[1]);
          });
          proc.stderr!.on('data', (d: Buffer) => (out += d));
          proc.on('exit', (code) => reject(new Error(`${example} exited (${code}): ${out}`)));
        });
        expect((await http(`${base}/`)).text).to.equal('the application\'s own page\n');
        const got = await streamsAPublish(`${base}/pushlet/pushlet.srv`, '/news', () => http(`${base}/hello?msg=from+the+route`));
        expect(got).to.deep.equal(['from the route']);
        proc.kill('SIGTERM');
        expect(await new Promise((r) => proc.on('exit', r))).to.equal(0);
      } finally {
        proc.kill('SIGKILL');
      }
    });
  }
});
