import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';
import getRawBody from 'raw-body';
import { parseCookies } from '../core/binding';
import { runChannel, type Sink } from '../core/channel';
import type { Controller, Outcome } from '../core/controller';
import type { CoreSettings } from '../core/settings';
import type { Logger } from '../core/log';
import type { Store } from '../store/store';
import { encodeString } from '../protocol/charset';
import { DecodeError, decodeRequest, type DecodeLimits } from '../protocol/decode';
import type { Fields } from '../protocol/event';
import { FORMAT_SPECS, type FormatSpec } from '../protocol/formats';
import { isValidCallback, jsonp } from '../protocol/formats/jsonp';
import type { Metrics } from './metrics';

export interface ProtocolDeps {
  controller: Controller;
  store: Store;
  settings: CoreSettings;
  log: Logger;
  requestCharset: string;
  responseCharset: string;
  /** The charset name as written in Content-Type. */
  responseCharsetLabel: string;
  maxBodyBytes: number;
  limits: DecodeLimits;
  metrics: Metrics;
  /** Aborted when the server shuts down: held requests end with a refresh. */
  shutdown: AbortSignal;
  /** Open data channels, so shutdown can wait for their last bytes. */
  open: Set<Promise<void>>;
}

/** Headers of every protocol response (PROTOCOL.md section 7). */
export const NO_CACHE_HEADERS: Record<string, string | string[]> = {
  Expires: 'Sat, 6 May 1995 12:00:00 GMT',
  'Cache-Control': ['no-store, no-cache, must-revalidate', 'post-check=0, pre-check=0'],
  Pragma: 'no-cache',
};

function clientAddress(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/**
 * Headers set by earlier middleware (CORS) on Koa's response; they must be copied since this
 * handler writes the raw response itself.
 */
function koaHeaders(ctx: Koa.Context): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(ctx.response.headers)) if (v !== undefined) out[k] = v as string | string[];
  return out;
}

function plainError(ctx: Koa.Context, status: number, message: string): void {
  const body = Buffer.from(message + '\n', 'utf8');
  ctx.res.writeHead(status, { ...koaHeaders(ctx), 'Content-Type': 'text/plain; charset=UTF-8', 'Content-Length': body.length });
  ctx.res.end(body);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (req.method !== 'POST') return undefined;
  try {
    return await getRawBody(req, { limit });
  } catch (err) {
    const e = err as { type?: string; status?: number; message: string };
    if (e.type === 'entity.too.large') throw new DecodeError(`Request body larger than ${limit} bytes`, 413);
    throw new DecodeError(`Could not read request body: ${e.message}`, e.status ?? 400);
  }
}

/** The endpoint of every path ending in `/pushlet.srv`: decode, hand to the controller, write the answer. */
export function protocolHandler(deps: ProtocolDeps): Koa.Middleware {
  return async (ctx) => {
    const { req } = ctx;
    ctx.respond = false;
    const started = process.hrtime.bigint();
    let pEvent: string | undefined;
    const done = (status: number) => deps.metrics.request(pEvent, status, Number(process.hrtime.bigint() - started) / 1e9);
    const fail = (status: number, message: string) => {
      done(status);
      deps.log.warn({ status, p_event: pEvent, reason: message, address: ctx.ip }, 'request refused');
      plainError(ctx, status, message);
    };
    let outcome: Outcome;
    let callback: string | undefined;
    try {
      const body = await readBody(req, deps.maxBodyBytes);
      const fields = decodeRequest(
        { method: req.method ?? 'GET', query: ctx.querystring, contentType: req.headers['content-type'], body },
        deps.requestCharset,
        deps.limits,
      );
      pEvent = fields.p_event;
      callback = fields.p_callback;
      if (callback !== undefined && !isValidCallback(callback)) throw new DecodeError('Invalid p_callback: must be a JavaScript identifier path such as app.onEvents');
      outcome = await deps.controller.handle({
        fields,
        path: ctx.path,
        userAgent: req.headers['user-agent'] ?? '',
        address: clientAddress(ctx.ip),
        headers: req.headers,
        cookies: parseCookies(req.headers.cookie),
      });
    } catch (err) {
      if (err instanceof DecodeError) return fail(err.status, err.message);
      deps.log.error({ err }, 'request failed');
      return fail(503, `Service unavailable: ${(err as Error).message}`);
    }
    if (outcome.kind === 'error') return fail(outcome.status, outcome.message);
    done(200);
    const spec = callback !== undefined && outcome.format === 'json' ? jsonp(callback) : FORMAT_SPECS[outcome.format];
    const writing = writeEvents(ctx, deps, outcome, spec);
    deps.open.add(writing);
    try {
      await writing;
    } finally {
      deps.open.delete(writing);
    }
  };
}

async function writeEvents(ctx: Koa.Context, deps: ProtocolDeps, outcome: Extract<Outcome, { kind: 'events' }>, spec: FormatSpec): Promise<void> {
  const { res } = ctx;
  const writer = spec.create();
  const headers: Record<string, string | string[]> = {
    ...koaHeaders(ctx),
    ...NO_CACHE_HEADERS,
    'Content-Type': spec.contentType(deps.responseCharsetLabel),
  };
  // Java closes the connection for its own Java client (User-Agent "... java/1.x").
  if ((ctx.get('user-agent').toLowerCase().indexOf('java')) > 0) headers.Connection = 'close';
  if (outcome.setCookie) headers['Set-Cookie'] = outcome.setCookie;
  let head = writer.begin();
  for (const e of outcome.events) head += writer.event(e);

  const channel = outcome.channel;
  if (!channel) return sendWhole(res, headers, head + writer.end(), deps.responseCharset);

  // One controller per held request: the client going away or the server shutting down ends it.
  const stop = new AbortController();
  const onStop = () => stop.abort();
  res.on('close', onStop);
  deps.shutdown.addEventListener('abort', onStop);
  // Pull and poll answers are short: sent whole, in one write. Stream answers go out per event.
  const streaming = channel.mode === 'stream';
  let body = head;
  const write = (s: string): boolean => {
    if (res.destroyed || res.writableEnded) return false;
    if (streaming) res.write(encodeString(s, deps.responseCharset));
    else body += s;
    return true;
  };
  if (streaming) {
    res.writeHead(200, headers);
    write(head);
  }
  const sink: Sink = { signal: stop.signal, draining: deps.shutdown, write: (e: Fields, own?: Fields) => write(writer.event(e, own)) };
  deps.metrics.held.inc();
  try {
    await runChannel(deps.store, deps.settings, { ...channel, path: ctx.path }, sink, deps.metrics);
  } catch (err) {
    deps.log.error({ err, session: channel.id }, 'data channel failed');
  } finally {
    deps.metrics.held.dec();
    res.off('close', onStop);
    deps.shutdown.removeEventListener('abort', onStop);
    if (!res.destroyed) {
      if (streaming) res.end(encodeString(writer.end(), deps.responseCharset));
      else sendWhole(res, headers, body + writer.end(), deps.responseCharset);
    }
  }
}

/** A whole answer in one write, with its length. */
function sendWhole(res: Koa.Context['res'], headers: Record<string, string | string[]>, text: string, charset: string): void {
  const body = encodeString(text, charset);
  res.writeHead(200, { ...headers, 'Content-Length': body.length });
  res.end(body);
}
