import type { IncomingMessage, ServerResponse } from 'node:http';
import type Koa from 'koa';
import getRawBody from 'raw-body';
import { runChannel, type Sink } from '../core/channel';
import type { Controller, Outcome } from '../core/controller';
import type { CoreSettings } from '../core/settings';
import type { Logger } from '../core/log';
import type { Store } from '../store/store';
import { encodeString } from '../protocol/charset';
import { DecodeError, decodeRequest } from '../protocol/decode';
import type { Fields } from '../protocol/event';
import { FORMAT_SPECS } from '../protocol/formats';

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
  /** Aborted when the server shuts down: held requests end. */
  shutdown: AbortSignal;
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

function plainError(res: ServerResponse, status: number, message: string): void {
  const body = Buffer.from(message + '\n', 'utf8');
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=UTF-8', 'Content-Length': body.length });
  res.end(body);
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

/** The `*​/pushlet.srv` endpoint: decode, hand to the controller, write the answer. */
export function protocolHandler(deps: ProtocolDeps): Koa.Middleware {
  return async (ctx) => {
    const { req, res } = ctx;
    ctx.respond = false;
    let outcome: Outcome;
    try {
      const body = await readBody(req, deps.maxBodyBytes);
      const fields = decodeRequest(
        { method: req.method ?? 'GET', query: ctx.querystring, contentType: req.headers['content-type'], body },
        deps.requestCharset,
      );
      outcome = await deps.controller.handle({
        fields,
        path: ctx.path,
        userAgent: req.headers['user-agent'] ?? '',
        address: clientAddress(ctx.ip),
      });
    } catch (err) {
      if (err instanceof DecodeError) return plainError(res, err.status, err.message);
      deps.log.error({ err }, 'request failed');
      return plainError(res, 503, `Service unavailable: ${(err as Error).message}`);
    }
    if (outcome.kind === 'error') return plainError(res, outcome.status, outcome.message);
    await writeEvents(ctx, deps, outcome);
  };
}

async function writeEvents(ctx: Koa.Context, deps: ProtocolDeps, outcome: Extract<Outcome, { kind: 'events' }>): Promise<void> {
  const { res } = ctx;
  const spec = FORMAT_SPECS[outcome.format];
  const writer = spec.create();
  const headers: Record<string, string | string[]> = {
    ...NO_CACHE_HEADERS,
    'Content-Type': spec.contentType(deps.responseCharsetLabel),
  };
  // Java closes the connection for its own Java client (User-Agent "... java/1.x").
  if ((ctx.get('user-agent').toLowerCase().indexOf('java')) > 0) headers.Connection = 'close';
  let head = writer.begin();
  for (const e of outcome.events) head += writer.event(e);

  if (!outcome.channel) {
    const body = encodeString(head + writer.end(), deps.responseCharset);
    res.writeHead(200, { ...headers, 'Content-Length': body.length });
    res.end(body);
    return;
  }

  res.writeHead(200, headers);
  const gone = new AbortController();
  const onClose = () => gone.abort();
  res.on('close', onClose);
  const signal = AbortSignal.any([gone.signal, deps.shutdown]);
  const write = (s: string): boolean => {
    if (res.destroyed || signal.aborted) return false;
    res.write(encodeString(s, deps.responseCharset));
    return true;
  };
  write(head);
  const sink: Sink = { signal, write: (e: Fields, own?: Fields) => write(writer.event(e, own)) };
  try {
    await runChannel(deps.store, deps.settings, { ...outcome.channel, path: ctx.path }, sink);
  } catch (err) {
    deps.log.error({ err, session: outcome.channel.id }, 'data channel failed');
  } finally {
    res.off('close', onClose);
    if (!res.destroyed) res.end(encodeString(writer.end(), deps.responseCharset));
  }
}
