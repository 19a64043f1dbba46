import iconv from 'iconv-lite';

/** Canonical name of a charset we can decode and encode, or null when iconv-lite lacks it. */
export function normalizeCharset(name: string): string | null {
  const n = name.trim().toLowerCase();
  if (n === 'utf-8' || n === 'utf8') return 'utf-8';
  return iconv.encodingExists(n) ? n : null;
}

function isUtf8(charset: string): boolean {
  return charset === 'utf-8';
}

export function decodeBytes(buf: Buffer, charset: string): string {
  return isUtf8(charset) ? buf.toString('utf8') : iconv.decode(buf, charset);
}

/** What to hand to a socket write: UTF-8 text as it is (Node encodes it while writing), else bytes. */
export function wireChunk(s: string, charset: string): string | Buffer {
  return isUtf8(charset) ? s : iconv.encode(s, charset);
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Decodes one form/query component held in `buf[start, end)`: `+` is a space, `%XX` a byte of
 * `charset`, `%uXXXX` (JavaScript `escape()`) one UTF-16 code unit. A `%` that starts no valid
 * escape stays literal, as browsers send it.
 */
export function decodeComponent(buf: Buffer, start: number, end: number, charset: string): string {
  let plain = true;
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c === 0x25 || c === 0x2b || c > 0x7f) { plain = false; break; }
  }
  if (plain) return buf.toString('latin1', start, end);

  let out = '';
  const bytes: number[] = [];
  const flush = () => {
    if (bytes.length) { out += decodeBytes(Buffer.from(bytes), charset); bytes.length = 0; }
  };
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c === 0x2b) { bytes.push(0x20); continue; }
    if (c === 0x25) {
      if ((buf[i + 1] === 0x75 || buf[i + 1] === 0x55) && i + 5 < end) {
        const h = [2, 3, 4, 5].map((d) => hexVal(buf[i + d]));
        if (h.every((x) => x >= 0)) {
          flush();
          out += String.fromCharCode((h[0] << 12) | (h[1] << 8) | (h[2] << 4) | h[3]);
          i += 5;
          continue;
        }
      }
      if (i + 2 < end) {
        const hi = hexVal(buf[i + 1]);
        const lo = hexVal(buf[i + 2]);
        if (hi >= 0 && lo >= 0) { bytes.push((hi << 4) | lo); i += 2; continue; }
      }
    }
    bytes.push(c);
  }
  flush();
  return out;
}
