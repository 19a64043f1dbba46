import { BodyError, emptyFields, type Fields } from './types';

export interface ElementRules {
  /** Whether a backslash inside a value takes the next character along (so `\"` never ends it). */
  backslashEscapes: boolean;
  /** Whether the `"` at `i` ends the value that is being read. */
  closes(text: string, i: number): boolean;
  /** Turns a raw attribute value into the field value. */
  unescape(raw: string): string;
}

const NAME = /[^\s=/>"']+/y;

/**
 * Reads every complete `<event k="v" ... />` element of `text`, in order; text between elements
 * is ignored and an element cut off by the end of the text is dropped (a stream the kit closed).
 */
export function readEventElements(text: string, rules: ElementRules): Fields[] {
  const out: Fields[] = [];
  let at = text.indexOf('<event');
  while (at >= 0) {
    const read = readElement(text, at + '<event'.length, rules);
    if (!read) break;
    out.push(read.fields);
    at = text.indexOf('<event', read.end);
  }
  return out;
}

function readElement(text: string, from: number, rules: ElementRules): { fields: Fields; end: number } | null {
  const fields = emptyFields();
  let i = from;
  const n = text.length;
  for (;;) {
    while (i < n && /\s/.test(text[i])) i++;
    if (i >= n) return null;
    if (text.startsWith('/>', i)) return { fields, end: i + 2 };
    if (text[i] === '>') return { fields, end: i + 1 };
    NAME.lastIndex = i;
    const name = NAME.exec(text);
    if (!name) throw new BodyError(`unexpected ${JSON.stringify(text[i])} at offset ${i} inside <event>`);
    i += name[0].length;
    if (i >= n) return null;
    if (text[i] !== '=' || (i + 1 < n && text[i + 1] !== '"')) {
      throw new BodyError(`attribute ${name[0]} at offset ${i} is not followed by ="...": ${JSON.stringify(text.slice(i, i + 20))}`);
    }
    i += 2;
    const start = i;
    for (;;) {
      if (i >= n) return null;
      if (rules.backslashEscapes && text[i] === '\\') i += 2;
      else if (text[i] === '"' && rules.closes(text, i)) break;
      else i++;
    }
    fields[name[0]] = rules.unescape(text.slice(start, i));
    i++;
  }
}
