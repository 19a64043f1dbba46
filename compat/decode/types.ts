import type { Fields } from '../../src/protocol/event';

export type { Fields };

/** A response body turned back into events. */
export interface Decoded {
  events: Fields[];
  /**
   * Whether the body is a whole document of its format (closing `</pushlet>` or `]`); false for
   * a stream cut short by the kit, or a broken answer.
   */
  complete: boolean;
}

/** A body the decoder cannot read: the step fails with this message. */
export class BodyError extends Error {}

/** A field map that treats names like `__proto__` as plain fields. */
export function emptyFields(): Fields {
  return Object.create(null) as Fields;
}
