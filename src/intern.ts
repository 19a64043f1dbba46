/** Distinct strings kept at most; past it the pool starts over (it only saves memory). */
const MAX = 10_000;
const pool = new Map<string, string>();

/**
 * The one copy of `s` this process keeps: thousands of sessions share a few user agents,
 * addresses and subjects, and each request brings its own copy of them (often a slice of the
 * whole request line, which a kept slice would keep alive).
 */
export function intern(s: string): string {
  const kept = pool.get(s);
  if (kept !== undefined) return kept;
  if (pool.size >= MAX) pool.clear();
  // A flat copy of its own, not a slice or a concatenation holding its parts.
  const own = s.length ? Buffer.from(s, 'utf8').toString('utf8') : '';
  pool.set(own, own);
  return own;
}
