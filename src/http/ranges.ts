import { createReadStream, ReadStream } from 'node:fs';
import type { Context, Middleware } from 'koa';
import parseRange from 'range-parser';

/**
 * Whether `If-Range` (when sent) still names what is being served: an ETag must match strongly,
 * a date must not be older than the file.
 */
function ifRangeHolds(ctx: Context): boolean {
  const ifRange = ctx.get('If-Range');
  if (!ifRange) return true;
  if (ifRange.includes('"')) {
    const tag = ctx.response.get('ETag');
    return tag !== '' && !tag.startsWith('W/') && tag === ifRange;
  }
  const modified = Date.parse(ctx.response.get('Last-Modified'));
  return !Number.isNaN(modified) && modified <= Date.parse(ifRange);
}

/**
 * Byte ranges (`Range: bytes=...`) of what the next middleware served: a file streamed by
 * @koa/send, or a buffer. Neither @koa/send nor Koa reads the header, and koa-range refuses
 * suffix ranges (`bytes=-500`) and slices error answers; so range-parser reads the header and
 * this applies it. One satisfiable range: 206 with that slice; none: 416; several or a malformed
 * header: the whole answer (200), as RFC 9110 allows.
 */
export function ranges(): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status !== 200 || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return;
    const body: unknown = ctx.body;
    const size = Buffer.isBuffer(body) ? body.length : body instanceof ReadStream ? ctx.length : undefined;
    if (size === undefined) return;
    ctx.set('Accept-Ranges', 'bytes');
    const header = ctx.get('Range');
    if (!header || ctx.method !== 'GET' || !ifRangeHolds(ctx)) return;
    const wanted = parseRange(size, header, { combine: true });
    if (wanted === -2 || (wanted !== -1 && (wanted.type !== 'bytes' || wanted.length !== 1))) return;
    if (wanted === -1) {
      // The file stream set before is destroyed by Koa when the answer ends.
      ctx.type = 'text/plain';
      ctx.body = 'Range not satisfiable\n';
      ctx.status = 416;
      ctx.set('Content-Range', `bytes */${size}`);
      return;
    }
    const { start, end } = wanted[0];
    ctx.body = Buffer.isBuffer(body) ? body.subarray(start, end + 1) : createReadStream((body as ReadStream).path, { start, end });
    ctx.status = 206;
    ctx.length = end - start + 1;
    ctx.set('Content-Range', `bytes ${start}-${end}/${size}`);
  };
}
