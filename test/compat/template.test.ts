import { expect } from 'chai';
import { fill, matchTemplate, TemplateError, type Scope } from '../../compat/template';

function scope(): Scope {
  return { vars: { run: 'r1', format: 'xml' }, captures: new Map(), waits: { pull: [2000, 6000], poll: [6000, 10000] }, timeSkewS: 60 };
}

describe('compat placeholders', () => {
  it('fills variables and captured values into requests', () => {
    const s = scope();
    s.captures.set('A', 'a b');
    expect(fill('/{{run}}/t?id={{id:A}}', s, encodeURIComponent)).to.equal('/r1/t?id=a%20b');
    expect(() => fill('{{id:B}}', s)).to.throw(TemplateError, /before a response captured it/);
    expect(() => fill('{{nope}}', s)).to.throw(TemplateError, /unknown placeholder/);
  });

  it('captures an id once and then requires the same value', () => {
    const s = scope();
    expect(matchTemplate('/p.srv?p_id={{id:A}}&p_event=refresh', '/p.srv?p_id=x:1&p_event=refresh', s)).to.equal(null);
    expect(s.captures.get('A')).to.equal('x:1');
    expect(matchTemplate('{{id:A}}', 'x:1', s)).to.equal(null);
    expect(matchTemplate('{{id:A}}', 'x:2', s)).to.match(/does not match/);
  });

  it('checks waits, times and exact text', () => {
    const s = scope();
    expect(matchTemplate('{{wait:pull}}', '2000', s)).to.equal(null);
    expect(matchTemplate('{{wait:pull}}', '6001', s)).to.match(/not within 2000-6000/);
    expect(matchTemplate('{{wait:10-20}}', '15', s)).to.equal(null);
    expect(matchTemplate('{{time}}', String(Math.floor(Date.now() / 1000)), s)).to.equal(null);
    expect(matchTemplate('{{time}}', '42', s)).to.match(/away from now/);
    expect(matchTemplate('{{any}}', '', s)).to.equal(null);
    expect(matchTemplate('a.b', 'axb', s)).to.match(/does not match/);
    expect(matchTemplate('Invalid id: {{run}}', '<h2>Invalid id: r1</h2>', s, false)).to.equal(null);
  });
});
