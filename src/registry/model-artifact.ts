import type { Tf } from '../core/models/autorec.js';
import type { ServableModel } from '../core/models/servable.js';
import { modelFromBytes } from './model-kinds.js';
import type { ModelVersionArtifact } from './model-versions.queries.js';

/** Deserializes a version's weights into its model class (see {@link modelFromBytes}). */
export function modelFromArtifact(tf: Tf, artifact: ModelVersionArtifact): ServableModel {
  try {
    return modelFromBytes(tf, artifact.kind, artifact.weights);
  } catch (error) {
    if ((error as Error).message.startsWith('unknown model kind'))
      throw new Error(`model version ${artifact.id}: unknown kind ${String(artifact.kind)}`);
    throw error;
  }
}
