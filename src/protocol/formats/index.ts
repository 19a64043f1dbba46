import type { Format } from '../constants';
import type { FormatSpec } from './writer';
import { js } from './js';
import { json } from './json';
import { ser } from './ser';
import { xml } from './xml';
import { xmlStrict } from './xml-strict';

export type { FormatSpec, FormatWriter } from './writer';

/** One writer per `p_format`; adding a format is adding a file and a line here. */
export const FORMAT_SPECS: Record<Format, FormatSpec> = {
  js,
  json,
  xml,
  'xml-strict': xmlStrict,
  ser,
};
