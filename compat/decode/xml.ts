import { readEventElements } from './elements';
import type { Decoded } from './types';

/** After a value's closing quote comes another attribute, the element's end, or the text's end. */
const AFTER_VALUE = /"(?:\s+[^\s=/>"']+="|\s*\/?>|$)/y;

function closesValue(text: string, i: number): boolean {
  AFTER_VALUE.lastIndex = i;
  return AFTER_VALUE.test(text);
}

/**
 * Our writer's escapes: `\\`, `\"` and `&gt;`. Any other backslash stays, because Java wrote
 * values raw (`a \ b`) and the kit reads both servers.
 */
export function unescapeXmlStream(v: string): string {
  return v.replace(/\\([\\"])|&gt;/g, (_, c: string | undefined) => c ?? '>');
}

/**
 * `xml`: a stream of `<event k="v" ... />` without a wrapper. Java wrote values raw, so a quote
 * inside a value only ends it when an attribute or the element's end follows.
 */
export function decodeXml(body: string): Decoded {
  return { events: readEventElements(body, { backslashEscapes: true, closes: closesValue, unescape: unescapeXmlStream }), complete: true };
}
