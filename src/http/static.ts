import { existsSync, promises as fs, readdirSync } from 'node:fs';
import * as path from 'node:path';
import etag from '@koa/etag';
import { send } from '@koa/send';
import type { Context, Middleware } from 'koa';
import compose from 'koa-compose';
import conditional from 'koa-conditional-get';
import { lookup } from 'mime-types';
import { ranges } from './ranges';
import { openWebapp } from './webapp';

export interface StaticOptions {
  /** The web context, e.g. `/pushlet` (`/` or `` for the root). */
  context: string;
  /** A legacy WAR's page folder, served as-is under the context; its files win over ours. */
  webappDir?: string;
  /**
   * Only the bundled clients (`<ctx>/lib/*`, `<ctx>/js/*`): no demo, no webapp, no redirects.
   * For a server mounted in another application, whose other paths are not ours.
   */
  clientsOnly?: boolean;
}

/**
 * What is served with each bundled client in front of it, so that a page includes one script
 * while the repository holds each piece of code once.
 */
const BUNDLES: Record<string, readonly string[]> = {
  'ajax-pushlet-client.js': ['xparse.js', 'pushlet-common.js', 'ajax-pushlet-client.js'],
  'ajax-pushlet-client-json.js': ['pushlet-common.js', 'ajax-pushlet-client.js', 'ajax-pushlet-client-json.js'],
  'js-pushlet-client.js': ['pushlet-common.js', 'js-pushlet-client.js'],
};

/** Bundled files change only with a server upgrade; ETags revalidate them after that. */
const BUNDLED_CACHE = 'public, max-age=604800';
/** Pages (our demo, a webapp's files) are revalidated on every use. */
const PAGE_CACHE = 'no-cache';
/** Where the demo also answers, so that a webapp's own page can have the context root. */
const DEMO = 'demo';

/**
 * Never served from a webapp folder: what a servlet container keeps private (WEB-INF, META-INF)
 * and JSP sources, which would leak server code since we cannot run them.
 */
const PRIVATE = /^(?:web-inf|meta-inf)$|\.jspx?$|\.jspf$/i;

/** A file for @koa/send: `rel` is URI-encoded, as send decodes it. */
interface File {
  kind: 'file';
  root: string;
  rel: string;
  cache: string;
  /** Our own files are UTF-8; a webapp's keep a servlet container's charset-less type. */
  ours: boolean;
}
interface Bundle {
  kind: 'bundle';
  files: string[];
}
/** A folder asked for without its slash: redirected to it, so its pages' relative links work. */
const DIRECTORY = { kind: 'directory' } as const;
type Found = File | Bundle | typeof DIRECTORY;

/** The folder holding static/, whether running from src/ or from dist/src/. */
function bundledRoot(): string {
  for (const up of ['../..', '../../..']) {
    const dir = path.resolve(__dirname, up, 'static');
    if (existsSync(path.join(dir, 'lib'))) return dir;
  }
  throw new Error(`static/ folder not found above ${__dirname}`);
}

const BUNDLED = bundledRoot();
const CLIENT_NAMES = new Set(readdirSync(path.join(BUNDLED, 'lib')).filter((n) => !n.startsWith('.')));

/** Whether `name` is a bundled client file, served at `<ctx>/lib/<name>` and `<ctx>/js/<name>`. */
export function isBundledClient(name: string): boolean {
  return CLIENT_NAMES.has(name);
}

export function normalizeContext(context: string): string {
  const c = context.replace(/\/+$/, '');
  return c === '' || c.startsWith('/') ? c : '/' + c;
}

async function isFile(file: string): Promise<boolean> {
  return (await fs.stat(file).catch(() => null))?.isFile() ?? false;
}

/**
 * The request path below the context as decoded segments, or null when it could reach
 * outside a served folder (`..`, NUL, backslashes, bad escapes).
 */
function safeSegments(rel: string): string[] | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rel);
  } catch {
    return null;
  }
  if (/[\0\\]/.test(decoded)) return null;
  const segments = decoded.split('/').slice(1);
  return segments.some((s) => s === '..') ? null : segments;
}

/** A file of `root` at `segments`, only when the resolved path stays inside `root`. */
function inside(root: string, segments: string[]): string | null {
  const file = path.resolve(root, ...segments);
  return file === root || file.startsWith(root + path.sep) ? file : null;
}

function fileOf(root: string, file: string, cache: string, ours: boolean): File {
  const rel = path.relative(root, file).split(path.sep).map(encodeURIComponent).join('/');
  return { kind: 'file', root, rel, cache, ours };
}

/** The bundled clients at `lib/*` and `js/*` below where `segments` start, and the demo when `demo`. */
function bundled(segments: string[], demo: boolean): Found | null {
  if (demo && segments.length === 1 && (segments[0] === '' || segments[0] === 'index.html')) {
    return fileOf(BUNDLED, path.join(BUNDLED, 'index.html'), PAGE_CACHE, true);
  }
  if (segments.length !== 2 || (segments[0] !== 'lib' && segments[0] !== 'js') || !isBundledClient(segments[1])) return null;
  const parts = BUNDLES[segments[1]];
  if (parts) return { kind: 'bundle', files: parts.map((p) => path.join(BUNDLED, 'lib', p)) };
  return fileOf(BUNDLED, path.join(BUNDLED, 'lib', segments[1]), BUNDLED_CACHE, true);
}

/**
 * Serves, under the context: a webapp folder as-is when set (its files first; a folder shows
 * its welcome file, as under a servlet container); the bundled clients at `lib/*` and `js/*`;
 * the demo at `demo/`, and at the context root when there is no webapp (`/` redirects there).
 * Files are streamed by @koa/send, with ETags (@koa/etag), 304s (koa-conditional-get) and byte
 * ranges. Anything else goes on to the next middleware.
 */
export function staticFiles(opts: StaticOptions): Middleware {
  const context = normalizeContext(opts.context);
  const webapp = opts.webappDir === undefined || opts.clientsOnly ? undefined : openWebapp(opts.webappDir);
  const delivery = [conditional(), ranges(), etag()];

  async function fromWebapp(segments: string[]): Promise<Found | null> {
    if (webapp === undefined || segments.some((s) => s.startsWith('.') || PRIVATE.test(s))) return null;
    const file = inside(webapp.root, segments);
    if (file === null) return null;
    const stat = await fs.stat(file).catch(() => null);
    if (stat?.isFile()) return fileOf(webapp.root, file, PAGE_CACHE, false);
    if (!stat?.isDirectory()) return null;
    if (segments[segments.length - 1] !== '') return DIRECTORY;
    for (const name of webapp.welcome) {
      const parts = name.split('/');
      if (parts.some((s) => s.startsWith('.') || PRIVATE.test(s))) continue;
      const welcome = inside(file, parts);
      if (welcome !== null && (await isFile(welcome))) return fileOf(webapp.root, welcome, PAGE_CACHE, false);
    }
    return null;
  }

  function ours(segments: string[]): Found | null {
    if (opts.clientsOnly) return bundled(segments, false);
    if (segments[0] === DEMO) return segments.length === 1 ? DIRECTORY : bundled(segments.slice(1), true);
    return bundled(segments, webapp === undefined);
  }

  async function deliver(ctx: Context, found: File | Bundle): Promise<void> {
    ctx.set('X-Content-Type-Options', 'nosniff');
    if (found.kind === 'bundle') {
      ctx.set('Cache-Control', BUNDLED_CACHE);
      ctx.type = path.extname(found.files[0]);
      const bodies = await Promise.all(found.files.map((f) => fs.readFile(f)));
      // A newline after each part keeps a part without a final newline from joining the next.
      ctx.body = Buffer.concat(bodies.flatMap((b) => [b, Buffer.from('\n')]));
      return;
    }
    ctx.set('Cache-Control', found.cache);
    // An old page's own <meta> charset decides, as under a servlet container.
    if (!found.ours) ctx.set('Content-Type', lookup(found.rel) || 'application/octet-stream');
    await send(ctx, found.rel, { root: found.root, index: false, format: false, gzip: false, brotli: false });
  }

  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const p = ctx.path;
    const query = ctx.querystring ? '?' + ctx.querystring : '';
    if (!opts.clientsOnly && context !== '' && (p === '/' || p === context)) {
      ctx.redirect(context + '/' + query);
      return;
    }
    if (!p.startsWith(context + '/')) return next();
    const segments = safeSegments(p.slice(context.length));
    if (segments === null) {
      ctx.status = 400;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = 'Bad path';
      return;
    }
    const found = (await fromWebapp(segments)) ?? ours(segments);
    if (found === null) return next();
    if (found.kind === 'directory') {
      ctx.redirect(p + '/' + query);
      return;
    }
    await compose([...delivery, (c: Context) => deliver(c, found)])(ctx);
  };
}
