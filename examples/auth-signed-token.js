// An example authorisation hook for pushlet-server (`auth.module=examples/auth-signed-token.js`).
//
// The application that serves the page signs a token for its user:
//   token = base64url(user + "." + expiresUnixSeconds) + "." + base64url(HMAC-SHA256(secret, that first part))
// and the page sends it as the `token` field of join (e.g. PL.join() after
// PL.pushletURL += '?token=...'), or as a `pushlet_token` cookie. The hook then:
// - join: refuses a missing, forged or expired token; a persistent p_id must be "user-<user>";
// - subscribe: allows /public/* to all, /user/<user>/* to that user only;
// - publish: allows /chat/* only, and stamps the publisher's user as the `user` field
//   (a rewrite: whatever the client sent as `user` is replaced).
// The secret comes from the environment (PUSHLET_TOKEN_SECRET), shared with the application.
'use strict';
const { createHmac, timingSafeEqual } = require('node:crypto');

const SECRET = process.env.PUSHLET_TOKEN_SECRET || '';

function sign(payload) {
  return createHmac('sha256', SECRET).update(payload).digest('base64url');
}

/** Returns the user a token was signed for, or null. */
function verify(token) {
  if (!SECRET || typeof token !== 'string') return null;
  const [payload, mac] = token.split('.');
  if (!payload || !mac) return null;
  const want = Buffer.from(sign(payload));
  const got = Buffer.from(mac);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
  const [user, expires] = Buffer.from(payload, 'base64url').toString('utf8').split('.');
  if (!user || !(Number(expires) * 1000 > Date.now())) return null;
  return user;
}

/** Makes a token (for the application side, and for tests). */
function makeToken(user, ttlSeconds = 3600) {
  const payload = Buffer.from(`${user}.${Math.floor(Date.now() / 1000) + ttlSeconds}`).toString('base64url');
  return `${payload}.${sign(payload)}`;
}

/** Users by session id, learnt at join (one process; in a cluster, carry the token on every request instead). */
const users = new Map();

function authorize(req) {
  if (req.action === 'join') {
    const user = verify(req.fields.token || req.cookies.pushlet_token);
    if (!user) return { allow: false, reason: 'a valid token is required' };
    const wanted = req.fields.p_id;
    if (wanted && wanted !== `user-${user}`) return { allow: false, reason: 'p_id must be user-<your user>' };
    if (wanted) users.set(wanted, user);
    return { allow: true };
  }
  const user = users.get(req.sessionId) || verify(req.fields.token || req.cookies.pushlet_token);
  if (!user) return { allow: false, reason: 'a valid token is required' };
  const subject = req.fields.p_subject || '';
  if (req.action === 'subscribe') {
    const ok = subject.split(',').every((s) => s.startsWith('/public/') || s.startsWith(`/user/${user}/`));
    return ok ? { allow: true } : { allow: false, reason: `not allowed to subscribe to ${subject}` };
  }
  if (!subject.startsWith('/chat/')) return { allow: false, reason: `not allowed to publish to ${subject}` };
  const fields = { ...req.fields, user };
  delete fields.token;
  return { allow: true, fields };
}

module.exports = { authorize, makeToken };
