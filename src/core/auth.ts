import type { Fields } from '../protocol/event';

/** What an authorisation hook is asked about. */
export interface AuthRequest {
  action: 'join' | 'subscribe' | 'publish';
  /** The request's fields (for subscribe: p_subject/p_label; for publish: the whole event). */
  fields: Readonly<Fields>;
  /** The session, except for join (where `fields.p_id` may name the wanted id). */
  sessionId?: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  cookies: Readonly<Record<string, string>>;
  address: string;
}

/** Allow (optionally with rewritten fields, which replace the request's), or deny with a reason. */
export type AuthDecision = { allow: true; fields?: Record<string, string> } | { allow: false; reason: string };

/**
 * A hook module exports `authorize(request)` returning a decision (or a promise of one). It is
 * named by `auth.module`; see docs/MIGRATING.md section 5 and examples/auth-signed-token.js.
 */
export type AuthHook = (request: AuthRequest) => AuthDecision | Promise<AuthDecision>;
