import { eachField, type FormatSpec } from './writer';
import type { Fields } from '../event';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/**
 * Escapes an attribute value for the legacy AJAX client's Xparse, which decodes only these five
 * entities. DIFF: Java wrote `'` as `&#039;` and `\` as `&#092;`, which Xparse showed literally;
 * newlines stay raw because Xparse keeps them (a `&#10;` would also show literally).
 */
export function escapeXmlStrict(v: string): string {
  return v.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** Writes `<event k="v" ... />` with the given value escaper; shared by both XML formats. */
export function xmlEvent(e: Fields, own: Fields | undefined, esc: (v: string) => string): string {
  let s = '<event';
  eachField(e, own, (k, v) => {
    s += ' ' + esc(k) + '="' + esc(v) + '"';
  });
  return s + ' />';
}

export const xmlStrict: FormatSpec = {
  contentType: (charset) => `text/xml;charset=${charset}`,
  create: () => ({
    begin: () => '<pushlet>',
    event: (e, own) => xmlEvent(e, own, escapeXmlStrict),
    end: () => '</pushlet>',
  }),
};
