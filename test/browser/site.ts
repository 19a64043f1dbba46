import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { createServer, type PushletServer } from '../../src/index';

/** Short server timeouts so that pull cycles and held requests are quick in a browser. */
export const BROWSER_TIMEOUTS: Record<string, string | number | boolean> = {
  'log.level': 0,
  'sources.activate': false,
  'queue.read.timeout.millis': 1000,
  'pull.refresh.wait.min.millis': 100,
  'pull.refresh.wait.max.millis': 200,
};

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface Site {
  server: PushletServer;
  /** e.g. `http://127.0.0.1:40123` */
  base: string;
  /** The protocol endpoint. */
  srv: string;
  webapp: string;
  close(): Promise<void>;
}

/** Starts a server whose webapp folder holds `pages` (file name -> content). */
export async function startSite(pages: Record<string, string>, overrides: Record<string, string | number | boolean> = {}): Promise<Site> {
  const webapp = mkdtempSync(path.join(tmpdir(), 'pushlet-webapp-'));
  for (const [name, content] of Object.entries(pages)) writeFileSync(path.join(webapp, name), content);
  // No pages, no webapp: the demo keeps the context root (a webapp's root is its own).
  const server = createServer({ env: {}, overrides: { ...BROWSER_TIMEOUTS, ...(Object.keys(pages).length ? { webapp } : {}), ...overrides } });
  const base = await server.listen(0, '127.0.0.1');
  return {
    server,
    base,
    srv: `${base}${server.config.context}/pushlet.srv`,
    webapp,
    async close() {
      await server.close();
      rmSync(webapp, { recursive: true, force: true });
    },
  };
}
