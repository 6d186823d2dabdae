import type pg from 'pg';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { ModelKind } from './model-kind.js';

/** The Prisma client (or a transaction of it) the registry's statements run on. */
export type RegistryDb = Pick<
  PrismaClient,
  'modelVersion' | 'activeModel' | '$transaction' | '$queryRaw' | '$executeRaw'
>;
type Db = RegistryDb;

export interface NewModelVersion {
  name: string;
  kind: ModelKind;
  hyperparameters: Record<string, unknown>;
  metrics: Record<string, Record<string, number>>;
  interactionCount: number;
  dataLatestAt: Date | null;
  /** Largest interactions.id in the training data (the snapshot's arrival mark). */
  dataMaxInteractionId?: bigint | null;
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

/**
 * Weights are written at most this many bytes per statement: a bytea parameter travels as text
 * (base64 through Prisma, hex through pg), and no string can exceed 2²⁹ characters in V8, so a
 * version of more than about 400 MB (Mult-VAE over 100,000 items is 450 MB) cannot be one value.
 */
export const WEIGHTS_WRITE_CHUNK_BYTES = 128 * 1024 * 1024;

/**
 * Stores a trained version (weights, id maps, metrics, data snapshot); returns its summary. Weights
 * over `chunkBytes` are written in slices, the first with the row and the rest appended, in one
 * transaction: a version is stored whole or not at all.
 */
export async function saveModelVersion(
  db: Db,
  v: NewModelVersion,
  chunkBytes = WEIGHTS_WRITE_CHUNK_BYTES,
): Promise<ModelVersionSummary> {
  const bytes = new Uint8Array(v.weights.buffer, v.weights.byteOffset, v.weights.byteLength) as Uint8Array<ArrayBuffer>;
  if (bytes.byteLength <= chunkBytes) return createVersion(db, v, bytes);
  return db.$transaction(
    async (tx) => {
      const summary = await createVersion(tx, v, bytes.subarray(0, chunkBytes));
      for (let offset = chunkBytes; offset < bytes.byteLength; offset += chunkBytes) {
        const slice = bytes.subarray(offset, Math.min(bytes.byteLength, offset + chunkBytes));
        await tx.$executeRaw`UPDATE model_versions SET weights = weights || ${slice} WHERE id = ${summary.id}`;
      }
      return summary;
    },
    { timeout: 30 * 60_000, maxWait: 60_000 },
  );
}

async function createVersion(
  db: Pick<PrismaClient, 'modelVersion'>,
  v: NewModelVersion,
  firstBytes: Uint8Array<ArrayBuffer>,
): Promise<ModelVersionSummary> {
  const row = await db.modelVersion.create({
    data: {
      name: v.name,
      kind: v.kind,
      hyperparameters: v.hyperparameters as object,
      metrics: v.metrics,
      interactionCount: BigInt(v.interactionCount),
      dataLatestAt: v.dataLatestAt,
      dataMaxInteractionId: v.dataMaxInteractionId ?? null,
      itemIds: v.itemIds,
      userIds: v.userIds ?? undefined,
      weights: firstBytes,
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

/**
 * Bytes of a bytea column read in slices: PostgreSQL sends bytea as hex text, and a string of more
 * than 2²⁹ characters (a 256 MB value) cannot exist in V8, so a large version (EASE over 8,000
 * items is 256 MB) is read 32 MB at a time into one buffer.
 */
export const WEIGHTS_CHUNK_BYTES = 32 * 1024 * 1024;

/**
 * `total` bytes read `chunkBytes` at a time by `read(offset, length)` into one buffer; null as soon
 * as a slice is missing or of the wrong length (the value changed or went away meanwhile).
 */
export async function readByteaInChunks(
  total: number,
  chunkBytes: number,
  read: (offset: number, length: number) => Promise<Uint8Array | null>,
): Promise<Uint8Array | null> {
  const out = new Uint8Array(total);
  for (let offset = 0; offset < total; offset += chunkBytes) {
    const length = Math.min(chunkBytes, total - offset);
    const chunk = await read(offset, length);
    if (!chunk || chunk.byteLength !== length) return null;
    out.set(chunk, offset);
  }
  return out;
}

/** One version's summary, or null. */
export async function getModelVersion(db: Db, id: number): Promise<ModelVersionSummary | null> {
  const row = await db.modelVersion.findUnique({ where: { id }, select: SUMMARY });
  return row ? toSummary(row) : null;
}

export async function activeModelVersionId(db: Db, slot = 'default'): Promise<number | null> {
  const row = await db.activeModel.findUnique({ where: { slot } });
  return row?.versionId ?? null;
}

/** A `pg` pool or client: the registry reads large versions over plain `pg`. */
export type PgQueryable = Pick<pg.Pool, 'query'> | Pick<pg.ClientBase, 'query'>;

/**
 * One version with everything needed to serve it, or null. Read over plain `pg`: the bytea of a
 * large version (19 MB for a Mult-VAE on ML-1M) arrives about 2× faster than through Prisma's
 * pipeline; API processes use it at boot and on activation, workers and scripts the same way.
 */
export async function loadModelVersion(
  pool: PgQueryable,
  id: number,
  chunkBytes = WEIGHTS_CHUNK_BYTES,
): Promise<ModelVersionArtifact | null> {
  const { rows } = await (pool as pg.Pool).query<
    Omit<ModelVersionArtifact, 'interactionCount' | 'weights'> & { interactionCount: string }
  >(
    `SELECT id, name, kind, hyperparameters, metrics, interaction_count AS "interactionCount", data_latest_at AS "dataLatestAt",
            weights_bytes AS "weightsBytes", training_seconds AS "trainingSeconds", created_at AS "createdAt",
            activated_at AS "activatedAt", item_ids AS "itemIds", user_ids AS "userIds"
     FROM model_versions WHERE id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row) return null;
  const weights = await readByteaInChunks(row.weightsBytes, chunkBytes, async (offset, length) => {
    const chunk = await (pool as pg.Pool).query<{ chunk: Buffer }>(
      'SELECT substring(weights FROM $2::int FOR $3::int) AS chunk FROM model_versions WHERE id = $1',
      [id, offset + 1, length],
    );
    if (!chunk.rows[0]) throw new Error(`model version ${id} was deleted while it was read`);
    const b = chunk.rows[0].chunk;
    if (b.byteLength !== length)
      throw new Error(`model weights: expected ${length} bytes at ${offset}, got ${b.byteLength}`);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  });
  if (!weights) throw new Error(`model version ${id}: its weights could not be read`);
  return { ...row, interactionCount: Number(row.interactionCount), weights };
}
