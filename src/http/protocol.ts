import type { IncomingMessage, ServerResponse } from 'node:http';
import getRawBody from 'raw-body';
import { parseCookies } from '../core/binding';
import { runChannel, type ChannelDeps, type Sink } from '../core/channel';
import { Rounds } from '../core/rounds';
import type { Controller, Outcome } from '../core/controller';
import type { CoreSettings } from '../core/settings';
import type { Logger } from '../logger';
import type { Store } from '../store/store';
import { wireChunk } from '../protocol/charset';
import { PushletError } from '../errors';
import { DecodeError, decodeRequest, type DecodeLimits } from '../protocol/decode';
import type { Fields } from '../protocol/event';
import { FORMAT_SPECS, type FormatWriter } from '../protocol/formats';
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
  stopReceiver: ChannelDeps['stopReceiver'];
}

/** Headers of every protocol response (docs/PROTOCOL.md section 7). */
export const NO_CACHE_HEADERS: Record<string, string | string[]> = {
  Expires: 'Sat, 6 May 1995 12:00:00 GMT',
  'Cache-Control': ['no-store, no-cache, must-revalidate', 'post-check=0, pre-check=0'],
  Pragma: 'no-cache',
};

/** Where a protocol request went and what the HTTP layer adds to its answers. */
export interface RequestTarget {
  path: string;
  /** The raw query string, without `?`. */
  query: string;
  /** The client's address (X-Forwarded-For when the proxy is trusted). */
  address: string;
  /** Headers every answer carries (CORS). */
  headers: Record<string, string>;
}

function plainError(res: ServerResponse, t: RequestTarget, status: number, message: string): void {
  const body = Buffer.from(message + '\n', 'utf8');
  // Never cached either (Java's error pages say no-cache too).
  res.writeHead(status, { ...t.headers, ...NO_CACHE_HEADERS, 'Content-Type': 'text/plain; charset=UTF-8', 'Content-Length': body.length });
  res.end(body);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  try {
    return await getRawBody(req, { limit });
  } catch (err) {
    const e = err as { type?: string; status?: number; message: string };
    if (e.type === 'entity.too.large') throw new DecodeError(`Request body larger than ${limit} bytes`, 413);
    throw new DecodeError(`Could not read request body: ${e.message}`, e.status ?? 400);
  }
}

export type ProtocolHandler = (req: IncomingMessage, res: ServerResponse, t: RequestTarget) => Promise<void>;

/** The endpoint of every path ending in `/pushlet.srv`: decode, hand to the controller, write the answer. */
export function protocolHandler(deps: ProtocolDeps): ProtocolHandler {
  // Held requests to end at shutdown: one listener for all, not one per request.
  const held = new Set<() => void>();
  deps.shutdown.addEventListener('abort', () => {
    for (const stop of held) stop();
  }, { once: true });
  const channels: Channels = {
    held,
    deps: {
      store: deps.store, settings: deps.settings, rounds: new Rounds(deps.settings.deliveryBatchMaxMillis),
      metrics: deps.metrics, stopReceiver: deps.stopReceiver, hasLeft: (id) => deps.controller.hasLeft(id),
    },
  };

  return async (req, res, t) => {
    const started = performance.now();
    let pEvent: string | undefined;
    const done = (status: number) => deps.metrics.request(pEvent, status, (performance.now() - started) / 1000);
    const fail = (status: number, message: string) => {
      done(status);
      // A bug (500) was logged with its stack, an outage (503) is logged once by the store, a
      // flood of refused joins (429) is counted in /metrics: none gets a warning per request.
      const level = status >= 500 || status === 429 ? 'debug' : 'warn';
      deps.log[level]({ status, p_event: pEvent, reason: message, address: t.address }, 'request refused');
      plainError(res, t, status, message);
    };
    let outcome: Outcome;
    let callback: string | undefined;
    try {
      const body = req.method === 'POST' ? await readBody(req, deps.maxBodyBytes) : undefined;
      const fields = decodeRequest(
        { method: req.method ?? 'GET', query: t.query, contentType: req.headers['content-type'], body },
        deps.requestCharset,
        deps.limits,
      );
      pEvent = fields.p_event;
      callback = fields.p_callback;
      if (callback !== undefined && !isValidCallback(callback)) throw new DecodeError('Invalid p_callback: must be a JavaScript identifier path such as app.onEvents');
      outcome = await deps.controller.handle({
        fields,
        path: t.path,
        userAgent: req.headers['user-agent'] ?? '',
        address: t.address,
        headers: req.headers,
        cookies: parseCookies(req.headers.cookie),
      });
    } catch (err) {
      if (err instanceof PushletError && err.expose) return fail(err.status, err.message);
      // A bug: the client gets a generic 500, the log gets the stack.
      deps.log.error({ err, p_event: pEvent }, 'request failed');
      return fail(500, 'Internal server error');
    }
    if (outcome.kind === 'error') return fail(outcome.status, outcome.message);
    done(200);
    const spec = callback !== undefined && outcome.format === 'json' ? jsonp(callback) : FORMAT_SPECS[outcome.format];
    const writer = spec.create();
    // Made when the answer starts, not kept through a pull request's wait.
    const headers = (): Record<string, string | string[]> => {
      const h: Record<string, string | string[]> = { ...t.headers, ...NO_CACHE_HEADERS, 'Content-Type': spec.contentType(deps.responseCharsetLabel) };
      // Java closes the connection for its own Java client (User-Agent "... java/1.x").
      if ((req.headers['user-agent'] ?? '').toLowerCase().indexOf('java') > 0) h.Connection = 'close';
      if (outcome.setCookie) h['Set-Cookie'] = outcome.setCookie;
      return h;
    };
    let head = writer.begin();
    for (const e of outcome.events) head += writer.event(e);
    const channel = outcome.channel;
    // A binary format's text is its bytes, one per character: latin1 writes them unchanged.
    const out = spec.bytes ? { ...deps, responseCharset: 'latin1' } : deps;
    if (!channel) return sendWhole(res, headers(), head + writer.end(), out.responseCharset);
    // Not awaited: this frame need not stay alive through a held request's wait.
    const holding = hold(res, t, out, channels, channel, writer, head, headers);
    deps.open.add(holding);
    return holding.finally(() => deps.open.delete(holding));
  };
}

/** What the data channels of one server share. */
interface Channels {
  /** How to stop each held request. */
  held: Set<() => void>;
  deps: ChannelDeps;
}

/** Why a held request stopped; given, so that abort() does not make a DOMException each time. */
const ENDED = Object.freeze({ reason: 'the response ended' });

/** The data channel of a listen or refresh, after its ack: held until it has answered. */
async function hold(
  res: ServerResponse, t: RequestTarget, deps: ProtocolDeps, { held, deps: channelDeps }: Channels,
  channel: NonNullable<Extract<Outcome, { kind: 'events' }>['channel']>, writer: FormatWriter, head: string,
  headers: () => Record<string, string | string[]>,
): Promise<void> {
  // One controller per held request: the client going away or the server shutting down ends it.
  const stop = new AbortController();
  const onStop = () => stop.abort(ENDED);
  res.on('close', onStop);
  held.add(onStop);
  // Pull and poll answers are short: sent whole, in one write, at flush. Stream answers go out per event.
  const streaming = channel.mode === 'stream';
  let body = head;
  /** Stream: characters handed to the response whose socket write has not completed. */
  let inFlight = 0;
  /** Whether a socket write failed: what it carried did not reach the client. */
  let failed = false;
  const socket = res.socket;
  let onDrained: (() => void) | undefined;
  const written = (n: number) => (err?: Error | null) => {
    inFlight -= n;
    // Node calls back without an error for a socket destroyed meanwhile: what it held never left.
    if (err || socket?.destroyed !== false) {
      failed = true;
      stop.abort(ENDED);
    }
    if (inFlight === 0) onDrained?.();
  };
  const write = (s: string): boolean => {
    if (res.destroyed || res.writableEnded) return false;
    if (!streaming) body += s;
    else {
      inFlight += s.length;
      res.write(wireChunk(s, deps.responseCharset), written(s.length));
    }
    return true;
  };
  const flush = (ms: number): Promise<boolean> => {
    if (res.destroyed) return Promise.resolve(false);
    if (res.writableEnded) return Promise.resolve(res.writableFinished);
    if (streaming && inFlight === 0) return Promise.resolve(!failed);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        res.off('close', closed);
        onDrained = undefined;
        // An answer the socket did not take in time: close it; what it carried stays queued.
        if (!ok && !res.destroyed) res.destroy();
        resolve(ok);
      };
      const closed = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      res.once('close', closed);
      if (streaming) onDrained = () => done(!failed);
      else {
        // The answer ends here: its close is no news for the channel any more, and aborting a
        // signal per answer costs (an Event dispatched for every pull answer at 4,000/s).
        res.off('close', onStop);
        sendWhole(res, headers(), body + writer.end(), deps.responseCharset, (ok) => done(ok));
      }
    });
  };
  if (streaming) {
    res.writeHead(200, headers());
    write(head);
  }
  const sink: Sink = {
    signal: stop.signal,
    draining: deps.shutdown,
    write: (e: Fields, own?: Fields) => write(writer.event(e, own)),
    get unsent() { return streaming ? inFlight : body.length; },
    flush,
  };
  deps.metrics.held++;
  try {
    await runChannel(channelDeps, { ...channel, path: t.path }, sink);
  } catch (err) {
    deps.log.error({ err, session: channel.id }, 'data channel failed');
  } finally {
    deps.metrics.held--;
    res.off('close', onStop);
    held.delete(onStop);
    if (!res.destroyed && !res.writableEnded) {
      if (streaming) res.end(wireChunk(writer.end(), deps.responseCharset));
      else sendWhole(res, headers(), body + writer.end(), deps.responseCharset);
    }
  }
}

/**
 * A whole answer in one write, with its length (added to `headers`, a fresh object); `sent` runs
 * once the socket took its last byte.
 */
function sendWhole(res: ServerResponse, headers: Record<string, string | string[]>, text: string, charset: string, sent?: (ok: boolean) => void): void {
  const body = wireChunk(text, charset);
  headers['Content-Length'] = String(typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length);
  res.writeHead(200, headers);
  const socket = res.socket;
  // In one write with the headers, as `end` corks. 'finish' comes even when the socket failed
  // (Node drops the error): whether the socket is still up tells.
  res.end(body, sent && (() => sent(socket?.destroyed === false)));
}
