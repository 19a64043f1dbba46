import { decodeJs } from './js';
import { decodeJson } from './json';
import type { Decoded } from './types';
import { decodeXml } from './xml';
import { decodeXmlStrict } from './xml-strict';

export { BodyError, type Decoded, type Fields } from './types';
export { decodeJs, decodeJson, decodeXml, decodeXmlStrict };

export const FORMAT_NAMES = ['xml-strict', 'xml', 'js', 'json'] as const;
export type FormatName = (typeof FORMAT_NAMES)[number];

export interface FormatDecoder {
  /** The media type of docs/PROTOCOL.md section 6 (the charset is checked separately). */
  mediaType: string;
  decode(body: string): Decoded;
}

/** One decoder per `p_format`, the kit's own (it does not use the server's writers). */
export const DECODERS: Record<FormatName, FormatDecoder> = {
  'xml-strict': { mediaType: 'text/xml', decode: decodeXmlStrict },
  xml: { mediaType: 'text/plain', decode: decodeXml },
  js: { mediaType: 'text/html', decode: decodeJs },
  json: { mediaType: 'text/html', decode: decodeJson },
};

export function isFormatName(s: string): s is FormatName {
  return (FORMAT_NAMES as readonly string[]).includes(s);
}
