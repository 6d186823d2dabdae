import type { Tf } from '../core/models/autorec.js';
import { AutoRec } from '../core/models/autorec.js';
import { Ease } from '../core/models/ease.js';
import { Ensemble } from '../core/models/ensemble.js';
import { MultDAE } from '../core/models/mult-dae.js';
import { MultVAE } from '../core/models/mult-vae.js';
import type { ModelVersionArtifact } from './model-versions.queries.js';

/** Deserializes a version's weights into its model class. */
export function modelFromArtifact(tf: Tf, artifact: ModelVersionArtifact): MultVAE | MultDAE | AutoRec | Ease | Ensemble {
  switch (artifact.kind) {
    case 'VAE':
      return MultVAE.fromBytes(tf, artifact.weights);
    case 'DAE':
      return MultDAE.fromBytes(tf, artifact.weights);
    case 'AUTOREC':
      return AutoRec.fromBytes(tf, artifact.weights);
    case 'EASE':
      return Ease.fromBytes(artifact.weights);
    case 'ENSEMBLE':
      return Ensemble.fromBytes(tf, artifact.weights);
    default:
      throw new Error(`model version ${artifact.id}: unknown kind ${String(artifact.kind)}`);
  }
}
