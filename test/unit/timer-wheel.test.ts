import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { TimerWheel, type Timed } from '../../src/timer-wheel';
import { intern } from '../../src/intern';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A timed entry that records when it expired (ms after `t0`). */
function entry(t0: number, log: number[]): Timed {
  return { slot: -1, expire: () => log.push(Date.now() - t0) };
}

describe('timer wheel', () => {
  it('expires an entry after its time, never early and at most about a tick late', async () => {
    const wheel = new TimerWheel(20);
    const t0 = Date.now();
    const fired: number[] = [];
    for (const ms of [0, 30, 75, 120]) wheel.add({ slot: -1, expire: () => fired.push(Date.now() - t0 - ms) }, ms);
    await sleep(250);
    expect(fired).to.have.length(4);
    for (const late of fired) expect(late).to.be.within(0, 120);
  });

  it('a removed entry never expires; adding again moves its deadline', async () => {
    const wheel = new TimerWheel(20);
    const t0 = Date.now();
    const gone: number[] = [];
    const moved: number[] = [];
    const a = entry(t0, gone);
    const b = entry(t0, moved);
    wheel.add(a, 40);
    wheel.add(b, 40);
    wheel.remove(a);
    expect(a.slot).to.equal(-1);
    wheel.remove(a);
    wheel.add(b, 150);
    await sleep(100);
    expect(gone).to.deep.equal([]);
    expect(moved, 'not at its first deadline').to.deep.equal([]);
    await sleep(150);
    expect(gone).to.deep.equal([]);
    expect(moved).to.have.length(1);
    expect(moved[0]).to.be.at.least(150);
    expect(b.slot, 'out of the wheel once expired').to.equal(-1);
  });

  it('an entry added by an expiring one runs at its own time, not in the same tick', async () => {
    const wheel = new TimerWheel(20);
    const t0 = Date.now();
    const log: number[] = [];
    const second = entry(t0, log);
    wheel.add({ slot: -1, expire: () => wheel.add(second, 60) }, 20);
    await sleep(50);
    expect(log).to.deep.equal([]);
    await sleep(150);
    expect(log).to.have.length(1);
    expect(log[0]).to.be.at.least(80);
  });

  it('keeps the process alive while an entry is pending, and not once none is', () => {
    const wheelPath = join(__dirname, '../../src/timer-wheel.js');
    const script = `
      const { wheel } = require(${JSON.stringify(wheelPath)});
      const t0 = Date.now();
      const e = { slot: -1, expire: () => console.log('expired ' + (Date.now() - t0)) };
      wheel.add(e, 200);
      const gone = { slot: -1, expire: () => console.log('removed one expired') };
      wheel.add(gone, 5000);
      wheel.remove(gone);
    `;
    const t0 = Date.now();
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 4000 });
    expect(out.trim()).to.match(/^expired \d+$/);
    expect(Number(out.trim().split(' ')[1])).to.be.at.least(200);
    expect(Date.now() - t0, 'exits once nothing is pending, not after the removed 5 s entry').to.be.below(3000);
  });
});

describe('timer wheel, an entry that throws', () => {
  it('still expires the other entries of its tick, then throws as a timer callback would', () => {
    const wheelPath = join(__dirname, '../../src/timer-wheel.js');
    const script = `
      const { wheel } = require(${JSON.stringify(wheelPath)});
      process.on('uncaughtException', (err) => console.log('thrown ' + err.message));
      // A clock of its own, so that both entries are due in the same tick.
      let now = 0;
      wheel.useClock(() => now);
      wheel.add({ slot: -1, expire: () => { throw new Error('a bug'); } }, 50);
      wheel.add({ slot: -1, expire: () => console.log('second expired') }, 50);
      wheel.add({ slot: -1, expire: () => console.log('later expired') }, 150);
      setTimeout(() => (now = 100), 30);
      setTimeout(() => (now = 200), 200);
    `;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 4000 });
    expect(out.trim().split('\n')).to.deep.equal(['second expired', 'thrown a bug', 'later expired']);
  });
});

describe('intern', () => {
  it('returns one flat copy per distinct string, equal to what it was given', () => {
    const base = 'mozilla/5.0 (x11; linux x86_64) applewebkit/537.36';
    const a = intern(base.slice(0, 30));
    const b = intern(['mozilla/5.0 (x11; ', 'linux x86_64'].join(''));
    expect(a).to.equal(base.slice(0, 30));
    expect(b).to.equal(a);
    expect(intern('')).to.equal('');
    expect(intern('127.0.0.1')).to.equal('127.0.0.1');
  });
});
