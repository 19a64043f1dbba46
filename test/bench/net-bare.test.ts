import { expect } from 'chai';
import fc from 'fast-check';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { NetBare } from '../../bench/net-bare';

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw client socket on 127.0.0.1 that reads Content-Length answers off what it received. */
class Raw {
  private readonly socket: Socket;
  private received = Buffer.alloc(0);
  private notify: (() => void) | undefined;
  ended = false;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    // Each write goes out at once, so a request written in pieces arrives in pieces.
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => { this.received = Buffer.concat([this.received, d]); this.notify?.(); });
    this.socket.on('close', () => { this.ended = true; this.notify?.(); });
    this.socket.on('error', () => undefined);
  }

  write(text: string): Promise<void> {
    return new Promise((resolve) => this.socket.write(text, 'latin1', () => resolve()));
  }

  /** Everything received and not yet read as an answer. */
  get unread(): string {
    return this.received.toString('latin1');
  }

  /** The next whole answer (to a HEAD request: `head`, no body), or undefined when the connection ends first. */
  async answer(head = false, timeoutMs = 2000): Promise<Answer | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = this.take(head);
      if (parsed || this.ended) return parsed;
      if (Date.now() > deadline) throw new Error(`no answer within ${timeoutMs} ms; have ${JSON.stringify(this.received.toString('latin1'))}`);
      await new Promise<void>((resolve) => { this.notify = resolve; setTimeout(resolve, 50); });
    }
  }

  private take(head: boolean): Answer | undefined {
    const end = this.received.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine, ...lines] = this.received.toString('latin1', 0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const length = head ? 0 : Number(headers['content-length'] ?? 0);
    if (this.received.length < end + 4 + length) return undefined;
    const body = this.received.toString('latin1', end + 4, end + 4 + length);
    this.received = this.received.subarray(end + 4 + length);
    return { status: Number(statusLine.split(' ')[1]), headers, body };
  }

  /** Whether nothing more came within `ms`. */
  async quiet(ms: number): Promise<boolean> {
    await sleep(ms);
    return this.received.length === 0 && !this.ended;
  }

  async closed(timeoutMs = 2000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) await sleep(20);
    return this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;

/** bench/net-bare.ts: the node:net long-poll prototype of issue 16, on real loopback sockets. */
describe('bench: the node:net prototype (net-bare)', () => {
  let server: NetBare;
  let port: number;
  const open: Raw[] = [];
  const raw = () => {
    const r = new Raw(port);
    open.push(r);
    return r;
  };

  beforeEach(async () => {
    server = new NetBare();
    port = await server.listen(0, '127.0.0.1');
  });
  afterEach(async () => {
    for (const r of open.splice(0)) r.destroy();
    await server.close();
  });

  it('holds /wait until a publish answers it with the event, then serves the next request on the same connection', async () => {
    const waiter = raw();
    await waiter.write(GET('/wait'));
    expect(await waiter.quiet(150)).to.equal(true);
    const publisher = raw();
    await publisher.write(GET('/publish?bt=1234'));
    const published = await publisher.answer();
    expect(published?.status).to.equal(200);
    const held = await waiter.answer();
    expect(held?.status).to.equal(200);
    expect(held?.body).to.have.length(100);
    expect(held?.body).to.contain('bt="1234"');
    expect(held?.headers.connection).to.equal('keep-alive');
    await waiter.write(GET('/other'));
    const next = await waiter.answer();
    expect(next?.status).to.equal(200);
    expect(next?.body).to.contain('bt="0"');
    expect(waiter.ended).to.equal(false);
  });

  for (const [what, request] of [
    ['a malformed request line', 'GARBAGE LINE\r\n\r\n'],
    ['a request line without a version', 'GET /\r\n\r\n'],
    ['a header line without a colon', 'GET / HTTP/1.1\r\nnot a header\r\n\r\n'],
    ['both Content-Length and Transfer-Encoding (smuggling)', 'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['an upgrade', GET('/', 'Connection: Upgrade\r\nUpgrade: websocket\r\n')],
  ]) {
    it(`answers ${what} with 400 and closes the connection`, async () => {
      const r = raw();
      await r.write(request);
      const a = await r.answer();
      expect(a?.status).to.equal(400);
      expect(a?.headers.connection).to.equal('close');
      expect(await r.closed()).to.equal(true);
    });
  }

  it('answers 431 past 16 KB of headers and closes', async () => {
    const r = raw();
    await r.write(GET('/', `X-Big: ${'a'.repeat(17 * 1024)}\r\n`));
    expect((await r.answer())?.status).to.equal(431);
    expect(await r.closed()).to.equal(true);
  });

  it('parses a request split across TCP packets', async () => {
    const waiter = raw();
    for (const piece of ['GE', 'T /wa', 'it?x=1 HTTP/1.', '1\r\nHost: 127', '.0.0.1\r', '\n\r\n']) {
      await waiter.write(piece);
      await sleep(20);
    }
    expect(await waiter.quiet(100)).to.equal(true);
    const publisher = raw();
    await publisher.write(GET('/publish?bt=77'));
    expect((await waiter.answer())?.body).to.contain('bt="77"');
  });

  it('answers pipelined requests in order, the ones behind a held /wait once it is answered', async () => {
    const r = raw();
    await r.write(GET('/a') + GET('/wait') + GET('/b'));
    expect((await r.answer())?.body).to.contain('bt="0"');
    expect(await r.quiet(100)).to.equal(true);
    await raw().write(GET('/publish?bt=5'));
    expect((await r.answer())?.body).to.contain('bt="5"');
    expect((await r.answer())?.body).to.contain('bt="0"');
  });

  it('closes after answering an HTTP/1.0 request without keep-alive, and sends no body to HEAD', async () => {
    const head = raw();
    await head.write('HEAD / HTTP/1.1\r\n\r\n' + GET('/'));
    expect((await head.answer(true))?.headers['content-length']).to.equal('100');
    // Had the HEAD answer a body, this would read inside it.
    const next = await head.answer();
    expect(next?.status).to.equal(200);
    expect(next?.body).to.contain('bt="0"');
    const old = raw();
    await old.write('GET / HTTP/1.0\r\n\r\n');
    expect((await old.answer())?.headers.connection).to.equal('close');
    expect(await old.closed()).to.equal(true);
  });

  it('answers any split of a pipelined sequence the same (property)', async function () {
    this.timeout(60_000);
    const requests = [
      GET('/1'),
      'HEAD /2 HTTP/1.1\r\n\r\n',
      'POST /3 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello',
      'POST /4 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      GET('/5'),
    ].join('');
    await fc.assert(fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: requests.length - 1 }), { maxLength: 6 }), async (cuts) => {
      const r = new Raw(port);
      try {
        const at = [0, ...cuts.sort((a, b) => a - b), requests.length];
        for (let i = 1; i < at.length; i++) {
          await r.write(requests.slice(at[i - 1], at[i]));
          await sleep(2);
        }
        const answers: (Answer | undefined)[] = [];
        for (let i = 0; i < 5; i++) answers.push(await r.answer(i === 1));
        expect(answers.map((a) => a?.status)).to.deep.equal([200, 200, 200, 200, 200]);
        expect(await r.quiet(20)).to.equal(true);
      } finally {
        r.destroy();
      }
    }), { numRuns: 40 });
  });

  it('survives random bytes: whatever it answers is an HTTP answer, and it still serves', async function () {
    this.timeout(60_000);
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
      const r = new Raw(port);
      try {
        await r.write(Buffer.from(bytes).toString('latin1'));
        await sleep(5);
        expect(r.unread === '' || r.unread.startsWith('HTTP/1.1 ')).to.equal(true);
      } finally {
        r.destroy();
      }
    }), { numRuns: 200 });
    const r = raw();
    await r.write(GET('/'));
    expect((await r.answer())?.status).to.equal(200);
  });
});
