/**
 * "Did you mean": the known name closest to a mistyped one. Written here rather than taken from
 * npm because it is a dozen lines and counts a swap of two neighbouring letters (`sise`/`siez`)
 * as one typo, which the common Levenshtein packages count as two.
 */

/** Edits (insert, delete, replace, swap two neighbours) turning `a` into `b`: optimal string alignment distance. */
export function editDistance(a: string, b: string): number {
  // Rows i-2, i-1 and i of the classic table, over b's positions.
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const same = a[i - 1] === b[j - 1];
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (same ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j], before[j - 2] + 1);
    }
    before = prev;
    prev = row;
  }
  return prev[b.length];
}

/** The candidate closest to `name` and its distance (the first of equals, so the caller's order breaks ties). */
export function closest(name: string, candidates: Iterable<string>): { name: string; distance: number } {
  let best = { name: '', distance: Infinity };
  for (const c of candidates) {
    const d = editDistance(name, c);
    if (d < best.distance) best = { name: c, distance: d };
  }
  return best;
}
