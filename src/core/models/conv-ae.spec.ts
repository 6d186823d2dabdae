import { Random } from '../data/random.js';
import { initBackend } from '../engine/backend.js';
import { ConvAutoencoder, type ImageBatch } from './conv-ae.js';

/** 16×16 grayscale images of three shapes (horizontal bars, vertical bars, a centred square), with noise. */
function shapes(count: number, seed: number): ImageBatch & { labels: number[] } {
  const rng = new Random(seed);
  const size = 16;
  const pixels = new Uint8Array(count * size * size);
  const labels: number[] = [];
  for (let n = 0; n < count; n++) {
    const label = n % 3;
    labels.push(label);
    const phase = rng.int(4);
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const on =
          label === 0
            ? (y + phase) % 4 < 2
            : label === 1
              ? (x + phase) % 4 < 2
              : Math.abs(x - 7.5) < 4 + (phase % 2) && Math.abs(y - 7.5) < 4 + (phase % 2);
        pixels[n * size * size + y * size + x] = Math.max(
          0,
          Math.min(255, (on ? 220 : 30) + Math.round((rng.uniform() - 0.5) * 60)),
        );
      }
  }
  return { pixels, count, labels };
}

function cosine(a: Float32Array, i: number, j: number, d: number): number {
  let dot = 0,
    na = 0,
    nb = 0;
  for (let k = 0; k < d; k++) {
    dot += a[i * d + k] * a[j * d + k];
    na += a[i * d + k] ** 2;
    nb += a[j * d + k] ** 2;
  }
  return dot / Math.sqrt(na * nb + 1e-12);
}

describe('ConvAutoencoder', () => {
  it('learns embeddings whose nearest neighbours share the shape, reconstructs better with training, and round-trips through bytes', async () => {
    const { tf } = await initBackend();
    const before = tf.memory().numTensors;
    const train = shapes(120, 1);
    const validation = shapes(30, 2);
    const reports: { loss: number; validation?: number }[] = [];
    const ae = await ConvAutoencoder.fit(
      tf,
      train,
      { size: 16, channels: 1, latentDim: 8, filters: [8, 16], epochs: 25, batchSize: 16, learningRate: 5e-3, seed: 3 },
      {
        validation,
        onEpoch: (e) => reports.push(e),
      },
    );
    expect(reports).toHaveLength(25);
    expect(reports.at(-1)!.validation!).toBeLessThan(reports[0].validation! * 0.7);
    expect(ae.summary.validationMse).toBe(Math.min(...reports.map((r) => r.validation!)));

    const z = ae.encode(validation);
    expect(z.length).toBe(30 * 8);
    let hits = 0;
    for (let i = 0; i < validation.count; i++) {
      let best = -1;
      let bestSim = -Infinity;
      for (let j = 0; j < validation.count; j++) {
        if (j === i) continue;
        const s = cosine(z, i, j, 8);
        if (s > bestSim) [bestSim, best] = [s, j];
      }
      hits += Number(validation.labels[best] === validation.labels[i]);
    }
    expect(hits / validation.count).toBeGreaterThanOrEqual(0.8);

    const recon = ae.reconstruct({ pixels: validation.pixels.subarray(0, 256), count: 1 });
    expect(recon.length).toBe(256);
    expect(Math.min(...recon)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...recon)).toBeLessThanOrEqual(1);

    const copy = ConvAutoencoder.fromBytes(tf, ae.toBytes());
    expect(Array.from(copy.encode(validation))).toEqual(Array.from(z));
    expect(copy.hyperparameters).toEqual(ae.hyperparameters);
    expect(Array.from(copy.toBytes())).toEqual(Array.from(ae.toBytes()));
    copy.dispose();
    ae.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 60_000);

  it('is deterministic for a seed, stops when asked, and rejects bad input', async () => {
    const { tf } = await initBackend();
    const data = shapes(24, 5);
    const fit = (stopAfter = Infinity) => {
      let epochs = 0;
      return ConvAutoencoder.fit(
        tf,
        data,
        { size: 16, channels: 1, latentDim: 4, filters: [4, 8], epochs: 3, batchSize: 8, seed: 11 },
        { onEpoch: () => epochs++, shouldStop: () => epochs >= stopAfter },
      );
    };
    const a = await fit();
    const b = await fit();
    expect(Array.from(a.encode(data))).toEqual(Array.from(b.encode(data)));
    const c = await fit(1);
    expect(c.summary.epochsRun).toBe(1);
    [a, b, c].forEach((m) => m.dispose());
    await expect(
      ConvAutoencoder.fit(tf, { pixels: new Uint8Array(10), count: 1 }, { size: 16, channels: 1 }),
    ).rejects.toThrow(/expected 1 × 16×16×1/);
    await expect(ConvAutoencoder.fit(tf, data, { size: 18, channels: 1 })).rejects.toThrow(/multiple of 4/);
    expect(() => ConvAutoencoder.fromBytes(tf, new Uint8Array(16))).toThrow(/not a ConvAutoencoder file/);
  }, 60_000);
});
