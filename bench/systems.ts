import type { Client } from './client';

/** The protocol endpoint under the default context. */
export const SRV = '/pushlet/pushlet.srv';
/** The one subject every benchmark subscriber listens on. */
export const SUBJECT = '/bench';

/**
 * What a scenario asks of a server, so one scenario drives both the pushlet server and the bare
 * baseline. Each method that takes a client makes its first request on it, so the connection
 * is open before a measurement starts (see client.ts `openEach`). Paths are relative to the
 * client's base URL.
 */
export interface System {
  kind: 'pushlet' | 'bare';
  /**
   * Whether every subscriber is meant to get every event. The bare long poll has no queue: an
   * event published while a client is between two requests is not for it.
   */
  queues: boolean;
  /** A new session's control request (hb). */
  controlPath(c: Client): Promise<string>;
  /** A new session subscribed to SUBJECT: the request of one of its pull cycles. */
  pullPath(c: Client): Promise<string>;
  /** Opens a stream subscribed to SUBJECT. */
  streamPath: string;
  /** A publisher on SUBJECT: the path of its publish request, with a query more fields may follow. */
  publisher(c: Client): Promise<string>;
}

function query(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** Creates a session with `fields` (join or join-listen, xml format); returns its id. */
async function join(c: Client, fields: Record<string, string>): Promise<string> {
  const body = await c.get(`${SRV}?${query({ p_format: 'xml', ...fields })}`);
  const m = /\bp_id="([^"]+)"/.exec(body);
  if (!m) throw new Error(`no p_id in join reply: ${body.slice(0, 120)}`);
  return m[1];
}

export const pushlet: System = {
  kind: 'pushlet',
  queues: true,
  async controlPath(c) {
    return `${SRV}?${query({ p_event: 'hb', p_id: await join(c, { p_event: 'join' }) })}`;
  },
  async pullPath(c) {
    const id = await join(c, { p_event: 'join-listen', p_mode: 'pull', p_subject: SUBJECT });
    return `${SRV}?${query({ p_event: 'refresh', p_id: id })}`;
  },
  streamPath: `${SRV}?${query({ p_event: 'join-listen', p_format: 'xml', p_mode: 'stream', p_subject: SUBJECT })}`,
  async publisher(c) {
    const id = await join(c, { p_event: 'join' });
    return `${SRV}?${query({ p_event: 'publish', p_id: id, p_subject: SUBJECT })}`;
  },
};

/** The bare server has no sessions: one plain request opens the connection, as a join would. */
const opened = (path: string) => async (c: Client) => {
  await c.get('/');
  return path;
};

export const bare: System = {
  kind: 'bare',
  queues: false,
  controlPath: opened('/hb'),
  pullPath: opened('/wait'),
  streamPath: '/stream',
  publisher: opened('/publish?to=all'),
};
