import { Module } from '@nestjs/common';
import { ModelRegistry } from './model-registry.service.js';

/**
 * Model versions end to end: the artifact (kind, weights, id maps, metrics, data snapshot), storing
 * and loading it, turning it into a model (`modelFromArtifact`), activation per slot and its notice.
 * Training and serving depend on it; neither imports the other.
 */
@Module({
  providers: [ModelRegistry],
  exports: [ModelRegistry],
})
export class RegistryModule {}
