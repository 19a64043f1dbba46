import { expect } from 'chai';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { http } from '../support/client';
import { eventually } from '../support/log';
import { alive, ROOT, startUntil } from './processes';

/** Every process in a process group (Linux /proc). */
function groupMembers(pgid: number): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      // Field 5 of /proc/<pid>/stat, after the command in parentheses, is the process group.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid;
    } catch {
      return false;
    }
  });
}

describe('npm run dev', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    // A checkout of its own (sources and the last build), so that editing a file here touches
    // no one else's work; the dependencies are the repository's.
    dir = mkdtempSync(path.join(tmpdir(), 'pushlet-dev-'));
    for (const f of ['package.json', 'tsconfig.json', 'src', 'static']) cpSync(path.join(ROOT, f), path.join(dir, f), { recursive: true });
    cpSync(path.join(ROOT, 'dist', 'src'), path.join(dir, 'dist', 'src'), { recursive: true });
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('rebuilds a changed source file and restarts the server with it; Ctrl-C ends every process it started', async () => {
    const line = (marker: string) => new RegExp(`pushlet-server \\S+${marker} listening on (http://127\\.0\\.0\\.1:\\d+)/`);
    // Its own process group, as a terminal gives a command: Ctrl-C signals the whole group.
    const dev = await startUntil('npm', ['run', 'dev'], line(''), {
      cwd: dir, detached: true, env: { ...process.env, PORT: '0', HOST: '127.0.0.1', PUSHLET_SOURCES_ACTIVATE: 'false' },
    }, 40_000);
    const pgid = dev.proc.pid!;
    try {
      const cli = path.join(dir, 'src', 'cli.ts');
      writeFileSync(cli, readFileSync(cli, 'utf8').replace('`pushlet-server ${VERSION} listening', '`pushlet-server ${VERSION}-edited listening'));
      const base = await eventually(async () => {
        const m = line('-edited').exec(dev.out());
        if (!m) throw new Error(`no restart with the edit yet: ${dev.out().slice(-500)}`);
        return m[1];
      }, 40_000, 200);
      expect((await http(`${base}/pushlet/pushlet.srv?p_event=join&p_format=xml`)).text).to.include('join-ack');

      process.kill(-pgid, 'SIGINT');
      await dev.exited;
      await eventually(async () => expect(groupMembers(pgid).filter(alive)).to.deep.equal([]), 10_000);
    } finally {
      for (const pid of groupMembers(pgid)) process.kill(pid, 'SIGKILL');
    }
  });
});
