import { expect } from 'chai';
import { combine, figure, ratioAtMost, table } from '../../bench/report';

describe('bench: figures of repeated runs (--repeat)', () => {
  it('takes each value\'s median, the ratio\'s range, and the target as met when it was in most runs', () => {
    const runs = [
      [figure('s', 'cpu', 'µs', 30, 20, ratioAtMost(1.5)), figure('s', 'count', 'n', 1)],
      [figure('s', 'cpu', 'µs', 50, 20, ratioAtMost(1.5)), figure('s', 'count', 'n', 5)],
      [figure('s', 'cpu', 'µs', 26, 20, ratioAtMost(1.5)), figure('s', 'count', 'n', 3)],
    ];
    const [cpu, count] = combine(runs);
    expect(cpu).to.include({ ours: 30, bare: 20, ratio: 1.5, met: true });
    expect(cpu.ratioRange).to.deep.equal([1.3, 2.5]);
    expect(cpu.metRuns).to.deep.equal([2, 3]);
    expect(count).to.include({ ours: 3 });
    expect(count.met).to.equal(undefined);
    const text = table([cpu, count]);
    expect(text).to.match(/ratio range/);
    expect(text).to.match(/1\.30-2\.50/);
    expect(text).to.match(/yes \(2\/3\)/);
    expect(table(runs[0]), 'one run: no range column').to.not.match(/ratio range/);
  });
});
