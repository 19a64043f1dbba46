import type { Fields } from '../event';
import { JavaObjectStream, SC_SERIALIZABLE, SC_WRITE_METHOD, type JavaClass } from './java-stream';
import { OWN_NAMES, type FormatSpec } from './writer';

/**
 * Java's `nl.justobjects.pushlet.core.Event` as the Redis fork's server serializes it: one
 * field, `protected Map attributes`, always a `java.util.HashMap` of String to String. The class
 * declares no serialVersionUID, so Java computes it from the class's members; this is the
 * fork's (the original Pushlets 2.0 Event, without `toJson()`, has another).
 */
const EVENT: JavaClass = {
  name: 'nl.justobjects.pushlet.core.Event',
  suid: 7955126954873661873n,
  flags: SC_SERIALIZABLE,
  fields: [{ code: 'L', name: 'attributes', type: 'Ljava/util/Map;' }],
};

/** `java.util.HashMap`: two fields, then its own writeObject's data (bucket count, size, entries). */
const HASH_MAP: JavaClass = {
  name: 'java.util.HashMap',
  suid: 362498820763181265n,
  flags: SC_SERIALIZABLE | SC_WRITE_METHOD,
  fields: [{ code: 'F', name: 'loadFactor' }, { code: 'I', name: 'threshold' }],
};

const LOAD_FACTOR = 0.75;

/** `String.hashCode()`, spread as HashMap spreads it. */
function javaHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h ^ (h >>> 16);
}

/**
 * The bucket count of Event's `new HashMap(3)` after `n` puts (4, doubled whenever the size
 * passes three quarters of it), and the entries in the order Java's HashMap walks them: by bucket,
 * and in order of insertion within one. Java's server puts the fields one by one as here;
 * readers ignore both, but so the bytes are those of a Java Event. (Java also turns a bucket of
 * nine colliding names into a tree, reordering it; field names do not collide so by chance.)
 */
function hashMapLayout(entries: [string, string][]): { buckets: number; entries: [string, string][] } {
  let buckets = 4;
  while (entries.length > buckets * LOAD_FACTOR) buckets *= 2;
  const bucket = (k: string) => javaHash(k) & (buckets - 1);
  // Array.prototype.sort is stable: equal buckets keep the order of insertion.
  return { buckets, entries: entries.map((e) => [bucket(e[0]), e] as const).sort((a, b) => a[0] - b[0]).map(([, e]) => e) };
}

/** The fields of `e`, then the receiver's own (p_seq, p_sid, p_label) in place of any of `e`'s. */
function entriesOf(e: Fields, own: Fields | undefined): [string, string][] {
  if (own === undefined) return Object.entries(e);
  const out = Object.entries(e).filter(([k]) => !(OWN_NAMES as readonly string[]).includes(k));
  for (const k of OWN_NAMES) {
    const v = own[k] ?? e[k];
    if (v !== undefined) out.push([k, v]);
  }
  return out;
}

/** One Event object: as `ObjectOutputStream.writeObject(event)` writes it. */
function writeEvent(out: JavaObjectStream, e: Fields, own: Fields | undefined): void {
  const map = hashMapLayout(entriesOf(e, own));
  // An empty Event's map has no table yet: its threshold still holds the initial capacity.
  const threshold = map.entries.length === 0 ? map.buckets : map.buckets * LOAD_FACTOR;
  out.object(EVENT).object(HASH_MAP).f32(LOAD_FACTOR).u32(threshold);
  out.block((b) => b.u32(map.buckets).u32(map.entries.length));
  // Names are Java constants or interned (Jackson interns them) and so one String each; values are new Strings.
  for (const [k, v] of map.entries) out.string(k, true).string(v);
  out.endBlock();
}

/**
 * `ser`: serialized Java objects, read with `ObjectInputStream` by Java clients. As Java's
 * SerializedAdapter: one ObjectOutputStream per response (one header, classes and shared names
 * written once and referred to afterwards), one `writeObject` per event.
 */
export const ser: FormatSpec = {
  contentType: () => 'application/x-java-serialized-object',
  bytes: true,
  create: () => {
    const out = new JavaObjectStream();
    return {
      begin: () => out.header().take(),
      event(e, own) {
        writeEvent(out, e, own);
        return out.take();
      },
      end: () => '',
    };
  },
};
