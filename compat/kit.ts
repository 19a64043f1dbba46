import { randomBytes } from 'node:crypto';
import { loadCases, type CaseInstance, type RequestSpec, type Step } from './case';
import { checkResponse, durationMs } from './check';
import { DECODERS } from './decode';
import { exchange, type Exchange, type Outgoing, type Received } from './http';
import { fill, type Scope } from './template';

export interface KitOptions {
  /** The server is a Java Pushlet server: a failing DIFF case is a known difference. */
  java?: boolean;
  /** Run only cases whose id contains this text (case-insensitive). */
  filter?: string;
  /** The server's queue.read.timeout.millis (Java default 20000); `"<k>*read"` durations use it. */
  readTimeoutMs?: number;
  /** Extra time a request may take beyond what its step expects. */
  slackMs?: number;
  /** The server's pull / poll refresh waits, [min, max] ms (defaults of pushlet.properties). */
  pullWait?: readonly [number, number];
  pollWait?: readonly [number, number];
  /** Path of the protocol endpoint, `{{endpoint}}` in the cases. */
  endpoint?: string;
  /** How far a `{{time}}` may be from the kit's clock, in seconds. */
  timeSkewS?: number;
  casesDir?: string;
  /** The server's settings, when known: a case whose `needs` they contradict fails at once. */
  settings?: Record<string, string | number | boolean>;
  /** Called after each case, e.g. to print a line at once. */
  onResult?: (r: CaseResult) => void;
}

export type Outcome = 'pass' | 'fail' | 'known difference';

export interface StepFailure {
  /** 1-based; 0 when the case could not start. */
  step: number;
  note?: string;
  /** `GET /pushlet/pushlet.srv?...` as sent. */
  request?: string;
  problems: string[];
  /** Status and the start of the body received, when there was a response. */
  got?: string;
}

export interface CaseResult {
  id: string;
  file: string;
  format: string;
  diff?: string;
  outcome: Outcome;
  ms: number;
  failure?: StepFailure;
}

export interface KitReport {
  results: CaseResult[];
  passed: number;
  failed: number;
  knownDifferences: number;
  ms: number;
}

type Settled = Required<Omit<KitOptions, 'filter' | 'casesDir' | 'settings' | 'onResult'>> & Pick<KitOptions, 'settings'>;

function settle(o: KitOptions): Settled {
  return {
    java: o.java ?? false,
    readTimeoutMs: o.readTimeoutMs ?? 20000,
    slackMs: o.slackMs ?? 3000,
    pullWait: o.pullWait ?? [2000, 6000],
    pollWait: o.pollWait ?? [6000, 10000],
    endpoint: o.endpoint ?? '/pushlet/pushlet.srv',
    timeSkewS: o.timeSkewS ?? 300,
    settings: o.settings,
  };
}

/** Stops a case at the first step that went wrong. */
class StepFailed extends Error {
  constructor(readonly failure: StepFailure) {
    super(failure.problems.join('; '));
  }
}

function outgoing(base: string, r: RequestSpec, scope: Scope): Outgoing {
  const query: string[] = [];
  for (const [name, value] of Object.entries(r.query ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) query.push(`${encodeURIComponent(name)}=${encodeURIComponent(fill(v, scope))}`);
  }
  if (r.rawQuery !== undefined) query.push(fill(r.rawQuery, scope, encodeURIComponent));
  let target = r.url !== undefined ? fill(r.url, scope) : fill(r.path ?? '{{endpoint}}', scope);
  if (query.length) target += (target.includes('?') ? '&' : '?') + query.join('&');
  const headers: Record<string, string> = { 'User-Agent': r.userAgent !== undefined ? fill(r.userAgent, scope) : 'pushlet-compat-kit/1' };
  const body = r.body === undefined ? undefined : fill(r.body, scope);
  if (body !== undefined) {
    headers['Content-Length'] = String(Buffer.byteLength(body));
    if (r.contentType !== undefined) headers['Content-Type'] = r.contentType;
  }
  return { method: r.method ?? 'GET', url: new URL(target, base).href, headers, body };
}

function describe(out: Outgoing): string {
  const u = new URL(out.url);
  return `${out.method} ${u.pathname}${u.search}${out.body !== undefined ? ` body=${JSON.stringify(out.body)}` : ''}`;
}

function summarize(got: Received): string {
  const body = got.text.length > 600 ? `${got.text.slice(0, 600)}...` : got.text;
  return `HTTP ${got.status} ${got.headers['content-type'] ?? ''} after ${got.elapsedMs} ms: ${body}`;
}

/** The kit, not the server, ends the response: a stream, or a request left running in the background. */
function isStream(step: Step): boolean {
  return step.stream === true || step.start !== undefined;
}

interface Running {
  step: Step;
  index: number;
  out: Outgoing;
  ex: Exchange;
  /** Settles when the first event arrived or the exchange is over. */
  first: Promise<void>;
}

/** Runs one case instance against the server at `baseUrl`. */
export async function runCase(baseUrl: string, inst: CaseInstance, options: KitOptions = {}): Promise<CaseResult> {
  const o = settle(options);
  const started = Date.now();
  const scope: Scope = {
    // A random token per run of a case keeps ids and subjects apart across cases and reruns.
    vars: { run: randomBytes(4).toString('hex'), format: inst.format, endpoint: o.endpoint },
    captures: new Map(),
    waits: { pull: o.pullWait, poll: o.pollWait },
    timeSkewS: o.timeSkewS,
  };
  const background = new Map<string, Running>();
  let failure: StepFailure | undefined;
  let current = -1;

  const verify = async (run: Running): Promise<void> => {
    const { step, index, out } = run;
    const fail = (problems: string[], got?: Received) =>
      new StepFailed({ step: index + 1, note: step.note, request: describe(out), problems, got: got && summarize(got) });
    let got: Received;
    try {
      got = await run.ex.done;
    } catch (err) {
      throw fail([`request failed: ${(err as Error).message}`]);
    }
    const problems = checkResponse(got, step.expect!, { format: step.format ?? inst.format, scope, readTimeoutMs: o.readTimeoutMs, stream: isStream(step) });
    if (problems.length) throw fail(problems, got);
  };

  const send = (step: Step, index: number): Running => {
    const exp = step.expect!;
    const { min, max } = exp.elapsed ?? {};
    const limit = max !== undefined
      ? durationMs(max, o.readTimeoutMs) + o.slackMs
      : (min !== undefined ? durationMs(min, o.readTimeoutMs) : 0) + o.readTimeoutMs + o.slackMs;
    const out = outgoing(baseUrl, step.request!, scope);
    if (!isStream(step)) {
      const ex = exchange(out, limit);
      return { step, index, out, ex, first: Promise.resolve() };
    }
    const want = exp.events?.length ?? 0;
    const decode = DECODERS[step.format ?? inst.format].decode;
    let firstArrived = (): void => undefined;
    const first = new Promise<void>((resolve) => (firstArrived = resolve));
    const ex = exchange(out, limit, (text) => {
      let n = 0;
      try {
        n = decode(text).events.length;
      } catch {
        // a body it cannot read yet; the check after the exchange says why
      }
      if (n > 0) firstArrived();
      return n >= want;
    });
    ex.done.then(firstArrived, firstArrived);
    return { step, index, out, ex, first };
  };

  try {
    const unmet = Object.entries(inst.spec.needs ?? {}).filter(([k, v]) => o.settings?.[k] !== undefined && String(o.settings[k]) !== String(v));
    if (unmet.length) {
      throw new StepFailed({ step: 0, problems: unmet.map(([k, v]) => `needs ${k}=${v}, the server has ${o.settings?.[k]}`) });
    }
    for (const [index, step] of inst.spec.steps.entries()) {
      current = index;
      if (step.finish !== undefined) {
        const run = background.get(step.finish)!;
        background.delete(step.finish);
        await verify(run);
        continue;
      }
      for (let i = 1; i <= (step.repeat ?? 1); i++) {
        scope.vars.i = String(i);
        const run = send(step, index);
        if (step.start === undefined) {
          await verify(run);
          continue;
        }
        background.set(step.start, run);
        // Go on once the first event (the ack) arrived: the server has then done what it acks.
        await run.first;
      }
    }
  } catch (err) {
    // Anything else is a mistake in the case file (a placeholder, a duration): it fails the case.
    failure = err instanceof StepFailed ? err.failure : { step: current + 1, problems: [`case error: ${(err as Error).message}`] };
  } finally {
    for (const run of background.values()) run.ex.abort();
  }
  const outcome: Outcome = !failure ? 'pass' : o.java && inst.spec.diff ? 'known difference' : 'fail';
  return { id: inst.id, file: inst.file, format: inst.format, diff: inst.spec.diff, outcome, ms: Date.now() - started, failure };
}

/** Runs every case (or those `filter` selects), one after another. */
export async function runKit(baseUrl: string, options: KitOptions = {}): Promise<KitReport> {
  const started = Date.now();
  const filter = options.filter?.toLowerCase();
  const cases = loadCases(options.casesDir).filter((c) => !filter || c.id.toLowerCase().includes(filter));
  const results: CaseResult[] = [];
  for (const inst of cases) {
    const r = await runCase(baseUrl, inst, options);
    results.push(r);
    options.onResult?.(r);
  }
  const count = (o: Outcome) => results.filter((r) => r.outcome === o).length;
  return { results, passed: count('pass'), failed: count('fail'), knownDifferences: count('known difference'), ms: Date.now() - started };
}
