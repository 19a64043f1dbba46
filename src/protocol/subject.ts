/**
 * The single subjects a subscribed subject string lists (`/a,/b` -> `/a`, `/b`): each is
 * matched, stored and counted on its own (docs/PROTOCOL.md section 10).
 */
export function subjectParts(subject: string): string[] {
  return subject.split(',');
}
