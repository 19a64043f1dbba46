import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Koa from 'koa';
import { staticFiles, type StaticOptions } from '../../src/http/static';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** A request whose path is sent exactly as given (a URL object would normalise `..`). */
function raw(port: number, rawPath: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: rawPath, method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A GET whose body is kept as bytes. */
function rawBytes(port: number, rawPath: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: rawPath, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const STATIC_LIB = path.resolve(__dirname, '../../../static/lib');
/** A webapp file of 300 kB, bytes 0..255 over and over, so that any slice can be checked. */
const SONG = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 256));

/** Errors Koa reported while serving; each test must leave none. */
const koaErrors: Error[] = [];

async function serve(opts: StaticOptions): Promise<{ server: Server; port: number }> {
  const app = new Koa();
  app.use(staticFiles(opts));
  // A client closing as the last bytes go out is not an error of ours (src/http/app.ts ignores it too).
  app.on('error', (err: Error & { code?: string }) => {
    if (err.code !== 'ERR_STREAM_PREMATURE_CLOSE') koaErrors.push(err);
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('static files: bundled clients, demo and webapp folder', () => {
  let webapp: string;
  let server: Server;
  let port: number;
  const get = (p: string, opts?: Parameters<typeof raw>[2]) => raw(port, p, opts);

  before(async () => {
    webapp = mkdtempSync(path.join(tmpdir(), 'pushlet-static-'));
    mkdirSync(path.join(webapp, 'lib'));
    mkdirSync(path.join(webapp, 'chat'));
    mkdirSync(path.join(webapp, 'WEB-INF'));
    writeFileSync(path.join(webapp, 'page.html'), '<html>legacy page</html>');
    writeFileSync(path.join(webapp, 'lib', 'xparse.js'), '/* the webapp own xparse */');
    writeFileSync(path.join(webapp, 'chat', 'index.html'), 'chat room');
    writeFileSync(path.join(webapp, 'WEB-INF', 'web.xml'), '<web-app/>');
    writeFileSync(path.join(webapp, 'login.jsp'), '<% secret %>');
    writeFileSync(path.join(webapp, '.htpasswd'), 'secret');
    writeFileSync(path.join(webapp, 'song.mp3'), SONG);
    ({ server, port } = await serve({ context: '/pushlet', webappDir: webapp }));
  });
  afterEach(() => {
    expect(koaErrors.splice(0)).to.deep.equal([]);
  });
  after(() => {
    server?.close();
    rmSync(webapp, { recursive: true, force: true });
  });

  it('serves the AJAX client as one script with its parts, long-cached with an ETag', async () => {
    const r = await get('/pushlet/lib/ajax-pushlet-client.js');
    expect(r.status).to.equal(200);
    // RFC 9239's type for JavaScript.
    expect(r.headers['content-type']).to.equal('text/javascript; charset=utf-8');
    expect(r.headers['cache-control']).to.match(/max-age=\d{6,}/);
    expect(r.headers.etag).to.be.a('string');
    const parts = ['pushlet-common.js', 'ajax-pushlet-client.js'].map((f) => readFileSync(path.join(STATIC_LIB, f), 'utf8'));
    expect(r.text).to.include(parts[0]).and.include(parts[1]);
    expect(r.text.indexOf(parts[0])).to.be.below(r.text.indexOf(parts[1]));
  });

  it('answers 304 to If-None-Match with the current ETag', async () => {
    const first = await get('/pushlet/lib/js-pushlet-client.js');
    const again = await get('/pushlet/lib/js-pushlet-client.js', { headers: { 'If-None-Match': first.headers.etag as string } });
    expect(again.status).to.equal(304);
    expect(again.text).to.equal('');
    const other = await get('/pushlet/lib/js-pushlet-client.js', { headers: { 'If-None-Match': '"stale"' } });
    expect(other.status).to.equal(200);
  });

  it('serves <ctx>/js/* from the same files as <ctx>/lib/*', async () => {
    const lib = await get('/pushlet/lib/ajax-pushlet-client-json.js');
    const js = await get('/pushlet/js/ajax-pushlet-client-json.js');
    expect(js.status).to.equal(200);
    expect(js.text).to.equal(lib.text);
    expect(js.text.trimEnd()).to.match(/PL\.format = 'json';$/);
  });

  it('serves the net frame as HTML and HEAD without a body', async () => {
    const r = await get('/pushlet/lib/js-pushlet-net.html');
    expect(r.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(r.text).to.include('PushletJS.push');
    const head = await get('/pushlet/lib/js-pushlet-net.html', { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(head.text).to.equal('');
    expect(Number(head.headers['content-length'])).to.equal(Buffer.byteLength(r.text));
  });

  it('redirects / and the bare context to <ctx>/, and serves the demo at <ctx>/demo/, not long-cached', async () => {
    for (const p of ['/', '/pushlet']) {
      const r = await get(p);
      expect(r.status, p).to.equal(302);
      expect(r.headers.location, p).to.equal('/pushlet/');
    }
    expect((await get('/pushlet/demo')).headers.location).to.equal('/pushlet/demo/');
    const demo = await get('/pushlet/demo/');
    expect(demo.status).to.equal(200);
    expect(demo.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(demo.headers['cache-control']).to.equal('no-cache');
    expect(demo.text).to.include('lib/ajax-pushlet-client.js');
  });

  it('serves the webapp folder as-is, its own files first', async () => {
    const page = await get('/pushlet/page.html');
    expect(page.status).to.equal(200);
    expect(page.text).to.equal('<html>legacy page</html>');
    // No charset: an old page's own <meta> decides, as under a servlet container.
    expect(page.headers['content-type']).to.equal('text/html');
    expect((await get('/pushlet/lib/xparse.js')).text).to.equal('/* the webapp own xparse */');
    expect((await get('/pushlet/js/xparse.js')).text).to.include('window.Xparse');
  });

  it('streams a webapp file with Last-Modified and an ETag, and revalidates it', async () => {
    const r = await get('/pushlet/song.mp3');
    expect(r.status).to.equal(200);
    expect(r.headers['content-type']).to.equal('audio/mpeg');
    expect(Number(r.headers['content-length'])).to.equal(SONG.length);
    expect(r.headers['last-modified']).to.be.a('string');
    expect(r.headers['accept-ranges']).to.equal('bytes');
    expect(Buffer.from(r.text, 'latin1').length).to.be.greaterThan(0);
    const again = await get('/pushlet/song.mp3', { headers: { 'If-None-Match': r.headers.etag as string } });
    expect(again.status).to.equal(304);
  });

  it('answers byte ranges: one range 206, a suffix range, unsatisfiable 416, several or a stale If-Range whole', async () => {
    const bytes = (p: string, range: string, extra: Record<string, string> = {}) => rawBytes(port, p, { Range: range, ...extra });
    const mid = await bytes('/pushlet/song.mp3', 'bytes=1000-1999');
    expect(mid.status).to.equal(206);
    expect(mid.headers['content-range']).to.equal(`bytes 1000-1999/${SONG.length}`);
    expect(mid.body.equals(SONG.subarray(1000, 2000))).to.equal(true);
    const tail = await bytes('/pushlet/song.mp3', 'bytes=-500');
    expect(tail.status).to.equal(206);
    expect(tail.body.equals(SONG.subarray(SONG.length - 500))).to.equal(true);
    const open = await bytes('/pushlet/song.mp3', 'bytes=299990-');
    expect(open.body.equals(SONG.subarray(299_990))).to.equal(true);
    const beyond = await bytes('/pushlet/song.mp3', 'bytes=400000-400010');
    expect(beyond.status).to.equal(416);
    expect(beyond.headers['content-range']).to.equal(`bytes */${SONG.length}`);
    const several = await bytes('/pushlet/song.mp3', 'bytes=0-9,100-109');
    expect(several.status).to.equal(200);
    expect(several.body.length).to.equal(SONG.length);
    const stale = await bytes('/pushlet/song.mp3', 'bytes=0-9', { 'If-Range': '"not-this-one"' });
    expect(stale.status).to.equal(200);
    expect(stale.body.length).to.equal(SONG.length);
    const fresh = await bytes('/pushlet/song.mp3', 'bytes=0-9', { 'If-Range': mid.headers['last-modified'] as string });
    expect(fresh.status).to.equal(206);
    // A bundled client is a buffer made of its parts: ranges apply to it too.
    const whole = await bytes('/pushlet/lib/ajax-pushlet-client.js', 'bytes=0-');
    const part = await bytes('/pushlet/lib/ajax-pushlet-client.js', 'bytes=10-19');
    expect(part.status).to.equal(206);
    expect(part.body.equals(whole.body.subarray(10, 20))).to.equal(true);
    // Not for answers that are not files.
    expect((await bytes('/pushlet/no-such.mp3', 'bytes=0-1')).status).to.equal(404);
  });

  it('redirects a folder to its slash form and serves its index.html', async () => {
    const r = await get('/pushlet/chat?x=1');
    expect(r.status).to.equal(302);
    expect(r.headers.location).to.equal('/pushlet/chat/?x=1');
    expect((await get('/pushlet/chat/')).text).to.equal('chat room');
  });

  it('never serves WEB-INF, JSP sources or hidden files', async () => {
    for (const p of ['/pushlet/WEB-INF/web.xml', '/pushlet/web-inf/web.xml', '/pushlet/login.jsp', '/pushlet/.htpasswd', '/pushlet/lib/.x']) {
      expect((await get(p)).status, p).to.equal(404);
    }
  });

  it('refuses paths that would leave the folders', async () => {
    const attempts = [
      '/pushlet/../package.json',
      '/pushlet/lib/../../package.json',
      '/pushlet/%2e%2e/package.json',
      '/pushlet/lib/%2E%2E%2F%2E%2E%2Fpackage.json',
      '/pushlet/..%2f..%2f..%2fetc%2fpasswd',
      '/pushlet/lib/..\\..\\package.json',
      '/pushlet/lib/%5c..%5c..%5cpackage.json',
      '/pushlet//etc/passwd',
      '/pushlet/%2fetc%2fpasswd',
      '/pushlet/lib/%2fetc%2fpasswd',
      '/pushlet/lib/%00.js',
      '/pushlet/%zz',
    ];
    for (const p of attempts) {
      const r = await get(p);
      expect([400, 404], p).to.include(r.status);
      expect(r.text, p).to.not.match(/"name"|root:/);
    }
    expect((await get('/pushlet/%2e%2e/package.json')).status).to.equal(400);
  });

  it('leaves other paths and methods to the next middleware', async () => {
    expect((await get('/other/lib/xparse.js')).status).to.equal(404);
    expect((await get('/pushlet/lib/xparse.js', { method: 'POST' })).status).to.equal(404);
    expect((await get('/pushlet/lib/no-such.js')).status).to.equal(404);
  });

  it('works at the root context', async () => {
    const root = await serve({ context: '/' });
    try {
      expect((await raw(root.port, '/')).text).to.include('lib/ajax-pushlet-client.js');
      expect((await raw(root.port, '/lib/xparse.js')).status).to.equal(200);
      expect((await raw(root.port, '/page.html')).status).to.equal(404);
    } finally {
      root.server.close();
    }
  });
});
