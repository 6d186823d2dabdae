/**
 * The active version scored on a run's held-out data, the baseline a new version is compared with
 * (run-decision.ts): ranking metrics of the active collaborative version over the run's item
 * columns, or the active image autoencoder's reconstruction error on the run's held-out images.
 */
import type { CsrMatrix } from '../core/data/csr.js';
import { crossCatalogScorer } from '../core/eval/cross-catalog.js';
import { evaluateRanking } from '../core/eval/metrics.js';
import type { Tf } from '../core/models/autorec.js';
import { ConvAutoencoder, type ImageBatch } from '../core/models/conv-ae.js';
import { VISUAL_SLOT } from '../registry/activation.js';
import { modelFromArtifact } from '../registry/model-artifact.js';
import type { ModelRegistry } from '../registry/model-registry.service.js';
import type { Baseline } from './train-version.js';

/** The active visual version's mean squared error on this run's held-out images (same shape only). */
export async function scoreActiveVisual(
  registry: ModelRegistry,
  tf: Tf,
  images: { size: number; channels: number },
  heldOut: ImageBatch,
): Promise<Baseline | null> {
  const activeId = await registry.activeId(VISUAL_SLOT);
  if (activeId === null) return null;
  const artifact = await registry.load(activeId);
  if (!artifact || artifact.kind !== 'CONV_AE') return null;
  const model = ConvAutoencoder.fromBytes(tf, artifact.weights);
  try {
    const { size, channels } = model.hyperparameters;
    if (size !== images.size || channels !== images.channels) return { versionId: activeId, metrics: {} };
    const errors = model.reconstructionErrors(heldOut);
    return {
      versionId: activeId,
      metrics: { mse: errors.reduce((s, e) => s + e, 0) / errors.length, images: heldOut.count },
    };
  } finally {
    model.dispose();
  }
}

/** The active version's metrics on this run's held-out users (over this run's item columns). */
export async function scoreActive(
  registry: ModelRegistry,
  tf: Tf,
  validation: { foldIn: CsrMatrix; heldOut: CsrMatrix },
  itemIds: string[],
): Promise<Baseline | null> {
  const activeId = await registry.activeId();
  if (activeId === null) return null;
  const artifact = await registry.load(activeId);
  if (!artifact) return null;
  if (artifact.kind === 'AUTOREC') return { versionId: activeId, metrics: {} };
  const model = modelFromArtifact(tf, artifact);
  try {
    const metrics = evaluateRanking(
      crossCatalogScorer((h: CsrMatrix) => model.score(h), artifact.itemIds, itemIds),
      validation.foldIn,
      validation.heldOut,
    );
    return { versionId: activeId, metrics };
  } finally {
    model.dispose();
  }
}
