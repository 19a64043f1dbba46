import type { Config } from '../settings';

/**
 * Subject matching (docs/PROTOCOL.md section 10). A subscription names one subject or several,
 * comma-separated; each is listed on its own in the store. `prefix` (original Pushlets): an
 * event matches when its subject starts with a subscribed one. `exact` (Redis fork, and what Java
 * nodes deliver): equal strings only.
 */
export type SubjectMatch = Config['subjectMatch'];

/** The single subjects an event on `subject` is delivered to: itself, or all its prefixes. */
export function subjectKeys(subject: string, match: SubjectMatch): string[] {
  if (match === 'exact') return [subject];
  const keys: string[] = [];
  for (let n = subject.length; n > 0; n--) keys.push(subject.slice(0, n));
  return keys;
}

