import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { csrFromTriples, type CsrMatrix } from '../data/csr.js';
import { initBackend } from '../engine/backend.js';
import { AutoRec } from './autorec.js';
import { Ease } from './ease.js';
import { Ensemble } from './ensemble.js';
import { MultDAE } from './mult-dae.js';
import { MultVAE } from './mult-vae.js';
import type { ServableModel } from './servable.js';
import { hasMagic, magicOf, packWeights, readArrays, readWeightsHeader } from './weights-file.js';

// Files written by the code before every model wrote through weights-file.ts (generated once from
// that code: tiny models over 8 items, and their scores of a probe history).
const fixture = (name: string) =>
  new Uint8Array(readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))));
const expected = JSON.parse(
  readFileSync(fileURLToPath(new URL('./fixtures/expected.json', import.meta.url)), 'utf8'),
) as {
  probe: { rows: number[]; cols: number[]; ratings: number[] };
  numItems: number;
  scores: Record<string, number[]>;
};

describe('weights-file', () => {
  it('packs float32, int32 and raw-byte arrays (padded to 4) behind a versioned JSON header', () => {
    const magic = magicOf('TST1');
    const bytes = packWeights(magic, 7, { a: 1 }, [
      Float32Array.of(1.5, -2),
      Int32Array.of(-3, 4),
      Uint8Array.of(9, 8, 7),
    ]);
    expect(hasMagic(bytes, magic)).toBe(true);
    expect(bytes.byteLength % 4).toBe(0);
    const { header, dataOffset, version } = readWeightsHeader<{ a: number }>(bytes, magic, [6, 7], 'test');
    expect([header, version]).toEqual([{ a: 1 }, 7]);
    const [f, i, u] = readArrays(
      bytes,
      dataOffset,
      [
        { type: 'f32', length: 2 },
        { type: 'i32', length: 2 },
        { type: 'u8', length: 3 },
      ],
      'test',
    );
    expect([Array.from(f), Array.from(i), Array.from(u)]).toEqual([
      [1.5, -2],
      [-3, 4],
      [9, 8, 7],
    ]);
    expect(() => readWeightsHeader(bytes, magic, 8, 'test')).toThrow(/unsupported format version 7/);
    expect(() => readWeightsHeader(bytes, magicOf('XXXX'), 7, 'test')).toThrow(/not a test file/);
    expect(() => readArrays(bytes, dataOffset, [{ type: 'f32', length: 3 }], 'test')).toThrow(/trailing/);
    expect(() =>
      readArrays(
        bytes.subarray(0, bytes.length - 4),
        dataOffset,
        [
          { type: 'f32', length: 2 },
          { type: 'i32', length: 2 },
          { type: 'u8', length: 3 },
        ],
        'test',
      ),
    ).toThrow(/truncated/);
  });
});

describe('model files written by earlier versions still load', () => {
  let tf: Awaited<ReturnType<typeof initBackend>>['tf'];
  beforeAll(async () => {
    tf = (await initBackend({ prefer: 'cpu', log: () => undefined })).tf;
  });

  const probe = (ratings: boolean): CsrMatrix => {
    const { rows, cols, ratings: values } = expected.probe;
    return csrFromTriples(2, expected.numItems, rows, cols, ratings ? values : undefined);
  };
  const cases: [string, (bytes: Uint8Array) => ServableModel, boolean][] = [
    ['ease-eas2.bin', (b) => Ease.fromBytes(b), false],
    ['dae-mae1.bin', (b) => MultDAE.fromBytes(tf, b), false],
    ['vae-mae1.bin', (b) => MultVAE.fromBytes(tf, b), false],
    ['autorec-arc1.bin', (b) => AutoRec.fromBytes(tf, b), true],
    ['ensemble-ens1.bin', (b) => Ensemble.fromBytes(tf, b), false],
  ];

  it.each(cases)(
    '%s: scores as when it was written, and again after a round trip through today’s format',
    (name, read, ratings) => {
      const old = fixture(name);
      const model = read(old);
      const scores = Array.from(model.score(probe(ratings)));
      expect(scores).toHaveLength(expected.scores[name].length);
      scores.forEach((s, k) => expect(s).toBeCloseTo(expected.scores[name][k], 5));
      const bytes = model.toBytes();
      const again = read(bytes);
      expect(Array.from(again.score(probe(ratings)))).toEqual(scores);
      expect(Array.from(again.toBytes())).toEqual(Array.from(bytes));
      // Mult-VAE/DAE and AutoRec files have always had the weights-file layout: byte for byte the same.
      if (name.includes('mae1') || name.includes('arc1')) expect(Array.from(bytes)).toEqual(Array.from(old));
      else expect(bytes.subarray(0, 4)).not.toEqual(old.subarray(0, 4)); // EASE and ensembles now write the shared format
      model.dispose();
      again.dispose();
    },
  );
});
