import type { RegistryDb as Db } from './model-versions.queries.js';

/** The channel on which activations are announced (payload: JSON `{ slot, versionId }`). */
export const ACTIVATION_CHANNEL = 'recoder_model_activated';

/**
 * Makes `id` the version serving `slot` (default "default") and, in the same transaction, NOTIFYs
 * {@link ACTIVATION_CHANNEL} so every API process swaps to it (delivered on commit). Returns false
 * if the version does not exist. Rollback is activating an older version.
 */
export async function activateModelVersion(db: Db, id: number, slot?: string): Promise<boolean> {
  // One statement (atomic, no interactive transaction to time out under load); the NOTIFY is
  // delivered when it commits. The slot follows the kind unless given: CONV_AE versions serve
  // "visual", every other kind "default".
  const rows = await db.$queryRaw<{ versionId: number }[]>`
    WITH v AS (UPDATE model_versions SET activated_at = now() WHERE id = ${id}
               RETURNING id, coalesce(${slot ?? null}::text, CASE WHEN kind = 'CONV_AE' THEN ${VISUAL_SLOT} ELSE 'default' END) AS slot),
         a AS (INSERT INTO active_models (slot, version_id, updated_at) SELECT slot, id, now() FROM v
               ON CONFLICT (slot) DO UPDATE SET version_id = EXCLUDED.version_id, updated_at = now()
               RETURNING slot, version_id)
    SELECT a.version_id AS "versionId"
    FROM a CROSS JOIN LATERAL (SELECT pg_notify(${ACTIVATION_CHANNEL}, json_build_object('slot', a.slot, 'versionId', a.version_id)::text)) AS n`;
  return rows.length === 1;
}

/** The slot of the active convolutional (image) autoencoder. */
export const VISUAL_SLOT = 'visual';

/** The `{ slot, versionId }` of an {@link ACTIVATION_CHANNEL} payload, or null when malformed. */
export function parseActivation(payload: string): { slot: string; versionId: number } | null {
  try {
    const { slot, versionId } = JSON.parse(payload) as { slot?: unknown; versionId?: unknown };
    return typeof slot === 'string' && typeof versionId === 'number' ? { slot, versionId } : null;
  } catch {
    return null;
  }
}
