import { F } from '../constants';
import type { Fields } from '../event';

/**
 * Writes one response body in one `p_format`. A format that keeps state between events (the
 * JSON array's commas) makes a writer per response; the others share one.
 */
export interface FormatWriter {
  begin(): string;
  /** One event; `own` holds the receiver's fields (p_seq, p_sid, p_label) laid over `e`. */
  event(e: Fields, own?: Fields): string;
  end(): string;
}

export interface FormatSpec {
  /** Content-Type for the given response charset name (e.g. `UTF-8`). */
  contentType(charset: string): string;
  create(): FormatWriter;
  /**
   * Set when the writer's text is bytes, one character per byte (`ser`): sent as they are, not
   * encoded in response.charset.
   */
  bytes?: true;
}

/**
 * An escaper for the characters `chars` (a global pattern): a value holding none of them, as
 * most do, is returned as it is, without a replace pass.
 */
export function escaper(chars: RegExp, replace: (c: string) => string): (v: string) => string {
  const any = new RegExp(chars.source, chars.flags.replace('g', ''));
  return (v) => (any.test(v) ? v.replace(chars, replace) : v);
}

/** The receiver's own fields, written after the shared ones, in this order. */
export const OWN_NAMES = [F.SEQ, F.SID, F.LABEL] as const;
const OWN = new Set<string>(OWN_NAMES);

/** How one format writes a field, and what goes between two. */
export interface FieldStyle {
  field(name: string, value: string): string;
  separator: string;
  /** The shared part of each event written with `own` fields, kept while the event lives. */
  cache: WeakMap<Fields, string>;
}

export function fieldStyle(field: (name: string, value: string) => string, separator: string): FieldStyle {
  return { field, separator, cache: new WeakMap() };
}

/**
 * The fields of `e`, then the receiver's `own` (p_seq, p_sid, p_label) in place of any of `e`'s
 * of the same name. A published event is written for every receiver: its shared part is escaped
 * once and reused.
 */
export function fieldsText(e: Fields, own: Fields | undefined, style: FieldStyle): string {
  const { field, separator } = style;
  if (own === undefined) {
    let text = '';
    for (const k in e) text += (text === '' ? '' : separator) + field(k, e[k]);
    return text;
  }
  let text = style.cache.get(e);
  if (text === undefined) {
    const parts: string[] = [];
    for (const k in e) if (!OWN.has(k)) parts.push(field(k, e[k]));
    text = parts.join(separator);
    style.cache.set(e, text);
  }
  for (const k of OWN_NAMES) {
    const v = own[k] ?? e[k];
    if (v !== undefined) text += (text === '' ? '' : separator) + field(k, v);
  }
  return text;
}
