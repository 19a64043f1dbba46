import type { Duration, ExpectedEvent, Expectation, PerFormat } from './case';
import { BodyError, DECODERS, type Fields, type FormatName } from './decode';
import type { Received } from './http';
import { matchTemplate, type Scope } from './template';

/** Headers every protocol response carries (docs/PROTOCOL.md section 7). */
const NO_CACHE: ReadonlyArray<[string, string]> = [
  ['expires', 'Sat, 6 May 1995 12:00:00 GMT'],
  ['cache-control', 'no-store, no-cache, must-revalidate'],
  ['cache-control', 'post-check=0, pre-check=0'],
  ['pragma', 'no-cache'],
];

export function durationMs(d: Duration, readTimeoutMs: number): number {
  if (typeof d === 'number') return d;
  const m = /^(\d+(?:\.\d+)?)\*read$/.exec(d);
  if (!m) throw new Error(`bad duration "${d}": use ms or "<k>*read"`);
  return Math.round(Number(m[1]) * readTimeoutMs);
}

function forFormat(v: PerFormat<string[]> | undefined, format: FormatName): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : (v[format] ?? []);
}

/** `text/html;charset=utf-8` and `text/html; charset=UTF-8` are the same type. */
function normalType(ct: string): string {
  const [type, ...params] = ct.split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='));
  return charset ? `${type};${charset.replace(/"/g, '')}` : type;
}

function show(e: Fields | ExpectedEvent): string {
  return JSON.stringify({ ...e });
}

/** Compares events in order; field order is free, every field must be expected. */
export function matchEvents(expected: ExpectedEvent[], actual: Fields[], scope: Scope): string[] {
  const problems: string[] = [];
  const n = Math.max(expected.length, actual.length);
  for (let i = 0; i < n; i++) {
    const want = expected[i];
    const got = actual[i];
    if (!got) problems.push(`event ${i + 1} missing: expected ${show(want)}`);
    else if (!want) problems.push(`unexpected event ${i + 1}: ${show(got)}`);
    else {
      const wrong: string[] = [];
      for (const [key, template] of Object.entries(want)) {
        const optional = key.endsWith('?');
        const name = optional ? key.slice(0, -1) : key;
        if (!(name in got)) {
          if (!optional) wrong.push(`${name} missing`);
          continue;
        }
        const why = matchTemplate(template, got[name], scope);
        if (why) wrong.push(`${name}: ${why}`);
      }
      for (const name of Object.keys(got)) {
        if (!(name in want) && !(`${name}?` in want)) wrong.push(`unexpected field ${name}=${JSON.stringify(got[name])}`);
      }
      if (wrong.length) problems.push(`event ${i + 1} (${got.p_event ?? '?'}): ${wrong.join('; ')}; got ${show(got)}`);
    }
  }
  return problems;
}

function tokens(value: string): string[] {
  return value.split(',').map((v) => v.trim().toLowerCase());
}

function headerValues(got: Received, name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < got.rawHeaders.length; i += 2) {
    if (got.rawHeaders[i].toLowerCase() === name) out.push(...tokens(got.rawHeaders[i + 1]));
  }
  return out;
}

/** Compares comma-separated parts, so that two Cache-Control lines and one joined line both count. */
function hasHeaderValue(got: Received, name: string, value: string): boolean {
  const have = headerValues(got, name);
  return tokens(value).every((w) => have.includes(w));
}

export interface CheckContext {
  format: FormatName;
  scope: Scope;
  readTimeoutMs: number;
  /** The step reads a stream: the kit, not the server, ended the response. */
  stream: boolean;
}

/** Everything wrong with a response; empty when it is what the step expects. */
export function checkResponse(got: Received, exp: Expectation, ctx: CheckContext): string[] {
  const problems: string[] = [];
  // Another status means another kind of answer: the rest would only repeat that.
  if (got.status !== exp.status) return [`status ${got.status}, expected ${exp.status}`];
  const decoder = DECODERS[ctx.format];
  const type = exp.contentType ?? (exp.events ? `${decoder.mediaType};charset=UTF-8` : undefined);
  const ct = got.headers['content-type'];
  if (type !== undefined && normalType(ct ?? '') !== normalType(type)) problems.push(`Content-Type ${JSON.stringify(ct)}, expected ${type}`);
  if (exp.message !== undefined) {
    const why = matchTemplate(exp.message, got.text, ctx.scope, false);
    if (why) problems.push(`body does not hold the message: ${why}`);
  }
  if (exp.events) {
    if (!ctx.stream && !got.ended) problems.push(`the response did not end within ${got.elapsedMs} ms`);
    try {
      const decoded = decoder.decode(got.text);
      if (!ctx.stream && got.ended && !decoded.complete) problems.push(`the ${ctx.format} document is not complete`);
      problems.push(...matchEvents(exp.events, decoded.events, ctx.scope));
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      problems.push(`cannot read the ${ctx.format} body: ${err.message}`);
    }
    if (exp.status === 200) {
      for (const [name, value] of NO_CACHE) {
        if (!hasHeaderValue(got, name, value)) problems.push(`header ${name}: ${value} missing`);
      }
    }
  }
  for (const [name, value] of Object.entries(exp.headers ?? {})) {
    if (!hasHeaderValue(got, name.toLowerCase(), value)) problems.push(`header ${name}: ${value} missing (got ${JSON.stringify(headerValues(got, name.toLowerCase()))})`);
  }
  for (const s of forFormat(exp.bodyContains, ctx.format)) {
    if (!got.text.includes(s)) problems.push(`body does not contain ${JSON.stringify(s)}`);
  }
  for (const s of forFormat(exp.bodyExcludes, ctx.format)) {
    if (got.text.includes(s)) problems.push(`body contains ${JSON.stringify(s)}`);
  }
  const { min, max } = exp.elapsed ?? {};
  if (min !== undefined && got.elapsedMs < durationMs(min, ctx.readTimeoutMs)) problems.push(`answered after ${got.elapsedMs} ms, expected at least ${durationMs(min, ctx.readTimeoutMs)} ms`);
  if (max !== undefined && got.elapsedMs > durationMs(max, ctx.readTimeoutMs)) problems.push(`answered after ${got.elapsedMs} ms, expected at most ${durationMs(max, ctx.readTimeoutMs)} ms`);
  return problems;
}
