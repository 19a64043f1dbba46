import { Agent, request, type ClientRequest } from 'node:http';

/**
 * The load generator's HTTP client for one server: a keep-alive agent bounded to `maxSockets`
 * connections, and a count of failures.
 */
export class Client {
  readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;
  errors = 0;
  /** The first few failure messages, for the report. */
  readonly errorSamples: string[] = [];
  private closed = false;
  /** Requests not yet answered, cut off by close(). */
  private readonly pending = new Set<ClientRequest>();

  constructor(base: string, maxSockets: number) {
    const u = new URL(base);
    this.host = u.hostname;
    this.port = Number(u.port);
    // maxFreeSockets as large as maxSockets: an idle looping client must not lose its connection.
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  private track(req: ClientRequest): void {
    this.pending.add(req);
    req.once('close', () => this.pending.delete(req));
  }

  private failed(err: Error): Error {
    // Requests cut off by close() are the end of a measurement, not failures.
    if (this.closed) return err;
    this.errors++;
    if (this.errorSamples.length < 5) this.errorSamples.push(err.message);
    return err;
  }

  /** GET `path`; resolves to the body, rejects on a network error, a timeout or a non-200 status. */
  get(path: string, timeoutMs = 60_000, onSent?: () => void): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request({ agent: this.agent, host: this.host, port: this.port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => (body += s));
        res.on('end', () => {
          if (res.statusCode === 200) resolve(body);
          else reject(this.failed(new Error(`HTTP ${res.statusCode}: ${body.slice(0, 80).trim()}`)));
        });
        res.on('error', (err) => reject(this.failed(err)));
      });
      this.track(req);
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
      req.on('error', (err) => reject(this.failed(err)));
      if (onSent) req.on('finish', onSent);
      req.end();
    });
  }

  /**
   * Opens a GET whose response stays open (stream mode); `onText` gets each chunk. Resolves with
   * the request once the first chunk arrived, so the server has registered the stream.
   */
  stream(path: string, onText: (s: string) => void): Promise<ClientRequest> {
    return new Promise((resolve, reject) => {
      const req = request({ agent: this.agent, host: this.host, port: this.port, path }, (res) => {
        if (res.statusCode !== 200) {
          reject(this.failed(new Error(`HTTP ${res.statusCode}`)));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        res.once('data', () => resolve(req));
        res.on('data', onText);
        res.on('error', () => undefined);
      });
      this.track(req);
      req.on('error', (err) => reject(this.failed(err)));
      req.end();
    });
  }

  /** Ends every request and connection; requests still waiting fail (their loops have been told to stop). */
  close(): void {
    this.closed = true;
    for (const req of this.pending) req.destroy();
    this.agent.destroy();
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

/** `open(i)` for each i < n, OPEN_CONCURRENCY at a time: how sessions and connections are set up. */
export async function openEach<R>(n: number, open: (i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await open(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, n) }, worker));
  return out;
}
