import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Session binding (`session.bind=cookie`): the session id is the only credential and every
 * subscriber of a session's events sees it, so a cookie that only the joining browser holds ties
 * the id to that browser. The cookie carries an HMAC of the id, so any node of a cluster that
 * shares the secret checks it without stored state.
 */
export class SessionBinding {
  constructor(private readonly secret: string, private readonly path: string) {}

  /** One cookie per session, so several sessions (tabs) in one browser each keep theirs. */
  cookieName(id: string): string {
    return 'PLB_' + createHash('sha256').update(id).digest('hex').slice(0, 16);
  }

  private mac(id: string): string {
    return createHmac('sha256', this.secret).update(id).digest('base64url');
  }

  setCookie(id: string): string {
    return `${this.cookieName(id)}=${this.mac(id)}; Path=${this.path || '/'}; HttpOnly; SameSite=Lax`;
  }

  holds(id: string, cookies: Record<string, string>): boolean {
    const got = Buffer.from(cookies[this.cookieName(id)] ?? '');
    const want = Buffer.from(this.mac(id));
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

const NO_COOKIES: Readonly<Record<string, string>> = Object.freeze(Object.create(null));

/** `a=1; b=2` -> { a: '1', b: '2' } (first wins). */
export function parseCookies(header: string | undefined): Readonly<Record<string, string>> {
  if (!header) return NO_COOKIES;
  const out: Record<string, string> = Object.create(null);
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 1) continue;
    const name = part.slice(0, eq).trim();
    if (!(name in out)) out[name] = part.slice(eq + 1).trim();
  }
  return out;
}
