import { F } from './constants';
import { decodeBytes, decodeComponent, normalizeCharset } from './charset';
import { fields, type Fields } from './event';
import { PushletError } from '../errors';

/** A request as the HTTP layer hands it over: raw query bytes and body, nothing decoded yet. */
export interface RawRequest {
  method: string;
  /** The query string after `?`, as sent (percent-escaped ASCII). */
  query: string;
  contentType?: string;
  body?: Buffer;
}

/** A request that cannot be read: 400 (413 for a body over the limit) with the reason. */
export class DecodeError extends PushletError {
  constructor(message: string, status = 400) {
    super(message, status);
  }
}

/**
 * Adds `name=value&...` pairs from `buf` to `out`. The first value of a repeated name wins
 * (Java's `getParameter`); `overwrite` lets a later source (a form body) replace earlier ones.
 */
export function parseForm(buf: Buffer, charset: string, out: Fields, overwrite = false): Fields {
  const seen = overwrite ? new Set<string>() : null;
  let start = 0;
  while (start <= buf.length) {
    let end = buf.indexOf(0x26, start);
    if (end < 0) end = buf.length;
    if (end > start) {
      let eq = buf.indexOf(0x3d, start);
      if (eq < 0 || eq > end) eq = end;
      const name = decodeComponent(buf, start, eq, charset);
      if (name !== '') {
        const value = eq < end ? decodeComponent(buf, eq + 1, end, charset) : '';
        if (seen ? !seen.has(name) : !(name in out)) {
          out[name] = value;
          seen?.add(name);
        }
      }
    }
    start = end + 1;
  }
  return out;
}

/** What only byte-level decoding reads right: escapes, `+`, or raw bytes above ASCII. */
const NEEDS_DECODING = /[%+\u0080-\uffff]/;

/** The fields of a query string; a plain one (the usual `p_event=hb&p_id=...`) is split as it is. */
function parseQuery(query: string, charset: string, out: Fields): Fields {
  if (NEEDS_DECODING.test(query)) return parseForm(Buffer.from(query, 'latin1'), charset, out);
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (name !== '' && !(name in out)) out[name] = eq < 0 ? '' : pair.slice(eq + 1);
  }
  return out;
}

function contentTypeCharset(contentType: string | undefined): string | null {
  const m = contentType ? /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType) : null;
  if (!m) return null;
  const cs = normalizeCharset(m[1]);
  if (!cs) throw new DecodeError(`Unsupported charset: ${m[1]}`);
  return cs;
}

/**
 * Reads the one element of a POSTed event, `<event name="value" .../>`: the tag name is
 * ignored and attributes become fields. As in Java, a backslash escapes the next character in a
 * value and entities are left as written. Single quotes are accepted too (Java refused them).
 */
export function parseXmlEvent(text: string, out: Fields): Fields {
  const n = text.length;
  let i = 0;
  const ws = () => { while (i < n && /\s/.test(text[i])) i++; };
  ws();
  // A prolog or comments before the element are skipped.
  while (text.startsWith('<?', i) || text.startsWith('<!--', i)) {
    const close = text.indexOf(text.startsWith('<?', i) ? '?>' : '-->', i);
    if (close < 0) throw new DecodeError('Malformed XML event: unterminated prolog or comment');
    i = close + (text[close] === '?' ? 2 : 3);
    ws();
  }
  if (text[i] !== '<') throw new DecodeError('Malformed XML event: body must be one element such as <event p_event="..."/>');
  i++;
  const tag = /^[A-Za-z_][\w.:-]*/.exec(text.slice(i, i + 256));
  if (!tag) throw new DecodeError('Malformed XML event: missing element name');
  i += tag[0].length;
  for (;;) {
    ws();
    if (i >= n) throw new DecodeError('Malformed XML event: element is not closed');
    if (text[i] === '/' || text[i] === '>') return out;
    const name = /^[^\s=/>"']+/.exec(text.slice(i, i + 1024));
    if (!name) throw new DecodeError(`Malformed XML event: unexpected character '${text[i]}' at ${i}`);
    i += name[0].length;
    ws();
    if (text[i] !== '=') throw new DecodeError(`Malformed XML event: attribute ${name[0]} has no value`);
    i++;
    ws();
    const quote = text[i];
    if (quote !== '"' && quote !== "'") throw new DecodeError(`Malformed XML event: value of ${name[0]} is not quoted`);
    i++;
    let value = '';
    let from = i;
    for (;;) {
      if (i >= n) throw new DecodeError(`Malformed XML event: value of ${name[0]} is not closed`);
      const c = text[i];
      if (c === '\\' && i + 1 < n) { value += text.slice(from, i) + text[i + 1]; i += 2; from = i; continue; }
      if (c === quote) break;
      i++;
    }
    value += text.slice(from, i);
    i++;
    if (!(name[0] in out)) out[name[0]] = value;
  }
}

function startsWithLt(body: Buffer): boolean {
  for (const b of body) {
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return b === 0x3c;
  }
  return false;
}

function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0].trim().toLowerCase();
}

/** How much one request may carry; beyond it the request is refused with a 400 naming the limit. */
export interface DecodeLimits {
  fields: number;
  nameLength: number;
  valueLength: number;
}

/**
 * Characters a field name may not hold: they would break an attribute name in the XML formats
 * (Java wrote such names raw, producing documents its own clients could not read).
 */
const BAD_NAME = /[\s\u0000-\u001f\u007f"'<>&=\/\\]/;

function checkFields(f: Fields, limits: DecodeLimits): void {
  let n = 0;
  for (const k in f) {
    if (BAD_NAME.test(k)) throw new DecodeError(`Invalid field name ${JSON.stringify(k)}: it may not contain spaces, control characters or any of " ' < > & = / \\`);
    if (++n > limits.fields) throw new DecodeError(`Too many fields: more than ${limits.fields} (limit.fields.per.event)`);
    if (k.length > limits.nameLength) throw new DecodeError(`Field name longer than ${limits.nameLength} characters (limit.field.name.length)`);
    if (f[k].length > limits.valueLength) throw new DecodeError(`Value of ${k} longer than ${limits.valueLength} characters (limit.field.value.length)`);
  }
}

/**
 * Turns a request into the event it carries. GET: the query's fields. POST of an XML event (a
 * body starting with `<`, whatever its Content-Type: curl sends XML as a form): the element's
 * fields only, as Java reads it. POST of a form (DIFF 15: Java read only XML): its fields laid over
 * the query's. An empty `p_event` counts as none.
 */
export function decodeRequest(req: RawRequest, requestCharset: string, limits?: DecodeLimits): Fields {
  const body = req.body;
  let out: Fields;
  if (req.method === 'POST' && body && body.length > 0) {
    const charset = contentTypeCharset(req.contentType) ?? requestCharset;
    if (startsWithLt(body) || mediaType(req.contentType) !== 'application/x-www-form-urlencoded') {
      out = parseXmlEvent(decodeBytes(body, charset), fields());
    } else {
      out = parseForm(body, charset, parseQuery(req.query, requestCharset, fields()), true);
    }
  } else {
    out = parseQuery(req.query, requestCharset, fields());
  }
  if (out[F.EVENT] === '') delete out[F.EVENT];
  if (limits) checkFields(out, limits);
  return out;
}
