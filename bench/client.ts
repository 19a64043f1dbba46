import { StringDecoder } from 'node:string_decoder';
import { Connection, type Exchange } from './connection';

/**
 * An idle connection older than this is closed rather than reused: both servers close a
 * keep-alive connection idle for 5 s, and a request written as they do so would fail.
 */
const IDLE_REUSE_MS = 4000;

/**
 * The load generator's HTTP client for one server: up to `maxSockets` keep-alive connections
 * (connection.ts), one request at a time on each, further requests queued; and a count of failures.
 */
export class Client {
  private readonly host: string;
  private readonly port: number;
  /** What follows the path in every request. */
  private readonly tail: string;
  errors = 0;
  /** The first few failure messages, for the report. */
  readonly errorSamples: string[] = [];
  private closed = false;
  private readonly connections = new Set<Connection>();
  private readonly idle = new Set<Connection>();
  /** Requests waiting for a connection. */
  private readonly waiting: Exchange[] = [];
  private readonly events = {
    idle: (c: Connection) => this.idled(c),
    gone: (c: Connection) => this.gone(c),
    stray: (err: Error) => this.failed(err),
  };

  constructor(base: string, private readonly maxSockets: number) {
    const u = new URL(base);
    this.host = u.hostname;
    this.port = Number(u.port);
    this.tail = ` HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`;
  }

  private failed(err: Error): Error {
    // Requests cut off by close() are the end of a measurement, not failures.
    if (this.closed) return err;
    this.errors++;
    if (this.errorSamples.length < 5) this.errorSamples.push(err.message);
    return err;
  }

  /** Starts `ex` on an idle connection, a new one, or queues it when `maxSockets` are busy. */
  private dispatch(ex: Exchange): void {
    if (this.closed) return ex.fail(new Error('client closed'));
    for (const c of this.idle) {
      this.idle.delete(c);
      if (performance.now() - c.idleSince < IDLE_REUSE_MS) return c.begin(ex);
      this.drop(c);
    }
    if (this.connections.size >= this.maxSockets) return void this.waiting.push(ex);
    const c = new Connection(this.host, this.port, this.events);
    this.connections.add(c);
    c.begin(ex);
  }

  private idled(c: Connection): void {
    const next = this.waiting.shift();
    if (next) c.begin(next);
    else this.idle.add(c);
  }

  private drop(c: Connection): void {
    this.connections.delete(c);
    this.idle.delete(c);
    c.destroy();
  }

  private gone(c: Connection): void {
    this.drop(c);
    // Room for a queued request on a new connection.
    const next = this.waiting.shift();
    if (next) this.dispatch(next);
  }

  /** GET `path`; resolves to the body, rejects on a network error, a timeout, a bad response or a non-200 status. */
  get(path: string, timeoutMs = 60_000, onSent?: () => void): Promise<string> {
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => reject(this.failed(err));
      const pieces: Buffer[] = [];
      this.dispatch({
        request: `GET ${path}${this.tail}`, timeoutMs, onSent, status: 0,
        body: (piece) => pieces.push(piece),
        end() {
          const body = pieces.length === 1 ? pieces[0].toString() : Buffer.concat(pieces).toString();
          if (this.status === 200) resolve(body);
          else fail(new Error(`HTTP ${this.status}: ${body.slice(0, 80).trim()}`));
        },
        fail,
      });
    });
  }

  /**
   * Opens a GET whose response stays open (stream mode); `onText` gets the body as it comes.
   * Resolves once the first piece arrived, so the server has registered the stream; a stream
   * that breaks later counts as a failure.
   */
  stream(path: string, onText: (s: string) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => reject(this.failed(err));
      const text = new StringDecoder('utf8');
      let error = '';
      this.dispatch({
        request: `GET ${path}${this.tail}`, timeoutMs: 0, status: 0,
        body(piece) {
          if (this.status !== 200) return void (error += piece.toString());
          onText(text.write(piece));
          resolve();
        },
        end() {
          if (this.status !== 200) fail(new Error(`HTTP ${this.status}: ${error.slice(0, 80).trim()}`));
          else resolve();
        },
        fail,
      });
    });
  }

  /** Ends every request and connection; requests still waiting fail (their loops have been told to stop). */
  close(): void {
    this.closed = true;
    for (const ex of this.waiting.splice(0)) ex.fail(new Error('client closed'));
    for (const c of [...this.connections]) this.drop(c);
  }
}

const SEND_TIME = /\bbt="([\d.]+)"/g;

/** Send times (field `bt`, ms) of the data events in a response body. */
export function sendTimes(body: string): number[] {
  const out: number[] = [];
  for (const m of body.matchAll(SEND_TIME)) out.push(Number(m[1]));
  return out;
}

/** Splits a growing stream body into complete events (ending in `/>`) and the unfinished rest. */
export function completeEvents(buffered: string): { done: string; rest: string } {
  const end = buffered.lastIndexOf('/>');
  return end < 0 ? { done: '', rest: buffered } : { done: buffered.slice(0, end + 2), rest: buffered.slice(end + 2) };
}

/** Connections opened at a time: thousands at once overflow the listen backlog (511), and a dropped SYN costs 1 s or more. */
export const OPEN_CONCURRENCY = 200;

/**
 * `open(i)` for each i < n, `concurrency` at a time: how sessions and connections are set up.
 * Receiver threads opening at once share OPEN_CONCURRENCY between them.
 */
export async function openEach<R>(n: number, open: (i: number) => Promise<R>, concurrency = OPEN_CONCURRENCY): Promise<R[]> {
  const out = new Array<R>(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await open(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}
