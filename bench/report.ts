/** One measured figure: ours, the bare Node baseline under the same load, and the issue's target. */
export interface Figure {
  scenario: string;
  metric: string;
  unit: string;
  ours: number;
  bare?: number;
  /** ours / bare. */
  ratio?: number;
  target?: string;
  met?: boolean;
  /** With --repeat: the lowest and highest ratio over the runs, and in how many the target was met. */
  ratioRange?: [number, number];
  metRuns?: [number, number];
}

/** A target of issue 5: its wording and the check. */
export interface Target {
  text: string;
  ok(f: Figure): boolean;
}

export const ratioAtLeast = (r: number): Target => ({ text: `ratio >= ${r}`, ok: (f) => (f.ratio ?? 0) >= r });
export const ratioAtMost = (r: number): Target => ({ text: `ratio <= ${r}`, ok: (f) => f.ratio !== undefined && f.ratio <= r });
export const atLeast = (v: number): Target => ({ text: `>= ${v.toLocaleString('en-US')}`, ok: (f) => f.ours >= v });
export const below = (v: number): Target => ({ text: `< ${v}`, ok: (f) => f.ours < v });
export const atMost = (v: number): Target => ({ text: `<= ${v}`, ok: (f) => f.ours <= v });
/** At most `v` more than bare's figure. */
export const atMostAbove = (v: number): Target => ({ text: `<= bare + ${v}`, ok: (f) => f.bare !== undefined && f.ours <= f.bare + v });

/** Builds a figure; the ratio is taken when a baseline is given. */
export function figure(scenario: string, metric: string, unit: string, ours: number, bare?: number, target?: Target): Figure {
  const f: Figure = { scenario, metric, unit, ours };
  if (bare !== undefined) {
    f.bare = bare;
    f.ratio = bare > 0 ? ours / bare : NaN;
  }
  if (target) {
    f.target = target.text;
    f.met = target.ok(f);
  }
  return f;
}

function fmt(v: number | undefined, unit = ''): string {
  if (v === undefined) return '';
  // Infinite latency: deliveries were lost (see README); a ratio to it is unbounded.
  if (v === Infinity) return unit === 'ratio' ? 'inf' : 'lost';
  if (!Number.isFinite(v)) return 'n/a';
  const digits = unit === 'ratio' || Math.abs(v) < 10 ? 2 : Math.abs(v) < 100 ? 1 : 0;
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * The figures of several runs of the same scenarios as one set: each value the median of the
 * runs, the ratio's range beside it, and the target met when it was in most runs. The machine is
 * noisy: one run's ratio may be off by half.
 */
export function combine(runs: readonly (readonly Figure[])[]): Figure[] {
  const byKey = new Map<string, Figure[]>();
  for (const run of runs) for (const f of run) {
    const key = `${f.scenario}\n${f.metric}`;
    byKey.set(key, [...(byKey.get(key) ?? []), f]);
  }
  return [...byKey.values()].map((fs) => {
    const f: Figure = { ...fs[0], ours: median(fs.map((x) => x.ours)) };
    const bares = fs.map((x) => x.bare).filter((b): b is number => b !== undefined);
    if (bares.length) f.bare = median(bares);
    const ratios = fs.map((x) => x.ratio).filter((r): r is number => r !== undefined && !Number.isNaN(r));
    if (ratios.length) {
      f.ratio = median(ratios);
      f.ratioRange = [Math.min(...ratios), Math.max(...ratios)];
    }
    if (f.target !== undefined) {
      const met = fs.filter((x) => x.met).length;
      f.met = met * 2 > fs.length;
      f.metRuns = [met, fs.length];
    }
    return f;
  });
}

/** The figures as an aligned text table. */
export function table(figures: readonly Figure[]): string {
  const repeated = figures.some((f) => f.ratioRange || f.metRuns);
  const head = ['scenario', 'metric', 'ours', 'bare', 'ratio', ...(repeated ? ['ratio range'] : []), 'target', 'met'];
  const rows = figures.map((f) => [
    f.scenario, `${f.metric} (${f.unit})`, fmt(f.ours, f.unit), fmt(f.bare, f.unit), fmt(f.ratio, 'ratio'),
    ...(repeated ? [f.ratioRange ? `${fmt(f.ratioRange[0], 'ratio')}-${fmt(f.ratioRange[1], 'ratio')}` : ''] : []),
    f.target ?? '', f.met === undefined ? '' : `${f.met ? 'yes' : 'NO'}${f.metRuns ? ` (${f.metRuns[0]}/${f.metRuns[1]})` : ''}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
