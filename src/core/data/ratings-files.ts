import { readFile } from 'node:fs/promises';
import { csrFromTriples, type CsrMatrix } from './csr.js';

/**
 * Explicit-rating files (MovieLens style): one `user SEP item SEP rating [SEP timestamp ...]` per
 * line, where SEP is a tab (ML-100K `u.data`, `u1.base`), `::` (ML-1M/10M `ratings.dat`), a comma
 * or runs of spaces. The separator is detected from the first data line. Ids are kept as strings.
 * Blank lines and lines starting with `#` are skipped; a first line whose rating field is not a
 * number (a CSV header such as `userId,movieId,rating,timestamp`) is skipped too.
 */
export interface RawRatings {
  /** External user id of each rating. */
  readonly users: string[];
  /** External item id of each rating. */
  readonly items: string[];
  readonly ratings: Float32Array;
  /** Fourth column when every line has one (seconds as written in the file), else undefined. */
  readonly timestamps?: Float64Array;
}

/**
 * Ratings in a dense index space: `users[k]`/`items[k]` are indices into the split's `userIds` /
 * `itemIds`, or -1 when that user/item did not occur in the training file (test triples only).
 */
export interface IndexedRatings {
  readonly users: Int32Array;
  readonly items: Int32Array;
  readonly ratings: Float32Array;
}

/** A train/test split indexed by the TRAINING file's users and items (no IdMap needed). */
export interface RatingsSplit {
  /** Dense user index → external id, in order of first appearance in the training file. */
  readonly userIds: string[];
  /** Dense item index → external id, in order of first appearance in the training file. */
  readonly itemIds: string[];
  /** Training ratings; every index is valid (≥ 0). */
  readonly train: IndexedRatings;
  /** Test ratings; an index is -1 where the user or item is not in the training file. */
  readonly test: IndexedRatings;
  /** Mean training rating: the prediction for unknown users/items. */
  readonly globalMean: number;
  /** Test ratings whose user is unknown (-1). */
  readonly unknownTestUsers: number;
  /** Test ratings whose item is unknown (-1). */
  readonly unknownTestItems: number;
}

type Separator = '\t' | '::' | ',' | 'space';

function detectSeparator(line: string): Separator {
  if (line.includes('::')) return '::';
  if (line.includes('\t')) return '\t';
  if (line.includes(',')) return ',';
  return 'space';
}

function splitLine(line: string, sep: Separator): string[] {
  if (sep === 'space') return line.trim().split(/\s+/);
  return line.split(sep).map((f) => f.trim());
}

/** Parses the text of a ratings file (see {@link RawRatings}); throws with the line number on a malformed line. */
export function parseRatings(text: string, source = 'ratings'): RawRatings {
  const users: string[] = [];
  const items: string[] = [];
  const ratings: number[] = [];
  const stamps: number[] = [];
  let allStamped = true;
  let sep: Separator | undefined;
  let lineNo = 0;
  let first = true;
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.startsWith('#')) continue;
    sep ??= detectSeparator(line);
    const f = splitLine(line, sep);
    const isFirst = first;
    first = false;
    const rating = f.length >= 3 && f[2] !== '' ? Number(f[2]) : NaN;
    if (!Number.isFinite(rating) || f[0] === '' || f[1] === '') {
      if (isFirst && f.length >= 3) continue; // a header line
      throw new Error(`${source}:${lineNo}: expected "user${sepName(sep)}item${sepName(sep)}rating[${sepName(sep)}timestamp]", got ${JSON.stringify(line.slice(0, 80))}`);
    }
    users.push(f[0]);
    items.push(f[1]);
    ratings.push(rating);
    const ts = f.length >= 4 ? Number(f[3]) : NaN;
    if (Number.isFinite(ts)) stamps.push(ts);
    else allStamped = false;
  }
  return {
    users,
    items,
    ratings: Float32Array.from(ratings),
    timestamps: allStamped && stamps.length > 0 ? Float64Array.from(stamps) : undefined,
  };
}

function sepName(sep: Separator | undefined): string {
  return sep === '\t' ? '\\t' : sep === 'space' || sep === undefined ? ' ' : sep;
}

/** Reads and parses a ratings file (see {@link parseRatings}). */
export async function readRatingsFile(path: string): Promise<RawRatings> {
  return parseRatings(await readFile(path, 'utf8'), path);
}

/**
 * Indexes a train/test pair: user and item indices come from the training ratings (first
 * appearance order); test ratings of users/items absent from training get index -1.
 */
export function indexRatings(train: RawRatings, test?: RawRatings): RatingsSplit {
  const userIndex = new Map<string, number>();
  const itemIndex = new Map<string, number>();
  const userIds: string[] = [];
  const itemIds: string[] = [];
  const n = train.ratings.length;
  const tu = new Int32Array(n);
  const ti = new Int32Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    let u = userIndex.get(train.users[k]);
    if (u === undefined) {
      u = userIds.length;
      userIndex.set(train.users[k], u);
      userIds.push(train.users[k]);
    }
    let i = itemIndex.get(train.items[k]);
    if (i === undefined) {
      i = itemIds.length;
      itemIndex.set(train.items[k], i);
      itemIds.push(train.items[k]);
    }
    tu[k] = u;
    ti[k] = i;
    sum += train.ratings[k];
  }
  const m = test?.ratings.length ?? 0;
  const su = new Int32Array(m);
  const si = new Int32Array(m);
  let unknownTestUsers = 0;
  let unknownTestItems = 0;
  for (let k = 0; k < m; k++) {
    su[k] = userIndex.get(test!.users[k]) ?? -1;
    si[k] = itemIndex.get(test!.items[k]) ?? -1;
    if (su[k] < 0) unknownTestUsers++;
    if (si[k] < 0) unknownTestItems++;
  }
  return {
    userIds,
    itemIds,
    train: { users: tu, items: ti, ratings: Float32Array.from(train.ratings) },
    test: { users: su, items: si, ratings: test ? Float32Array.from(test.ratings) : new Float32Array(0) },
    globalMean: n > 0 ? sum / n : 0,
    unknownTestUsers,
    unknownTestItems,
  };
}

/** Reads `trainPath` (and `testPath`) and indexes them with {@link indexRatings}. */
export async function readRatingsSplit(trainPath: string, testPath?: string): Promise<RatingsSplit> {
  const [train, test] = await Promise.all([readRatingsFile(trainPath), testPath ? readRatingsFile(testPath) : undefined]);
  return indexRatings(train, test);
}

/**
 * Users × items CSR of indexed ratings (entries with an index of -1 are skipped; a repeated
 * (user, item) pair keeps its last rating).
 */
export function ratingsToCsr(r: IndexedRatings, numUsers: number, numItems: number): CsrMatrix {
  const keep: number[] = [];
  for (let k = 0; k < r.ratings.length; k++) if (r.users[k] >= 0 && r.items[k] >= 0) keep.push(k);
  return csrFromTriples(
    numUsers,
    numItems,
    keep.map((k) => r.users[k]),
    keep.map((k) => r.items[k]),
    keep.map((k) => r.ratings[k]),
  );
}

/** Ratings at positions `ids`. */
export function selectRatings(r: IndexedRatings, ids: ArrayLike<number>): IndexedRatings {
  const users = new Int32Array(ids.length);
  const items = new Int32Array(ids.length);
  const ratings = new Float32Array(ids.length);
  for (let k = 0; k < ids.length; k++) {
    users[k] = r.users[ids[k]];
    items[k] = r.items[ids[k]];
    ratings[k] = r.ratings[ids[k]];
  }
  return { users, items, ratings };
}

/**
 * Carves a random `fraction` of the ratings out as a validation set (for tuning without touching
 * the test file). `random` returns uniform numbers in [0, 1) (pass a seeded generator).
 */
export function holdOutRatings(
  r: IndexedRatings,
  fraction: number,
  random: () => number,
): { train: IndexedRatings; validation: IndexedRatings } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`holdOutRatings: fraction must be in (0, 1), got ${fraction}`);
  const n = r.ratings.length;
  const order = Int32Array.from({ length: n }, (_, k) => k);
  for (let k = n - 1; k > 0; k--) {
    const j = Math.floor(random() * (k + 1));
    const t = order[k];
    order[k] = order[j];
    order[j] = t;
  }
  const cut = Math.round(n * fraction);
  const val = order.subarray(0, cut).slice().sort();
  const rest = order.subarray(cut).slice().sort();
  return { train: selectRatings(r, rest), validation: selectRatings(r, val) };
}
