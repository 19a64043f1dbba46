import { expect } from 'chai';
import iconv from 'iconv-lite';
import { DecodeError, decodeRequest, parseXmlEvent } from '../../src/protocol/decode';
import { fields } from '../../src/protocol/event';

const get = (query: string, charset = 'utf-8') => decodeRequest({ method: 'GET', query }, charset);
const post = (body: string | Buffer, contentType?: string, query = '', charset = 'utf-8') =>
  decodeRequest({ method: 'POST', query, contentType, body: Buffer.isBuffer(body) ? body : Buffer.from(body) }, charset);

describe('decode: query strings', () => {
  it('turns every parameter into a field, the first value of a repeated name winning', () => {
    expect({ ...get('p_event=publish&k=1&k=2&empty=&flag') }).to.deep.equal({ p_event: 'publish', k: '1', empty: '', flag: '' });
  });

  it('decodes + as space and UTF-8 percent escapes', () => {
    expect(get('t=a+b%20c%E4%BD%A0%e5%a5%bd').t).to.equal('a b c你好');
  });

  it('decodes percent-escaped bytes in the configured request charset (GBK)', () => {
    const gbk = [...iconv.encode('你好', 'gbk')].map((b) => '%' + b.toString(16).toUpperCase()).join('');
    expect(get(`t=${gbk}`, 'gbk').t).to.equal('你好');
  });

  it('decodes escape() output %uXXXX as a UTF-16 code unit, mixed with byte escapes', () => {
    expect(get('t=%u4E2D%u6587-%41%uD83D%uDE00').t).to.equal('中文-A😀');
  });

  it('keeps a % that starts no valid escape literal', () => {
    expect(get('t=100%25+%zz%4').t).to.equal('100% %zz%4');
  });

  it('replaces invalid UTF-8 bytes instead of failing', () => {
    expect(get('t=%FF%FEok').t).to.equal('\uFFFD\uFFFDok');
  });

  it('treats an empty p_event as missing', () => {
    expect(get('p_event=&p_id=x')).to.not.have.property('p_event');
  });

  it('keeps __proto__ and constructor as plain fields', () => {
    const f = get('__proto__=x&constructor=y');
    expect(f.__proto__).to.equal('x');
    expect(f.constructor).to.equal('y');
    expect(Object.getPrototypeOf(f)).to.equal(null);
  });
});

describe('decode: POSTed XML events', () => {
  it('takes attributes as fields and ignores the tag name', () => {
    const f = post('<foo p_event="publish" p_subject="/a" k="v"/>');
    expect({ ...f }).to.deep.equal({ p_event: 'publish', p_subject: '/a', k: 'v' });
  });

  it('unescapes a backslash-escaped character and leaves entities as written (as Java)', () => {
    const f = post('<event p_event="publish" bs="a\\\\b" q="x\\"y" amp="a&amp;b"/>');
    expect(f.bs).to.equal('a\\b');
    expect(f.q).to.equal('x"y');
    expect(f.amp).to.equal('a&amp;b');
  });

  it('accepts single-quoted values, a prolog, whitespace and an open-close pair', () => {
    const f = post(`<?xml version="1.0"?>\n  <event p_event='hb' p_id = "x" ></event>`);
    expect({ ...f }).to.deep.equal({ p_event: 'hb', p_id: 'x' });
  });

  it('reads only the element\'s fields, not the query\'s (as Java)', () => {
    const f = post('<event p_event="publish" k="body"/>', 'text/xml', 'k=query&q=1');
    expect({ ...f }).to.deep.equal({ p_event: 'publish', k: 'body' });
  });

  it('reads a body starting with < as XML whatever its Content-Type (curl sends XML as a form)', () => {
    const f = post('  <event p_event="publish" k="v"/>', 'application/x-www-form-urlencoded');
    expect({ ...f }).to.deep.equal({ p_event: 'publish', k: 'v' });
  });

  it('decodes the body in the Content-Type charset', () => {
    const f = post(iconv.encode('<event p_event="publish" zh="中文"/>', 'gbk'), 'text/xml; charset=GBK');
    expect(f.zh).to.equal('中文');
  });

  for (const [what, body] of [
    ['no element at all (Java never answers)', 'hello'],
    ['an unclosed element', '<event p_event="publish"'],
    ['an unclosed value', '<event p_event="publish/>'],
    ['an unquoted value', '<event p_event=publish/>'],
    ['an attribute without value', '<event p_event/>'],
    ['no element name', '< p_event="x"/>'],
  ]) {
    it(`rejects ${what} with a DecodeError`, () => {
      expect(() => post(body)).to.throw(DecodeError, /Malformed XML event/);
    });
  }

  it('rejects an unknown charset in Content-Type', () => {
    expect(() => post('<event/>', 'text/xml; charset=klingon')).to.throw(DecodeError, /Unsupported charset: klingon/);
  });

  it('parses a huge value in linear time', () => {
    const big = 'x'.repeat(500_000);
    expect(parseXmlEvent(`<event v="${big}"/>`, fields()).v).to.have.length(500_000);
  });
});

describe('decode: form-encoded POST (DIFF)', () => {
  it('merges form fields over the query string', () => {
    const f = post('p_event=publish&k=body&t=%E4%BD%A0', 'application/x-www-form-urlencoded', 'k=query&p_id=x');
    expect({ ...f }).to.deep.equal({ k: 'body', p_id: 'x', p_event: 'publish', t: '你' });
  });

  it('uses the Content-Type charset for form bytes', () => {
    const gbk = [...iconv.encode('好', 'gbk')].map((b) => '%' + b.toString(16)).join('');
    const f = post(`t=${gbk}`, 'application/x-www-form-urlencoded; charset=gbk');
    expect(f.t).to.equal('好');
  });
});
