import { escaper, fieldsText, fieldStyle, type FormatSpec } from './writer';

/**
 * A JSON string literal that is also safe inside an HTML page (the response is `text/html`, as
 * Java's): `/`, `<`, `>`, `&` and the JS line separators are written as escapes, which
 * JSON.parse reads back unchanged.
 */
export function jsonString(v: string): string {
  return htmlSafe(JSON.stringify(v));
}

const htmlSafe = escaper(/[/<>&\u2028\u2029]/g, (c) =>
  c === '/' ? '\\/' : '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
);

const MEMBERS = fieldStyle((k, v) => `${jsonString(k)}: ${jsonString(v)}`, ' ,');

/** `[{ "k": "v" ,"k2": "v2"  },...]`, spaced as Java writes it. */
export const json: FormatSpec = {
  contentType: (charset) => `text/html; charset=${charset}`,
  create: () => {
    let first = true;
    return {
      begin: () => '[',
      event(e, own) {
        const s = (first ? '' : ',') + '{ ' + fieldsText(e, own, MEMBERS) + '  }';
        first = false;
        return s;
      },
      end: () => ']',
    };
  },
};
