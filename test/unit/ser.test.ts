import { expect } from 'chai';
import { fields, type Fields } from '../../src/protocol/event';
import { FORMAT_SPECS } from '../../src/protocol/formats';
import { modifiedUtf8 } from '../../src/protocol/formats/java-stream';
import { startJvm, type Jvm } from '../support/jvm';

/** One `ser` body: a writer's header and events, as bytes. */
function serBody(events: { e: Fields; own?: Fields }[]): Buffer {
  const w = FORMAT_SPECS.ser.create();
  return Buffer.from(w.begin() + events.map(({ e, own }) => w.event(e, own)).join('') + w.end(), 'latin1');
}

/** The fields in the order the writer puts them into the map: the event's own, then the receiver's. */
function inOrder(e: Fields, own: Fields = {}): [string, string][] {
  const shared = Object.entries(e).filter(([k]) => !(k in own));
  return [...shared, ...Object.entries(own)];
}

describe('ser format: the bytes of Java serialization', () => {
  let jvm: Jvm;
  before(function () {
    this.timeout(60000);
    jvm = startJvm();
  });
  after(() => jvm.close());

  const SPECIAL = '你好 <b>"dq"</b> \'sq\' & \\ \nline2 \u0000 nul 😀 \ud800 lone';
  const ack = fields({ p_id: 'abc', p_format: 'ser', p_event: 'join-ack', p_time: '1700000000' });
  const data = fields({ p_event: 'data', p_subject: '/t/a', p_from: 'abc', txt: SPECIAL, p_time: '1700000001' });
  // "Aa" and "BB" have the same Java hashCode: one bucket, where insertion order decides.
  const colliding = fields({ p_event: 'data', BB: 'second', Aa: 'first', AaBB: 'x', BBAa: 'y' });
  const wide = fields(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`field${i}`, `v${i}`])));
  const long = fields({ p_event: 'data', ascii: 'a'.repeat(70000), cjk: '你'.repeat(30000) });

  it('writes, byte for byte, what Java\'s ObjectOutputStream writes for the same Events in one stream', function () {
    this.timeout(30000);
    const own = fields({ p_seq: '2', p_sid: '/t', p_label: 'lbl' });
    const events = [{ e: ack }, { e: data, own }, { e: data, own: fields({ p_seq: '3', p_sid: '/t' }) }, { e: colliding }, { e: wide }, { e: fields() }, { e: long }];
    const java = jvm.write(events.map(({ e, own: o }) => inOrder(e, o)));
    const ours = serBody(events);
    expect(ours.length).to.equal(java.length);
    const at = ours.findIndex((b, i) => b !== java[i]);
    expect(at, `first different byte at ${at}: ${ours.subarray(at, at + 16).toString('hex')} vs ${java.subarray(at, at + 16).toString('hex')}`).to.equal(-1);
  });

  it('is read back by a JVM into the same fields', function () {
    this.timeout(30000);
    const got = jvm.read(serBody([{ e: data }, { e: colliding }, { e: long }]));
    expect(got).to.deep.equal([{ ...data }, { ...colliding }, { ...long }]);
  });

  it('writes Java\'s modified UTF-8: NUL as two bytes, each surrogate on its own', () => {
    expect(Buffer.from(modifiedUtf8('a\u0000é😀')).toString('hex')).to.equal('61c080c3a9eda0bdedb880');
  });

  it('is served as Java serves it: no charset, the stream header first', () => {
    expect(FORMAT_SPECS.ser.contentType('GBK')).to.equal('application/x-java-serialized-object');
    expect(serBody([]).toString('hex')).to.equal('aced0005');
  });
});
