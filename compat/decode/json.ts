import { BodyError, emptyFields, type Decoded, type Fields } from './types';

function toFields(v: unknown, index: number): Fields {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new BodyError(`JSON element ${index} is not an object`);
  const out = emptyFields();
  for (const [k, value] of Object.entries(v)) {
    if (typeof value !== 'string') throw new BodyError(`JSON element ${index}: field ${k} is not a string`);
    out[k] = value;
  }
  return out;
}

/**
 * `json`: `[{ "k": "v" ,... },...]`. Objects are read one by one so that a stream the kit cut
 * off (no closing `]`, maybe half an object) still gives the events that arrived whole.
 */
export function decodeJson(body: string): Decoded {
  const text = body.trim();
  if (text === '') return { events: [], complete: false };
  if (text[0] !== '[') throw new BodyError(`JSON body does not start with [: ${JSON.stringify(text.slice(0, 40))}`);
  const events: Fields[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}') {
      if (--depth === 0) events.push(toFields(parseJson(text.slice(start, i + 1), `JSON element ${events.length}`), events.length));
    } else if (c === ']' && depth === 0) {
      if (text.slice(i + 1).trim() !== '') throw new BodyError(`text after the JSON array: ${JSON.stringify(text.slice(i + 1, i + 41))}`);
      // The separators between the objects were not checked above.
      parseJson(text, 'the JSON array');
      return { events, complete: true };
    }
  }
  return { events, complete: false };
}

function parseJson(s: string, what: string): unknown {
  try {
    return JSON.parse(s);
  } catch (err) {
    throw new BodyError(`${what} is not valid JSON (${(err as Error).message}): ${s.slice(0, 80)}`);
  }
}
