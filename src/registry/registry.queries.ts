import type { PrismaClient } from '../generated/prisma/client.js';
import type { ModelKind } from '../generated/prisma/enums.js';

type Db = Pick<PrismaClient, 'modelVersion' | 'activeModel' | '$transaction'>;

export interface NewModelVersion {
  name: string;
  kind: ModelKind;
  hyperparameters: Record<string, unknown>;
  metrics: Record<string, Record<string, number>>;
  interactionCount: number;
  dataLatestAt: Date | null;
  itemIds: string[];
  userIds?: string[] | null;
  weights: Uint8Array;
  trainingSeconds: number;
}

export interface ModelVersionSummary {
  id: number;
  name: string;
  kind: ModelKind;
  hyperparameters: Record<string, unknown>;
  metrics: Record<string, Record<string, number>>;
  interactionCount: number;
  dataLatestAt: Date | null;
  weightsBytes: number;
  trainingSeconds: number;
  createdAt: Date;
  activatedAt: Date | null;
}

export interface ModelVersionArtifact extends ModelVersionSummary {
  itemIds: string[];
  userIds: string[] | null;
  weights: Uint8Array;
}

const SUMMARY = {
  id: true,
  name: true,
  kind: true,
  hyperparameters: true,
  metrics: true,
  interactionCount: true,
  dataLatestAt: true,
  weightsBytes: true,
  trainingSeconds: true,
  createdAt: true,
  activatedAt: true,
} as const;

type SummaryRow = { interactionCount: bigint; hyperparameters: unknown; metrics: unknown } & Omit<
  ModelVersionSummary,
  'interactionCount' | 'hyperparameters' | 'metrics'
>;

function toSummary(row: SummaryRow): ModelVersionSummary {
  return {
    ...row,
    interactionCount: Number(row.interactionCount),
    hyperparameters: row.hyperparameters as Record<string, unknown>,
    metrics: row.metrics as Record<string, Record<string, number>>,
  };
}

/** Stores a trained version (weights, id maps, metrics, data snapshot); returns its summary. */
export async function saveModelVersion(db: Db, v: NewModelVersion): Promise<ModelVersionSummary> {
  const row = await db.modelVersion.create({
    data: {
      name: v.name,
      kind: v.kind,
      hyperparameters: v.hyperparameters as object,
      metrics: v.metrics,
      interactionCount: BigInt(v.interactionCount),
      dataLatestAt: v.dataLatestAt,
      itemIds: v.itemIds,
      userIds: v.userIds ?? undefined,
      weights: new Uint8Array(v.weights.buffer, v.weights.byteOffset, v.weights.byteLength) as Uint8Array<ArrayBuffer>,
      weightsBytes: v.weights.byteLength,
      trainingSeconds: v.trainingSeconds,
    },
    select: SUMMARY,
  });
  return toSummary(row);
}

/** Versions newest first, without their weights. */
export async function listModelVersions(db: Db, limit = 50): Promise<ModelVersionSummary[]> {
  const rows = await db.modelVersion.findMany({ select: SUMMARY, orderBy: { id: 'desc' }, take: limit });
  return rows.map(toSummary);
}

/** One version with everything needed to serve it, or null. */
export async function loadModelVersion(db: Db, id: number): Promise<ModelVersionArtifact | null> {
  const row = await db.modelVersion.findUnique({ where: { id }, select: { ...SUMMARY, itemIds: true, userIds: true, weights: true } });
  if (!row) return null;
  return {
    ...toSummary(row),
    itemIds: row.itemIds as string[],
    userIds: (row.userIds as string[] | null) ?? null,
    weights: new Uint8Array(row.weights),
  };
}

/** Makes `id` the version serving `slot` (default "default"); returns false if it does not exist. */
export async function activateModelVersion(db: Db, id: number, slot = 'default'): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const exists = await tx.modelVersion.findUnique({ where: { id }, select: { id: true } });
    if (!exists) return false;
    await tx.activeModel.upsert({ where: { slot }, create: { slot, versionId: id }, update: { versionId: id } });
    await tx.modelVersion.update({ where: { id }, data: { activatedAt: new Date() } });
    return true;
  });
}

export async function activeModelVersionId(db: Db, slot = 'default'): Promise<number | null> {
  const row = await db.activeModel.findUnique({ where: { slot } });
  return row?.versionId ?? null;
}
