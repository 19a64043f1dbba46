import type { Fields } from '../event';

/**
 * Writes one response body in one `p_format`. A writer is made per response because some
 * formats keep state between events (the JSON array's commas).
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
}

/** Calls `fn` for each field of `e` not overridden by `own`, then for each field of `own`. */
export function eachField(e: Fields, own: Fields | undefined, fn: (name: string, value: string) => void): void {
  for (const k in e) {
    if (own === undefined || !(k in own)) fn(k, e[k]);
  }
  if (own !== undefined) {
    for (const k in own) fn(k, own[k]);
  }
}
