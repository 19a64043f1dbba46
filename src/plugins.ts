/** Modules named in the configuration: the authorisation hook and event sources. */
import { resolve as resolvePath } from 'node:path';
import { ConfigError } from './config/config';
import type { AuthHook } from './core/auth';
import { BUILTIN_SOURCES } from './core/builtin-sources';
import type { EventSource } from './core/sources';

/** Loads an auth hook module: its `authorize` export, or the module itself when it is a function. */
export function loadAuthHook(path: string): AuthHook {
  let mod: { authorize?: AuthHook; default?: AuthHook } | AuthHook;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(resolvePath(path));
  } catch (err) {
    // One line for the start to stop with; Node's message runs on with the require stack.
    throw new ConfigError(`auth.module: ${resolvePath(path)} does not load (${(err as Error).message.split('\n')[0]}); give the path of a hook module such as examples/auth-signed-token.js`);
  }
  const hook = typeof mod === 'function' ? mod : (mod.authorize ?? mod.default);
  if (typeof hook !== 'function') throw new ConfigError(`auth.module: ${path} exports no authorize(request) function`);
  return hook;
}

/** A built-in source by name (ping, ticker, temperature), or a module exporting one. */
export function loadSource(nameOrPath: string): EventSource {
  const builtin = BUILTIN_SOURCES[nameOrPath];
  if (builtin) return builtin();
  let mod: { createSource?: () => EventSource; default?: EventSource } & Partial<EventSource>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(resolvePath(nameOrPath));
  } catch (err) {
    throw new ConfigError(`sources.list: '${nameOrPath}' is neither a built-in source (${Object.keys(BUILTIN_SOURCES).join(', ')}) nor a module that loads: ${(err as Error).message}`);
  }
  const src = mod.createSource ? mod.createSource() : (mod.default ?? mod);
  if (typeof src?.start !== 'function' || typeof src.stop !== 'function' || !src.name) {
    throw new ConfigError(`sources.list: ${nameOrPath} must export createSource() returning { name, start(ctx), stop() }`);
  }
  return src as EventSource;
}
