import { readFileSync } from 'node:fs';
import { parse } from 'dot-properties';

/** Reads a Java `.properties` file (ISO-8859-1, as `java.util.Properties.load` reads it). */
export function readProperties(path: string): Record<string, string> {
  const text = readFileSync(path, 'latin1');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parse(text))) {
    if (typeof v === 'string') out[k] = v.trim();
  }
  return out;
}
