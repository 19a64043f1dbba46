import { expect } from 'chai';
import { AddressWindow } from '../../src/core/admission';

describe('new sessions per address (AddressWindow)', () => {
  let t = 0;
  const clock = () => t;

  it('lets an address open its limit within a window, then refuses it, while another address goes on', () => {
    t = 0;
    const w = new AddressWindow(3, 1000, clock);
    expect([w.take('a'), w.take('a'), w.take('a'), w.take('a')]).to.deep.equal([true, true, true, false]);
    expect(w.take('b')).to.equal(true);
  });

  it('counts the window before by how much of it still overlaps, and forgets it after two windows', () => {
    t = 0;
    const w = new AddressWindow(4, 1000, clock);
    for (let i = 0; i < 4; i++) expect(w.take('a')).to.equal(true);
    t = 1500; // half of the last window still counts: 2 of 4
    expect([w.take('a'), w.take('a'), w.take('a')]).to.deep.equal([true, true, false]);
    t = 4000;
    for (let i = 0; i < 4; i++) expect(w.take('a'), `take ${i} after two windows`).to.equal(true);
  });

  it('does not count a refused join', () => {
    t = 0;
    const w = new AddressWindow(1, 1000, clock);
    expect(w.take('a')).to.equal(true);
    for (let i = 0; i < 10; i++) expect(w.take('a')).to.equal(false);
    t = 1900; // a tenth of the window before still weighs: 0.1 counted, 1.1 had the refused been counted
    expect(w.take('a')).to.equal(true);
  });
});
