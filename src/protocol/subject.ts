/**
 * The single subjects a subscribed subject string lists (`/a,/b` -> `/a`, `/b`): each is
 * matched, stored and counted on its own .
 */
export function subjectParts(subject: string): string[] {
  return subject.split(',');
}

/**
 * `prefix` (original Pushlets): an event matches a subscribed subject it starts with. `exact`
 * (Redis fork, and what Java nodes deliver): equal strings only.
 */
export type SubjectMatch = 'prefix' | 'exact';

/** The single subjects an event on `subject` is delivered to: itself, or all its prefixes, longest first. */
export function subjectKeys(subject: string, match: SubjectMatch): string[] {
  if (match === 'exact') return [subject];
  const keys: string[] = [];
  for (let n = subject.length; n > 0; n--) keys.push(subject.slice(0, n));
  return keys;
}
