import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { parseCookie, stringifySetCookie } from 'cookie';

/**
 * Session binding (`session.bind=cookie`): the session id is the only credential and every
 * subscriber of a session's events sees it, so a cookie that only the joining browser holds ties
 * the id to that browser. The cookie carries an HMAC of the id, so any node of a cluster that
 * shares the secret checks it without stored state.
 */
export class SessionBinding {
  constructor(private readonly secret: string) {}

  /** One cookie per session, so several sessions (tabs) in one browser each keep theirs. */
  cookieName(id: string): string {
    return 'PLB_' + createHash('sha256').update(id).digest('hex').slice(0, 16);
  }

  private mac(id: string): string {
    return createHmac('sha256', this.secret).update(id).digest('base64url');
  }

  /**
   * `Path=/`: any path ending in `/pushlet.srv` is the endpoint, and a proxy may serve it under
   * a prefix this server never sees (`/legacy/` to `/pushlet/`), so only the root is sure to
   * cover the path the browser used.
   */
  setCookie(id: string): string {
    return stringifySetCookie(this.cookieName(id), this.mac(id), { path: '/', httpOnly: true, sameSite: 'lax' });
  }

  holds(id: string, cookies: Readonly<Record<string, string>>): boolean {
    const got = Buffer.from(cookies[this.cookieName(id)] ?? '');
    const want = Buffer.from(this.mac(id));
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

const NO_COOKIES: Readonly<Record<string, string>> = Object.freeze(Object.create(null));

/** The request's cookies by name (the first of a name wins). */
export function parseCookies(header: string | undefined): Readonly<Record<string, string>> {
  // A name that is absent reads as undefined, as in any record.
  return header ? (parseCookie(header) as Record<string, string>) : NO_COOKIES;
}
