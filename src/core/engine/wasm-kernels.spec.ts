import { initBackend } from './backend.js';

/** Naive NHWC filter gradient of a conv2d with explicit padding (top, left) and stride. */
function naiveFilterGrad(
  x: Float32Array,
  xs: number[],
  dy: Float32Array,
  dys: number[],
  k: number,
  stride: number,
  top: number,
  left: number,
): Float32Array {
  const [n, h, w, ci] = xs;
  const [, ho, wo, co] = dys;
  const out = new Float32Array(k * k * ci * co);
  for (let a = 0; a < k; a++)
    for (let b = 0; b < k; b++)
      for (let c = 0; c < ci; c++)
        for (let o = 0; o < co; o++) {
          let s = 0;
          for (let m = 0; m < n; m++)
            for (let i = 0; i < ho; i++)
              for (let j = 0; j < wo; j++) {
                const y = i * stride + a - top;
                const z = j * stride + b - left;
                if (y < 0 || y >= h || z < 0 || z >= w) continue;
                s += x[((m * h + y) * w + z) * ci + c] * dy[((m * ho + i) * wo + j) * co + o];
              }
          out[((a * k + b) * ci + c) * co + o] = s;
        }
  return out;
}

describe('wasm Conv2DBackpropFilter (Recoder kernel)', () => {
  it.each([
    ['same, stride 1', 7, 6, 3, 1, 'same' as const],
    ['same, stride 2 (odd size)', 7, 7, 3, 2, 'same' as const],
    ['valid, stride 2', 8, 8, 3, 2, 'valid' as const],
    ['valid 5×5, stride 1', 9, 8, 5, 1, 'valid' as const],
  ])('matches the definition: %s', async (_name, h, w, k, stride, pad) => {
    const { tf, name } = await initBackend({ prefer: 'wasm' });
    expect(name).toBe('wasm');
    const before = tf.memory().numTensors;
    const x = tf.randomNormal([2, h, w, 3], 0, 1, 'float32', 1) as import('@tensorflow/tfjs').Tensor4D;
    const filter = tf.randomNormal([k, k, 3, 4], 0, 1, 'float32', 2) as import('@tensorflow/tfjs').Tensor4D;
    const y = tf.conv2d(x, filter, stride, pad);
    const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 3);
    const grad = tf.grad((f) =>
      tf.sum(tf.mul(tf.conv2d(x, f as import('@tensorflow/tfjs').Tensor4D, stride, pad), dy)),
    )(filter);
    const info = tf.backend_util.computeConv2DInfo(x.shape, filter.shape, stride, 1, pad);
    const expected = naiveFilterGrad(
      x.dataSync() as Float32Array,
      x.shape,
      dy.dataSync() as Float32Array,
      y.shape,
      k,
      stride,
      info.padInfo.top,
      info.padInfo.left,
    );
    const got = grad.dataSync();
    expect(grad.shape).toEqual([k, k, 3, 4]);
    for (let i = 0; i < expected.length; i++) expect(got[i]).toBeCloseTo(expected[i], 3);
    tf.dispose([x, filter, y, dy, grad]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
