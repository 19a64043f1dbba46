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
import { FORMAT_SPECS, type FormatSpec, type FormatWriter } from '../protocol/formats';
import { isValidCallback, jsonp } from '../protocol/formats/jsonp';
import { intern } from '../intern';
import { wheel, type Timed } from '../timer-wheel';
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
  /** The held requests: shutdown cancels them and waits for their last bytes; /metrics counts them. */
  open: HeldRequests;
  stopReceiver: ChannelDeps['stopReceiver'];
}

/** Distinct shared answers kept (formats x paths x charsets); past it the cache starts over. */
const MAX_SHARED_ANSWERS = 1000;

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
  deps.shutdown.addEventListener('abort', () => deps.open.cancelAll(), { once: true });
  // Each format's Content-Type, made once rather than per request.
  const types = new WeakMap<FormatSpec, string>();
  const contentType = (spec: FormatSpec) => {
    let type = types.get(spec);
    if (type === undefined) types.set(spec, (type = spec.contentType(deps.responseCharsetLabel)));
    return type;
  };
  // Answers with no header of their own (CORS, a cookie) are alike for one format and path: a held
  // request keeps a shared one.
  const shared = new Map<string, Answer>();
  const answerOf = (a: Answer): Answer => {
    if (a.setCookie !== undefined || Object.keys(a.headers).length > 0) return a;
    const key = `${a.contentType}\n${a.charset}\n${a.close}\n${a.path}`;
    const known = shared.get(key);
    if (known) return known;
    if (shared.size >= MAX_SHARED_ANSWERS) shared.clear();
    const kept = { ...a, path: intern(a.path) };
    shared.set(key, kept);
    return kept;
  };
  const channels: Channels = {
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
    const answer = answerOf({
      path: t.path, headers: t.headers, setCookie: outcome.setCookie, contentType: contentType(spec),
      // Java closes the connection for its own Java client (User-Agent "... java/1.x").
      close: (req.headers['user-agent'] ?? '').toLowerCase().indexOf('java') > 0,
      // A binary format's text is its bytes, one per character: latin1 writes them unchanged.
      charset: spec.bytes ? 'latin1' : deps.responseCharset,
    });
    const channel = outcome.channel;
    if (!channel) return sendWhole(res, answerHeaders(answer), head(writer, outcome.events) + writer.end(), answer.charset);
    // Not awaited: the handler's frame and promise need not live through a held request's wait.
    hold(res, deps, channels, channel, writer, outcome.events, answer);
  };
}

/** The start of an answer: the writer's opening and the acks. */
function head(writer: FormatWriter, acks: readonly Fields[]): string {
  let text = writer.begin();
  for (const e of acks) text += writer.event(e);
  // Reading a character makes V8 flatten the concatenation in place: a held pull request keeps
  // one string, not a tree of the pieces (half the bytes).
  text.charCodeAt(0);
  return text;
}

/** What one answer's headers and body encoding depend on. */
interface Answer {
  /** The request path, for refresh events. */
  path: string;
  /** Headers every answer carries (CORS). */
  headers: Record<string, string>;
  contentType: string;
  setCookie?: string;
  /** Connection: close. */
  close: boolean;
  charset: string;
}

/** The headers of an answer (a fresh object: sendWhole adds the length). */
function answerHeaders(a: Answer): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = { ...a.headers, ...NO_CACHE_HEADERS, 'Content-Type': a.contentType };
  if (a.close) h.Connection = 'close';
  if (a.setCookie) h['Set-Cookie'] = a.setCookie;
  return h;
}

/** What the data channels of one server share. */
interface Channels {
  deps: ChannelDeps;
}

/**
 * A listen or refresh's response after its ack, as the data channel's Sink. One object per held
 * request, with its methods on the prototype and no timer of its own (flush timeouts are in the
 * shared wheel): ten thousand of them may be held at once.
 */
class HeldResponse implements Sink, Timed {
  cancelled = false;
  slot = -1;
  /** Pull and poll: the answer so far, sent whole, in one write, at flush. */
  private body: string;
  /** Stream: socket writes handed to the response and not yet completed. */
  private pending = 0;
  /** Stream: whether a socket write failed, so what it carried did not reach the client. */
  private failed = false;
  private listener?: { expire(): void };
  /** Resolves the flush being waited for. */
  private flushed?: (ok: boolean) => void;
  private readonly socket: ServerResponse['socket'];
  readonly onClose = (): void => {
    this.cancel();
    this.settle(false);
  };
  private readonly onWritten?: (err?: Error | null) => void;

  constructor(
    private readonly res: ServerResponse, private readonly deps: ProtocolDeps, private readonly writer: FormatWriter,
    head: string, private readonly answer: Answer, private readonly streaming: boolean,
  ) {
    this.socket = res.socket;
    this.body = streaming ? '' : head;
    res.on('close', this.onClose);
    if (streaming) {
      this.onWritten = (err) => this.written(err);
      res.writeHead(200, answerHeaders(answer));
      this.send(head);
    }
  }

  /** Pull and poll: the whole answer, with the writer's end. */
  private whole(): string {
    return this.body + this.writer.end();
  }

  get draining(): boolean {
    return this.deps.shutdown.aborted;
  }

  get path(): string {
    return this.answer.path;
  }

  /** Stream: bytes not yet taken by the socket; pull: the answer so far. */
  get unsent(): number {
    return this.streaming ? this.res.writableLength : this.body.length;
  }

  onCancel(l: { expire(): void } | undefined): void {
    this.listener = l;
  }

  /** The client went away or the server shuts down: ends what the channel waits for. */
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    const l = this.listener;
    this.listener = undefined;
    l?.expire();
  }

  write(e: Fields, own?: Fields): boolean {
    return this.send(this.writer.event(e, own));
  }

  private send(text: string): boolean {
    const res = this.res;
    if (res.destroyed || res.writableEnded) return false;
    if (!this.streaming) this.body += text;
    else {
      this.pending++;
      res.write(wireChunk(text, this.answer.charset), this.onWritten);
    }
    return true;
  }

  private written(err?: Error | null): void {
    this.pending--;
    // Node calls back without an error for a socket destroyed meanwhile: what it held never left.
    if (err || this.socket?.destroyed !== false) {
      this.failed = true;
      this.cancel();
    }
    if (this.pending === 0) this.settle(!this.failed);
  }

  flush(ms: number): Promise<boolean> {
    const res = this.res;
    if (res.destroyed) return Promise.resolve(false);
    if (res.writableEnded) return Promise.resolve(res.writableFinished);
    if (this.streaming && this.pending === 0) return Promise.resolve(!this.failed);
    return new Promise((resolve) => {
      this.flushed = resolve;
      wheel.add(this, ms);
      if (!this.streaming) sendWhole(res, answerHeaders(this.answer), this.whole(), this.answer.charset, (ok) => this.settle(ok));
    });
  }

  /** The flush timed out: the socket did not take the answer in time. */
  expire(): void {
    this.settle(false);
  }

  /** Ends the flush being waited for; an answer the socket did not take is closed (what it carried stays queued). */
  private settle(ok: boolean): void {
    const resolve = this.flushed;
    if (!resolve) return;
    this.flushed = undefined;
    wheel.remove(this);
    if (!ok && !this.res.destroyed) this.res.destroy();
    resolve(ok);
  }

  /** After the channel: whatever it left open is ended. */
  finish(): void {
    const res = this.res;
    res.off('close', this.onClose);
    wheel.remove(this);
    if (res.destroyed || res.writableEnded) return;
    if (this.streaming) res.end(wireChunk(this.writer.end(), this.answer.charset));
    else sendWhole(res, answerHeaders(this.answer), this.whole(), this.answer.charset);
  }
}

/**
 * The data channel of a listen or refresh, after its acks: held until it has answered (in the
 * server's `open`). A plain function, not an async one, so that no suspended frame is kept per
 * held request.
 */
function hold(
  res: ServerResponse, deps: ProtocolDeps, { deps: channelDeps }: Channels,
  channel: NonNullable<Extract<Outcome, { kind: 'events' }>['channel']>, writer: FormatWriter, acks: readonly Fields[], answer: Answer,
): void {
  const h = new HeldResponse(res, deps, writer, head(writer, acks), answer, channel.mode === 'stream');
  deps.open.add(h);
  runChannel(channelDeps, channel, h, (err) => {
    if (err !== undefined) deps.log.error({ err, session: channel.id }, 'data channel failed');
    try {
      h.finish();
    } catch (e) {
      // Called from promise callbacks: a throw would be an unhandled rejection, so it ends here.
      deps.log.error({ err: e, session: channel.id }, 'ending a data channel failed');
      res.destroy();
    }
    deps.open.delete(h);
  });
}

/** The held requests of a server: shutdown cancels them and waits for their last bytes. */
export class HeldRequests {
  private readonly held = new Set<{ cancel(): void }>();
  private idle: (() => void)[] = [];

  get size(): number {
    return this.held.size;
  }

  add(h: { cancel(): void }): void {
    this.held.add(h);
  }

  delete(h: { cancel(): void }): void {
    if (this.held.delete(h) && this.held.size === 0) for (const f of this.idle.splice(0)) f();
  }

  cancelAll(): void {
    for (const h of this.held) h.cancel();
  }

  /** Resolves once none is held. */
  drained(): Promise<void> {
    return this.held.size === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
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
