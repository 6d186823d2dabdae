import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend.js';

// tfjs-node is not installed on these machines (its install downloads libtensorflow), so 'auto'
// must land on wasm. Each spec file gets its own module registry, hence a fresh tfjs.
describe('initBackend (auto)', () => {
  const lines: string[] = [];

  it('chooses wasm when tfjs-node is absent, logging exactly one line', async () => {
    const b = await initBackend({ log: (m) => lines.push(m) });
    expect(b.name).toBe('wasm');
    expect(b.tf.getBackend()).toBe('wasm');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^tfjs backend: wasm/);
    expect(lines[0]).toMatch(/tfjs-node/);
    expect(b.tf.engine()).toBe(tf.engine()); // the same tfjs instance as `import * as tf`
  });

  it('is idempotent: same result, no second log line, concurrent calls share it', async () => {
    const [a, b] = await Promise.all([initBackend({ log: (m) => lines.push(m) }), initBackend({ prefer: 'wasm' })]);
    expect(a.name).toBe('wasm');
    expect(b).toBe(a);
    expect(lines).toHaveLength(1);
  });

  it('refuses to switch to another explicit backend afterwards', async () => {
    await expect(initBackend({ prefer: 'cpu' })).rejects.toThrow(/already 'wasm'/);
  });

  it('wasm: tf.gather has a gradient (JS UnsortedSegmentSum kernel)', () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
      const idx = tf.tensor1d([2, 0, 2, 2], 'int32');
      const g = tf.grad((v: tf.Tensor) =>
        tf
          .gather(v, idx)
          .mul(tf.tensor1d([1, 10]))
          .sum(),
      )(x);
      expect(Array.from(g.dataSync())).toEqual([1, 10, 0, 0, 3, 30]);
      const g1 = tf.grad((v: tf.Tensor) => tf.gather(v, tf.tensor1d([1, 1, 0], 'int32')).sum())(tf.tensor1d([5, 6, 7]));
      expect(Array.from(g1.dataSync())).toEqual([1, 2, 0]);
      // The kernel directly, with an out-of-range id dropped and int32 data.
      const s = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4], 'int32'), tf.tensor1d([0, 2, 0, 1], 'int32'), 3);
      expect(s.dtype).toBe('int32');
      expect(Array.from(s.dataSync())).toEqual([4, 4, 2]);
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('wasm: the gather gradient matches the cpu backend on a larger case', async () => {
    const idx = Int32Array.from({ length: 500 }, (_, i) => (i * 37) % 123);
    const run = () =>
      tf.tidy(() => {
        const x = tf.randomNormal([123, 16], 0, 1, 'float32', 1);
        const w = tf.randomNormal([500, 16], 0, 1, 'float32', 2);
        return Array.from(
          tf
            .grad((v: tf.Tensor) => tf.gather(v, tf.tensor1d(idx, 'int32')).mul(w).sum())(x)
            .dataSync(),
        );
      });
    const onWasm = run();
    await tf.setBackend('cpu');
    const onCpu = run();
    await tf.setBackend('wasm');
    onWasm.forEach((v, i) => expect(v).toBeCloseTo(onCpu[i], 4));
  });
});
