import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** Which peers may tell the client's address in X-Forwarded-For (`proxy.trust`). */
export interface ProxyTrust {
  /** Whether `address` is a proxy whose X-Forwarded-For is believed. */
  trusts(address: string): boolean;
  /** `true`: every peer is trusted and the left-most forwarded address is taken (as Koa's `ctx.ip`). */
  readonly all: boolean;
}

function plain(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/**
 * `proxy.trust` as configured: `false` (none), `true` (any peer), or the proxies' addresses and
 * CIDR ranges (`127.0.0.1,10.0.0.0/8`). With a list, the client is the right-most forwarded
 * address that is not one of those proxies, so a client cannot pick its own address by sending
 * the header itself.
 */
export function proxyTrust(values: readonly string[]): ProxyTrust {
  if (values.length === 0 || (values.length === 1 && values[0] === 'false')) return { all: false, trusts: () => false };
  if (values.length === 1 && values[0] === 'true') return { all: true, trusts: () => true };
  const list = new BlockList();
  for (const v of values) {
    const [ip, bits] = v.split('/');
    const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(ip, family);
    else list.addSubnet(ip, Number(bits), family);
  }
  return {
    all: false,
    trusts: (address) => {
      const ip = plain(address);
      const family = isIP(ip);
      return family !== 0 && list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

/** The client's address: the peer's, or the one trusted proxies forwarded. */
export function clientAddress(req: IncomingMessage, trust: ProxyTrust): string {
  const peer = plain(req.socket.remoteAddress ?? '');
  const header = trust.trusts(peer) ? req.headers['x-forwarded-for'] : undefined;
  const forwarded = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (forwarded.length === 0) return peer;
  if (trust.all) return plain(forwarded[0]);
  for (let i = forwarded.length - 1; i >= 0; i--) {
    if (!trust.trusts(forwarded[i])) return plain(forwarded[i]);
  }
  return plain(forwarded[0]);
}
