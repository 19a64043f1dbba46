/** The library: create a server, or use its parts (stores, errors, types). */
export { createServer, PushletServer, storeSettings, type ServerOptions, type AttachOptions } from './server';
export { ConfigError, loadConfig, type ConfigSources } from './config/config';
export type { Config } from './settings';
export { PushletError, StoreUnavailableError } from './errors';
export { SILENT, type Logger } from './logger';
export type {
  Store, SessionStore, SubscriptionStore, QueueStore, LeaseStore, StoreLifecycle, StoreSettings, SessionPatch,
  SessionRec, NewSession, Subscription, Subscriber, Delivery, EnqueueResult, StoreStats,
} from './store/store';
export { MemoryStore } from './store/memory';
export { RedisStore, RedisUnavailableError, type RedisStoreOptions } from './store/redis';
export type { Fields, Queued } from './protocol/event';
export type { EventSource, SourceContext } from './core/sources';
export type { AuthHook, AuthRequest, AuthDecision } from './core/auth';
