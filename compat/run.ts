#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { runKit, type CaseResult, type KitOptions } from './kit';

const USAGE = `usage: node dist/compat/run.js --url http://127.0.0.1:8080 [options]
  --java               the server is a Java Pushlet server: failing DIFF cases are known differences
  --filter TEXT        run only the cases whose name contains TEXT
  --read-timeout MS    the server's queue.read.timeout.millis (default 20000)
  --pull-wait MIN-MAX  the server's pull.refresh.wait.{min,max}.millis (default 2000-6000)
  --poll-wait MIN-MAX  the server's poll.refresh.wait.{min,max}.millis (default 6000-10000)
  --endpoint PATH      the protocol endpoint (default /pushlet/pushlet.srv)
  --slack MS           extra time any request may take (default 3000)
  --cases DIR          the case files (default compat/cases)`;

function range(v: string | undefined, flag: string): readonly [number, number] | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)-(\d+)$/.exec(v);
  if (!m) throw new Error(`${flag} takes MIN-MAX in ms, e.g. 2000-6000`);
  return [Number(m[1]), Number(m[2])];
}

function ms(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`${flag} takes a number of ms`);
  return Number(v);
}

const LABEL: Record<CaseResult['outcome'], string> = { pass: 'PASS ', fail: 'FAIL ', 'known difference': 'KNOWN' };

/** One table line per case; a failure adds its step, request and problems below it. */
export function formatResult(r: CaseResult): string {
  const diff = r.diff ? `  (DIFF: ${r.diff})` : '';
  let s = `${LABEL[r.outcome]} ${r.id.padEnd(66)} ${String(r.ms).padStart(6)} ms${diff}`;
  const f = r.failure;
  if (f && r.outcome !== 'pass') {
    s += `\n        step ${f.step}${f.note ? ` (${f.note})` : ''}${f.request ? `: ${f.request}` : ''}`;
    for (const p of f.problems) s += `\n          - ${p}`;
    if (f.got) s += `\n          got: ${f.got.replace(/\n/g, '\n               ')}`;
  }
  return s;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      java: { type: 'boolean' },
      filter: { type: 'string' },
      'read-timeout': { type: 'string' },
      'pull-wait': { type: 'string' },
      'poll-wait': { type: 'string' },
      endpoint: { type: 'string' },
      slack: { type: 'string' },
      cases: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help || !values.url) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const options: KitOptions = {
    java: values.java,
    filter: values.filter,
    readTimeoutMs: ms(values['read-timeout'], '--read-timeout'),
    slackMs: ms(values.slack, '--slack'),
    pullWait: range(values['pull-wait'], '--pull-wait'),
    pollWait: range(values['poll-wait'], '--poll-wait'),
    endpoint: values.endpoint,
    casesDir: values.cases,
    onResult: (r) => console.log(formatResult(r)),
  };
  const report = await runKit(values.url, options);
  const known = report.knownDifferences ? `, ${report.knownDifferences} known differences` : '';
  console.log(`\n${report.results.length} cases: ${report.passed} passed, ${report.failed} failed${known} (${(report.ms / 1000).toFixed(1)} s)`);
  return report.failed > 0 ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.message);
      process.exit(2);
    },
  );
}
