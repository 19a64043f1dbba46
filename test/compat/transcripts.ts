import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const WIRE = process.env.PUSHLET_REFERENCE_WIRE ?? '/work/shared/reference/java-wire';

export interface Transcript {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw response of reference/java-wire: status line, headers, a blank line, the body. */
export function transcript(file: string): Transcript {
  const raw = readFileSync(join(WIRE, file), 'utf8');
  const start = raw.indexOf('HTTP/1.1 ');
  const sep = raw.indexOf('\r\n\r\n', start);
  const head = raw.slice(start, sep).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(head[0].split(' ')[1]), headers, body: raw.slice(sep + 4) };
}

/** The text Java published in steps 07 and 35 of every format. */
export const SPECIAL = '你好 <b>bold</b> "dq" \'sq\' & amp \\ backslash\nline2 </x> end';
