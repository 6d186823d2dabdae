import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Random } from './random.js';
import { holdOutRatings, indexRatings, parseRatings, ratingsToCsr, readRatingsSplit } from './ratings-files.js';

describe('parseRatings', () => {
  it('reads tab-separated MovieLens-100K lines with timestamps', () => {
    const r = parseRatings('196\t242\t3\t881250949\n186\t302\t3\t891717742\r\n\n22\t377\t1\t878887116\n');
    expect(r.users).toEqual(['196', '186', '22']);
    expect(r.items).toEqual(['242', '302', '377']);
    expect(Array.from(r.ratings)).toEqual([3, 3, 1]);
    expect(Array.from(r.timestamps!)).toEqual([881250949, 891717742, 878887116]);
  });

  it('reads "::"-separated ML-1M lines, CSV with a header, and whitespace; ratings may be fractional', () => {
    const ml1m = parseRatings('1::1193::5::978300760\n1::661::3::978302109\n');
    expect(ml1m.items).toEqual(['1193', '661']);
    const csv = parseRatings('userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n');
    expect(csv.users).toEqual(['1']);
    expect(Array.from(csv.ratings)).toEqual([2.5]);
    const ws = parseRatings('# comment\nu1  i9   4\n');
    expect(ws.users).toEqual(['u1']);
    expect(ws.timestamps).toBeUndefined();
  });

  it('reports the line of a malformed entry', () => {
    expect(() => parseRatings('1\t2\t3\n1\t2\tfive\n', 'x.tsv')).toThrow(/x\.tsv:2/);
    expect(() => parseRatings('1\t2\n', 'y')).toThrow(/y:1/);
  });
});

describe('indexRatings', () => {
  const train = parseRatings('10\ta\t4\n20\tb\t2\n10\tb\t3\n');
  const test = parseRatings('20\ta\t5\n30\ta\t1\n10\tc\t2\n');

  it('indexes users and items from the training file and flags unknown test users/items with -1', () => {
    const s = indexRatings(train, test);
    expect(s.userIds).toEqual(['10', '20']);
    expect(s.itemIds).toEqual(['a', 'b']);
    expect(Array.from(s.train.users)).toEqual([0, 1, 0]);
    expect(Array.from(s.train.items)).toEqual([0, 1, 1]);
    expect(Array.from(s.test.users)).toEqual([1, -1, 0]);
    expect(Array.from(s.test.items)).toEqual([0, 0, -1]);
    expect(s.unknownTestUsers).toBe(1);
    expect(s.unknownTestItems).toBe(1);
    expect(s.globalMean).toBeCloseTo(3, 10);
  });

  it('builds a users × items CSR, skipping unknown entries', () => {
    const s = indexRatings(train, test);
    const m = ratingsToCsr(s.train, 2, 2);
    expect(Array.from(m.indptr)).toEqual([0, 2, 3]);
    expect(Array.from(m.indices)).toEqual([0, 1, 1]);
    expect(Array.from(m.values)).toEqual([4, 3, 2]);
    expect(ratingsToCsr(s.test, 2, 2).indptr[2]).toBe(1);
  });

  it('holds out a seeded random fraction as a disjoint validation set', () => {
    const n = 100;
    const r = { users: Int32Array.from({ length: n }, (_, k) => k % 7), items: Int32Array.from({ length: n }, (_, k) => k), ratings: new Float32Array(n).fill(3) };
    const a = holdOutRatings(r, 0.2, ((g) => () => g.uniform())(new Random(1)));
    const b = holdOutRatings(r, 0.2, ((g) => () => g.uniform())(new Random(1)));
    expect(a.validation.items).toHaveLength(20);
    expect(a.train.items).toHaveLength(80);
    expect(Array.from(a.validation.items)).toEqual(Array.from(b.validation.items));
    const all = new Set([...a.train.items, ...a.validation.items]);
    expect(all.size).toBe(n);
    expect(() => holdOutRatings(r, 1, Math.random)).toThrow(/fraction/);
  });
});

describe('readRatingsSplit', () => {
  it('reads u1.base/u1.test style files from disk', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ratings-'));
    try {
      await writeFile(path.join(dir, 'u1.base'), '1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t888550871\n');
      await writeFile(path.join(dir, 'u1.test'), '2\t2\t1\t888551000\n3\t1\t4\t888551001\n');
      const s = await readRatingsSplit(path.join(dir, 'u1.base'), path.join(dir, 'u1.test'));
      expect(s.userIds).toEqual(['1', '2']);
      expect(Array.from(s.test.users)).toEqual([1, -1]);
      expect(Array.from(s.test.items)).toEqual([1, 0]);
      expect(s.globalMean).toBeCloseTo(4, 10);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
