import { createServer, type Server, type ServerResponse } from 'node:http';

/** Every bare answer is exactly this many bytes, the size of a small pushlet response. */
export const BARE_BODY_BYTES = 100;

/** A 100-byte `xml`-like event line carrying the publisher's send time, so one parser reads both servers. */
export function bareEvent(bt: string): Buffer {
  const head = `<event p_event="data" bt="${bt}" pad="`;
  const tail = '" />\n';
  return Buffer.from(head + 'x'.repeat(Math.max(0, BARE_BODY_BYTES - head.length - tail.length)) + tail);
}

const FIXED = bareEvent('0');

/**
 * The baseline: plain Node `http` doing the least a server can for the same load.
 * - any path: the fixed 100-byte body at once (control requests, pull cycles);
 * - `/wait`: held until the next `/publish` (a bare long poll: fan-out, held requests);
 * - `/stream`: a chunked response that gets one 100-byte chunk per `/publish` (stream mode);
 * - `/publish?bt=T`: answers every held `/wait` and writes to every `/stream`, then answers itself.
 */
export function createBareServer(): Server {
  let waiting: ServerResponse[] = [];
  const streams = new Set<ServerResponse>();
  const fixed = (res: ServerResponse, body: Buffer) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
    res.end(body);
  };
  return createServer((req, res) => {
    const url = req.url ?? '/';
    if (url.startsWith('/wait')) {
      waiting.push(res);
    } else if (url.startsWith('/stream')) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write(FIXED);
      streams.add(res);
      res.on('close', () => streams.delete(res));
    } else if (url.startsWith('/publish')) {
      const body = bareEvent(new URLSearchParams(url.slice(url.indexOf('?') + 1)).get('bt') ?? '0');
      const held = waiting;
      waiting = [];
      for (const w of held) if (!w.destroyed) fixed(w, body);
      for (const s of streams) s.write(body);
      fixed(res, FIXED);
    } else {
      fixed(res, FIXED);
    }
  });
}
