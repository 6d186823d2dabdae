import pg from 'pg';
import { insertExperiment } from '../experiments/experiments.queries.js';

/**
 * Starts the experiment of an `activate: EXPERIMENT` run: the active version (arm 0, the control)
 * against the new one with `share` of the users; every API process is told by NOTIFY. Returns the
 * run's decision, saying what happened (no experiment when one already runs in the slot).
 */
export async function startTrainingExperiment(
  url: string,
  runId: number,
  control: number,
  version: number,
  share: number,
  decision: string,
): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('BEGIN');
    const id = await insertExperiment(client, {
      name: `training run ${runId}`,
      slot: 'default',
      arms: [
        { versionId: control, weight: 1 - share },
        { versionId: version, weight: share },
      ],
      trainingRunId: runId,
    });
    await client.query('COMMIT');
    return `${decision}: experiment ${id} started, version ${version} serves ${(share * 100).toFixed(1).replace(/\.0$/, '')} % of users`;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    if ((error as { code?: string }).code !== '23505') throw error;
    const { rows } = await client.query<{ id: number }>(
      `SELECT id FROM experiments WHERE slot = 'default' AND status = 'RUNNING'`,
    );
    return `not activated (EXPERIMENT): experiment ${rows[0]?.id ?? '?'} is already running; version ${version} was stored only`;
  } finally {
    await client.end().catch(() => undefined);
  }
}
