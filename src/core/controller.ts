import { DEFAULT_FORMAT, DEFAULT_MODE, E, F, isFormat, isMode, type Format, type Mode } from '../protocol/constants';
import { event, fields, nowSeconds, type Fields } from '../protocol/event';
import { subjectParts } from '../protocol/subject';
import { isStoreUnavailable, PushletError } from '../errors';
import type { SessionRec, Store } from '../store/store';
import { AddressWindow } from './admission';
import type { AuthDecision, AuthHook, AuthRequest } from './auth';
import type { SessionBinding } from './binding';
import type { ChannelRequest } from './channel';
import type { Dispatcher } from './dispatcher';
import type { Logger } from '../logger';
import { newSessionId } from './sessions';
import { leaseMs, type CoreSettings } from './settings';

/** A decoded protocol request and what HTTP tells of the client. */
export interface ProtocolRequest {
  fields: Fields;
  /** Request path, e.g. `/pushlet/pushlet.srv` (for `p_url`). */
  path: string;
  userAgent: string;
  address: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  cookies: Readonly<Record<string, string>>;
}

/** What to answer: an HTTP error, or events in the session's format, maybe then the data channel. */
export type Outcome =
  | { kind: 'error'; status: number; message: string }
  | {
      kind: 'events';
      format: Format;
      events: Fields[];
      channel?: ChannelRequest;
      /** A Set-Cookie header value (session binding). */
      setCookie?: string;
    };

export interface ControllerOptions {
  auth?: AuthHook;
  binding?: SessionBinding;
}

/** A request core refuses (bad id, limits): its status and a reason the client may read. */
export class ProtocolError extends PushletError {
  constructor(status: number, message: string) {
    super(message, status);
  }
}

interface Ctx {
  req: ProtocolRequest;
  f: Fields;
  session: SessionRec;
}

type Handler = (c: Ctx) => Promise<Outcome>;

/** How long a node remembers that a session left, for its held request. */
const LEFT_MEMORY_MS = 60_000;

/** A publish id names a Redis key: long enough for a UUID and a prefix, no longer. */
const MAX_PUBID = 128;

/** Sessions whose format and mode a node keeps for refreshes through a store outage. */
const KNOWN_SESSIONS = 100_000;

/** Sessions one reclaim frees at most: room for a burst of joins, for one look through the store. */
const RECLAIM_BATCH = 100;

/** Fields a data event never takes from its publisher: they are the server's, per receiver. */
const SERVER_OWNED = [F.SID, F.SEQ, F.LABEL] as const;

/** What `known` holds per session: one shared object per format and mode, not one per session. */
const KINDS = new Map<string, { format: Format; mode?: Mode }>();
function kindOf(format: Format, mode: Mode | undefined): { format: Format; mode?: Mode } {
  const key = `${format} ${mode}`;
  let kind = KINDS.get(key);
  if (!kind) KINDS.set(key, (kind = Object.freeze({ format, mode })));
  return kind;
}

/**
 * What each `p_event` does (docs/PROTOCOL.md section 3): a table from event type to handler. A
 * handler returns the response events, and whether the data channel follows.
 */
export class Controller {
  /** Format and mode of sessions seen lately (at most KNOWN_SESSIONS), for refreshes through an outage. */
  private readonly known = new Map<string, { format: Format; mode?: Mode }>();
  /** Sessions that left lately, and when. */
  private readonly left = new Map<string, number>();
  private readonly handlers: Record<string, Handler> = {
    [E.LISTEN]: (c) => this.listen(c, E.LISTEN_ACK),
    [E.REFRESH]: (c) => this.refresh(c),
    [E.SUBSCRIBE]: (c) => this.subscribe(c),
    [E.UNSUBSCRIBE]: (c) => this.unsubscribe(c),
    [E.PUBLISH]: (c) => this.publish(c, false),
    [E.PUBLISH_TO_ONLINE]: (c) => this.publish(c, true),
    [E.HEARTBEAT]: async (c) => this.reply(c, event(E.HEARTBEAT_ACK)),
    [E.LEAVE]: (c) => this.leave(c),
  };

  private readonly addresses: AddressWindow;
  private reclaiming?: Promise<number>;

  constructor(
    private readonly store: Store,
    private readonly settings: CoreSettings,
    private readonly dispatcher: Dispatcher,
    private readonly log: Logger,
    private readonly opts: ControllerOptions = {},
  ) {
    this.addresses = new AddressWindow(settings.limitSessionsPerAddress, leaseMs(settings));
  }

  async handle(req: ProtocolRequest): Promise<Outcome> {
    try {
      return await this.route(req);
    } catch (err) {
      if (err instanceof ProtocolError) return { kind: 'error', status: err.status, message: err.message };
      if (isStoreUnavailable(err) && req.fields[F.EVENT] === E.REFRESH && req.fields[F.ID]) return this.refreshThroughOutage(req);
      throw err;
    }
  }

  /**
   * A refresh while the store is away. Legacy pages that get an error (or no `refresh` event)
   * never ask again, so it is answered as usual: the data channel holds it out its read timeout (poll: none)
   * and ends it with a heartbeat and a refresh, and the page keeps polling until the store is
   * back. The format is the one this node last saw for the session; for one it never saw, what
   * the legacy clients use: `xml` for the Java client, `xml-strict` for pages.
   */
  private refreshThroughOutage(req: ProtocolRequest): Outcome {
    const id = req.fields[F.ID];
    const known = this.known.get(id);
    const format = known?.format ?? (req.userAgent.toLowerCase().includes('java') ? 'xml' : 'xml-strict');
    return { kind: 'events', format, events: [event(E.REFRESH_ACK)], channel: { id, mode: known?.mode === 'poll' ? 'poll' : 'pull', afterListen: false, outage: true } };
  }

  /**
   * Whether `id` left by its own `leave` on this node within the last minute: its held request
   * then ends with no event (DIFF 21).
   */
  hasLeft(id: string): boolean {
    this.forgetLeaves(Date.now());
    return this.left.has(id);
  }

  /** Forgets leaves older than LEFT_MEMORY_MS (the map is in time order). */
  private forgetLeaves(now: number): void {
    for (const [k, t] of this.left) {
      if (now - t < LEFT_MEMORY_MS) break;
      this.left.delete(k);
    }
  }

  /** What this node last saw of a session, for `refreshThroughOutage`. */
  private remember(id: string, format: Format, mode: Mode | undefined): void {
    const prev = this.known.get(id);
    if (prev && prev.format === format && prev.mode === mode) return;
    // Oldest first out: bounded, and cheaper than an LRU on every request.
    if (!prev && this.known.size >= KNOWN_SESSIONS) this.known.delete(this.known.keys().next().value!);
    this.known.set(id, kindOf(format, mode));
  }

  private async route(req: ProtocolRequest): Promise<Outcome> {
    const f = req.fields;
    const type = f[F.EVENT];
    if (type === undefined) throw new ProtocolError(400, 'No eventType specified');
    if (type.startsWith(E.JOIN)) {
      const denied = await this.authorize(req, 'join', f);
      if (typeof denied === 'string') return this.refuseJoin(f, denied);
      const session = await this.join(req);
      const c = { req, f, session };
      const out = type === E.JOIN_LISTEN
        ? await this.listen(c, E.JOIN_LISTEN_ACK)
        : this.reply(c, event(E.JOIN_ACK, { [F.ID]: session.id, [F.FORMAT]: session.format }));
      if (out.kind === 'events' && this.opts.binding) out.setCookie = this.opts.binding.setCookie(session.id);
      return out;
    }
    const id = f[F.ID];
    if (id === undefined || id === '') throw new ProtocolError(400, 'No id specified');
    // Every request renews the lease; a left persistent session comes back to life with it. A
    // bound session is renewed only once the request proved it holds the binding.
    const patch = { address: req.address };
    const binding = this.opts.binding !== undefined;
    const session = binding ? await this.store.getSession(id) : await this.store.touch(id, patch, true, type === E.REFRESH);
    if (!session) throw new ProtocolError(400, `Invalid or expired id: ${id}`);
    if (binding) {
      this.checkBinding(id, req);
      await this.store.kick(id, patch);
    }
    this.remember(id, session.format, session.mode);
    session.online = true;
    const c = { req, f, session };
    const handler = this.handlers[type];
    if (!handler) return this.nack(c, `unknown event type: ${type}`);
    return handler(c);
  }

  /** With session.bind=cookie, a request must carry the cookie its session's join set. */
  private checkBinding(id: string, req: ProtocolRequest): void {
    const b = this.opts.binding;
    if (b && !b.holds(id, req.cookies)) {
      throw new ProtocolError(400, `Session ${id} is bound to another client (session.bind=cookie)`);
    }
  }

  /**
   * Asks the authorisation hook; returns the reason when it denies. A hook that rewrites fields
   * has them replace the request's.
   */
  private async authorize(req: ProtocolRequest, action: AuthRequest['action'], f: Fields, sessionId?: string): Promise<string | undefined> {
    if (!this.opts.auth) return undefined;
    let decision: AuthDecision;
    try {
      decision = await this.opts.auth({ action, fields: f, sessionId, headers: req.headers, cookies: req.cookies, address: req.address });
    } catch (err) {
      // A failing hook denies: refusing is the safe side of an authorisation check.
      this.log.error({ err, action, session: sessionId }, 'auth hook failed');
      return 'authorisation failed';
    }
    if (!decision.allow) {
      this.log.info({ action, session: sessionId, reason: decision.reason }, 'denied by auth hook');
      return decision.reason || 'not allowed';
    }
    if (decision.fields) {
      for (const k of Object.keys(f)) delete f[k];
      Object.assign(f, decision.fields);
    }
    return undefined;
  }

  /** A join the hook denied: a nack in the asked format (there is no session to name). */
  private refuseJoin(f: Fields, reason: string): Outcome {
    const format = f[F.FORMAT] ?? DEFAULT_FORMAT;
    return { kind: 'events', format: isFormat(format) ? format : DEFAULT_FORMAT, events: [event(E.NACK, { [F.REASON]: reason })] };
  }

  private async join(req: ProtocolRequest): Promise<SessionRec> {
    const f = req.fields;
    const format = f[F.FORMAT] ?? DEFAULT_FORMAT;
    if (!isFormat(format)) throw new ProtocolError(400, `Unsupported p_format: ${format}`);
    const clientId = f[F.ID];
    const persistent = clientId !== undefined && clientId !== '';
    const existing = persistent ? await this.store.getSession(clientId) : null;
    // Re-joining a bound persistent session needs its cookie, or anyone could take it over.
    if (existing) this.checkBinding(clientId, req);
    if (!existing) await this.admit(req.address);
    const rec = {
      id: persistent ? clientId : newSessionId(this.settings),
      format,
      temporary: !persistent,
      createDate: Date.now(),
      userAgent: req.userAgent.toLowerCase(),
      address: req.address,
    };
    await this.store.openSession(rec);
    this.log.info({ session: rec.id, format, persistent, address: req.address }, 'session joined');
    return { ...rec, online: true };
  }

  /**
   * Room for a new session: under `limit.sessions`, once sessions that hold nothing are
   * reclaimed, and under the address's `limit.sessions.per.address`, so that one client cannot
   * lock the others out.
   */
  private async admit(address: string): Promise<void> {
    const limit = this.settings.limitSessions;
    if ((await this.store.countSessions()) >= limit && (await this.reclaim()) === 0) {
      throw new ProtocolError(429, `Too many sessions: the server holds its limit of ${limit} (limit.sessions)`);
    }
    if (!this.addresses.take(address)) {
      throw new ProtocolError(429, `Too many new sessions from ${address}: at most ${this.settings.limitSessionsPerAddress} per session lease (limit.sessions.per.address)`);
    }
  }

  /** One reclaim at a time; joins that arrive meanwhile share its result. */
  private reclaim(): Promise<number> {
    this.reclaiming ??= this.store.reclaim(RECLAIM_BATCH).finally(() => (this.reclaiming = undefined));
    return this.reclaiming;
  }

  private modeFor(c: Ctx): Mode {
    const asked = c.f[F.MODE] ?? DEFAULT_MODE;
    if (!isMode(asked)) throw new ProtocolError(400, `Unsupported p_mode: ${asked}`);
    if (asked !== 'stream') return asked;
    const ua = c.req.userAgent.toLowerCase();
    const forced = this.settings.listenForcePullAll || this.settings.listenForcePullAgents.some((a) => ua.includes(a));
    return forced ? 'pull' : 'stream';
  }

  private async listen(c: Ctx, ackType: string): Promise<Outcome> {
    const mode = this.modeFor(c);
    const { id, format } = c.session;
    const ack = event(ackType, { [F.ID]: id, [F.MODE]: mode, [F.FORMAT]: format });
    const subject = c.f[F.SUBJECT];
    if (subject) {
      const refused = await this.checkSubscribe(c, subject);
      if (refused) return this.nack(c, refused);
      const sub = await this.store.subscribe(id, subject, c.f[F.LABEL]);
      ack[F.SID] = sub.subject;
      if (sub.label !== undefined) ack[F.LABEL] = sub.label;
    }
    await this.store.kick(id, { mode });
    this.remember(id, format, mode);
    return this.reply(c, ack, { id, mode, afterListen: true });
  }

  private async refresh(c: Ctx): Promise<Outcome> {
    let mode = c.session.mode;
    if (!mode) {
      // DIFF 2: Java answers an empty body; we treat it as a pull listen without subject.
      mode = 'pull';
      await this.store.kick(c.session.id, { mode });
    }
    return this.reply(c, event(E.REFRESH_ACK), { id: c.session.id, mode, afterListen: false });
  }

  private async subscribe(c: Ctx): Promise<Outcome> {
    const subject = c.f[F.SUBJECT];
    if (!subject) return this.nack(c, 'no subject provided');
    const refused = await this.checkSubscribe(c, subject);
    if (refused) return this.nack(c, refused);
    const sub = await this.store.subscribe(c.session.id, subject, c.f[F.LABEL]);
    return this.reply(c, event(E.SUBSCRIBE_ACK, {
      [F.ID]: c.session.id, [F.SUBJECT]: sub.subject, [F.SID]: sub.subject, [F.LABEL]: sub.label,
    }));
  }

  /** Why a subscription is refused (subject too long, the hook said no), or undefined. */
  private async checkSubscribe(c: Ctx, subject: string): Promise<string | undefined> {
    if (subject.length > this.settings.limitSubject) return this.subjectTooLong();
    const subjects = await this.store.subscribedSubjects(c.session.id);
    if (!subjects.includes(subject)) {
      if (subjects.length >= this.settings.limitSubscriptions) {
        return `too many subscriptions: at most ${this.settings.limitSubscriptions} per session (limit.subscriptions.per.session)`;
      }
      // Each part is listed on its own (two Redis keys each): bound them all, not just the string.
      if (subjectParts([...subjects, subject].join(',')).length > this.settings.limitSubjectParts) {
        return `too many subjects: at most ${this.settings.limitSubjectParts} single subjects over all subscriptions of a session (limit.subject.parts.per.session)`;
      }
    }
    return this.authorize(c.req, 'subscribe', c.f, c.session.id);
  }

  private subjectTooLong(): string {
    return `subject longer than ${this.settings.limitSubject} characters (limit.subject.length)`;
  }

  private async unsubscribe(c: Ctx): Promise<Outcome> {
    const sid = c.f[F.SID];
    const removed = await this.store.unsubscribe(c.session.id, sid || undefined);
    if (!removed) return this.nack(c, `no subscription for sid=${sid}`);
    const ack = event(E.UNSUBSCRIBE_ACK, { [F.ID]: c.session.id });
    if (sid) {
      const sub = removed[0];
      Object.assign(ack, fields({ [F.SID]: sub.subject, [F.SUBJECT]: sub.subject, [F.LABEL]: sub.label }));
    }
    return this.reply(c, ack);
  }

  private async publish(c: Ctx, onlineOnly: boolean): Promise<Outcome> {
    if (!this.settings.publishClients) return this.nack(c, 'publishing by clients is disabled (publish.clients=false)');
    const denied = await this.authorize(c.req, 'publish', c.f, c.session.id);
    if (denied) return this.nack(c, denied);
    const to = c.f[F.TO];
    if (to && !this.settings.publishUnicast) return this.nack(c, 'unicast by clients is disabled (publish.unicast=false)');
    if (!c.f[F.SUBJECT] && !to) return this.nack(c, 'no subject provided');
    if ((c.f[F.SUBJECT] ?? '').length > this.settings.limitSubject) return this.nack(c, this.subjectTooLong());
    if ((c.f[F.PUBID] ?? '').length > MAX_PUBID) return this.nack(c, `p_pubid longer than ${MAX_PUBID} characters`);
    const data = dataEvent(c.f, c.session.id, onlineOnly);
    if (to) await this.dispatcher.unicast(data, to, onlineOnly);
    else await this.dispatcher.accept(data, onlineOnly);
    return this.reply(c, event(E.PUBLISH_ACK));
  }

  private async leave(c: Ctx): Promise<Outcome> {
    const now = Date.now();
    this.forgetLeaves(now);
    this.left.delete(c.session.id);
    this.left.set(c.session.id, now);
    await this.store.stopSession(c.session.id);
    this.known.delete(c.session.id);
    this.log.info({ session: c.session.id }, 'session left');
    return this.reply(c, event(E.LEAVE_ACK, { [F.ID]: c.session.id }));
  }

  private nack(c: Ctx, reason: string): Outcome {
    return this.reply(c, event(E.NACK, { [F.ID]: c.session.id, [F.REASON]: reason }));
  }

  private reply(c: Ctx, e: Fields, channel?: ChannelRequest): Outcome {
    return { kind: 'events', format: c.session.format, events: [e], channel };
  }
}

/**
 * The event a publish request sends: all its fields, with `p_event=data` and `p_from` the
 * sender. The receiver's `p_sid`, `p_label` and `p_seq` are set at delivery, never taken from the
 * publisher (Java let a publisher's `p_label` through). `p_time` may come from the publisher.
 */
export function dataEvent(request: Fields, from: string, onlineOnly: boolean): Fields {
  const e: Fields = Object.assign(Object.create(null), request);
  for (const k of SERVER_OWNED) delete e[k];
  e[F.EVENT] = E.DATA;
  e[F.FROM] = from;
  if (e[F.TIME] === undefined) e[F.TIME] = nowSeconds();
  if (onlineOnly) e[F.TO_ONLINE] = 'true';
  return e;
}
