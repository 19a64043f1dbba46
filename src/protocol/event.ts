import { F } from './constants';

/**
 * An event is a flat map of string fields, as on the wire. Null-prototype objects so that
 * request-supplied names such as `__proto__` or `constructor` are plain fields.
 */
export type Fields = Record<string, string>;

export function fields(init?: Record<string, string | number | undefined>): Fields {
  const out: Fields = Object.create(null);
  if (init) {
    for (const k of Object.keys(init)) {
      const v = init[k];
      if (v !== undefined) out[k] = String(v);
    }
  }
  return out;
}

/** Unix seconds, as Java's `p_time`. */
export function nowSeconds(now = Date.now()): string {
  return String(Math.floor(now / 1000));
}

/** A response or control event of type `type`, stamped with `p_time`. */
export function event(type: string, init?: Record<string, string | number | undefined>): Fields {
  const e = fields(init);
  e[F.EVENT] = type;
  e[F.TIME] = nowSeconds();
  return e;
}

/**
 * An event waiting in a session's queue: the published event, shared by all receivers, and
 * what is the receiver's own (its subscription id and label). Writers lay `own` over `event`.
 */
export interface Queued {
  event: Fields;
  sid?: string;
  label?: string;
}
