import { csrFromTriples } from '../data/csr.js';
import { genrePrecisionAtK, meanNeighbourPopularity, meanPairwiseCosine, userNeighbourScores } from './similarity.js';

describe('genrePrecisionAtK', () => {
  const genres = [['Animation', 'Children'], ['Children'], ['Drama'], ['Drama', 'Crime'], []];

  it('averages over query items the share of the first k neighbours that share a genre', () => {
    const neighbours = [
      [1, 2, 3], // item 0: 1 shares Children, 2 and 3 share nothing → @2: 1/2, @3: 1/3
      [0, 4, 2], // item 1: 0 shares Children, 4 has no genre → @2: 1/2
      [3, 0, 1], // item 2: 3 shares Drama → @2: 1/2
      [2, 1, 0], // item 3: 2 shares Drama → @2: 1/2
      [0, 1, 2], // item 4 has no genre: skipped
    ];
    expect(genrePrecisionAtK(neighbours, genres, 2)).toBeCloseTo(0.5, 12);
    expect(genrePrecisionAtK(neighbours, genres, 1)).toBeCloseTo(1, 12);
    expect(genrePrecisionAtK(neighbours, genres, 3)).toBeCloseTo(1 / 3, 12);
  });

  it('scores a short list over the neighbours it has, ignores padding and skips empty lists', () => {
    const neighbours = [[1, -1, -1], [-1, 2], [], [2], [0]];
    // item 0: [1] → 1; item 1: [2] → 0; item 2: none, skipped; item 3: [2] → 1; item 4: no genre
    expect(genrePrecisionAtK(neighbours, genres, 10)).toBeCloseTo(2 / 3, 12);
  });

  it('restricts the average to the given queries', () => {
    const neighbours = [[2], [0], [3], [1], [0]];
    expect(genrePrecisionAtK(neighbours, genres, 1, [1, 2])).toBe(1);
    expect(genrePrecisionAtK(neighbours, genres, 1, [0, 3])).toBe(0);
    expect(genrePrecisionAtK(neighbours, genres, 1, [4])).toBeNaN();
  });

  it('rejects a bad k, mismatched lengths and queries out of range', () => {
    expect(() => genrePrecisionAtK([[1]], [['a']], 0)).toThrow('k must be a positive integer');
    expect(() => genrePrecisionAtK([[1]], [['a'], ['b']], 1)).toThrow('1 neighbour lists for 2 items');
    expect(() => genrePrecisionAtK([[0]], [['a']], 1, [3])).toThrow('query 3 outside');
  });
});

describe('meanNeighbourPopularity', () => {
  it('is the mean popularity percentile of the first k neighbours', () => {
    const counts = [10, 20, 30, 40]; // percentiles 25, 50, 75, 100
    const neighbours = [[3, 2], [3, 2], [0, 1], []];
    // (87.5 + 87.5 + 37.5) / 3; the empty list is skipped
    expect(meanNeighbourPopularity(neighbours, counts, 2)).toBeCloseTo(212.5 / 3, 12);
    expect(meanNeighbourPopularity(neighbours, counts, 1)).toBeCloseTo(225 / 3, 12);
  });

  it('gives tied counts the percentile of the last of them', () => {
    expect(meanNeighbourPopularity([[0], [1], [2]], [5, 5, 9], 1)).toBeCloseTo((200 / 3 + 200 / 3 + 100) / 3, 12);
  });
});

describe('meanPairwiseCosine', () => {
  it('is 1 for collapsed vectors and 0 for orthogonal ones', () => {
    const collapsed = new Float32Array([1, 2, 2, 4, 0.5, 1]); // three multiples of (1, 2)
    expect(meanPairwiseCosine(collapsed, 2, 1)).toBeCloseTo(1, 6);
    const orthogonal = new Float32Array([1, 0, 0, 0, 3, 0, 0, 0, 2]);
    expect(meanPairwiseCosine(orthogonal, 3, 1)).toBeCloseTo(0, 12);
  });

  it('averages every pair when there are few rows, skipping zero rows', () => {
    // pairs: (a, b) = 0, (a, c) = 1/√2, (b, c) = 1/√2; the zero row is skipped
    const v = new Float32Array([1, 0, 0, 1, 1, 1, 0, 0]);
    expect(meanPairwiseCosine(v, 2, 7)).toBeCloseTo(2 / Math.SQRT2 / 3, 6);
    expect(meanPairwiseCosine(new Float32Array([1, 0, 0, 0]), 2, 7)).toBeNaN();
  });

  it('samples pairs reproducibly and close to the all-pairs mean', () => {
    const rows = 300;
    const v = new Float32Array(rows * 4);
    for (let r = 0; r < rows; r++) {
      v[r * 4] = 1; // a shared component…
      v[r * 4 + 1 + (r % 3)] = 1; // …plus one of three directions: cosine 1 within a group, 1/2 across
    }
    const exact = meanPairwiseCosine(v, 4, 1, { pairs: rows * rows });
    expect(exact).toBeCloseTo((1 * 3 * 100 * 99 + 0.5 * 3 * 100 * 200) / (300 * 299), 6);
    const sampled = meanPairwiseCosine(v, 4, 42, { pairs: 5000 });
    expect(sampled).toBe(meanPairwiseCosine(v, 4, 42, { pairs: 5000 }));
    expect(Math.abs(sampled - exact)).toBeLessThan(0.02);
  });

  it('rejects inconsistent shapes', () => {
    expect(() => meanPairwiseCosine(new Float32Array(5), 2, 1)).toThrow('not rows of 2');
    expect(() => meanPairwiseCosine(new Float32Array(4), 0, 1)).toThrow('dim must be');
  });
});

describe('userNeighbourScores', () => {
  // population: user 0 has items 0, 1; user 1 has items 1, 2; user 2 has item 3
  const population = csrFromTriples(3, 4, [0, 0, 1, 1, 2], [0, 1, 1, 2, 3]);

  it("sums the k most similar users' items weighted by similarity, ignoring non-positive ones", () => {
    const sims = new Float32Array([
      0.5,
      0.25,
      0.9, // query 0: neighbours 2 and 0 at k = 2
      -0.5,
      0,
      0.1, // query 1: only user 2 has a positive similarity
    ]);
    const s = userNeighbourScores(sims, population, 2);
    expect(Array.from(s.subarray(0, 4))).toEqual([0.5, 0.5, 0, Math.fround(0.9)]);
    expect(Array.from(s.subarray(4))).toEqual([0, 0, 0, Math.fround(0.1)]);
    expect(Array.from(userNeighbourScores(sims, population, 3).subarray(0, 4))).toEqual([
      0.5,
      0.75,
      0.25,
      Math.fround(0.9),
    ]);
  });

  it('rejects similarities that are not rows of the population', () => {
    expect(() => userNeighbourScores(new Float32Array(4), population, 1)).toThrow('not rows of 3');
    expect(() => userNeighbourScores(new Float32Array(3), population, 0)).toThrow('k must be');
  });
});
