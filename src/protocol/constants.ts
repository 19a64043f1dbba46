/** Names of the Pushlet protocol: request/response event types, field names, formats, modes. */

export const E = {
  JOIN: 'join',
  JOIN_ACK: 'join-ack',
  JOIN_LISTEN: 'join-listen',
  JOIN_LISTEN_ACK: 'join-listen-ack',
  LISTEN: 'listen',
  LISTEN_ACK: 'listen-ack',
  REFRESH: 'refresh',
  REFRESH_ACK: 'refresh-ack',
  SUBSCRIBE: 'subscribe',
  SUBSCRIBE_ACK: 'subscribe-ack',
  UNSUBSCRIBE: 'unsubscribe',
  UNSUBSCRIBE_ACK: 'unsubscribe-ack',
  PUBLISH: 'publish',
  PUBLISH_TO_ONLINE: 'publish_to_online',
  PUBLISH_ACK: 'publish-ack',
  HEARTBEAT: 'hb',
  HEARTBEAT_ACK: 'hb-ack',
  LEAVE: 'leave',
  LEAVE_ACK: 'leave-ack',
  DATA: 'data',
  ABORT: 'abort',
  NACK: 'nack',
} as const;

export const F = {
  EVENT: 'p_event',
  ID: 'p_id',
  FORMAT: 'p_format',
  MODE: 'p_mode',
  SUBJECT: 'p_subject',
  SID: 'p_sid',
  LABEL: 'p_label',
  FROM: 'p_from',
  TO: 'p_to',
  SEQ: 'p_seq',
  TIME: 'p_time',
  WAIT: 'p_wait',
  URL: 'p_url',
  REASON: 'p_reason',
  /**
   * A publisher's id for one publish (ours, not Java's): a retry with the same id is queued only
   * for receivers that did not get it yet (docs/GUARANTEES.md).
   */
  PUBID: 'p_pubid',
  /** Marks an event published with publish_to_online (as Java does). */
  TO_ONLINE: 'publish_to_online',
} as const;

export const FORMATS = ['js', 'xml', 'xml-strict', 'json', 'ser'] as const;
export type Format = (typeof FORMATS)[number];
export const DEFAULT_FORMAT: Format = 'js';

export const MODES = ['stream', 'pull', 'poll'] as const;
export type Mode = (typeof MODES)[number];
export const DEFAULT_MODE: Mode = 'stream';

export function isFormat(s: string): s is Format {
  return (FORMATS as readonly string[]).includes(s);
}

export function isMode(s: string): s is Mode {
  return (MODES as readonly string[]).includes(s);
}
