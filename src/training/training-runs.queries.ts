import type { PrismaClient } from '../generated/prisma/client.js';
import type { ActivationPolicy, ModelKind, TrainingStatus } from '../generated/prisma/enums.js';

type Db = Pick<PrismaClient, 'trainingRun' | '$queryRaw' | '$executeRaw'>;

/** One finished epoch, as stored in training_runs.history. */
export interface EpochPoint {
  epoch: number;
  loss: number;
  /** NDCG@100 (vae/dae) or RMSE (autorec) on the validation users/ratings. */
  validation: number | null;
  seconds: number;
  /** AUTO: the candidate the epoch belongs to (e.g. "Mult-DAE"). */
  candidate?: string;
}

/** One candidate of an AUTO run (core auto-select's AutoCandidate, as stored). */
export interface RunCandidate {
  name: string;
  kind: string;
  status: string;
  ndcg: number | null;
  settings: Record<string, unknown>;
  seconds: number;
  reason?: string;
  chosen?: boolean;
}

/** The new version and the previously active one on the same held-out users. */
export interface RunComparison {
  metric: string;
  candidate: number;
  activeVersionId: number | null;
  active: number | null;
  users: number;
}

export interface TrainingRunRow {
  id: number;
  kind: ModelKind;
  status: TrainingStatus;
  activation: ActivationPolicy;
  hyperparameters: Record<string, unknown>;
  trigger: string;
  jobId: string | null;
  worker: string | null;
  epochs: number | null;
  epoch: number;
  history: EpochPoint[];
  candidates: RunCandidate[];
  progress: number;
  stage: string | null;
  comparison: RunComparison | null;
  decision: string | null;
  activated: boolean;
  cancelRequested: boolean;
  error: string | null;
  versionId: number | null;
  dataSeconds: number | null;
  trainingSeconds: number | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  heartbeatAt: Date | null;
}

const toRow = (r: Record<string, unknown>): TrainingRunRow => {
  const row = r as unknown as TrainingRunRow;
  if (Array.isArray(row.candidates)) row.candidates = row.candidates.map((c) => ({ ...c, chosen: c.chosen === true }));
  return row;
};

export interface NewTrainingRun {
  kind: ModelKind;
  activation: ActivationPolicy;
  hyperparameters: Record<string, unknown>;
  epochs: number | null;
  trigger: 'API' | 'SCHEDULE' | 'CLI';
}

export async function createRun(db: Db, run: NewTrainingRun): Promise<TrainingRunRow> {
  return toRow(await db.trainingRun.create({ data: { ...run, hyperparameters: run.hyperparameters as object } }));
}

export async function setRunJob(db: Db, id: number, jobId: string): Promise<void> {
  await db.trainingRun.update({ where: { id }, data: { jobId } });
}

export async function getRun(db: Db, id: number): Promise<TrainingRunRow | null> {
  const row = await db.trainingRun.findUnique({ where: { id } });
  return row ? toRow(row) : null;
}

export async function listRuns(db: Db, first: number, status?: TrainingStatus): Promise<TrainingRunRow[]> {
  const rows = await db.trainingRun.findMany({ where: status ? { status } : {}, orderBy: { id: 'desc' }, take: first });
  return rows.map(toRow);
}

/** QUEUED → RUNNING for `worker`, unless the run was cancelled meanwhile; null when not claimed. */
export async function claimRun(db: Db, id: number, worker: string): Promise<TrainingRunRow | null> {
  const { count } = await db.trainingRun.updateMany({
    where: { id, status: 'QUEUED', cancelRequested: false },
    data: {
      status: 'RUNNING',
      worker,
      startedAt: new Date(),
      heartbeatAt: new Date(),
      epoch: 0,
      history: [],
      candidates: [],
      progress: 0,
      stage: null,
    },
  });
  return count === 1 ? getRun(db, id) : null;
}

/**
 * Appends an epoch to the history (and, for runs with planned epochs, sets progress to
 * epoch / epochs); returns whether a cancellation was requested.
 */
export async function recordEpoch(db: Db, id: number, point: EpochPoint): Promise<boolean> {
  const rows = await db.$queryRaw<{ cancel: boolean }[]>`
    UPDATE training_runs SET epoch = ${point.epoch}, history = history || ${JSON.stringify([point])}::jsonb, heartbeat_at = now(),
      progress = CASE WHEN kind <> 'AUTO' AND epochs > 0 THEN least(1, ${point.epoch}::float8 / epochs) ELSE progress END
    WHERE id = ${id} RETURNING cancel_requested AS cancel`;
  return rows[0]?.cancel ?? false;
}

/** Sets the share of work done (0–1) and the stage; returns whether a cancellation was requested. */
export async function recordProgress(db: Db, id: number, progress: number, stage: string | null): Promise<boolean> {
  const rows = await db.$queryRaw<{ cancel: boolean }[]>`
    UPDATE training_runs SET progress = ${Math.min(1, Math.max(0, progress))}, stage = ${stage === null ? null : stage.slice(0, 128)}, heartbeat_at = now()
    WHERE id = ${id} RETURNING cancel_requested AS cancel`;
  return rows[0]?.cancel ?? false;
}

/** Appends (or, by name, replaces) an AUTO candidate's outcome. */
export async function recordCandidate(db: Db, id: number, candidate: RunCandidate): Promise<void> {
  await db.$executeRaw`
    UPDATE training_runs SET candidates = coalesce((SELECT jsonb_agg(c) FROM jsonb_array_elements(candidates) c WHERE c->>'name' <> ${candidate.name}), '[]'::jsonb)
      || ${JSON.stringify([candidate])}::jsonb
    WHERE id = ${id}`;
}

/** Heartbeat (also between epochs of long ones); returns whether a cancellation was requested. */
export async function heartbeat(db: Db, id: number): Promise<boolean> {
  const rows = await db.$queryRaw<{ cancel: boolean }[]>`
    UPDATE training_runs SET heartbeat_at = now() WHERE id = ${id} RETURNING cancel_requested AS cancel`;
  return rows[0]?.cancel ?? false;
}

export interface RunOutcome {
  status: Extract<TrainingStatus, 'SUCCEEDED' | 'FAILED' | 'CANCELLED'>;
  error?: string | null;
  versionId?: number | null;
  comparison?: RunComparison | null;
  decision?: string | null;
  activated?: boolean;
  dataSeconds?: number | null;
  trainingSeconds?: number | null;
  /** AUTO: the final candidates table (with the chosen one marked). */
  candidates?: RunCandidate[];
}

/** Ends a RUNNING run (no-op if it was already ended, e.g. marked failed as an orphan). */
export async function finishRun(db: Db, id: number, o: RunOutcome): Promise<boolean> {
  const { count } = await db.trainingRun.updateMany({
    where: { id, status: 'RUNNING' },
    data: {
      status: o.status,
      error: o.error ?? null,
      versionId: o.versionId ?? null,
      comparison: (o.comparison ?? undefined) as object | undefined,
      decision: o.decision ?? null,
      activated: o.activated ?? false,
      dataSeconds: o.dataSeconds ?? null,
      trainingSeconds: o.trainingSeconds ?? null,
      ...(o.status === 'SUCCEEDED' ? { progress: 1, stage: null } : {}),
      ...(o.candidates ? { candidates: o.candidates as object[] } : {}),
      finishedAt: new Date(),
    },
  });
  return count === 1;
}

export async function setRunTimings(
  db: Db,
  id: number,
  timings: { dataSeconds?: number; epochs?: number },
): Promise<void> {
  await db.trainingRun.update({ where: { id }, data: timings });
}

/**
 * Asks a run to stop: a QUEUED run becomes CANCELLED at once; a RUNNING one is flagged and its
 * worker stops at the next step. Returns the run after the change, or null if unknown.
 */
export async function requestCancel(db: Db, id: number): Promise<TrainingRunRow | null> {
  await db.$executeRaw`
    UPDATE training_runs SET cancel_requested = true,
      status = CASE WHEN status = 'QUEUED' THEN 'CANCELLED'::training_status ELSE status END,
      finished_at = CASE WHEN status = 'QUEUED' THEN now() ELSE finished_at END
    WHERE id = ${id} AND status IN ('QUEUED', 'RUNNING')`;
  return getRun(db, id);
}

/**
 * Marks every RUNNING run FAILED: called by a worker that holds the training lock, so no live
 * worker is training them (their worker died mid-run). Returns the runs it ended.
 */
export async function failOrphanedRuns(db: Db, reason: string): Promise<TrainingRunRow[]> {
  const rows = await db.$queryRaw<Record<string, unknown>[]>`
    UPDATE training_runs SET status = 'FAILED', finished_at = now(),
      error = ${reason} || coalesce(' (worker ' || worker || ', last heartbeat ' || to_char(heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ')', '')
    WHERE status = 'RUNNING' RETURNING id, job_id AS "jobId"`;
  return rows.map(toRow);
}

/** Whether a run is waiting or in progress (a schedule does not queue another then). */
export async function pendingRunExists(db: Db): Promise<boolean> {
  return (await db.trainingRun.count({ where: { status: { in: ['QUEUED', 'RUNNING'] } } })) > 0;
}
