import type * as tfjs from '@tensorflow/tfjs';
import { Random } from '../data/random.js';
import type { EpochReport } from './autoencoder.js';
import type { Tf } from './autorec.js';
import { packWeights, readWeightArrays, readWeightsHeader } from './weights-file.js';

/** Settings of {@link ConvAutoencoder}. */
export interface ConvAeHyperparameters {
  /** Image side in pixels (square; a multiple of 4). */
  size: number;
  /** 1 (grayscale) or 3 (RGB). */
  channels: number;
  /** Size of the visual embedding (the bottleneck). Default 32. */
  latentDim: number;
  /** Filters of the two convolution blocks (mirrored by the decoder). Default [16, 32]. */
  filters: [number, number];
  /** Passes over the images. Default 30. */
  epochs: number;
  /** Images per step. Default 64. */
  batchSize: number;
  /** Adam step size. Default 2e-3. */
  learningRate: number;
  /** Seed of the initialisation and the batch order. Default 1. */
  seed: number;
}

export const CONV_AE_DEFAULTS = {
  latentDim: 32,
  filters: [16, 32] as [number, number],
  epochs: 30,
  batchSize: 64,
  learningRate: 2e-3,
  seed: 1,
};

/** A set of images: n × size × size × channels uint8 (row-major HWC), as stored in item_images. */
export interface ImageBatch {
  pixels: Uint8Array;
  count: number;
}

export interface ConvAeFitOptions {
  /** Images scored (mean squared error) after every epoch; the best epoch's weights are kept. */
  validation?: ImageBatch;
  onEpoch?: (report: EpochReport) => void;
  /** Checked between steps; training stops early (keeping the best weights so far). */
  shouldStop?: () => boolean;
}

const MAGIC = 0x31454143; // "CAE1" little-endian
const FORMAT_VERSION = 1;

/**
 * A convolutional autoencoder for item thumbnails. Encoder: two blocks of 3×3 convolution (ReLU,
 * 'same') + 2×2 max pooling, then a dense layer to the latent vector (linear) — the item's visual
 * embedding. Decoder: a dense layer back to the pooled feature map, then two 3×3 transposed
 * convolutions with stride 2 (ReLU, then sigmoid to pixel intensities in [0, 1]). Trained with
 * Adam on the mean squared pixel error.
 *
 * @example
 *   const ae = await ConvAutoencoder.fit(tf, { pixels, count }, { size: 32, channels: 1 });
 *   const embeddings = ae.encode({ pixels, count }); // [count × latentDim]
 */
export class ConvAutoencoder {
  /** Epochs run and the best validation error (when validation was given). */
  readonly summary: { epochsRun: number; bestEpoch: number; validationMse: number | null };

  private constructor(
    private readonly tf: Tf,
    readonly hyperparameters: ConvAeHyperparameters,
    private encoder: tfjs.Sequential | null,
    private decoder: tfjs.Sequential | null,
    summary: ConvAutoencoder['summary'],
  ) {
    this.summary = summary;
  }

  get latentDim(): number {
    return this.hyperparameters.latentDim;
  }

  private static build(tf: Tf, h: ConvAeHyperparameters): { encoder: tfjs.Sequential; decoder: tfjs.Sequential } {
    const { size, channels, latentDim, filters } = h;
    const root = new Random(h.seed);
    const init = () => tf.initializers.glorotUniform({ seed: root.nextUint32() });
    const side = size / 4;
    const encoder = tf.sequential({
      layers: [
        tf.layers.conv2d({
          inputShape: [size, size, channels],
          filters: filters[0],
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: init(),
        }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({
          filters: filters[1],
          kernelSize: 3,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: init(),
        }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: latentDim, kernelInitializer: init() }),
      ],
    });
    const decoder = tf.sequential({
      layers: [
        tf.layers.dense({
          inputShape: [latentDim],
          units: side * side * filters[1],
          activation: 'relu',
          kernelInitializer: init(),
        }),
        tf.layers.reshape({ targetShape: [side, side, filters[1]] }),
        tf.layers.conv2dTranspose({
          filters: filters[0],
          kernelSize: 3,
          strides: 2,
          padding: 'same',
          activation: 'relu',
          kernelInitializer: init(),
        }),
        tf.layers.conv2dTranspose({
          filters: channels,
          kernelSize: 3,
          strides: 2,
          padding: 'same',
          activation: 'sigmoid',
          kernelInitializer: init(),
        }),
      ],
    });
    return { encoder, decoder };
  }

  private static check(h: ConvAeHyperparameters): void {
    const int = (name: keyof ConvAeHyperparameters, v: number, min: number, max: number) => {
      if (!(Number.isInteger(v) && v >= min && v <= max))
        throw new Error(`ConvAutoencoder: ${name} must be an integer in ${min}..${max}, got ${v}`);
    };
    int('size', h.size, 4, 256);
    if (h.size % 4 !== 0) throw new Error(`ConvAutoencoder: size must be a multiple of 4, got ${h.size}`);
    if (h.channels !== 1 && h.channels !== 3)
      throw new Error(`ConvAutoencoder: channels must be 1 or 3, got ${h.channels}`);
    int('latentDim', h.latentDim, 1, 4096);
    int('epochs', h.epochs, 1, 100_000);
    int('batchSize', h.batchSize, 1, 100_000);
    if (!(h.learningRate > 0 && h.learningRate < 1))
      throw new Error(`ConvAutoencoder: learningRate must be in (0, 1), got ${h.learningRate}`);
    if (!(h.filters.length === 2 && h.filters.every((f) => Number.isInteger(f) && f >= 1 && f <= 1024)))
      throw new Error('ConvAutoencoder: filters must be two integers in 1..1024');
  }

  private static imageLength(h: Pick<ConvAeHyperparameters, 'size' | 'channels'>): number {
    return h.size * h.size * h.channels;
  }

  private static checkBatch(h: ConvAeHyperparameters, batch: ImageBatch, what: string): void {
    if (batch.pixels.length !== batch.count * ConvAutoencoder.imageLength(h)) {
      throw new Error(
        `ConvAutoencoder: ${what} has ${batch.pixels.length} bytes, expected ${batch.count} × ${h.size}×${h.size}×${h.channels}`,
      );
    }
  }

  /** Trains on `images` (uint8 pixels) and returns the model with the best validation epoch's weights. */
  static async fit(
    tf: Tf,
    images: ImageBatch,
    hyper: Partial<ConvAeHyperparameters> & Pick<ConvAeHyperparameters, 'size' | 'channels'>,
    options: ConvAeFitOptions = {},
  ): Promise<ConvAutoencoder> {
    const h: ConvAeHyperparameters = {
      ...CONV_AE_DEFAULTS,
      ...hyper,
      filters: [...(hyper.filters ?? CONV_AE_DEFAULTS.filters)] as [number, number],
    };
    ConvAutoencoder.check(h);
    ConvAutoencoder.checkBatch(h, images, 'images');
    if (images.count === 0) throw new Error('ConvAutoencoder.fit: no images');
    if (options.validation) ConvAutoencoder.checkBatch(h, options.validation, 'validation');
    const { encoder, decoder } = ConvAutoencoder.build(tf, h);
    const model = new ConvAutoencoder(tf, h, encoder, decoder, { epochsRun: 0, bestEpoch: 0, validationMse: null });
    const weights = [...encoder.trainableWeights, ...decoder.trainableWeights].map((w) => w.read() as tfjs.Variable);
    const optimizer = tf.train.adam(h.learningRate);
    const order = Array.from({ length: images.count }, (_, i) => i);
    const rng = new Random((h.seed ^ 0x5bd1e995) >>> 0);
    const per = ConvAutoencoder.imageLength(h);
    let best: { mse: number; epoch: number; values: Float32Array[] } | null = null;
    try {
      for (let epoch = 1; epoch <= h.epochs; epoch++) {
        if (options.shouldStop?.()) break;
        const started = performance.now();
        rng.shuffle(order);
        let lossSum = 0;
        let steps = 0;
        let stopped = false;
        for (let start = 0; start < order.length; start += h.batchSize) {
          const idx = order.slice(start, start + h.batchSize);
          const batch = new Uint8Array(idx.length * per);
          idx.forEach((i, k) => batch.set(images.pixels.subarray(i * per, (i + 1) * per), k * per));
          const loss = tf.tidy(() => {
            const x = tf.div(tf.tensor4d(batch, [idx.length, h.size, h.size, h.channels], 'float32'), 255);
            return optimizer.minimize(
              () =>
                tf.losses.meanSquaredError(
                  x,
                  decoder.apply(encoder.apply(x, { training: true }), { training: true }) as tfjs.Tensor,
                ) as tfjs.Scalar,
              true,
              weights,
            )!;
          });
          lossSum += (await loss.data())[0];
          loss.dispose();
          steps++;
          await new Promise<void>((resolve) => setImmediate(resolve)); // let timers, I/O and signals run
          if (options.shouldStop?.()) {
            stopped = true;
            break;
          }
        }
        const seconds = (performance.now() - started) / 1000;
        model.summary.epochsRun = epoch;
        let validation: number | undefined;
        if (options.validation && options.validation.count > 0) {
          const errors = model.reconstructionErrors(options.validation);
          validation = errors.reduce((s, e) => s + e, 0) / errors.length;
          if (!best || validation < best.mse)
            best = {
              mse: validation,
              epoch,
              values: [...encoder.getWeights(), ...decoder.getWeights()].map(
                (t) => t.dataSync().slice() as Float32Array,
              ),
            };
        }
        options.onEpoch?.({ epoch, epochs: h.epochs, loss: lossSum / Math.max(1, steps), validation, seconds });
        if (stopped) break;
      }
      if (best) {
        model.setWeights(best.values);
        model.summary.bestEpoch = best.epoch;
        model.summary.validationMse = best.mse;
      } else {
        model.summary.bestEpoch = model.summary.epochsRun;
      }
      return model;
    } catch (error) {
      model.dispose();
      throw error;
    } finally {
      optimizer.dispose();
    }
  }

  private live(): { encoder: tfjs.Sequential; decoder: tfjs.Sequential } {
    if (!this.encoder || !this.decoder) throw new Error('ConvAutoencoder: disposed');
    return { encoder: this.encoder, decoder: this.decoder };
  }

  private setWeights(values: Float32Array[]): void {
    const { encoder, decoder } = this.live();
    const current = [...encoder.getWeights(), ...decoder.getWeights()];
    if (values.length !== current.length)
      throw new Error(`ConvAutoencoder: ${values.length} weight arrays, expected ${current.length}`);
    const tensors = current.map((t, i) => {
      if (values[i].length !== t.size)
        throw new Error(`ConvAutoencoder: weight ${i} has ${values[i].length} values, expected ${t.size}`);
      return this.tf.tensor(values[i], t.shape, 'float32');
    });
    const ne = encoder.getWeights().length;
    encoder.setWeights(tensors.slice(0, ne));
    decoder.setWeights(tensors.slice(ne));
    this.tf.dispose(tensors);
  }

  /** Runs `fn` over `images` in chunks of 256 and concatenates its per-image outputs. */
  private mapBatches(images: ImageBatch, outPer: number, fn: (x: tfjs.Tensor4D) => tfjs.Tensor): Float32Array {
    const h = this.hyperparameters;
    ConvAutoencoder.checkBatch(h, images, 'images');
    const per = ConvAutoencoder.imageLength(h);
    const out = new Float32Array(images.count * outPer);
    for (let start = 0; start < images.count; start += 256) {
      const n = Math.min(256, images.count - start);
      const y = this.tf.tidy(() =>
        fn(
          this.tf.div(
            this.tf.tensor4d(
              images.pixels.subarray(start * per, (start + n) * per),
              [n, h.size, h.size, h.channels],
              'float32',
            ),
            255,
          ) as tfjs.Tensor4D,
        ),
      );
      out.set(y.dataSync() as Float32Array, start * outPer);
      y.dispose();
    }
    return out;
  }

  /** Visual embeddings [count × latentDim]. */
  encode(images: ImageBatch): Float32Array {
    const { encoder } = this.live();
    return this.mapBatches(images, this.latentDim, (x) => encoder.predict(x) as tfjs.Tensor);
  }

  /** Decoded images [count × size·size·channels], intensities in [0, 1]. */
  reconstruct(images: ImageBatch): Float32Array {
    const { encoder, decoder } = this.live();
    return this.mapBatches(
      images,
      ConvAutoencoder.imageLength(this.hyperparameters),
      (x) => decoder.predict(encoder.predict(x) as tfjs.Tensor) as tfjs.Tensor,
    );
  }

  /** Mean squared error (intensities in [0, 1]) of each image's reconstruction. */
  reconstructionErrors(images: ImageBatch): Float64Array {
    const { encoder, decoder } = this.live();
    const errors = this.mapBatches(images, 1, (x) => {
      const y = decoder.predict(encoder.predict(x) as tfjs.Tensor) as tfjs.Tensor;
      return this.tf.mean(this.tf.square(this.tf.sub(y, x)), [1, 2, 3]);
    });
    return Float64Array.from(errors);
  }

  /** The model as bytes (header: hyperparameters and summary; then every weight array). */
  toBytes(): Uint8Array {
    const { encoder, decoder } = this.live();
    const values = [...encoder.getWeights(), ...decoder.getWeights()].map((t) => t.dataSync() as Float32Array);
    return packWeights(
      MAGIC,
      FORMAT_VERSION,
      { hyperparameters: this.hyperparameters, summary: this.summary, lengths: values.map((v) => v.length) },
      values,
    );
  }

  static fromBytes(tf: Tf, bytes: Uint8Array): ConvAutoencoder {
    const what = 'ConvAutoencoder';
    const { header, dataOffset } = readWeightsHeader<{
      hyperparameters: ConvAeHyperparameters;
      summary: ConvAutoencoder['summary'];
      lengths: number[];
    }>(bytes, MAGIC, FORMAT_VERSION, what);
    ConvAutoencoder.check(header.hyperparameters);
    const values = readWeightArrays(bytes, dataOffset, header.lengths, what);
    const { encoder, decoder } = ConvAutoencoder.build(tf, header.hyperparameters);
    const model = new ConvAutoencoder(tf, header.hyperparameters, encoder, decoder, header.summary);
    try {
      model.setWeights(values);
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  }

  /** Frees the layers' tensors. Idempotent. */
  dispose(): void {
    this.encoder?.dispose();
    this.decoder?.dispose();
    this.encoder = null;
    this.decoder = null;
  }
}
