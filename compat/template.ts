/**
 * Placeholders of the case files. In requests `{{name}}` is replaced by a variable (`run`,
 * `format`, `endpoint`, `i`) or a value captured earlier (`{{id:A}}`). In expected values they
 * match: `{{id:A}}` captures the value the first time and requires the same value later,
 * `{{time}}` a Unix-seconds time near now, `{{wait:pull}}` / `{{wait:poll}}` / `{{wait:2000-6000}}`
 * a number of ms in that range, `{{any}}` anything (also nothing).
 */

export interface Scope {
  /** Fixed for the case instance: run, format, endpoint; `i` inside a repeated step. */
  vars: Record<string, string>;
  /** Values captured by `{{id:NAME}}`, by NAME. */
  captures: Map<string, string>;
  /** The refresh waits the server is assumed to use, [min, max] ms. */
  waits: Record<'pull' | 'poll', readonly [number, number]>;
  /** How far a `{{time}}` may be from the kit's clock, in seconds. */
  timeSkewS: number;
}

/** A case file refers to something the scope does not hold. */
export class TemplateError extends Error {}

const PLACEHOLDER = /\{\{([^{}]+)\}\}/g;

/** Replaces every placeholder of a request template; `encode` is applied to each inserted value. */
export function fill(template: string, scope: Scope, encode: (v: string) => string = (v) => v): string {
  return template.replace(PLACEHOLDER, (_, name: string) => encode(lookup(name, scope)));
}

function lookup(name: string, scope: Scope): string {
  if (name.startsWith('id:')) {
    const v = scope.captures.get(name.slice(3));
    if (v === undefined) throw new TemplateError(`{{${name}}} is used before a response captured it`);
    return v;
  }
  const v = scope.vars[name];
  if (v === undefined) throw new TemplateError(`unknown placeholder {{${name}}}`);
  return v;
}

/** What a placeholder in an expected value stands for once compiled. */
type Slot =
  | { kind: 'capture'; name: string }
  | { kind: 'range'; min: number; max: number; what: string }
  | { kind: 'time' }
  | { kind: 'any' };

function slotFor(name: string, scope: Scope): Slot | string {
  if (name.startsWith('id:')) {
    const known = scope.captures.get(name.slice(3));
    return known ?? { kind: 'capture', name: name.slice(3) };
  }
  if (name === 'time') return { kind: 'time' };
  if (name === 'any') return { kind: 'any' };
  if (name.startsWith('wait:')) {
    const spec = name.slice(5);
    if (spec === 'pull' || spec === 'poll') return { kind: 'range', min: scope.waits[spec][0], max: scope.waits[spec][1], what: `${spec} wait` };
    const m = /^(\d+)-(\d+)$/.exec(spec);
    if (!m) throw new TemplateError(`bad placeholder {{${name}}}: use wait:pull, wait:poll or wait:MIN-MAX`);
    return { kind: 'range', min: Number(m[1]), max: Number(m[2]), what: 'wait' };
  }
  return lookup(name, scope);
}

const GROUP: Record<Slot['kind'], string> = { capture: '(.+?)', range: '(\\d+)', time: '(\\d+)', any: '([\\s\\S]*?)' };

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Matches `actual` against an expected template, the whole value (`whole`) or anywhere in it.
 * Returns null when it matches, else why not. Captures are recorded in the scope on success.
 */
export function matchTemplate(template: string, actual: string, scope: Scope, whole = true): string | null {
  const slots: Slot[] = [];
  let source = '';
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    source += escapeRegExp(template.slice(last, m.index));
    const slot = slotFor(m[1], scope);
    if (typeof slot === 'string') source += escapeRegExp(slot);
    else {
      slots.push(slot);
      source += GROUP[slot.kind];
    }
    last = m.index + m[0].length;
  }
  source += escapeRegExp(template.slice(last));
  const m = new RegExp(whole ? `^${source}$` : source).exec(actual);
  if (!m) return `${JSON.stringify(actual)} does not match ${JSON.stringify(template)}`;
  const found = new Map<string, string>();
  for (let k = 0; k < slots.length; k++) {
    const slot = slots[k];
    const v = m[k + 1];
    if (slot.kind === 'range') {
      if (Number(v) < slot.min || Number(v) > slot.max) return `${slot.what} ${v} is not within ${slot.min}-${slot.max}`;
    } else if (slot.kind === 'time') {
      const off = Number(v) - Date.now() / 1000;
      if (Math.abs(off) > scope.timeSkewS) return `time ${v} is ${Math.round(off)} s away from now`;
    } else if (slot.kind === 'capture') {
      const seen = found.get(slot.name);
      if (seen !== undefined && seen !== v) return `{{id:${slot.name}}} is ${JSON.stringify(seen)} and ${JSON.stringify(v)} in one value`;
      found.set(slot.name, v);
    }
  }
  for (const [name, v] of found) scope.captures.set(name, v);
  return null;
}
