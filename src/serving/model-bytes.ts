import type { Tf } from '../core/models/autorec.js';
import { AutoRec } from '../core/models/autorec.js';
import { Ease } from '../core/models/ease.js';
import { Ensemble } from '../core/models/ensemble.js';
import { MultDAE } from '../core/models/mult-dae.js';
import { MultVAE } from '../core/models/mult-vae.js';

/** Kinds of collaborative model versions the serving path loads. */
export type ServedKind = 'VAE' | 'DAE' | 'AUTOREC' | 'EASE' | 'ENSEMBLE';

/** Deserializes a version's weights into its model class (the API process and its model threads share this). */
export function modelFromBytes(tf: Tf, kind: string, weights: Uint8Array): MultVAE | MultDAE | AutoRec | Ease | Ensemble {
  switch (kind) {
    case 'VAE':
      return MultVAE.fromBytes(tf, weights);
    case 'DAE':
      return MultDAE.fromBytes(tf, weights);
    case 'AUTOREC':
      return AutoRec.fromBytes(tf, weights);
    case 'EASE':
      return Ease.fromBytes(weights);
    case 'ENSEMBLE':
      return Ensemble.fromBytes(tf, weights);
    default:
      throw new Error(`unknown model kind ${String(kind)}`);
  }
}
