/**
 * Values kept only until the current turn of the event loop ends: what one step of a request
 * read, for its next step, taken with no I/O between (Node runs microtasks before the next I/O
 * callback), so the value cannot have gone stale meanwhile.
 */
export class TurnCache<V> {
  private readonly values = new Map<string, V>();

  set(key: string, value: V): void {
    if (this.values.size === 0) setImmediate(() => this.values.clear());
    this.values.set(key, value);
  }

  /** The value of `key`, which is then forgotten. */
  take(key: string): V | undefined {
    const value = this.values.get(key);
    this.values.delete(key);
    return value;
  }
}
