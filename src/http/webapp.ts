import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ConfigError } from '../config/config';

/** An old web application's page folder (an exploded WAR), checked once at start. */
export interface Webapp {
  /** The folder, absolute. */
  root: string;
  /** What a folder request serves, first found wins: `web.xml`'s welcome files, else a container's defaults. */
  welcome: string[];
}

/** Tomcat's defaults when `web.xml` lists none; `index.jsp` is left out since JSPs cannot run here. */
const DEFAULT_WELCOME = ['index.html', 'index.htm'];

/**
 * Opens the `webapp` folder: it must be a readable folder, and a `WEB-INF/web.xml` in it must be
 * well-formed (a servlet container would not deploy it either). Each failure is a `ConfigError`
 * naming the folder, so the start stops with one line instead of serving 404s.
 */
export function openWebapp(dir: string): Webapp {
  const root = path.resolve(dir);
  const refuse = (what: string) => new ConfigError(`webapp: ${root} ${what}; give the folder of the old web application's pages`);
  try {
    if (!statSync(root).isDirectory()) throw refuse('is not a folder');
    accessSync(root, constants.R_OK | constants.X_OK);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw refuse(code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`);
  }
  return { root, welcome: welcomeFiles(path.join(root, 'WEB-INF', 'web.xml')) ?? DEFAULT_WELCOME };
}

/** The `<welcome-file>` entries of a `web.xml`, in order; undefined when there is no file or no list. */
function welcomeFiles(webXml: string): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(webXml, 'utf8');
  } catch {
    return undefined;
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new ConfigError(`webapp: ${webXml} is not well-formed XML (line ${valid.err.line}: ${valid.err.msg})`);
  // Namespace prefixes (`<j2ee:welcome-file>`) are dropped; values stay strings (`1.html`).
  const parser = new XMLParser({ removeNSPrefix: true, parseTagValue: false, isArray: (name) => name === 'welcome-file-list' || name === 'welcome-file' });
  const doc = parser.parse(text) as { 'web-app'?: { 'welcome-file-list'?: { 'welcome-file'?: unknown[] }[] } };
  const files = (doc['web-app']?.['welcome-file-list'] ?? []).flatMap((l) => l['welcome-file'] ?? []);
  const names = files.filter((f): f is string => typeof f === 'string' && f !== '').map((f) => f.replace(/^\/+/, ''));
  return names.length ? names : undefined;
}
