import { createReadStream } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { csrFromTriples, type CsrMatrix } from './csr.js';

/** Fold-in / held-out matrices of the validation or test users of a split folder. */
export interface SplitFilesPart {
  /** [users × numItems] implicit fold-in items (from `<part>_tr.csv`), values 1. */
  foldIn: CsrMatrix;
  /** [users × numItems] held-out items to predict (from `<part>_te.csv`), values 1; no row is empty. */
  heldOut: CsrMatrix;
  /** [users] the file's `uid` of each row (ascending). */
  userIds: Int32Array;
}

/** A strong-generalization split folder as matrices (see {@link readSplitFiles}). */
export interface SplitFiles {
  /** Number of items: the lines of unique_sid.txt. Every matrix has this many columns. */
  numItems: number;
  /** [numItems] original item id of each column (the lines of unique_sid.txt). */
  itemIds: string[];
  /** [train users × numItems] train.csv, values 1. */
  train: CsrMatrix;
  /** [train users] the file's `uid` of each train row (ascending). */
  trainUserIds: Int32Array;
  validation: SplitFilesPart;
  test: SplitFilesPart;
}

/**
 * Reads a strong-generalization split folder as written by `scripts/reference/split.py` (`train.csv`,
 * `validation_tr.csv`, `validation_te.csv`, `test_tr.csv`, `test_te.csv`, each with the header
 * `uid,sid`; `unique_sid.txt`), streaming every file, with exactly the semantics of
 * `scripts/reference/reference.py` `load()`:
 * - numItems = number of lines of unique_sid.txt; `sid` is the column;
 * - train rows = the distinct train uids in ascending order;
 * - validation/test rows = the distinct uids of `_tr` ∪ `_te` in ascending order, dropping users
 *   with an empty held-out (`_te`) row — i.e. the distinct `_te` uids;
 * - implicit values: 1 (repeated pairs count once).
 *
 * @param dir the split folder, e.g. `data/ml-1m/split`
 * @throws on a malformed line or a sid outside [0, numItems), naming file and line
 */
export async function readSplitFiles(dir: string): Promise<SplitFiles> {
  const itemIds: string[] = [];
  for await (const line of lines(path.join(dir, 'unique_sid.txt'))) itemIds.push(line.trim());
  const numItems = itemIds.length;
  const [train, vTr, vTe, tTr, tTe] = await Promise.all(
    ['train.csv', 'validation_tr.csv', 'validation_te.csv', 'test_tr.csv', 'test_te.csv'].map((f) => readPairs(path.join(dir, f), numItems)),
  );
  const trainUserIds = distinctSorted(train.uids);
  return {
    numItems,
    itemIds,
    train: pairsToCsr(train, trainUserIds, numItems),
    trainUserIds,
    validation: part(vTr, vTe, numItems),
    test: part(tTr, tTe, numItems),
  };
}

interface Pairs {
  uids: Int32Array;
  sids: Int32Array;
}

function part(tr: Pairs, te: Pairs, numItems: number): SplitFilesPart {
  const userIds = distinctSorted(te.uids); // users of tr ∪ te whose held-out row is non-empty
  return { foldIn: pairsToCsr(tr, userIds, numItems), heldOut: pairsToCsr(te, userIds, numItems), userIds };
}

/** CSR with one row per `userIds` entry; pairs of other users are skipped. */
function pairsToCsr(p: Pairs, userIds: Int32Array, numItems: number): CsrMatrix {
  const rowOf = new Map<number, number>();
  for (let k = 0; k < userIds.length; k++) rowOf.set(userIds[k], k);
  const rows = new Int32Array(p.uids.length);
  const cols = new Int32Array(p.uids.length);
  let n = 0;
  for (let k = 0; k < p.uids.length; k++) {
    const r = rowOf.get(p.uids[k]);
    if (r === undefined) continue;
    rows[n] = r;
    cols[n] = p.sids[k];
    n++;
  }
  return csrFromTriples(userIds.length, numItems, rows.subarray(0, n), cols.subarray(0, n));
}

function distinctSorted(a: Int32Array): Int32Array {
  const s = a.slice().sort();
  let n = 0;
  for (let k = 0; k < s.length; k++) if (k === 0 || s[k] !== s[k - 1]) s[n++] = s[k];
  return s.slice(0, n);
}

async function readPairs(file: string, numItems: number): Promise<Pairs> {
  let uids = new Int32Array(1 << 16);
  let sids = new Int32Array(1 << 16);
  let n = 0;
  let lineNo = 0;
  for await (const line of lines(file)) {
    lineNo++;
    if (lineNo === 1) continue; // header `uid,sid`
    if (line.trim() === '') continue;
    const comma = line.indexOf(',');
    const uText = comma > 0 ? line.slice(0, comma).trim() : '';
    const sText = comma > 0 ? line.slice(comma + 1).trim() : '';
    const u = uText === '' ? NaN : Number(uText);
    const s = sText === '' ? NaN : Number(sText);
    if (!Number.isInteger(u) || !Number.isInteger(s) || u < -2147483648 || u > 2147483647) {
      throw new Error(`${file}:${lineNo}: expected "uid,sid" (integers), got ${JSON.stringify(line.slice(0, 80))}`);
    }
    if (s < 0 || s >= numItems) throw new Error(`${file}:${lineNo}: sid ${s} outside 0 … ${numItems - 1} (unique_sid.txt has ${numItems} lines)`);
    if (n === uids.length) {
      uids = grow(uids);
      sids = grow(sids);
    }
    uids[n] = u;
    sids[n] = s;
    n++;
  }
  return { uids: uids.slice(0, n), sids: sids.slice(0, n) };
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

function lines(file: string): AsyncIterable<string> {
  return readline.createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
}
