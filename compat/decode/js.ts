import { BodyError, emptyFields, type Decoded, type Fields } from './types';

const SIMPLE: Record<string, string> = { n: '\n', r: '\r', t: '\t', b: '\b', f: '\f', v: '\v', '0': '\0' };

/**
 * Decodes the escapes of a JavaScript string literal. An unknown escape keeps its backslash:
 * Java inserted values raw (`a \ b`), and the kit reads both servers.
 */
export function unescapeJsString(v: string): string {
  return v.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|u\{[0-9a-fA-F]+\}|[\\"'/nrtbfv0])/g, (_, e: string) => {
    if (e[0] === 'x' || (e[0] === 'u' && e[1] !== '{')) return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    if (e[0] === 'u') return String.fromCodePoint(Number.parseInt(e.slice(2, -1), 16));
    return SIMPLE[e] ?? e;
  });
}

/**
 * Reads a quoted literal starting at `from` (the quote). Java wrote values raw, so a quote only
 * ends the literal when `after` matches what follows it.
 */
function readLiteral(text: string, from: number, after: RegExp): { value: string; end: number } {
  const quote = text[from];
  if (quote !== '"' && quote !== "'") throw new BodyError(`expected a quoted string at offset ${from}: ${JSON.stringify(text.slice(from, from + 20))}`);
  for (let i = from + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === quote) {
      after.lastIndex = i + 1;
      if (after.test(text)) return { value: unescapeJsString(text.slice(from + 1, i)), end: i + 1 };
    }
  }
  throw new BodyError(`string at offset ${from} is not closed`);
}

const ARG_END = /\s*[,)]/y;
const SEP = /\s*(,|\))\s*/y;

/** The arguments of `parent.push('k1', "v1", ...)` starting after the `(`, as fields. */
function readPush(text: string, from: number): { fields: Fields; end: number } {
  const args: string[] = [];
  let i = from;
  for (;;) {
    while (/\s/.test(text[i] ?? '')) i++;
    const lit = readLiteral(text, i, ARG_END);
    args.push(lit.value);
    SEP.lastIndex = lit.end;
    const sep = SEP.exec(text);
    if (!sep) throw new BodyError(`push() arguments broken at offset ${lit.end}`);
    i = SEP.lastIndex;
    if (sep[1] === ')') break;
  }
  if (args.length % 2 !== 0) throw new BodyError(`push() with an odd number of arguments at offset ${from}`);
  const fields = emptyFields();
  for (let k = 0; k < args.length; k += 2) fields[args[k]] = args[k + 1];
  return { fields, end: i };
}

const URL_END = /\s*;/y;
const SET_TIMEOUT = /\s*;\s*setTimeout\(\s*"refresh\(\)"\s*,\s*(\d+)\s*\)/y;
const NEXT = /parent\.push\(|\burl\s*=\s*(?=')/g;

/**
 * `js`: an HTML page with one `parent.push(...)` call per event. The refresh event is a script
 * that sets `url` and calls `setTimeout("refresh()", wait)`: it becomes a `refresh` event with
 * p_url and p_wait (the page carries nothing else of it).
 */
export function decodeJs(body: string): Decoded {
  const events: Fields[] = [];
  NEXT.lastIndex = 0;
  for (let m = NEXT.exec(body); m; m = NEXT.exec(body)) {
    const at = NEXT.lastIndex;
    if (m[0].startsWith('parent')) {
      const push = readPush(body, at);
      events.push(push.fields);
      NEXT.lastIndex = push.end;
    } else {
      const url = readLiteral(body, at, URL_END);
      SET_TIMEOUT.lastIndex = url.end;
      const timer = SET_TIMEOUT.exec(body);
      if (!timer) throw new BodyError(`refresh url at offset ${at} is not followed by setTimeout("refresh()", ms)`);
      const e = emptyFields();
      e.p_event = 'refresh';
      e.p_url = url.value;
      e.p_wait = timer[1];
      events.push(e);
      NEXT.lastIndex = SET_TIMEOUT.lastIndex;
    }
  }
  return { events, complete: /(<\/script>|<\/html>)\s*$/.test(body) };
}
