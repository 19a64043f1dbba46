import { connect, type Socket } from 'node:net';

/**
 * One request on a connection and what to do with its answer. The connection sets `status` from
 * the response's head before it hands over any of the body.
 */
export interface Exchange {
  /** The whole request, ready to write (`GET path HTTP/1.1\r\nHost: ...\r\n\r\n`). */
  request: string;
  /** Fails the exchange when the connection stays silent this long, ms; 0: never. */
  timeoutMs: number;
  /** Called once the request has been handed to the kernel. */
  onSent?: () => void;
  status: number;
  /** A piece of the body (a view of the received bytes, in order; chunked framing removed). */
  body(piece: Buffer): void;
  /** The response is complete. */
  end(): void;
  /** The connection broke, timed out or sent something that is not a valid response. */
  fail(err: Error): void;
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
/** A longer head is not one of our servers' answers. */
const MAX_HEAD_BYTES = 16 * 1024;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})/;

const enum State { Head, Length, ChunkSize, ChunkData, ChunkEnd, Trailer, UntilClose }

/**
 * A keep-alive HTTP/1.1 connection on a plain socket, one request at a time: it writes prebuilt
 * request text and parses only what framing needs (status line, Content-Length, chunked
 * transfer coding, Connection: close). Much cheaper per response than node:http's client, so
 * that the load generator is not what limits a measurement.
 */
export class Connection {
  private readonly socket: Socket;
  private exchange: Exchange | null = null;
  private state = State.Head;
  /** Bytes left in the current body or chunk. */
  private left = 0;
  private keepAlive = true;
  /** Bytes received but not parsed yet: an unfinished head, chunk-size line or chunk end. */
  private rest: Buffer | null = null;
  private timeoutMs = 0;
  private error: Error | null = null;
  /** performance.now() when it last became idle. */
  idleSince = 0;

  /**
   * `idle(c)`: the response is complete and the connection can take another request.
   * `gone(c)`: the connection is closed. `stray(err)`: bytes arrived with no request waiting.
   */
  constructor(host: string, port: number, private readonly events: {
    idle(c: Connection): void;
    gone(c: Connection): void;
    stray(err: Error): void;
  }) {
    this.socket = connect({ host, port, noDelay: true });
    this.socket.on('data', (b: Buffer) => this.received(b));
    this.socket.on('timeout', () => this.socket.destroy(new Error(`timeout after ${this.timeoutMs} ms`)));
    this.socket.on('error', (err) => (this.error = err));
    this.socket.on('close', () => this.closed());
  }

  get busy(): boolean {
    return this.exchange !== null;
  }

  begin(ex: Exchange): void {
    this.exchange = ex;
    this.state = State.Head;
    if (ex.timeoutMs !== this.timeoutMs) this.socket.setTimeout((this.timeoutMs = ex.timeoutMs));
    const sent = ex.onSent;
    this.socket.write(ex.request, 'latin1', sent && ((err) => err || sent()));
  }

  destroy(): void {
    this.socket.destroy();
  }

  private closed(): void {
    const ex = this.exchange;
    this.exchange = null;
    if (ex && this.state === State.UntilClose && !this.error) ex.end();
    else if (ex) ex.fail(this.error ?? new Error('connection closed before the response was complete'));
    this.events.gone(this);
  }

  private received(chunk: Buffer): void {
    try {
      this.parse(this.rest ? Buffer.concat([this.rest, chunk]) : chunk);
    } catch (err) {
      // A response we cannot read fails its request (counted by the client); the connection is unusable.
      if (!this.exchange) this.events.stray(err as Error);
      this.socket.destroy(err as Error);
    }
  }

  private parse(b: Buffer): void {
    this.rest = null;
    let i = 0;
    while (i < b.length) {
      const ex = this.exchange;
      if (!ex) throw new Error(`${b.length - i} bytes received with no request waiting`);
      switch (this.state) {
        case State.Head: {
          const end = b.indexOf(HEAD_END, i);
          if (end < 0) return this.keep(b, i, MAX_HEAD_BYTES, 'response head');
          this.head(ex, b.toString('latin1', i, end));
          i = end + 4;
          break;
        }
        case State.Length:
        case State.ChunkData: {
          const n = Math.min(this.left, b.length - i);
          ex.body(b.subarray(i, i + n));
          i += n;
          this.left -= n;
          if (this.left > 0) break;
          if (this.state === State.Length) this.done(ex);
          else this.state = State.ChunkEnd;
          break;
        }
        case State.ChunkEnd: {
          if (b.length - i < 2) return this.keep(b, i, 2, 'chunk end');
          if (b[i] !== 13 || b[i + 1] !== 10) throw new Error('chunk not followed by CRLF');
          i += 2;
          this.state = State.ChunkSize;
          break;
        }
        case State.ChunkSize: {
          const eol = b.indexOf(CRLF, i);
          if (eol < 0) return this.keep(b, i, 64, 'chunk size line');
          const line = b.toString('latin1', i, eol);
          const size = parseInt(line, 16);
          if (!/^[0-9a-fA-F]+(;|$)/.test(line) || !(size >= 0)) throw new Error(`bad chunk size line ${JSON.stringify(line.slice(0, 40))}`);
          i = eol + 2;
          if (size === 0) this.state = State.Trailer;
          else {
            this.left = size;
            this.state = State.ChunkData;
          }
          break;
        }
        case State.Trailer: {
          const eol = b.indexOf(CRLF, i);
          if (eol < 0) return this.keep(b, i, MAX_HEAD_BYTES, 'trailer');
          // An empty line ends the response; trailer fields are skipped.
          if (eol === i) this.done(ex);
          i = eol + 2;
          break;
        }
        case State.UntilClose:
          ex.body(b.subarray(i));
          i = b.length;
          break;
      }
    }
  }

  /** Keeps the unparsed tail `b[i..]` for the next read, unless it is already longer than what it waits for can be. */
  private keep(b: Buffer, i: number, max: number, what: string): void {
    if (b.length - i >= max) throw new Error(`${what} longer than ${max} bytes`);
    this.rest = b.subarray(i);
  }

  /** Reads the status and framing of a response from its head (status line and header lines, without the blank line). */
  private head(ex: Exchange, text: string): void {
    const m = STATUS_LINE.exec(text);
    if (!m) throw new Error(`bad status line ${JSON.stringify(text.slice(0, 40))}`);
    ex.status = Number(m[2]);
    if (ex.status < 200) throw new Error(`unexpected interim response ${ex.status}`);
    let length = -1;
    let chunked = false;
    this.keepAlive = m[1] === '1';
    for (let at = text.indexOf('\r\n'); at >= 0;) {
      const next = text.indexOf('\r\n', at + 2);
      const line = text.slice(at + 2, next < 0 ? text.length : next);
      at = next;
      const colon = line.indexOf(':');
      if (colon < 0) throw new Error(`bad header line ${JSON.stringify(line.slice(0, 40))}`);
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim().toLowerCase();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value)) throw new Error(`bad Content-Length ${value}`);
        length = Number(value);
      } else if (name === 'transfer-encoding') chunked = value.endsWith('chunked');
      else if (name === 'connection') this.keepAlive = value !== 'close' && (this.keepAlive || value === 'keep-alive');
    }
    if (ex.status === 204 || ex.status === 304) {
      this.done(ex);
    } else if (chunked) {
      this.state = State.ChunkSize;
    } else if (length >= 0) {
      this.state = State.Length;
      this.left = length;
      if (length === 0) this.done(ex);
    } else {
      // No framing: the body ends with the connection.
      this.state = State.UntilClose;
      this.keepAlive = false;
    }
  }

  private done(ex: Exchange): void {
    this.exchange = null;
    this.state = State.Head;
    ex.end();
    if (!this.keepAlive) {
      this.socket.destroy();
    } else {
      this.idleSince = performance.now();
      this.events.idle(this);
    }
  }
}
