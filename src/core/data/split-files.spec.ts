import { fileURLToPath } from 'node:url';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CsrMatrix } from './csr.js';
import { readSplitFiles } from './split-files.js';

function rows(m: CsrMatrix): number[][] {
  return Array.from({ length: m.numRows }, (_, r) => Array.from(m.indices.subarray(m.indptr[r], m.indptr[r + 1])));
}

describe('readSplitFiles', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'recoder-split-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function write(files: Record<string, string>): Promise<void> {
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  }

  it('reads the folder as reference.py load() does', async () => {
    await write({
      'unique_sid.txt': 'a\nb\nc\nd\n',
      'train.csv': 'uid,sid\n5,0\n2,1\n5,2\n2,1\n',
      // uid 9 has fold-in items but no held-out ones: dropped. uid 6 has only held-out items: kept.
      'validation_tr.csv': 'uid,sid\n7,0\n7,1\n9,2\n8,3\n',
      'validation_te.csv': 'uid,sid\n7,2\n8,0\n6,1\n',
      'test_tr.csv': 'uid,sid\r\n11,3\r\n10,0\r\n',
      'test_te.csv': 'uid,sid\r\n10,1\r\n11,2\r\n11,0\r\n',
    });
    const s = await readSplitFiles(dir);
    expect(s.numItems).toBe(4);
    expect(s.itemIds).toEqual(['a', 'b', 'c', 'd']);
    expect(Array.from(s.trainUserIds)).toEqual([2, 5]);
    expect(rows(s.train)).toEqual([[1], [0, 2]]);
    expect(Array.from(s.train.values)).toEqual([1, 1, 1]);
    expect(Array.from(s.validation.userIds)).toEqual([6, 7, 8]);
    expect(rows(s.validation.foldIn)).toEqual([[], [0, 1], [3]]);
    expect(rows(s.validation.heldOut)).toEqual([[1], [2], [0]]);
    expect(Array.from(s.test.userIds)).toEqual([10, 11]);
    expect(rows(s.test.foldIn)).toEqual([[0], [3]]);
    expect(rows(s.test.heldOut)).toEqual([[1], [0, 2]]);
    for (const m of [s.train, s.validation.foldIn, s.test.heldOut]) expect(m.numCols).toBe(4);
  });

  it('names the file and line of a bad entry', async () => {
    await write({ 'train.csv': 'uid,sid\n1,0\n1,4\n' });
    await expect(readSplitFiles(dir)).rejects.toThrow(/train\.csv:3: sid 4 outside/);
    await write({ 'train.csv': 'uid,sid\n1,\n' });
    await expect(readSplitFiles(dir)).rejects.toThrow(/train\.csv:2: expected "uid,sid"/);
  });

  // Cross-check against scripts/reference/reference.py load() on the shipped ml-latest-small split
  // (data/ml-latest-small/split, made by scripts/reference/split.py): the shapes, entry counts and
  // this checksum of each matrix's (row, column) entries, computed in numpy on load()'s matrices.
  const split = fileURLToPath(new URL('../../../data/ml-latest-small/split', import.meta.url));
  it('matches reference.py load() on the shipped ml-latest-small split', async () => {
    const s = await readSplitFiles(split);
    const checksum = (m: CsrMatrix) => {
      let c = 0;
      for (let r = 0; r < m.numRows; r++) for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) c += (r * 7919 + m.indices[p] * 31) % 1000003;
      return c;
    };
    expect([s.train.numRows, s.numItems, s.train.indptr[s.train.numRows]]).toEqual([503, 5697, 39618]);
    expect([s.validation.foldIn.numRows, s.validation.foldIn.indices.length, s.validation.heldOut.indices.length]).toEqual([50, 4141, 1008]);
    // One of the 50 test users has fewer than 5 items that train users have: all are fold-in, none
    // held out, so load() drops the user, and so does readSplitFiles.
    expect([s.test.foldIn.numRows, s.test.foldIn.indices.length, s.test.heldOut.indices.length]).toEqual([49, 2542, 609]);
    expect([s.train, s.validation.foldIn, s.validation.heldOut, s.test.foldIn, s.test.heldOut].map(checksum)).toEqual([
      20285511164, 1127041343, 274907409, 555550639, 133537762,
    ]);
  });
});
