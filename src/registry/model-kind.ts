import { registerEnumType } from '@nestjs/graphql';
import { ModelKind } from '../generated/prisma/enums.js';

/**
 * The kind of a model version: the database enum (`model_versions.kind`, `training_runs.kind`),
 * registered as the GraphQL enum `ModelKind`.
 */
registerEnumType(ModelKind, {
  name: 'ModelKind',
  description:
    'VAE: Mult-VAE, DAE: Mult-DAE, AUTOREC: item-based AutoRec, EASE: the linear baseline, CONV_AE: the image autoencoder, ENSEMBLE: a blend of EASE and an autoencoder served as one version, AUTO (training only): try EASE, DAE, VAE and their blend on held-out users and keep the best.',
});
export { ModelKind };
