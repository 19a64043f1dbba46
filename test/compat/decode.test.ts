import { expect } from 'chai';
import fc from 'fast-check';
import { BodyError, DECODERS, FORMAT_NAMES, decodeJs, decodeJson, decodeXml, decodeXmlStrict } from '../../compat/decode';
import { FORMAT_SPECS } from '../../src/protocol/formats';
import { SPECIAL, transcript } from './transcripts';

const plain = (e: Record<string, string>) => ({ ...e });

describe('compat decoders on the Java transcripts', () => {
  for (const format of FORMAT_NAMES) {
    const decode = DECODERS[format].decode;

    describe(format, () => {
      it('reads the join-ack', () => {
        const t = transcript(`${format}/02_join_with_client_pid.txt`);
        expect(t.headers['content-type'].split(';')[0]).to.equal(DECODERS[format].mediaType);
        const d = decode(t.body);
        expect(d.events).to.have.length(1);
        const { p_time, ...rest } = d.events[0];
        expect(p_time).to.match(/^17957\d{5}$/);
        expect(rest).to.deep.equal({ p_format: format, p_id: `persist-${format}`, p_event: 'join-ack' });
        expect(d.complete).to.equal(true);
      });

      it('reads a listen-ack and the refresh event with its url and wait', () => {
        const d = decode(transcript(`${format}/03_listen_pull_subject.txt`).body);
        expect(d.events.map((e) => e.p_event)).to.deep.equal(['listen-ack', 'refresh']);
        const id = d.events[0].p_id;
        expect(d.events[0]).to.include({ p_sid: '/t/a', p_mode: 'pull', p_format: format });
        expect(d.events[1].p_url).to.equal(`/pushlet/pushlet.srv?p_id=${id}&p_event=refresh`);
        expect(Number(d.events[1].p_wait)).to.be.within(2000, 6000);
      });

      it('gives back the published special text exactly, from Java raw or escaped values', () => {
        const d = decode(transcript(`${format}/08_refresh_gets_event.txt`).body);
        expect(d.events.map((e) => e.p_event)).to.deep.equal(['refresh-ack', 'data', 'refresh']);
        expect(d.events[1]).to.include({ txt: SPECIAL, k: 'v', ts: '1234567890123', p_seq: '1', p_sid: '/t/a' });
      });

      it('reads the events of a stream cut off by the client', () => {
        const d = decode(transcript(`${format}/35_join_listen_stream_3s.txt`).body);
        expect(d.events.map((e) => [e.p_event, e.p_seq])).to.deep.equal([['join-listen-ack', undefined], ['hb', '1'], ['data', '2']]);
        expect(d.events[2].txt).to.equal(SPECIAL);
      });

      it('keeps the order of several events (Java: newest first)', () => {
        const d = decode(transcript(`${format}/21_refresh_order_of_3.txt`).body);
        expect(d.events.filter((e) => e.p_event === 'data').map((e) => e.n)).to.deep.equal(['3', '2', '1']);
      });

      it('reads a quote inside a POSTed value', () => {
        const d = decode(transcript(`${format}/19_refresh_after_post.txt`).body);
        expect(d.events[1]).to.include({ esc: 'a"b', k: 'v2' });
        expect(d.events[2]).to.include({ k: 'v' });
      });

      it('finds no event in the broken answer to an unknown p_event', () => {
        expect(decode(transcript(`${format}/33_unknown_event_type.txt`).body).events).to.deep.equal([]);
      });
    });
  }

  it('marks a cut-off xml-strict document and JSON array as incomplete', () => {
    expect(decodeXmlStrict(transcript('xml-strict/35_join_listen_stream_3s.txt').body).complete).to.equal(false);
    expect(decodeJson(transcript('json/35_join_listen_stream_3s.txt').body).complete).to.equal(false);
    expect(decodeXmlStrict(transcript('xml-strict/33_unknown_event_type.txt').body).complete).to.equal(false);
    expect(decodeJson(transcript('json/33_unknown_event_type.txt').body).complete).to.equal(false);
  });

  it('reads the label Java leaked to the wrong receiver (E03g) and POSTed entities left raw (E11g)', () => {
    expect(decodeXml(transcript('extras/E03g_refresh_L2.txt').body).events[1]).to.include({ p_label: 'LABEL-ONE', k: 'lab' });
    const posted = decodeJson(transcript('extras/E11g_refresh_after_posts.txt').body).events;
    expect(posted[1]).to.include({ bs: 'a\\b', q: 'x"y' });
    expect(posted[2]).to.include({ amp: 'a&amp;b', zh: '你好', sp: 'x y  z' });
  });

  it('reads the default js page of a join (E01)', () => {
    const d = decodeJs(transcript('extras/E01_join_default_format.txt').body);
    expect(d.events).to.have.length(1);
    expect(d.events[0]).to.include({ p_event: 'join-ack', p_format: 'js' });
  });
});

describe('compat decoders on our escapes', () => {
  it('decodes the DIFF escapes of xml-strict, xml and js', () => {
    expect(decodeXmlStrict('<pushlet><event a="&apos;x\\y&#10;" /></pushlet>').events[0].a).to.equal("'x\\y\n");
    expect(decodeXml('<event a="\\"x\\\\y&gt;z" />').events[0].a).to.equal('"x\\y>z');
    const js = '<script language="JavaScript">parent.push(\'a\', "\\x3cb\\u003e\\"\\\'\\\\\\n\\u2028");</script>';
    expect(decodeJs(js).events[0].a).to.equal('<b>"\'\\\n\u2028');
  });

  it('turns the refresh script into a refresh event', () => {
    const page = "<script language=\"JavaScript\">url='/p/pushlet.srv?p_id=x\\x26p_event=refresh';\n setTimeout(\"refresh()\", 2500);\n</script></body></html>";
    expect(decodeJs(page).events.map(plain)).to.deep.equal([{ p_event: 'refresh', p_url: '/p/pushlet.srv?p_id=x&p_event=refresh', p_wait: '2500' }]);
  });

  it('rejects bodies it cannot read', () => {
    expect(() => decodeJson('{"a":"b"}')).to.throw(BodyError);
    expect(() => decodeJson('[{"a":1}]')).to.throw(BodyError, /not a string/);
    expect(() => decodeJson('[{"a":"1"} {"b":"2"}]')).to.throw(BodyError, /not valid JSON/);
    expect(() => decodeXmlStrict('<pushlet><event a=b /></pushlet>')).to.throw(BodyError);
    expect(() => decodeJs('<script>parent.push(\'a\');</script>')).to.throw(BodyError, /odd number/);
  });

  for (const format of FORMAT_NAMES) {
    it(`reads back whatever our ${format} writer writes`, () => {
      const name = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/);
      // The xml writer leaves `&` alone, so a value holding the text "&gt;" cannot come back.
      const value = fc.string({ unit: 'binary' }).filter((v) => format !== 'xml' || !v.includes('&gt;'));
      fc.assert(
        fc.property(fc.array(fc.dictionary(name, value, { minKeys: 1 }), { maxLength: 4 }), (events) => {
          const w = FORMAT_SPECS[format].create();
          const body = w.begin() + events.map((e) => w.event(Object.assign(Object.create(null), e))).join('') + w.end();
          expect(DECODERS[format].decode(body).events.map(plain)).to.deep.equal(events);
        }),
      );
    });
  }
});
