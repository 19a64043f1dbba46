import { request } from 'node:http';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Raw header lines as sent, e.g. both Cache-Control lines. */
  rawHeaders: string[];
  body: Buffer;
  text: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Stop reading after this many ms (for streams); the reply holds what came until then. */
  maxTimeMs?: number;
}

/** One HTTP request to the test server; resolves with the whole reply (or what came in maxTimeMs). */
export function http(url: string, opts: RequestOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body, text: body.toString('utf8') });
      };
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', done);
      res.on('error', () => done());
      if (opts.maxTimeMs !== undefined) {
        timer = setTimeout(() => {
          res.removeListener('end', done);
          req.destroy();
          done();
        }, opts.maxTimeMs);
      }
    });
    req.on('error', reject);
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}

/** A query string from fields, UTF-8 percent-encoded. */
export function qs(fields: Record<string, string>): string {
  return Object.entries(fields).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

export type Ev = Record<string, string>;

/**
 * Parses an `xml` (values backslash-escaped) or `xml-strict` (entities only) body back to events.
 */
export function parseXmlEvents(text: string, strict = !text.startsWith('<event')): Ev[] {
  const value = strict ? '[^"]*' : '(?:[^"\\\\]|\\\\.)*';
  const el = new RegExp(`<event((?:\\s+[^\\s=]+="${value}")*)\\s*/>`, 'g');
  const attr = new RegExp(`([^\\s=]+)="(${value})"`, 'g');
  const entities: Record<string, string> = { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' };
  const out: Ev[] = [];
  for (let m = el.exec(text); m; m = el.exec(text)) {
    const e: Ev = {};
    for (let a = attr.exec(m[1]); a; a = attr.exec(m[1])) {
      const v = strict ? a[2] : a[2].replace(/\\(.)/gs, '$1');
      e[a[1]] = v.replace(/&(lt|gt|quot|apos|amp);/g, (_, n: string) => entities[n]);
    }
    out.push(e);
  }
  return out;
}

/** A pushlet client for tests, speaking the `xml` format to one session. */
export class TestClient {
  id = '';
  constructor(readonly srv: string) {}

  async send(fields: Record<string, string>, opts: RequestOptions = {}): Promise<{ reply: Reply; events: Ev[] }> {
    const reply = await http(`${this.srv}?${qs(fields)}`, opts);
    return { reply, events: parseXmlEvents(reply.text) };
  }

  async join(fields: Record<string, string> = {}): Promise<Ev> {
    const { events } = await this.send({ p_event: 'join', p_format: 'xml', ...fields });
    this.id = events[0].p_id;
    return events[0];
  }

  async event(type: string, fields: Record<string, string> = {}, opts?: RequestOptions): Promise<Ev[]> {
    return (await this.send({ p_event: type, p_id: this.id, ...fields }, opts)).events;
  }

  /** Joins, then listens in pull mode on `subject`. */
  async joinPull(subject: string, fields: Record<string, string> = {}): Promise<this> {
    await this.join(fields);
    await this.event('listen', { p_mode: 'pull', p_subject: subject });
    return this;
  }

  /** A refresh; returns the data events it brought. */
  async refresh(): Promise<Ev[]> {
    return (await this.event('refresh')).filter((e) => e.p_event === 'data');
  }
}

/**
 * Opens a streaming request and collects its body until `until(text)` holds or `ms` passed,
 * then closes it. `onOpen` runs once the response headers arrived.
 */
export function stream(url: string, until: (text: string) => boolean, ms: number, onOpen?: () => void, headers?: Record<string, string>): Promise<Reply & { completed: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      let finished = false;
      const finish = (completed: boolean) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        req.destroy();
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body, text: body.toString('utf8'), completed });
      };
      const timer = setTimeout(() => finish(false), ms);
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (until(Buffer.concat(chunks).toString('utf8'))) finish(true);
      });
      res.on('end', () => finish(true));
      res.on('error', () => finish(false));
      onOpen?.();
    });
    req.on('error', reject);
    req.end();
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
