import pg from 'pg';
import { holdoutFraction, stableHoldoutRows } from '../core/data/stable-holdout.js';
import type { EpochReport } from '../core/models/autoencoder.js';
import type { Tf } from '../core/models/autorec.js';
import { ConvAutoencoder, type ConvAeHyperparameters, type ImageBatch } from '../core/models/conv-ae.js';
import { readItemImages } from '../images/images.queries.js';
import { saveModelVersion, type RegistryDb } from '../registry/model-versions.queries.js';
import { DEFAULT_EPOCHS, TrainingCancelled, type Baseline, type TrainedVersion } from './train-version.js';

export interface TrainVisualOptions {
  /** Image shape to train on (the RECODER_IMAGE_* setting the images were stored with). */
  size: number;
  channels: number;
  epochs?: number;
  seed?: number;
  hyperparameters?: Partial<Pick<ConvAeHyperparameters, 'latentDim' | 'batchSize' | 'learningRate' | 'filters'>>;
  name?: string;
  backend?: string;
  onEpoch?: (report: EpochReport) => void;
  onData?: (info: { images: number; seconds: number }) => void;
  shouldStop?: () => boolean;
  /** Another visual model's mean squared error on this run's held-out images (for IF_BETTER). */
  scoreBaseline?: (heldOut: ImageBatch, itemIds: string[]) => Promise<Baseline | null>;
  log?: (message: string) => void;
}

/**
 * Trains the convolutional autoencoder on the catalog's item images and stores it as a CONV_AE
 * model version (item ids: the items it saw). Validation: about 10 % of the images (at most
 * 500), chosen by a hash of the item id so every run holds out the same items; the best epoch's
 * weights are kept and its mean squared error is the version's `validation.mse`.
 */
export async function trainVisualVersion(
  tf: Tf,
  databaseUrl: string,
  prisma: RegistryDb,
  o: TrainVisualOptions,
): Promise<TrainedVersion> {
  const t0 = performance.now();
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => undefined);
  await client.connect();
  let images;
  try {
    images = await readItemImages(client, { size: o.size, channels: o.channels });
  } finally {
    await client.end();
  }
  const count = images.itemIds.length;
  const dataSeconds = (performance.now() - t0) / 1000;
  o.log?.(`read ${count} item images (${o.size}×${o.size}×${o.channels}) in ${dataSeconds.toFixed(1)} s`);
  o.onData?.({ images: count, seconds: dataSeconds });
  if (count < 2)
    throw new Error(
      `too few item images to train: ${count} of ${o.size}×${o.size}×${o.channels} (setItemImage or npm run import -- --images)`,
    );
  if (o.shouldStop?.()) throw new TrainingCancelled();
  const per = o.size * o.size * o.channels;
  const held = new Set(stableHoldoutRows(images.externalIds, holdoutFraction(count, 500), 1));
  const pick = (rows: number[]): ImageBatch => {
    const pixels = new Uint8Array(rows.length * per);
    rows.forEach((r, k) => pixels.set(images.pixels.subarray(r * per, (r + 1) * per), k * per));
    return { pixels, count: rows.length };
  };
  const all = Array.from({ length: count }, (_, r) => r);
  const trainRows = all.filter((r) => !held.has(r));
  const heldRows = all.filter((r) => held.has(r));
  const validation = pick(heldRows);
  const started = performance.now();
  const model = await ConvAutoencoder.fit(
    tf,
    pick(trainRows),
    {
      ...o.hyperparameters,
      size: o.size,
      channels: o.channels,
      epochs: o.epochs ?? DEFAULT_EPOCHS.conv_ae!,
      seed: o.seed ?? 1,
    },
    { validation, onEpoch: o.onEpoch, shouldStop: o.shouldStop },
  );
  try {
    if (o.shouldStop?.()) throw new TrainingCancelled();
    const errors = model.reconstructionErrors(validation);
    const metrics = {
      mse: errors.reduce((s, e) => s + e, 0) / errors.length,
      images: validation.count,
      trainImages: trainRows.length,
    };
    const baseline = o.scoreBaseline
      ? await o.scoreBaseline(
          validation,
          heldRows.map((r) => images.externalIds[r]),
        )
      : null;
    const trainingSeconds = (performance.now() - started) / 1000;
    const version = await saveModelVersion(prisma, {
      name: o.name ?? `conv_ae-${new Date().toISOString().slice(0, 19)}`,
      kind: 'CONV_AE',
      hyperparameters: {
        ...model.hyperparameters,
        bestEpoch: model.summary.bestEpoch,
        ...(o.backend ? { backend: o.backend } : {}),
      },
      metrics: baseline
        ? { validation: metrics, baseline: { versionId: baseline.versionId, ...baseline.metrics } }
        : { validation: metrics },
      interactionCount: count,
      dataLatestAt: null,
      itemIds: images.externalIds,
      weights: model.toBytes(),
      trainingSeconds,
    });
    return { version, metrics, baseline, dataSeconds, trainingSeconds };
  } finally {
    model.dispose();
  }
}
