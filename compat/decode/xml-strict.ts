import { readEventElements } from './elements';
import type { Decoded } from './types';

const NAMED: Record<string, string> = { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' };

/** Decodes the five named XML entities and numeric references (Java wrote `&#039;`, `&#092;`). */
export function decodeEntities(v: string): string {
  return v.replace(/&(lt|gt|quot|apos|amp|#[0-9]+|#x[0-9a-fA-F]+);/g, (whole, name: string) => {
    if (name[0] !== '#') return NAMED[name];
    const code = name[1] === 'x' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** `xml-strict`: `<pushlet>` + `<event k="v" .../>`... + `</pushlet>`, values entity-escaped. */
export function decodeXmlStrict(body: string): Decoded {
  const events = readEventElements(body, { backslashEscapes: false, closes: () => true, unescape: decodeEntities });
  return { events, complete: /^\s*<pushlet>[\s\S]*<\/pushlet>\s*$/.test(body) };
}
