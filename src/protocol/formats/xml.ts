import { escaper, type FormatSpec, type FormatWriter } from './writer';
import { xmlAttributes, xmlEvent } from './xml-strict';

/**
 * Escapes a value for the `xml` stream read by the Java PushletClient, whose parser cuts an
 * element at the first `>` and takes a backslash as escaping the next character.
 * DIFF 8: Java wrote values raw, so `"` or `>` broke that parser.
 */
export const escapeXmlStream = escaper(/[\\">]/g, (c) => (c === '>' ? '&gt;' : '\\' + c));

const STREAM = xmlAttributes(escapeXmlStream);

/** Keeps no state between events: one writer serves every response. */
const WRITER: FormatWriter = {
  begin: () => '',
  event: (e, own) => xmlEvent(e, own, STREAM),
  end: () => '',
};

export const xml: FormatSpec = {
  contentType: (charset) => `text/plain;charset=${charset}`,
  create: () => WRITER,
};
