import { randomInt, randomUUID } from 'node:crypto';
import { isStoreUnavailable } from '../errors';
import type { Store } from '../store/store';
import type { Logger } from '../logger';
import type { CoreSettings } from './settings';

const CONSONANTS = 'bcdfghjklmnpqrstvwxyz';
const VOWELS = 'aeiou';

/** A new session id as `session.id.generation` says: a UUID, or letters alternating consonant/vowel. */
export function newSessionId(s: Pick<CoreSettings, 'sessionIdGeneration' | 'sessionIdSize'>): string {
  if (s.sessionIdGeneration === 'uuid') return randomUUID();
  const codes: number[] = [];
  for (let i = 0; i < s.sessionIdSize; i++) {
    const set = i % 2 === 0 ? CONSONANTS : VOWELS;
    codes.push(set.charCodeAt(randomInt(set.length)));
  }
  // One flat string, not a chain of concatenations: every session keeps its id.
  return String.fromCharCode(...codes);
}

/**
 * Ends sessions whose lease ran out, every `agingIntervalMillis` (Java: 60 s). The store decides
 * which ran out (in a cluster it also takes Java's aging lock), this stops them.
 */
export class Aging {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly store: Store,
    private readonly settings: CoreSettings,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.pass().finally(() => (this.running = undefined));
    }, this.settings.agingIntervalMillis);
    this.timer.unref();
  }

  async pass(): Promise<void> {
    try {
      for (const rec of await this.store.expire(Date.now())) {
        this.log.info({ session: rec.id, temporary: rec.temporary }, 'session expired');
      }
    } catch (err) {
      // An outage is logged once by the store; anything else is a bug worth its stack.
      if (isStoreUnavailable(err)) this.log.debug({ reason: err.message }, 'aging pass skipped: the store is unavailable');
      else this.log.warn({ err }, 'aging pass failed; retrying at the next interval');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
