import { bestIndex, configLabel, expandGrid, parseGrid } from './grid.js';

describe('parseGrid', () => {
  it('parses axes of numbers and booleans in the given order', () => {
    expect(parseGrid('weightDecay=2e-5,1e-4; dropout=0.5 ;refitDecoder=true,false')).toEqual([
      { name: 'weightDecay', values: [2e-5, 1e-4] },
      { name: 'dropout', values: [0.5] },
      { name: 'refitDecoder', values: [true, false] },
    ]);
  });

  it('gives no axes for an empty spec and ignores empty parts', () => {
    expect(parseGrid('')).toEqual([]);
    expect(parseGrid(';lambda=30;;')).toEqual([{ name: 'lambda', values: [30] }]);
  });

  it('rejects malformed specs, unknown and repeated axes', () => {
    expect(() => parseGrid('dropout')).toThrow(/name=v1/);
    expect(() => parseGrid('=1')).toThrow(/missing axis name/);
    expect(() => parseGrid('dropout=0.5,')).toThrow(/dropout.*expected a number/);
    expect(() => parseGrid('dropout=abc')).toThrow(/expected a number/);
    expect(() => parseGrid('dropout=0.5;dropout=0.6')).toThrow(/given twice/);
    expect(() => parseGrid('lamda=30', ['lambda', 'hidden'])).toThrow(
      /unknown axis "lamda" \(allowed: lambda, hidden\)/,
    );
  });
});

describe('expandGrid', () => {
  it('is the cartesian product with the last axis varying fastest', () => {
    const configs = expandGrid(parseGrid('a=1,2;b=3,4,5'));
    expect(configs).toEqual([
      { a: 1, b: 3 },
      { a: 1, b: 4 },
      { a: 1, b: 5 },
      { a: 2, b: 3 },
      { a: 2, b: 4 },
      { a: 2, b: 5 },
    ]);
  });

  it('gives one empty configuration (the defaults) without axes', () => {
    expect(expandGrid([])).toEqual([{}]);
  });
});

describe('configLabel', () => {
  it('joins name=value pairs, or says defaults', () => {
    expect(configLabel({ lambda: 30, refitDecoder: true })).toBe('lambda=30 refitDecoder=true');
    expect(configLabel({})).toBe('defaults');
  });
});

describe('bestIndex', () => {
  it('picks the highest (or lowest) score, the first on ties, never NaN', () => {
    expect(bestIndex([0.4, 0.5, 0.5, 0.3])).toBe(1);
    expect(bestIndex([0.9, 0.85, 0.85, 0.95], true)).toBe(1);
    expect(bestIndex([NaN, 0.2, NaN])).toBe(1);
    expect(bestIndex([NaN, NaN])).toBe(-1);
    expect(bestIndex([])).toBe(-1);
  });
});
