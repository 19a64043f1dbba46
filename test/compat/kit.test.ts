import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCases } from '../../compat/case';
import { runCase, runKit, type CaseResult, type KitOptions } from '../../compat/kit';
import { formatResult } from '../../compat/run';
import { createServer, type PushletServer } from '../../src/index';
import { WIRE } from './transcripts';

/** Short waits so that the whole kit runs in seconds (Java's queue.read.timeout is 20 s). */
const READ_TIMEOUT_MS = 500;
const SETTINGS = { 'log.level': 0, 'queue.read.timeout.millis': READ_TIMEOUT_MS, 'queue.size': 256 };
const OPTIONS: KitOptions = { readTimeoutMs: READ_TIMEOUT_MS, slackMs: 3000, settings: SETTINGS };

function explain(r: CaseResult): string {
  return `\n${formatResult(r)}`;
}

describe('conformance kit against our server', function () {
  this.timeout(20000);
  let server: PushletServer;
  let base = '';

  before(async () => {
    server = createServer({ env: {}, overrides: SETTINGS });
    base = await server.listen(0, '127.0.0.1');
  });
  after(() => server.close());

  for (const inst of loadCases()) {
    it(inst.id, async () => {
      const r = await runCase(base, inst, OPTIONS);
      expect(r.outcome, explain(r)).to.equal('pass');
    });
  }

  describe('the kit itself', () => {
    let dir = '';
    const write = (cases: unknown[]) => writeFileSync(join(dir, 'cases.json'), JSON.stringify(cases));
    const joinCase = (format: string, extra: object = {}) => ({
      name: 'join',
      formats: ['xml'],
      ...extra,
      steps: [{
        request: { query: { p_event: 'join', p_format: 'xml' } },
        expect: { status: 200, events: [{ p_event: 'join-ack', p_id: '{{id:A}}', p_format: format, p_time: '{{time}}' }] },
      }],
    });

    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'compat-cases-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('fails a case whose expectation the server does not meet, naming the field', async () => {
      write([joinCase('json')]);
      const report = await runKit(base, { ...OPTIONS, casesDir: dir });
      expect(report).to.include({ passed: 0, failed: 1, knownDifferences: 0 });
      expect(report.results[0].failure?.problems.join()).to.match(/p_format: "xml" does not match "json"/);
    });

    it('reports a failing DIFF case as a known difference only against Java', async () => {
      write([joinCase('json', { diff: 'demo' })]);
      expect((await runKit(base, { ...OPTIONS, casesDir: dir })).failed).to.equal(1);
      const java = await runKit(base, { ...OPTIONS, casesDir: dir, java: true });
      expect(java).to.include({ failed: 0, knownDifferences: 1 });
    });

    it('passes a matching case and applies the filter', async () => {
      write([joinCase('xml'), { ...joinCase('json'), name: 'other' }]);
      const report = await runKit(base, { ...OPTIONS, casesDir: dir, filter: 'JOIN' });
      expect(report.results.map((r) => [r.id, r.outcome])).to.deep.equal([['join', 'pass']]);
    });

    it('fails a case whose needs the server settings contradict', async () => {
      write([joinCase('xml', { needs: { 'queue.size': 10 } })]);
      const report = await runKit(base, { ...OPTIONS, casesDir: dir });
      expect(report.results[0].failure).to.deep.include({ step: 0, problems: ['needs queue.size=10, the server has 256'] });
    });

    it('fails, without stopping the run, a case that uses an id before capturing it', async () => {
      write([{ name: 'early', formats: ['xml'], steps: [{ request: { query: { p_event: 'hb', p_id: '{{id:X}}' } }, expect: { status: 200 } }] }, joinCase('xml')]);
      const report = await runKit(base, { ...OPTIONS, casesDir: dir });
      expect(report.results.map((r) => r.outcome)).to.deep.equal(['fail', 'pass']);
      expect(report.results[0].failure?.problems[0]).to.match(/case error: \{\{id:X\}\} is used before/);
    });

    it('rejects a case file with an unknown key', () => {
      write([{ ...joinCase('xml'), steps: [{ request: {}, expect: { status: 200, evnets: [] } }] }]);
      expect(() => loadCases(dir)).to.throw(/unknown expect key "evnets"/);
    });
  });
});

describe('conformance kit case files', () => {
  it('name reference transcripts that exist', () => {
    const missing: string[] = [];
    for (const { spec } of loadCases()) {
      for (const ref of spec.from ?? []) {
        const dirs = ref.startsWith('*/') ? ['xml-strict', 'xml', 'js', 'json'].map((d) => d + ref.slice(1)) : [ref];
        for (const f of dirs) if (!existsSync(join(WIRE, f))) missing.push(`${spec.name}: ${f}`);
      }
    }
    expect(missing).to.deep.equal([]);
  });
});
