import type pg from 'pg';
import type { IndexStore } from '../core/serving/served-model.js';
import { readByteaInChunks } from './model-versions.queries.js';

/** Bytes per read of a stored graph: pg reads a bytea as hex text, and V8 strings stop at 2²⁹ characters. */
const READ_CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * A version's stored index graph when its build parameters match `params` exactly; else null.
 * Read in chunks: one bytea value over about 256 MB would not fit in one string (the user graph of
 * 500,000 users is 474 MB). A graph replaced between two chunks reads as null (it is rebuilt).
 */
export async function getModelIndex(
  db: pg.Pool,
  versionId: number,
  name: string,
  params: Record<string, unknown>,
  chunkBytes = READ_CHUNK_BYTES,
): Promise<Uint8Array | null> {
  const where = 'version_id = $1 AND name = $2 AND params = $3::jsonb AND created_at = $4';
  const head = await db.query<{ size: number; createdAt: Date }>(
    `SELECT octet_length(bytes) AS size, created_at AS "createdAt" FROM model_indexes
     WHERE version_id = $1 AND name = $2 AND params = $3::jsonb`,
    [versionId, name, JSON.stringify(params)],
  );
  if (!head.rows[0]) return null;
  const { size, createdAt } = head.rows[0];
  return readByteaInChunks(size, chunkBytes, async (offset, length) => {
    const { rows } = await db.query<{ chunk: Buffer }>(
      `SELECT substring(bytes FROM $5::int FOR $6::int) AS chunk FROM model_indexes WHERE ${where}`,
      [versionId, name, JSON.stringify(params), createdAt, offset + 1, length],
    );
    const chunk = rows[0]?.chunk;
    return chunk ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) : null;
  });
}

/** Stores (or replaces) a version's index graph. */
export async function putModelIndex(
  db: pg.Pool,
  versionId: number,
  name: string,
  params: Record<string, unknown>,
  bytes: Uint8Array,
): Promise<void> {
  await db.query(
    `INSERT INTO model_indexes (version_id, name, params, bytes) VALUES ($1, $2, $3::jsonb, $4)
     ON CONFLICT (version_id, name) DO UPDATE SET params = EXCLUDED.params, bytes = EXCLUDED.bytes, created_at = now()`,
    [versionId, name, JSON.stringify(params), Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)],
  );
}

/** The index store of a version's graphs (ServedModel.load's `indexStore`) over `model_indexes`. */
export function modelIndexStore(db: pg.Pool, versionId: number): IndexStore {
  return {
    get: (name, params) => getModelIndex(db, versionId, name, params),
    put: (name, params, bytes) => putModelIndex(db, versionId, name, params, bytes),
  };
}
