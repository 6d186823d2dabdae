import type { Tf } from '../core/models/autorec.js';
import { AutoRec } from '../core/models/autorec.js';
import { Ease } from '../core/models/ease.js';
import { Ensemble } from '../core/models/ensemble.js';
import { MultDAE } from '../core/models/mult-dae.js';
import { MultVAE } from '../core/models/mult-vae.js';
import type { ServableKind, ServableModel } from '../core/models/servable.js';
import type { ModelKind } from '../generated/prisma/enums.js';

/** Kinds of collaborative model versions the serving path loads (every kind but CONV_AE and AUTO). */
export type ServedKind = Exclude<ModelKind, 'CONV_AE' | 'AUTO'>;

/** A served kind's entry: its name in the core and how its stored weights become a model. */
interface KindEntry {
  core: ServableKind;
  fromBytes(tf: Tf, weights: Uint8Array): ServableModel;
}

/**
 * The registry of served model kinds: the stored / GraphQL name (`model_versions.kind`) → the core
 * class. Adding a kind is its core file (implementing `ServableModel`) plus an entry here; nothing
 * in serving changes. Read by the API process and its model threads alike (no Nest here).
 */
export const SERVED_KINDS: Readonly<Record<ServedKind, KindEntry>> = {
  VAE: { core: 'vae', fromBytes: (tf, w) => MultVAE.fromBytes(tf, w) },
  DAE: { core: 'dae', fromBytes: (tf, w) => MultDAE.fromBytes(tf, w) },
  AUTOREC: { core: 'autorec', fromBytes: (tf, w) => AutoRec.fromBytes(tf, w) },
  EASE: { core: 'ease', fromBytes: (_tf, w) => Ease.fromBytes(w) },
  ENSEMBLE: { core: 'ensemble', fromBytes: (tf, w) => Ensemble.fromBytes(tf, w) },
};

/** Whether a stored kind is one the serving path loads. */
export function isServedKind(kind: string): kind is ServedKind {
  return Object.hasOwn(SERVED_KINDS, kind);
}

/** Deserializes a version's weights into its model class (the API process and its model threads share this). */
export function modelFromBytes(tf: Tf, kind: string, weights: Uint8Array): ServableModel {
  if (!isServedKind(kind)) throw new Error(`unknown model kind ${String(kind)}`);
  return SERVED_KINDS[kind].fromBytes(tf, weights);
}

/** The stored kind of a model (the inverse of the map's `core` names). */
export function servedKindOf(model: Pick<ServableModel, 'kind'>): ServedKind {
  for (const [kind, entry] of Object.entries(SERVED_KINDS) as [ServedKind, KindEntry][])
    if (entry.core === model.kind) return kind;
  throw new Error(`no registry entry for the core kind ${model.kind}`);
}

/** What `trainVersion` trains, as the core names it (AUTO: the AUTO search). */
export type TrainableKind = 'vae' | 'dae' | 'autorec' | 'ease' | 'auto';

/** The stored / GraphQL kinds a training run trains through `trainVersion`, and their core names. */
export const TRAINABLE_KINDS: Readonly<Partial<Record<ModelKind, TrainableKind>>> = {
  VAE: 'vae',
  DAE: 'dae',
  AUTOREC: 'autorec',
  EASE: 'ease',
  AUTO: 'auto',
};

/** The core name of a trainable stored kind; throws for the others (CONV_AE trains through trainVisualVersion, ENSEMBLE through AUTO). */
export function trainableKind(kind: ModelKind): TrainableKind {
  const core = TRAINABLE_KINDS[kind];
  if (!core) throw new Error(`kind ${kind} is not trained by trainVersion`);
  return core;
}
