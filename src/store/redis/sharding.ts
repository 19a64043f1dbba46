/**
 * Client-side sharding as Java nodes do it (Jedis `ShardedJedis`), so that a key lands on the
 * same server whichever node, Java or ours, writes it.
 */

const MASK64 = (1n << 64n) - 1n;
const M = 0xc6a4a7935bd1e995n;
const R = 47n;
/** The seed Jedis's `MurmurHash.hash(byte[])` uses. */
const SEED = 0x1234abcdn;
/** Virtual nodes per server of weight 1. */
const NODES_PER_SHARD = 160;

function mul(a: bigint, b: bigint): bigint {
  return (a * b) & MASK64;
}

/** Eight bytes at `at` as an unsigned little-endian 64-bit number (missing bytes are 0). */
function readLE(bytes: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = Math.min(7, bytes.length - at - 1); i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
  return v;
}

/** MurmurHash64A of the UTF-8 bytes of `key`, as the signed 64-bit value Java sees. */
export function murmur64a(key: string): bigint {
  const bytes = Buffer.from(key, 'utf8');
  let h = (SEED ^ mul(BigInt(bytes.length), M)) & MASK64;
  const whole = bytes.length - (bytes.length % 8);
  for (let at = 0; at < whole; at += 8) {
    let k = mul(readLE(bytes, at), M);
    k ^= k >> R;
    k = mul(k, M);
    h = mul(h ^ k, M);
  }
  if (whole < bytes.length) h = mul(h ^ readLE(bytes, whole), M);
  h ^= h >> R;
  h = mul(h, M);
  h ^= h >> R;
  return BigInt.asIntN(64, h);
}

/**
 * The Jedis ring: 160 virtual nodes `SHARD-<i>-NODE-<n>` per server, sorted by signed hash; a key
 * goes to the first node at or after its hash, wrapping to the first node.
 */
export class ShardRing {
  private readonly points: bigint[];
  private readonly owners: number[];

  constructor(shardCount: number) {
    // A later server's node replaces an earlier one on a hash collision, as a TreeMap put does.
    const ring = new Map<bigint, number>();
    for (let i = 0; i < shardCount; i++) {
      for (let n = 0; n < NODES_PER_SHARD; n++) ring.set(murmur64a(`SHARD-${i}-NODE-${n}`), i);
    }
    const sorted = [...ring.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.points = sorted.map((e) => e[0]);
    this.owners = sorted.map((e) => e[1]);
  }

  /** Index in the server list of the server that holds `key`. */
  shardOf(key: string): number {
    const h = murmur64a(key);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === this.points.length ? 0 : lo];
  }
}
