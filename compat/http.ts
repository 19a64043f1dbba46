import { request, type IncomingHttpHeaders } from 'node:http';
import iconv from 'iconv-lite';

export interface Outgoing {
  method: 'GET' | 'POST';
  /** Absolute URL. */
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export interface Received {
  status: number;
  headers: IncomingHttpHeaders;
  /** Header lines as sent: name, value, name, value... (Cache-Control comes twice). */
  rawHeaders: string[];
  /** The body decoded in the charset of its Content-Type (UTF-8 when none is named). */
  text: string;
  /** Whether the server ended the response (false: the kit stopped reading). */
  ended: boolean;
  elapsedMs: number;
}

export interface Exchange {
  /** Resolves when the response ended, `enough` said so, or the time limit passed. */
  done: Promise<Received>;
  abort(): void;
}

export function charsetOf(contentType: string | undefined): string {
  const m = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '');
  return m && iconv.encodingExists(m[1]) ? m[1] : 'utf-8';
}

/**
 * Sends one request on a fresh connection (as curl does). `enough` is asked after every chunk
 * with the text so far and can stop reading early, e.g. once a stream brought what a step expects.
 */
export function exchange(out: Outgoing, limitMs: number, enough?: (text: string) => boolean): Exchange {
  const started = Date.now();
  let stop = (): void => undefined;
  const done = new Promise<Received>((resolve, reject) => {
    const req = request(out.url, { method: out.method, headers: out.headers, agent: false });
    const limit = setTimeout(() => stop(), limitMs);
    stop = () => {
      clearTimeout(limit);
      req.destroy();
      reject(new Error(`no response within ${limitMs} ms`));
    };
    req.on('error', (err) => {
      clearTimeout(limit);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      const charset = charsetOf(res.headers['content-type']);
      const text = () => iconv.decode(Buffer.concat(chunks), charset);
      let settled = false;
      const finish = (ended: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(limit);
        stop = () => undefined;
        if (!ended) req.destroy();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, text: text(), ended, elapsedMs: Date.now() - started });
      };
      stop = () => finish(false);
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (enough?.(text())) finish(false);
      });
      res.on('end', () => finish(true));
      res.on('error', () => finish(false));
    });
    req.end(out.body === undefined ? undefined : Buffer.from(out.body, 'utf8'));
  });
  return { done, abort: () => stop() };
}
