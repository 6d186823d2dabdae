import type pg from 'pg';
import type { IndexStore } from '../core/serving/served-model.js';

/** A version's stored index graph when its build parameters match `params` exactly; else null. */
export async function getModelIndex(
  db: pg.Pool,
  versionId: number,
  name: string,
  params: Record<string, unknown>,
): Promise<Uint8Array | null> {
  const { rows } = await db.query<{ bytes: Buffer }>(
    'SELECT bytes FROM model_indexes WHERE version_id = $1 AND name = $2 AND params = $3::jsonb',
    [versionId, name, JSON.stringify(params)],
  );
  return rows[0] ? new Uint8Array(rows[0].bytes.buffer, rows[0].bytes.byteOffset, rows[0].bytes.byteLength) : null;
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
