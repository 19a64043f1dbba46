import { expect } from 'chai';
import iconv from 'iconv-lite';
import { http, parseXmlEvents, TestClient } from '../support/client';
import { startServer, type Running } from '../support/server';

const pct = (buf: Buffer) => [...buf].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join('');

/** docs/PROTOCOL.md section 8: request and response charsets. */
describe('charsets (section 8)', () => {
  describe('UTF-8 server', () => {
    let s: Running;
    before(async () => { s = await startServer(); });
    after(async () => { await s.server.close(); });

    it('round-trips UTF-8 percent escapes and escape() %uXXXX', async () => {
      const c = await new TestClient(s.srv).joinPull('/cs');
      await http(`${s.srv}?p_event=publish&p_id=${c.id}&p_subject=/cs&a=${encodeURIComponent('你好 €')}&b=%u4E2D%u6587`);
      const [d] = await c.refresh();
      expect(d).to.include({ a: '你好 €', b: '中文' });
    });

    it('reads a POSTed XML event in its Content-Type charset', async () => {
      const c = await new TestClient(s.srv).joinPull('/cs2');
      const body = iconv.encode(`<event p_event="publish" p_id="${c.id}" p_subject="/cs2" zh="繁體中文"/>`, 'big5');
      const r = await http(s.srv, { method: 'POST', body, headers: { 'content-type': 'text/xml; charset=Big5' } });
      expect(r.status).to.equal(200);
      expect((await c.refresh())[0].zh).to.equal('繁體中文');
    });

    it('reads a form POST (DIFF), its fields over the query', async () => {
      const c = await new TestClient(s.srv).joinPull('/cs3');
      const long = 'x'.repeat(20000);
      const r = await http(`${s.srv}?p_event=publish&p_id=${c.id}&k=query`, {
        method: 'POST',
        body: `p_subject=/cs3&k=form&long=${long}&zh=${encodeURIComponent('你好')}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(parseXmlEvents(r.text)[0].p_event).to.equal('publish-ack');
      const [d] = await c.refresh();
      expect(d).to.include({ k: 'form', zh: '你好', long });
    });
  });

  describe('GBK server (request.charset=GBK, response.charset=GBK)', () => {
    let s: Running;
    before(async () => { s = await startServer({ 'request.charset': 'GBK', 'response.charset': 'GBK' }); });
    after(async () => { await s.server.close(); });

    it('decodes GBK bytes from a GBK page and answers in GBK, header and bytes', async () => {
      const c = await new TestClient(s.srv).joinPull('/gbk');
      await http(`${s.srv}?p_event=publish&p_id=${c.id}&p_subject=/gbk&t=${pct(iconv.encode('你好，世界', 'gbk'))}`);
      const r = await http(`${s.srv}?p_event=refresh&p_id=${c.id}`);
      expect(r.headers['content-type']).to.equal('text/plain;charset=GBK');
      const text = iconv.decode(r.body, 'gbk');
      expect(parseXmlEvents(text).find((e) => e.p_event === 'data')?.t).to.equal('你好，世界');
      expect(r.body.includes(iconv.encode('你好', 'gbk'))).to.equal(true);
    });
  });

  it('refuses to start with an unknown charset, naming the setting', () => {
    return startServer({ 'request.charset': 'klingon' }).then(
      () => expect.fail('started'),
      (err: Error) => expect(err.message).to.match(/request\.charset: unsupported charset, got 'klingon' \(from option\)/),
    );
  });
});
