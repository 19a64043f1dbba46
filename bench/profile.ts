import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  fn: string;
  /** file:line, relative to the project where possible. */
  where: string;
  selfMs: number;
  percent: number;
}

/** Functions by self time over every `.cpuprofile` in `dir` (from node --cpu-prof), highest first. */
export function hotSpots(dir: string, root: string, top = 15): HotSpot[] {
  const self = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    p.samples.forEach((id, i) => {
      const us = p.timeDeltas[i] ?? 0;
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
      const path = url.startsWith('file://') ? relative(root, url.slice(7)) : url;
      const where = path ? `${path}:${lineNumber + 1}` : '';
      const key = `${functionName}@${where}`;
      const entry = self.get(key) ?? { fn: functionName || '(anonymous)', where, us: 0 };
      entry.us += us;
      self.set(key, entry);
      total += us;
    });
  }
  return [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ fn: e.fn, where: e.where, selfMs: Math.round(e.us / 1000), percent: Math.round((1000 * e.us) / total) / 10 }));
}
