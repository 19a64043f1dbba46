import { expect } from 'chai';
import { Metrics } from '../../src/http/metrics';

/** The sample lines of `name` in Prometheus text, as `line -> value`. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith(name)) {
      const at = line.lastIndexOf(' ');
      out.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
  }
  return out;
}

describe('request latency histogram', () => {
  it('counts requests per p_event and status in cumulative buckets, with sum and count', async () => {
    const m = new Metrics();
    m.request('hb', 200, 0.0004);
    m.request('hb', 200, 0.003);
    m.request('hb', 200, 2);
    m.request('publish', 400, 0.01);
    const text = await m.text();
    expect(text).to.include('# TYPE pushlet_request_duration_seconds histogram');
    const s = samples(text, 'pushlet_request_duration_seconds');
    const hb = 'p_event="hb",status="200"';
    expect(s.get(`pushlet_request_duration_seconds_bucket{${hb},le="0.0005"}`)).to.equal(1);
    expect(s.get(`pushlet_request_duration_seconds_bucket{${hb},le="0.0025"}`)).to.equal(1);
    expect(s.get(`pushlet_request_duration_seconds_bucket{${hb},le="0.005"}`)).to.equal(2);
    expect(s.get(`pushlet_request_duration_seconds_bucket{${hb},le="1"}`)).to.equal(2);
    expect(s.get(`pushlet_request_duration_seconds_bucket{${hb},le="+Inf"}`)).to.equal(3);
    expect(s.get(`pushlet_request_duration_seconds_count{${hb}}`)).to.equal(3);
    expect(s.get(`pushlet_request_duration_seconds_sum{${hb}}`)).to.be.closeTo(2.0034, 1e-9);
    expect(s.get('pushlet_request_duration_seconds_bucket{p_event="publish",status="400",le="0.01"}')).to.equal(1);
    expect(s.get('pushlet_request_duration_seconds_bucket{p_event="publish",status="400",le="0.005"}')).to.equal(0);
  });

  it('counts unknown event names as other and requests without one as none', async () => {
    const m = new Metrics();
    m.request('made-up"}', 400, 0.001);
    m.request(undefined, 400, 0.001);
    const s = samples(await m.text(), 'pushlet_request_duration_seconds_count');
    expect([...s.keys()].sort()).to.deep.equal([
      'pushlet_request_duration_seconds_count{p_event="none",status="400"}',
      'pushlet_request_duration_seconds_count{p_event="other",status="400"}',
    ]);
  });
});
