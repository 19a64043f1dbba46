import { expect } from 'chai';
import { subjectKeys } from '../../src/protocol/subject';

describe('subjects', () => {
  it('exact matching looks up the subject itself', () => {
    expect(subjectKeys('/system/jvm', 'exact')).to.deep.equal(['/system/jvm']);
  });

  it('prefix matching looks up every prefix, longest first (original Pushlets)', () => {
    expect(subjectKeys('/a/b', 'prefix')).to.deep.equal(['/a/b', '/a/', '/a', '/']);
  });

  it('an empty subject matches nothing', () => {
    expect(subjectKeys('', 'prefix')).to.deep.equal([]);
  });
});
