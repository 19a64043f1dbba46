import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isFormatName, type FormatName } from './decode';

/** A request of a step; every string may hold placeholders (see template.ts). */
export interface RequestSpec {
  method?: 'GET' | 'POST';
  /** Path under the server root; default `{{endpoint}}` (`/pushlet/pushlet.srv`). */
  path?: string;
  /** Path and query as one string, used as is (e.g. a captured `p_url` to follow). */
  url?: string;
  /** Query fields, UTF-8 percent-encoded in this order; an array repeats the name. */
  query?: Record<string, string | string[]>;
  /** Appended to the query unencoded, for escapes the kit must send as written (`%u4E2D`). */
  rawQuery?: string;
  body?: string;
  contentType?: string;
  userAgent?: string;
}

/** An expected event: field name to value template. A name ending in `?` may be absent. */
export type ExpectedEvent = Record<string, string>;

/** A duration: ms, or `"<k>*read"` for k times the server's queue.read.timeout.millis. */
export type Duration = number | string;

/** Per format, or one list for every format. */
export type PerFormat<T> = T | Partial<Record<FormatName, T>>;

export interface Expectation {
  status: number;
  /** Default, when events are expected: the format's media type with charset UTF-8. */
  contentType?: string;
  /** A text the body must contain (our errors: text/plain; Java's: an HTML page). */
  message?: string;
  /** The response's events in order; field order is free, extra fields fail. */
  events?: ExpectedEvent[];
  /** Header values (name lower-case) that must be present. */
  headers?: Record<string, string>;
  /** Raw body texts that must (not) appear: escaping that decoding cannot see. */
  bodyContains?: PerFormat<string[]>;
  bodyExcludes?: PerFormat<string[]>;
  elapsed?: { min?: Duration; max?: Duration };
}

export interface Step {
  /** What the step does. */
  note?: string;
  /** Format of this response when not the case's (a session joined in another format). */
  format?: FormatName;
  /** Start in the background under this name; the case goes on once its first event arrived. */
  start?: string;
  /** Wait for the background step of this name and check its response. */
  finish?: string;
  /** Stop reading once the expected events arrived (a stream never ends by itself). */
  stream?: boolean;
  /** Send the request this many times (`{{i}}` = 1, 2, ...), checking each answer. */
  repeat?: number;
  request?: RequestSpec;
  expect?: Expectation;
}

export interface Case {
  name: string;
  /** The reference transcripts the case was written from. */
  from?: string[];
  /** The case runs once per format, `{{format}}` being that format. */
  formats: FormatName[];
  /** Set when our server deliberately differs from Java (a DIFF of docs/PROTOCOL.md): why. */
  diff?: string;
  /** Server settings (pushlet.properties names) the case assumes. */
  needs?: Record<string, string | number | boolean>;
  steps: Step[];
}

/** One run of a case: the case in one format. */
export interface CaseInstance {
  /** `<name> [<format>]`. */
  id: string;
  file: string;
  format: FormatName;
  spec: Case;
}

export class CaseFileError extends Error {}

const KEYS: Record<string, readonly string[]> = {
  case: ['name', 'from', 'formats', 'diff', 'needs', 'steps'],
  step: ['note', 'format', 'start', 'finish', 'stream', 'repeat', 'request', 'expect'],
  request: ['method', 'path', 'url', 'query', 'rawQuery', 'body', 'contentType', 'userAgent'],
  expect: ['status', 'contentType', 'message', 'events', 'headers', 'bodyContains', 'bodyExcludes', 'elapsed'],
};

function checkKeys(obj: unknown, kind: keyof typeof KEYS, where: string): void {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) throw new CaseFileError(`${where}: ${kind} must be an object`);
  for (const k of Object.keys(obj)) {
    if (!KEYS[kind].includes(k)) throw new CaseFileError(`${where}: unknown ${kind} key "${k}"`);
  }
}

/** Checks what JSON cannot: known keys, formats, and that steps are well formed. */
function validate(c: Case, where: string): void {
  checkKeys(c, 'case', where);
  if (typeof c.name !== 'string' || c.name === '') throw new CaseFileError(`${where}: a case needs a name`);
  where = `${where} "${c.name}"`;
  if (!Array.isArray(c.formats) || c.formats.length === 0 || !c.formats.every(isFormatName)) {
    throw new CaseFileError(`${where}: formats must list xml-strict, xml, js and/or json`);
  }
  if (!Array.isArray(c.steps) || c.steps.length === 0) throw new CaseFileError(`${where}: no steps`);
  const started = new Set<string>();
  c.steps.forEach((s, i) => {
    const at = `${where} step ${i + 1}`;
    checkKeys(s, 'step', at);
    if (s.format !== undefined && !isFormatName(s.format)) throw new CaseFileError(`${at}: unknown format ${s.format}`);
    if (s.finish !== undefined) {
      if (!started.delete(s.finish)) throw new CaseFileError(`${at}: finishes "${s.finish}", which was not started`);
      if (s.request || s.expect) throw new CaseFileError(`${at}: a finish step has no request or expect of its own`);
      return;
    }
    if (!s.request || !s.expect) throw new CaseFileError(`${at}: needs request and expect`);
    checkKeys(s.request, 'request', at);
    checkKeys(s.expect, 'expect', at);
    if (typeof s.expect.status !== 'number') throw new CaseFileError(`${at}: expect.status must be a number`);
    if (s.start !== undefined) {
      if (s.repeat !== undefined) throw new CaseFileError(`${at}: a background step cannot repeat`);
      if (started.has(s.start)) throw new CaseFileError(`${at}: "${s.start}" is already running`);
      if (!s.expect.events?.length) throw new CaseFileError(`${at}: a background step must expect events`);
      started.add(s.start);
    }
  });
  if (started.size > 0) throw new CaseFileError(`${where}: never finished: ${[...started].join(', ')}`);
}

/** The directory of the case files: beside this module, or in the source tree when run from dist/. */
export function defaultCasesDir(): string {
  for (const dir of [join(__dirname, 'cases'), join(__dirname, '..', '..', 'compat', 'cases')]) {
    try {
      if (readdirSync(dir).length > 0) return dir;
    } catch {
      // not this one
    }
  }
  throw new CaseFileError(`no compat/cases directory found from ${__dirname}`);
}

/** Loads every `*.json` case file of `dir` (sorted) and expands each case into its formats. */
export function loadCases(dir = defaultCasesDir()): CaseInstance[] {
  const out: CaseInstance[] = [];
  const ids = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    let cases: Case[];
    try {
      cases = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Case[];
    } catch (err) {
      throw new CaseFileError(`${file}: ${(err as Error).message}`);
    }
    if (!Array.isArray(cases)) throw new CaseFileError(`${file}: must hold an array of cases`);
    for (const c of cases) {
      validate(c, file);
      for (const format of c.formats) {
        const id = c.formats.length > 1 ? `${c.name} [${format}]` : c.name;
        if (ids.has(id)) throw new CaseFileError(`${file}: two cases are named ${id}`);
        ids.add(id);
        out.push({ id, file, format, spec: c });
      }
    }
  }
  return out;
}
