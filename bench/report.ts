/** One measured figure: ours, the bare Node baseline under the same load, and the target. */
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

/** The figures as an aligned text table. */
export function table(figures: readonly Figure[]): string {
  const head = ['scenario', 'metric', 'ours', 'bare', 'ratio', 'target', 'met'];
  const rows = figures.map((f) => [
    f.scenario, `${f.metric} (${f.unit})`, fmt(f.ours, f.unit), fmt(f.bare, f.unit), fmt(f.ratio, 'ratio'),
    f.target ?? '', f.met === undefined ? '' : f.met ? 'yes' : 'NO',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
