import { expect } from 'chai';
import vm from 'node:vm';
import { fields, type Fields } from '../../src/protocol/event';
import { FORMAT_SPECS } from '../../src/protocol/formats';
import { parseXmlEvents } from '../support/client';

const SPECIAL = '你好 <b>bold</b> "dq" \'sq\' & amp \\ backslash\nline2 </x> end\u2028\r\t\u0001';

function body(format: keyof typeof FORMAT_SPECS, events: Fields[], own?: Fields): string {
  const w = FORMAT_SPECS[format].create();
  return w.begin() + events.map((e) => w.event(e, own)).join('') + w.end();
}

/** Runs a `js` page's scripts with a `parent.push` that records its calls. */
function runJsPage(page: string): { pushes: Record<string, string>[]; url?: string; wait?: number } {
  const pushes: Record<string, string>[] = [];
  let wait: number | undefined;
  const sandbox: Record<string, unknown> = {
    parent: { push: (...a: string[]) => { const e: Record<string, string> = {}; for (let i = 0; i < a.length; i += 2) e[a[i]] = a[i + 1]; pushes.push(e); } },
    document: { location: {} },
    setTimeout: (_f: string, ms: number) => { wait = ms; },
  };
  vm.createContext(sandbox);
  const scripts = [...page.matchAll(/<script language="JavaScript">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
  for (const s of scripts) vm.runInContext(s, sandbox);
  return { pushes, url: sandbox.url as string | undefined, wait };
}

describe('formats', () => {
  const e = fields({ p_event: 'data', txt: SPECIAL, p_subject: '/t/a' });
  const own = fields({ p_seq: '3', p_sid: '/t/a' });

  it('xml-strict: <pushlet> document, Xparse entities, &apos; and raw backslash/newline (DIFF)', () => {
    const out = body('xml-strict', [e], own);
    expect(out.startsWith('<pushlet><event ')).to.equal(true);
    expect(out.endsWith(' /></pushlet>')).to.equal(true);
    expect(out).to.include('&apos;sq&apos;').and.include('\\ backslash\nline2').and.include('&lt;/x&gt;');
    expect(out).to.not.include('&#039;');
    expect(parseXmlEvents(out)).to.deep.equal([{ ...e, ...own }]);
    expect(FORMAT_SPECS['xml-strict'].contentType('UTF-8')).to.equal('text/xml;charset=UTF-8');
  });

  it('xml: stream of events, \\ \" escaped with a backslash and > as &gt; (DIFF)', () => {
    const out = body('xml', [e, e], own);
    expect(out.startsWith('<event ')).to.equal(true);
    expect(out).to.include('\\"dq\\"').and.include('\\\\ backslash').and.include('<b&gt;');
    // The Java client reads up to the first '>' that closes the element.
    expect(out.indexOf('>')).to.equal(out.indexOf(' />') + 2);
    expect(parseXmlEvents(out)).to.deep.equal([{ ...e, ...own }, { ...e, ...own }]);
    expect(FORMAT_SPECS.xml.contentType('UTF-8')).to.equal('text/plain;charset=UTF-8');
  });

  it('js: an HTML page of parent.push calls that give back every value exactly (DIFF escaping)', () => {
    const out = body('js', [e], own);
    expect(out).to.match(/^<html><head><meta http-equiv="Pragma" content="no-cache">/);
    expect(out).to.not.include('</x>').and.not.include('<b>');
    const { pushes } = runJsPage(out);
    expect(pushes).to.deep.equal([{ ...e, ...own }]);
  });

  it('js: a refresh event sets the url and a timer, and ends the page', () => {
    const out = body('js', [fields({ p_event: 'refresh', p_wait: '2500', p_url: "/p/pushlet.srv?p_id=a'b&p_event=refresh" })]);
    expect(out.endsWith('</script></body></html>')).to.equal(true);
    const page = runJsPage(out);
    expect(page.pushes).to.deep.equal([]);
    expect(page.url).to.equal("/p/pushlet.srv?p_id=a'b&p_event=refresh");
    expect(page.wait).to.equal(2500);
  });

  it('json: Java spacing, JSON.parse gives the values back, no raw < in an HTML response', () => {
    const out = body('json', [fields({ a: '1', b: '2' }), e], own);
    expect(out.startsWith('[{ "a": "1" ,"b": "2" ,"p_seq": "3" ,"p_sid": "\\/t\\/a"  },{ ')).to.equal(true);
    expect(out).to.not.match(/<|\u2028/);
    expect(JSON.parse(out)).to.deep.equal([{ a: '1', b: '2', ...own }, { ...e, ...own }]);
    expect(FORMAT_SPECS.json.contentType('UTF-8')).to.equal('text/html; charset=UTF-8');
  });

  it('writes one shared event for many receivers, each with its own p_seq, p_sid and p_label', () => {
    const shared = fields({ p_event: 'data', k: 'v' });
    for (const format of ['xml-strict', 'xml', 'js', 'json'] as const) {
      const a = body(format, [shared], fields({ p_seq: '1', p_sid: '/a', p_label: 'A' }));
      const b = body(format, [shared], fields({ p_seq: '7', p_sid: '/b' }));
      const plain = body(format, [shared]);
      expect(a, format).to.include('/a').and.include('A').and.not.include('/b');
      expect(b, format).to.include('7').and.include('/b').and.not.include('"A"').and.not.include('/a');
      expect(plain, format).to.not.include('p_seq');
    }
  });

  it('own fields replace the event\'s fields of the same name', () => {
    const out = body('json', [fields({ p_seq: '99', p_sid: 'zz', k: 'v' })], fields({ p_seq: '1', p_sid: '/a' }));
    expect(JSON.parse(out)).to.deep.equal([{ k: 'v', p_seq: '1', p_sid: '/a' }]);
  });
});
