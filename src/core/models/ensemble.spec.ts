import * as tf from '@tensorflow/tfjs';
import { csrFromTriples, csrSelectRows, type CsrMatrix } from '../data/csr.js';
import { Random } from '../data/random.js';
import { initBackend } from '../engine/backend.js';
import { Ease } from './ease.js';
import { Ensemble } from './ensemble.js';
import { MultDAE } from './mult-dae.js';
import { blendScores } from './score-blend.js';

/** 120 users in 3 taste groups of 20 items. */
function groups(seed: number): CsrMatrix {
  const rng = new Random(seed);
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < 120; u++) {
    const g = u % 3;
    for (let k = 0; k < 8; k++) {
      rows.push(u);
      cols.push(g * 20 + rng.int(20));
    }
  }
  return csrFromTriples(120, 60, rows, cols);
}

let data: CsrMatrix;
let ease: Ease;
let dae: MultDAE;
beforeAll(async () => {
  await initBackend();
  data = groups(1);
  ease = Ease.fit(data, { lambda: 5 });
  dae = await MultDAE.fit(tf, data, { latentDim: 6, epochs: 10, batchSize: 30, seed: 2 });
}, 60_000);
afterAll(() => dae.dispose());

describe('Ensemble', () => {
  it('scores the standardised blend of its members, exactly as blendScores does', () => {
    const e = new Ensemble([
      { model: ease, weight: 0.6 },
      { model: dae, weight: 0.4 },
    ]);
    const h = csrSelectRows(data, [0, 1, 2]);
    expect(Array.from(e.score(h))).toEqual(
      Array.from(blendScores([ease.score(h), dae.reconstruct(h)], [0.6, 0.4], 60)),
    );
    expect(e.factorized).toBe(dae);
    expect(e.factorizedWeight).toBe(0.4);
    expect(e.hyperparameters.members).toEqual([
      expect.objectContaining({ kind: 'ease', weight: 0.6, lambda: 5 }),
      expect.objectContaining({ kind: 'dae', weight: 0.4, latentDim: 6 }),
    ]);
  });

  it('round-trips through bytes to identical scores and frees its tensors on dispose', () => {
    const before = tf.memory().numTensors;
    const e = new Ensemble([
      { model: ease, weight: 1 },
      { model: dae, weight: 0 },
    ]);
    const loaded = Ensemble.fromBytes(tf, e.toBytes());
    const h = csrSelectRows(data, [5, 6]);
    expect(Array.from(loaded.score(h))).toEqual(Array.from(e.score(h)));
    expect(loaded.members.map((m) => m.weight)).toEqual([1, 0]);
    expect(loaded.factorized).not.toBeNull();
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects members over different items, all-zero weights and foreign bytes', () => {
    const other = Ease.fit(csrFromTriples(2, 3, [0, 1], [0, 2]), { lambda: 1 });
    expect(
      () =>
        new Ensemble([
          { model: ease, weight: 1 },
          { model: other, weight: 1 },
        ]),
    ).toThrow(/share the columns/);
    expect(() => new Ensemble([{ model: ease, weight: 0 }])).toThrow(/every weight is 0/);
    expect(() => Ensemble.fromBytes(tf, ease.toBytes())).toThrow(/not an ensemble/);
    const bytes = new Ensemble([{ model: ease, weight: 1 }]).toBytes();
    expect(() => Ensemble.fromBytes(tf, bytes.subarray(0, bytes.length - 100))).toThrow(/truncated/);
  });
});
