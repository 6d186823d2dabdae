import type pg from 'pg';

/** The channel on which experiment starts and stops are announced (payload: JSON `{ id, slot, status }`). */
export const EXPERIMENT_CHANNEL = 'recoder_experiments';

export interface ExperimentRow {
  id: number;
  name: string | null;
  slot: string;
  status: 'RUNNING' | 'STOPPED';
  startedAt: Date;
  stoppedAt: Date | null;
  stopReason: string | null;
  winnerVersionId: number | null;
  trainingRunId: number | null;
  arms: { arm: number; versionId: number; weight: number }[];
}

const SELECT = `SELECT e.id, e.name, e.slot, e.status::text AS status, e.started_at AS "startedAt", e.stopped_at AS "stoppedAt",
    e.stop_reason AS "stopReason", e.winner_version_id AS "winnerVersionId", e.training_run_id AS "trainingRunId",
    (SELECT json_agg(json_build_object('arm', a.arm, 'versionId', a.version_id, 'weight', a.weight) ORDER BY a.arm)
     FROM experiment_arms a WHERE a.experiment_id = e.id) AS arms
  FROM experiments e`;

export async function getExperiment(db: pg.Pool | pg.ClientBase, id: number): Promise<ExperimentRow | null> {
  const { rows } = await db.query<ExperimentRow>(`${SELECT} WHERE e.id = $1`, [id]);
  return rows[0] ?? null;
}

export async function listExperiments(db: pg.Pool, limit: number): Promise<ExperimentRow[]> {
  const { rows } = await db.query<ExperimentRow>(`${SELECT} ORDER BY e.id DESC LIMIT $1`, [limit]);
  return rows;
}

export async function runningExperiments(db: pg.Pool): Promise<ExperimentRow[]> {
  const { rows } = await db.query<ExperimentRow>(`${SELECT} WHERE e.status = 'RUNNING' ORDER BY e.id`);
  return rows;
}

/** The running experiment of a slot, if any. */
export async function runningExperimentIn(db: pg.Pool | pg.ClientBase, slot: string): Promise<ExperimentRow | null> {
  const { rows } = await db.query<ExperimentRow>(`${SELECT} WHERE e.slot = $1 AND e.status = 'RUNNING'`, [slot]);
  return rows[0] ?? null;
}

/**
 * Inserts a running experiment and its arms and NOTIFYs {@link EXPERIMENT_CHANNEL}, on the
 * caller's transaction. A unique violation (23505 on experiments_one_running_per_slot) means the
 * slot already has a running experiment.
 */
export async function insertExperiment(
  tx: pg.ClientBase,
  e: {
    name: string | null;
    slot: string;
    arms: { versionId: number; weight: number }[];
    trainingRunId?: number | null;
  },
): Promise<number> {
  const { rows } = await tx.query<{ id: number }>(
    `INSERT INTO experiments (name, slot, training_run_id) VALUES ($1, $2, $3) RETURNING id`,
    [e.name, e.slot, e.trainingRunId ?? null],
  );
  const id = rows[0].id;
  await tx.query(
    `INSERT INTO experiment_arms (experiment_id, arm, version_id, weight)
     SELECT $1, x.ord - 1, x.version_id, x.weight FROM unnest($2::int[], $3::float8[]) WITH ORDINALITY AS x(version_id, weight, ord)`,
    [id, e.arms.map((a) => a.versionId), e.arms.map((a) => a.weight)],
  );
  await tx.query(`SELECT pg_notify($1, $2)`, [
    EXPERIMENT_CHANNEL,
    JSON.stringify({ id, slot: e.slot, status: 'RUNNING' }),
  ]);
  return id;
}

/** Marks a running experiment stopped (with the reason and winner) and NOTIFYs; false when it was not running. */
export async function markStopped(
  tx: pg.ClientBase,
  id: number,
  reason: string,
  winnerVersionId: number | null,
): Promise<boolean> {
  const { rows } = await tx.query<{ slot: string }>(
    `UPDATE experiments SET status = 'STOPPED', stopped_at = now(), stop_reason = $2, winner_version_id = $3
     WHERE id = $1 AND status = 'RUNNING' RETURNING slot`,
    [id, reason, winnerVersionId],
  );
  if (rows.length === 0) return false;
  await tx.query(`SELECT pg_notify($1, $2)`, [
    EXPERIMENT_CHANNEL,
    JSON.stringify({ id, slot: rows[0].slot, status: 'STOPPED', reason }),
  ]);
  return true;
}

/** The versions that exist among `ids`, with their kind. */
export async function versionKinds(db: pg.Pool | pg.ClientBase, ids: number[]): Promise<Map<number, string>> {
  const { rows } = await db.query<{ id: number; kind: string }>(
    `SELECT id, kind::text AS kind FROM model_versions WHERE id = ANY($1::int[])`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, r.kind]));
}
