import { IdMap } from './id-map.js';

describe('IdMap', () => {
  it('maps ids to dense indices in first-occurrence order', () => {
    const m = IdMap.fromIds(['b', 'a', 'b', 'c']);
    expect(m.size).toBe(3);
    expect(m.indexOf('b')).toBe(0);
    expect(m.indexOf('a')).toBe(1);
    expect(m.indexOf('c')).toBe(2);
    expect(m.indexOf('zz')).toBe(-1);
    expect(m.idAt(2)).toBe('c');
    expect(() => m.idAt(3)).toThrow(RangeError);
    expect(() => m.idAt(-1)).toThrow(RangeError);
    expect(Array.from(m.indicesOf(['c', 'x', 'b']))).toEqual([2, -1, 0]);
    expect(m.add('d')).toBe(3);
    expect(m.add('a')).toBe(1);
  });

  it('round-trips through JSON', () => {
    const m = IdMap.fromIds(['10', '3', '7']);
    const copy = IdMap.fromJSON(JSON.parse(JSON.stringify(m)));
    expect(copy.toArray()).toEqual(['10', '3', '7']);
    expect(copy.indexOf('7')).toBe(2);
    expect(() => IdMap.fromJSON(['a', 'a'])).toThrow(/duplicate/);
    expect(() => IdMap.fromJSON([1])).toThrow(/not a string/);
    expect(() => IdMap.fromJSON({})).toThrow();
  });
});
