import type { FormatSpec } from './writer';
import { json } from './json';

/** A callback name JSONP may call: a plain JavaScript identifier path such as `app.onPushlet`. */
const CALLBACK = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/;

export function isValidCallback(name: string): boolean {
  return name.length <= 128 && CALLBACK.test(name);
}

/**
 * DIFF 16 (docs/PROTOCOL.md section 6): the `json` format wrapped as `callback([...]);` when the request
 * names `p_callback`, for pages on other origins without CORS. The name was validated first.
 */
export function jsonp(callback: string): FormatSpec {
  return {
    contentType: (charset) => `application/javascript; charset=${charset}`,
    create: () => {
      const inner = json.create();
      return {
        begin: () => `/**/${callback}(` + inner.begin(),
        event: inner.event,
        end: () => inner.end() + ');',
      };
    },
  };
}
