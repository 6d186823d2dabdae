export { importInteractions, interactionCopyColumns, eventIdOf } from './importer.js';
export type { ImportOptions, ImportPhase, ImportResult, ImportStrategy } from './importer.js';
export { IMPORT_FORMATS, INTERACTION_KINDS, isImportFormat, planImport, readInteractionBatches } from './formats.js';
export type { ImportFormat, ImportPlan, InteractionRow, ItemMetadata } from './formats.js';
export { ImportFormatError } from './line-reader.js';
