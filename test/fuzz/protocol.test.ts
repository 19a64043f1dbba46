import { expect } from 'chai';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import { DecodeError, decodeRequest, type DecodeLimits } from '../../src/protocol/decode';
import { fields as makeFields, type Fields } from '../../src/protocol/event';
import { FORMAT_SPECS } from '../../src/protocol/formats';

/**
 * Property tests over decoding and every format writer (issue 6): no input crashes or hangs the
 * decoder, and every encoded event reads back to the same fields in the decoder each legacy client
 * uses. Case counts add up to well over 10,000 per run.
 */
const RUNS = Number(process.env.PUSHLET_FUZZ_RUNS ?? 2000);
const LIMITS: DecodeLimits = { fields: 100, nameLength: 256, valueLength: 65536 };
const ROOT = join(__dirname, '..', '..', '..');

/** The bundled Xparse (static/lib/xparse.js), the parser the legacy AJAX client reads xml-strict with. */
function loadXparse(): (text: string) => { contents: { type: string; name?: string; attributes?: Record<string, string>; contents?: unknown[] }[] } {
  const sandbox: Record<string, unknown> = {};
  sandbox.window = sandbox;
  vm.createContext(sandbox);
  vm.runInContext(readFileSync(join(ROOT, 'static', 'lib', 'xparse.js'), 'utf8'), sandbox);
  return sandbox.Xparse as ReturnType<typeof loadXparse>;
}

/** One sandbox for all js pages: its parent.push records into `pushes`. */
let pushes: Record<string, string>[] = [];
const jsSandbox = vm.createContext({
  parent: { push: (...a: string[]) => { const e: Record<string, string> = Object.create(null); for (let i = 0; i < a.length; i += 2) e[a[i]] = a[i + 1]; pushes.push({ ...e }); } },
});

/** Reads a js-format page as the browser does: runs its scripts with a recording parent.push. */
function readJsPage(page: string): Record<string, string>[] {
  pushes = [];
  for (const m of page.matchAll(/<script language="JavaScript">([\s\S]*?)<\/script>/g)) vm.runInContext(m[1], jsSandbox);
  // Nothing outside the scripts may be markup a browser would act on.
  const outside = page.replace(/<script language="JavaScript">[\s\S]*?<\/script>/g, '');
  expect(outside.replace(/<\/?(html|head|body)>|<meta [^>]*>/g, '')).to.not.match(/</);
  return pushes;
}

/** Reads the `xml` stream as the Java PushletClient does: an element ends at the first `>`. */
function readXmlStream(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const el of text.split('/>').slice(0, -1)) {
    expect(el.indexOf('>')).to.equal(-1);
    const e: Record<string, string> = Object.create(null);
    const attr = /\s([^\s=]+)="((?:[^"\\]|\\.)*)"/g;
    for (let m = attr.exec(el); m; m = attr.exec(el)) e[m[1]] = m[2].replace(/\\(.)/gs, '$1').replace(/&gt;/g, '>');
    out.push({ ...e });
  }
  return out;
}

/** Names include the ones a careless decoder mishandles (`__proto__`, `constructor`). */
const NAME = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty', 'p_event'), fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }).filter((s) => !/[\s\u0000-\u001f\u007f"'<>&=/\\]/.test(s)));
const VALUE = fc.string({ unit: 'binary', maxLength: 40 });
const FIELDS = fc.dictionary(NAME, VALUE, { minKeys: 1, maxKeys: 8 }).map((o) => makeFields(o));

describe('fuzz: decoding never crashes', () => {
  it('any query string decodes or is refused with a DecodeError', () => {
    const chunk = fc.oneof(fc.string({ unit: 'binary-ascii', maxLength: 20 }), fc.constantFrom('%', '%u', '%E4%BD', '%uD83D', '+', '&', '=', '%zz', '%00'));
    fc.assert(fc.property(fc.array(chunk, { maxLength: 20 }), fc.constantFrom('utf-8', 'gbk', 'iso-8859-1', 'big5'), (parts, charset) => {
      try {
        const f = decodeRequest({ method: 'GET', query: parts.join('') }, charset, LIMITS);
        for (const k in f) expect(f[k]).to.be.a('string');
      } catch (err) {
        expect(err).to.be.instanceOf(DecodeError);
      }
    }), { numRuns: RUNS });
  });

  it('any POST body with any content type decodes or is refused with a DecodeError', () => {
    const type = fc.constantFrom(undefined, 'text/xml', 'application/x-www-form-urlencoded', 'text/xml; charset=gbk', 'text/xml; charset=nope', 'application/x-www-form-urlencoded; charset=utf-16le');
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(`<event ${s}`)),
      fc.array(fc.constantFrom('<', '>', '/', '"', "'", '\\', '=', ' ', 'a', '<?', '?>', '<!--', '-->', '&amp;'), { maxLength: 60 }).map((a) => Buffer.from(a.join(''))),
    );
    fc.assert(fc.property(body, type, (b, t) => {
      try {
        decodeRequest({ method: 'POST', query: '', contentType: t, body: b }, 'utf-8', LIMITS);
      } catch (err) {
        expect(err).to.be.instanceOf(DecodeError);
      }
    }), { numRuns: RUNS });
  });

  it('a POSTed event written with backslash escapes reads back to its fields', () => {
    fc.assert(fc.property(FIELDS, (f) => {
      const attrs = Object.entries(f).map(([k, v]) => ` ${k}="${v.replace(/[\\"]/g, (c) => '\\' + c)}"`).join('');
      const got = decodeRequest({ method: 'POST', query: '', body: Buffer.from(`<event${attrs}/>`) }, 'utf-8', LIMITS);
      const want = { ...f };
      if (want.p_event === '') delete want.p_event; // an empty p_event counts as none
      expect({ ...got }).to.deep.equal(want);
    }), { numRuns: RUNS });
  });
});

describe('fuzz: every format reads back to the same fields in its client\'s decoder', () => {
  const encode = (format: keyof typeof FORMAT_SPECS, events: Fields[]) => {
    const w = FORMAT_SPECS[format].create();
    return w.begin() + events.map((e) => w.event(e)).join('') + w.end();
  };
  const EVENTS = fc.array(FIELDS, { minLength: 1, maxLength: 3 });
  const plain = (events: Fields[]) => events.map((e) => ({ ...e }));

  it('xml-strict through the bundled Xparse', () => {
    const Xparse = loadXparse();
    fc.assert(fc.property(EVENTS, (events) => {
      const root = Xparse(encode('xml-strict', events));
      const pushlet = root.contents.find((c) => c.type === 'element')!;
      const got = (pushlet.contents as { type: string; attributes: Record<string, string> }[]).filter((c) => c.type === 'element').map((c) => ({ ...c.attributes }));
      expect(got).to.deep.equal(plain(events));
    }), { numRuns: RUNS });
  });

  it('js through a browser-like run of its scripts, with no markup outside them', () => {
    fc.assert(fc.property(EVENTS, (events) => {
      expect(readJsPage(encode('js', events))).to.deep.equal(plain(events));
    }), { numRuns: RUNS });
  });

  it('json through JSON.parse', () => {
    fc.assert(fc.property(EVENTS, (events) => {
      const text = encode('json', events);
      expect(text).to.not.match(/[<>]/);
      expect(JSON.parse(text)).to.deep.equal(plain(events));
    }), { numRuns: RUNS });
  });

  it('xml through the Java client\'s way of reading (up to the first >, backslash escapes)', () => {
    // A value holding the text "&gt;" itself reads back as ">": the Java client's format has no
    // escape for "&", so that one spelling stays ambiguous (noted in docs/DIFFERENCES.md).
    const events = fc.array(FIELDS.filter((f) => Object.values(f).every((v) => !v.includes('&gt;'))), { minLength: 1, maxLength: 3 });
    fc.assert(fc.property(events, (evs) => {
      expect(readXmlStream(encode('xml', evs))).to.deep.equal(plain(evs));
    }), { numRuns: RUNS });
  });
});
