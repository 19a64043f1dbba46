/**
 * The parts of the Java Object Serialization Stream Protocol (the format of
 * `java.io.ObjectOutputStream`, Java Object Serialization Specification chapter 6) that the
 * `ser` format needs: the stream header, class descriptors, strings, objects and back references.
 * Numbers are big-endian, as `DataOutput` writes them.
 */

const STREAM_MAGIC = 0xaced;
const STREAM_VERSION = 5;
const TC_NULL = 0x70;
const TC_REFERENCE = 0x71;
const TC_CLASSDESC = 0x72;
const TC_OBJECT = 0x73;
const TC_STRING = 0x74;
const TC_BLOCKDATA = 0x77;
const TC_ENDBLOCKDATA = 0x78;
const TC_LONGSTRING = 0x7c;
/** The first handle: every class descriptor, object and string written takes the next one. */
const BASE_HANDLE = 0x7e0000;

export const SC_WRITE_METHOD = 0x01;
export const SC_SERIALIZABLE = 0x02;

/** A serializable field: its type code (`I`, `F`, `L`...) and, for an object field, its type (`Ljava/util/Map;`). */
interface JavaField {
  code: string;
  name: string;
  type?: string;
}

/** A class as its descriptor shows it. Its superclass is not serializable (`Object`, `AbstractMap`). */
export interface JavaClass {
  name: string;
  suid: bigint;
  flags: number;
  /** In the order Java writes them: primitive fields first, each group by name. */
  fields: readonly JavaField[];
}

/**
 * Java's "modified UTF-8" (`DataOutput.writeUTF`): U+0000 as two bytes, and each UTF-16 code unit
 * on its own, so a character beyond U+FFFF is two three-byte surrogates.
 */
export function modifiedUtf8(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 1 && c <= 0x7f) out.push(c);
    else if (c <= 0x7ff) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return out;
}

/**
 * One `ObjectOutputStream`: its handle table lives as long as the stream, so a class or a
 * shared string written once is written as a reference afterwards. `take()` hands over the bytes
 * written so far.
 */
export class JavaObjectStream {
  private bytes: number[] = [];
  private nextHandle = BASE_HANDLE;
  private readonly classes = new Map<JavaClass, number>();
  private readonly shared = new Map<string, number>();

  /** What the constructor of ObjectOutputStream writes. */
  header(): this {
    return this.u16(STREAM_MAGIC).u16(STREAM_VERSION);
  }

  /** The bytes written since the last call, one character per byte. */
  take(): string {
    const s = Buffer.from(this.bytes).toString('latin1');
    this.bytes = [];
    return s;
  }

  /** `TC_OBJECT`, its class, and a handle for the object; the class's data follows. */
  object(cls: JavaClass): this {
    this.u8(TC_OBJECT).classDesc(cls);
    this.nextHandle++;
    return this;
  }

  /**
   * A String object. `share`: one Java String instance used again and again (a constant or an
   * interned name), so written once and referred to afterwards; otherwise a new object each time.
   */
  string(s: string, share = false): this {
    const known = share ? this.shared.get(s) : undefined;
    if (known !== undefined) return this.reference(known);
    if (share) this.shared.set(s, this.nextHandle);
    this.nextHandle++;
    const utf = modifiedUtf8(s);
    if (utf.length <= 0xffff) this.u8(TC_STRING).u16(utf.length);
    else this.u8(TC_LONGSTRING).u32(0).u32(utf.length);
    return this.append(utf);
  }

  /**
   * Data a class's own `writeObject` writes with `writeInt` and the like, as one block of at
   * most 255 bytes (longer blocks have another tag, which nothing here needs).
   */
  block(write: (s: JavaObjectStream) => void): this {
    const outside = this.bytes;
    this.bytes = [];
    write(this);
    const data = this.bytes;
    this.bytes = outside;
    return this.u8(TC_BLOCKDATA).u8(data.length).append(data);
  }

  /** Ends the data of a class with a `writeObject` method. */
  endBlock(): this {
    return this.u8(TC_ENDBLOCKDATA);
  }

  u8(v: number): this {
    this.bytes.push(v & 0xff);
    return this;
  }

  u16(v: number): this {
    return this.u8(v >> 8).u8(v);
  }

  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff);
  }

  i64(v: bigint): this {
    const u = BigInt.asUintN(64, v);
    return this.u32(Number(u >> 32n)).u32(Number(u & 0xffffffffn));
  }

  f32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeFloatBE(v);
    return this.append(b);
  }

  /** Appends byte by byte: a long value's bytes are too many for one push(...spread). */
  private append(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.bytes.push(bytes[i]);
    return this;
  }

  private reference(handle: number): this {
    return this.u8(TC_REFERENCE).u32(handle);
  }

  private classDesc(cls: JavaClass): this {
    const known = this.classes.get(cls);
    if (known !== undefined) return this.reference(known);
    // The descriptor takes its handle before the strings inside it, as in ObjectOutputStream.
    this.classes.set(cls, this.nextHandle++);
    this.u8(TC_CLASSDESC).utf(cls.name).i64(cls.suid).u8(cls.flags).u16(cls.fields.length);
    for (const f of cls.fields) {
      this.u8(f.code.charCodeAt(0)).utf(f.name);
      if (f.type !== undefined) this.string(f.type, true);
    }
    // No class annotation; the superclass is not serializable.
    return this.endBlock().u8(TC_NULL);
  }

  /** `DataOutput.writeUTF`: a two-byte length, then modified UTF-8 (names of classes and fields). */
  private utf(s: string): this {
    const utf = modifiedUtf8(s);
    return this.u16(utf.length).append(utf);
  }
}
