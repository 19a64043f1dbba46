/**
 * The errors a request can end with, as Koa models them: `status` is the HTTP status, and
 * `expose` says the message may be shown to the client. Anything else that reaches the HTTP layer
 * is a bug: a 500 with a generic body, its stack logged.
 */
export class PushletError extends Error {
  constructor(message: string, readonly status: number, readonly expose = true) {
    super(message);
    this.name = new.target.name;
  }
}

/** The store cannot serve right now (Redis is away): 503, expected, logged once per outage, not per request. */
export class StoreUnavailableError extends PushletError {
  readonly code = 'STORE_UNAVAILABLE';
  constructor(message: string) {
    super(message, 503);
  }
}

export function isStoreUnavailable(err: unknown): err is StoreUnavailableError {
  return err instanceof StoreUnavailableError;
}
