import type * as tfjs from '@tensorflow/tfjs';
import { matMulFast } from '../engine/ops.js';

type Tf = typeof tfjs;
type Tensor = tfjs.Tensor;
type Tensor2D = tfjs.Tensor2D;

export type ParamName = 'V' | 'mu' | 'W' | 'b';
export const PARAM_NAMES: readonly ParamName[] = ['V', 'mu', 'W', 'b'];

/** I-AutoRec parameters as tensors: V [numUsers × hidden], mu [hidden], W [hidden × numUsers], b [numUsers]. */
export type AutoRecParams = Record<ParamName, Tensor>;

/**
 * The mini-batch objective and its gradients, written out by hand (no autograd tape, no unused
 * input gradient); the transposed products go through {@link matMulFast}, i.e. explicit
 * transposes and plain matMuls on wasm, where transposed matMuls are about 10× slower.
 *
 * x: [batch × numUsers] item rating vectors (0 where unobserved), m: the same shape, 1 where
 * observed. loss = Σ m ⊙ (r̂ − x)² + λ/2 (‖W‖² + ‖V‖²) with r̂ = σ(x V + mu) W + b: unobserved
 * entries contribute neither to the loss nor to the gradients. Call inside `tf.tidy`.
 */
export function autorecLossAndGrads(
  tf: Tf,
  x: Tensor2D,
  m: Tensor2D,
  params: AutoRecParams,
  lambda: number,
): { loss: tfjs.Scalar; grads: AutoRecParams } {
  const { V, mu, W, b } = params;
  const h = tf.sigmoid(tf.add(tf.matMul(x, V as Tensor2D), mu)) as Tensor2D;
  const rhat = tf.add(tf.matMul(h, W as Tensor2D), b);
  const e = tf.mul(m, tf.sub(rhat, x));
  const reg = tf.mul(tf.add(tf.sum(tf.square(W)), tf.sum(tf.square(V))), lambda / 2);
  const loss = tf.add(tf.sum(tf.square(e)), reg) as tfjs.Scalar;
  const dOut = tf.mul(e, 2) as Tensor2D;
  const dh = matMulFast(dOut, W as Tensor2D, false, true);
  const dz = tf.mul(dh, tf.mul(h, tf.sub(1, h))) as Tensor2D;
  const grads: AutoRecParams = {
    V: tf.add(matMulFast(x, dz, true, false), tf.mul(V, lambda)),
    mu: tf.sum(dz, 0),
    W: tf.add(matMulFast(h, dOut, true, false), tf.mul(W, lambda)),
    b: tf.sum(dOut, 0),
  };
  return { loss, grads };
}
