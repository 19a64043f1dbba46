/**
 * A real JVM for the `ser` format's tests: Java programs written here, compiled with javac into
 * a temporary folder at test time, fed bytes on stdin.
 *
 * `Event` below has the serial form of the Java Pushlet server's `nl.justobjects.pushlet.core.Event`
 * (Redis fork): the same class name, the one field `protected Map attributes`, and the same
 * non-private constructors and methods. It declares no serialVersionUID, like Java's, so the
 * JVM computes one from exactly those members; a stream whose class descriptor carries another
 * is refused with InvalidClassException. The bodies are only what the tests need.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const PROTOCOL_JAVA = `package nl.justobjects.pushlet.core;
/** Only its name counts in Event's serialVersionUID. */
public interface Protocol {}
`;

const EVENT_JAVA = `package nl.justobjects.pushlet.core;
import java.io.Serializable;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

public class Event implements Protocol, Serializable {
  protected Map attributes = new HashMap(3);

  public Event(String type) { this(type, null); }
  public Event(String type, Map fields) { if (fields != null) attributes.putAll(fields); setField("p_event", type); }
  public Event(Map fields) { attributes.putAll(fields); }
  public static Event createDataEvent(String subject) { return createDataEvent(subject, null); }
  public static Event createDataEvent(String subject, Map fields) { Event e = new Event("data", fields); e.setField("p_subject", subject); return e; }
  public String getEventType() { return getField("p_event"); }
  public String getSubject() { return getField("p_subject"); }
  public void setField(String name, String value) { attributes.put(name, value); }
  public void setField(String name, int value) { setField(name, String.valueOf(value)); }
  public void setField(String name, long value) { setField(name, String.valueOf(value)); }
  public String getField(String name) { return (String) attributes.get(name); }
  public String getField(String name, String otherwise) { String v = getField(name); return v == null ? otherwise : v; }
  public Iterator getFieldNames() { return attributes.keySet().iterator(); }
  public String toString() { return attributes.toString(); }
  public String toQueryString() { throw new UnsupportedOperationException(); }
  public String toXML(boolean strict) { throw new UnsupportedOperationException(); }
  public String toXML() { return toXML(false); }
  public String toJson() { throw new UnsupportedOperationException(); }
  public Object clone() { return new Event(attributes); }
  private void setAttrs(Map fields) { attributes.putAll(fields); }
}
`;

/** Reads Events from stdin until the stream ends; prints each as one line of ASCII JSON, and its map's class. */
const READER_JAVA = `import java.io.*;
import java.util.*;
import nl.justobjects.pushlet.core.Event;

public class SerReader {
  static String quote(String s) {
    StringBuilder b = new StringBuilder("\\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\\\') b.append('\\\\').append(c);
      else if (c < 0x20 || c > 0x7e) b.append(String.format("\\\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  public static void main(String[] args) throws Exception {
    ObjectInputStream in = new ObjectInputStream(new BufferedInputStream(System.in));
    for (;;) {
      Object o;
      try { o = in.readObject(); } catch (EOFException end) { return; }
      Event e = (Event) o;
      StringBuilder line = new StringBuilder("{");
      for (Iterator it = e.getFieldNames(); it.hasNext();) {
        String k = (String) it.next();
        line.append(line.length() > 1 ? "," : "").append(quote(k)).append(':').append(quote(e.getField(k)));
      }
      System.out.println(line.append('}'));
    }
  }
}
`;

/**
 * Writes Events with a real ObjectOutputStream, as a Java server fills them: one line of stdin per
 * event, its fields in order as name:value pairs joined by commas, each string as 4 hex digits
 * per UTF-16 code unit. Names are interned (Java's are constants, or interned by Jackson), values new.
 */
const WRITER_JAVA = `import java.io.*;
import java.util.*;
import nl.justobjects.pushlet.core.Event;

public class SerWriter {
  static String unhex(String h) {
    char[] cs = new char[h.length() / 4];
    for (int i = 0; i < cs.length; i++) cs[i] = (char) Integer.parseInt(h.substring(4 * i, 4 * i + 4), 16);
    return new String(cs);
  }

  public static void main(String[] args) throws Exception {
    BufferedReader lines = new BufferedReader(new InputStreamReader(System.in, "US-ASCII"));
    ObjectOutputStream out = new ObjectOutputStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out)));
    for (String line; (line = lines.readLine()) != null;) {
      Event e = new Event(new HashMap());
      if (!line.isEmpty()) {
        for (String pair : line.split(",")) {
          String[] kv = pair.split(":", -1);
          e.setField(unhex(kv[0]).intern(), unhex(kv[1]));
        }
      }
      out.writeObject(e);
      out.flush();
    }
    out.close();
  }
}
`;

export interface Jvm {
  /** Events read from a `ser` body, fields in the order the Java HashMap holds them. */
  read(body: Buffer): Record<string, string>[];
  /** What Java's ObjectOutputStream writes for these events, filled field by field in this order. */
  write(events: [string, string][][]): Buffer;
  close(): void;
}

const hex = (s: string) => [...Array(s.length).keys()].map((i) => s.charCodeAt(i).toString(16).padStart(4, '0')).join('');

/** Compiles the programs above (a second or two); `close` removes them. */
export function startJvm(): Jvm {
  if (!existsSync('/usr/bin/javac')) throw new Error('the ser tests need a JDK: apt-get install -y default-jdk-headless');
  const dir = mkdtempSync(path.join(tmpdir(), 'pushlet-jvm-'));
  const pkg = path.join(dir, 'nl', 'justobjects', 'pushlet', 'core');
  mkdirSync(pkg, { recursive: true });
  const files = { [path.join(pkg, 'Protocol.java')]: PROTOCOL_JAVA, [path.join(pkg, 'Event.java')]: EVENT_JAVA, [path.join(dir, 'SerReader.java')]: READER_JAVA, [path.join(dir, 'SerWriter.java')]: WRITER_JAVA };
  for (const [f, text] of Object.entries(files)) writeFileSync(f, text);
  execFileSync('javac', ['-nowarn', '-encoding', 'UTF-8', '-d', dir, ...Object.keys(files)], { stdio: ['ignore', 'ignore', 'pipe'] });
  const java = (main: string, input: Buffer | string) => execFileSync('java', ['-cp', dir, main], { input, maxBuffer: 64 << 20 });
  return {
    read: (body) => java('SerReader', body).toString('ascii').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>),
    write: (events) => java('SerWriter', events.map((e) => e.map(([k, v]) => `${hex(k)}:${hex(v)}`).join(',') + '\n').join('')),
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}
