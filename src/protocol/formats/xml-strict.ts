import { escaper, fieldsText, fieldStyle, type FieldStyle, type FormatSpec, type FormatWriter } from './writer';
import type { Fields } from '../event';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/**
 * Escapes an attribute value for the legacy AJAX client's Xparse, which decodes only these five
 * entities. DIFF 7: Java wrote `'` as `&#039;` and `\` as `&#092;`, which Xparse showed literally;
 * newlines stay raw because Xparse keeps them (a `&#10;` would also show literally).
 */
export const escapeXmlStrict = escaper(/[&<>"']/g, (c) => ENTITIES[c]);

/** `<event k="v" ... />` in a field style; shared by both XML formats. */
export function xmlEvent(e: Fields, own: Fields | undefined, style: FieldStyle): string {
  const text = fieldsText(e, own, style);
  return text === '' ? '<event />' : `<event ${text} />`;
}

/** `k="v"` with a value escaper. */
export function xmlAttributes(esc: (v: string) => string): FieldStyle {
  return fieldStyle((k, v) => `${esc(k)}="${esc(v)}"`, ' ');
}

const STRICT = xmlAttributes(escapeXmlStrict);

/** Keeps no state between events: one writer serves every response. */
const WRITER: FormatWriter = {
  begin: () => '<pushlet>',
  event: (e, own) => xmlEvent(e, own, STRICT),
  end: () => '</pushlet>',
};

export const xmlStrict: FormatSpec = {
  contentType: (charset) => `text/xml;charset=${charset}`,
  create: () => WRITER,
};
