import { createHash } from 'node:crypto';
import { existsSync, promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { Context, Middleware } from 'koa';

export interface StaticOptions {
  /** The web context, e.g. `/pushlet` (`/` or `` for the root). */
  context: string;
  /** A legacy WAR's page folder, served as-is under the context; its files win over ours. */
  webappDir?: string;
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

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.htm': 'text/html',
  '.js': 'application/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.xml': 'text/xml',
  '.txt': 'text/plain',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.svg': 'image/svg+xml',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.swf': 'application/x-shockwave-flash',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
};

/** Bundled files change only with a server upgrade; ETags revalidate them after that. */
const BUNDLED_CACHE = 'public, max-age=604800';
/** Pages (our demo, a webapp's files) are revalidated on every use. */
const PAGE_CACHE = 'no-cache';

/**
 * Never served from a webapp folder: what a servlet container keeps private (WEB-INF, META-INF)
 * and JSP sources, which would leak server code since we cannot run them.
 */
const PRIVATE = /^(?:web-inf|meta-inf)$|\.jspx?$|\.jspf$/i;

interface Resource {
  files: string[];
  stats: Stats[];
  cache: string;
  /** Our own files are UTF-8; a webapp's text files keep the container's charset-less type. */
  charset: boolean;
}

/** The folder holding static/, whether running from src/ or from dist/src/. */
function bundledRoot(): string {
  for (const up of ['../..', '../../..']) {
    const dir = path.resolve(__dirname, up, 'static');
    if (existsSync(path.join(dir, 'lib'))) return dir;
  }
  throw new Error(`static/ folder not found above ${__dirname}`);
}

function normalizeContext(context: string): string {
  const c = context.replace(/\/+$/, '');
  return c === '' || c.startsWith('/') ? c : '/' + c;
}

async function statFile(file: string): Promise<Stats | null> {
  try {
    return await fs.stat(file);
  } catch {
    return null;
  }
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

/**
 * Serves the bundled clients at `<ctx>/lib/*` and `<ctx>/js/*`, the demo at `<ctx>/` (and `/`
 * redirects there), and, when set, a webapp folder as-is under `<ctx>/`, its files first.
 * Anything else goes on to the next middleware.
 */
export function staticFiles(opts: StaticOptions): Middleware {
  const context = normalizeContext(opts.context);
  const bundled = bundledRoot();
  const webapp = opts.webappDir === undefined ? undefined : path.resolve(opts.webappDir);

  async function fromWebapp(segments: string[]): Promise<Resource | 'directory' | null> {
    if (webapp === undefined || segments.some((s) => s.startsWith('.') || PRIVATE.test(s))) return null;
    let file = inside(webapp, segments);
    if (file === null) return null;
    let stat = await statFile(file);
    if (stat?.isDirectory()) {
      if (segments[segments.length - 1] !== '') return 'directory';
      file = path.join(file, 'index.html');
      stat = await statFile(file);
    }
    return stat?.isFile() ? { files: [file], stats: [stat], cache: PAGE_CACHE, charset: false } : null;
  }

  async function ours(segments: string[]): Promise<Resource | null> {
    if (segments.length === 1 && (segments[0] === '' || segments[0] === 'index.html')) {
      return resource([path.join(bundled, 'index.html')], PAGE_CACHE);
    }
    if (segments.length !== 2 || (segments[0] !== 'lib' && segments[0] !== 'js') || segments[1] === '') return null;
    const name = segments[1];
    if (name.startsWith('.')) return null;
    const parts = BUNDLES[name] ?? [name];
    return resource(parts.map((p) => path.join(bundled, 'lib', p)), BUNDLED_CACHE);
  }

  async function resource(files: string[], cache: string): Promise<Resource | null> {
    const stats = await Promise.all(files.map(statFile));
    if (stats.some((s) => !s?.isFile())) return null;
    return { files, stats: stats as Stats[], cache, charset: true };
  }

  async function send(ctx: Context, r: Resource): Promise<void> {
    const type = TYPES[path.extname(r.files[r.files.length - 1]).toLowerCase()] ?? 'application/octet-stream';
    const textual = /^text\/|javascript|json|xml|svg/.test(type);
    ctx.status = 200;
    ctx.set('Content-Type', r.charset && textual ? `${type}; charset=utf-8` : type);
    ctx.set('Cache-Control', r.cache);
    ctx.set('X-Content-Type-Options', 'nosniff');
    const tag = createHash('sha1');
    r.stats.forEach((s, i) => tag.update(`${r.files[i]}:${s.size}:${s.mtimeMs};`));
    ctx.etag = tag.digest('base64url');
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    const bodies = await Promise.all(r.files.map((f) => fs.readFile(f)));
    // A newline between bundled parts keeps a part without a final newline from joining the next.
    ctx.body = bodies.length === 1 ? bodies[0] : Buffer.concat(bodies.flatMap((b) => [b, Buffer.from('\n')]));
  }

  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const p = ctx.path;
    if (context !== '' && (p === '/' || p === context)) {
      ctx.redirect(context + '/' + (ctx.querystring ? '?' + ctx.querystring : ''));
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
    const mine = await fromWebapp(segments);
    if (mine === 'directory') {
      ctx.redirect(p + '/' + (ctx.querystring ? '?' + ctx.querystring : ''));
      return;
    }
    const found = mine ?? (await ours(segments));
    if (found === null) return next();
    await send(ctx, found);
  };
}
