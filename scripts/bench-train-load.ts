/**
 * Serving under training load (target: while a model trains on ML-1M in the worker — an AUTO run
 * by default, or a Mult-VAE with --kind VAE — serving `recommendations` keeps ≥ 70 % of its idle
 * req/s in the single-process default). Needs a database
 * with interactions and an active model version (e.g. ML-1M imported and a Mult-VAE trained with
 * --activate).
 *
 * One API process in the single-process default (RECODER_TRAINING_WORKER=thread, training in a worker
 * thread at RECODER_TRAINING_THREAD_NICE), measured in the same run:
 * - A, idle: autocannon on `recommendations(limit: 20)` for random users (after an uncounted warm-up);
 * - B, while training: a run is queued (activate NEVER) and, once its data is read and its first
 *   model fit started (VAE: its first epoch done), the same load (same users in the same order) runs again; the epochs finished in
 *   that window give the training speed under load: mean history seconds (training steps only) and
 *   wall-clock seconds per epoch (also validation and progress writes, observed through the API);
 * - C, training alone: with the load stopped, the same for the next epochs (the one straddling the
 *   end of B is skipped).
 * Then the run is cancelled and the server stopped. The ratio B/A is reported, not asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PROJECT_ROOT } from '../src/config/env.js';
import {
  BENCH_SERVER_ENV,
  cannon,
  postGraphql,
  rssMb,
  waitUntil,
  type RunResult,
  stopWithBenchmark,
} from './bench-lib.js';

const HELP = `Usage: npm run bench:train-load -- [options]

Needs DATABASE_URL pointing at a database with interactions and an active model version (e.g. ML-1M
imported and a Mult-VAE trained with --activate). Starts one API process (training in its worker
thread), measures recommendations(limit: 20) idle and while a Mult-VAE trains, and prints both and
their ratio. The training run is queued with activate NEVER and cancelled at the end.

  --seconds N        load duration of each phase (default 20)
  --connections N    autocannon connections (default 50)
  --port N           API port (default 4102; must be free)
  --nice N           RECODER_TRAINING_THREAD_NICE of the server, 0..19 (default 19)
  --kind K           AUTO (default: EASE over λ, Mult-DAE, Mult-VAE, blend) or VAE: what trains during phase B
  --epochs N         VAE: epochs requested for the run (default 200: it must not finish during the measurement)
  --warmup N         uncounted warm-up load before the idle phase, seconds (default 3; 0 = none)
  --idle-epochs N    epochs timed without load after the loaded phase (default 2; 0 = skip)
  -h, --help         this text

Server output goes to .data/bench-train-load-server.log.`;

const RECS =
  'query($u: ID!) { recommendations(userId: $u, limit: 20) { source modelVersionId items { score item { id title } } } }';
const RUN =
  'query($id: Int!) { trainingRun(id: $id) { status epoch epochs error progress stage history { epoch seconds } } }';
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
const LOG_PATH = path.join(PROJECT_ROOT, '.data', 'bench-train-load-server.log');

interface RunState {
  status: string;
  epoch: number;
  epochs: number | null;
  error: string | null;
  progress: number;
  stage: string | null;
  history: { epoch: number; seconds: number }[];
}

/** What cleanup must undo: the server child and the training run, when there are. */
const state: { server?: ChildProcess; exited: boolean; port: number; runId?: number; runEnded: boolean; url?: string } =
  {
    exited: false,
    port: 4102,
    runEnded: false,
  };

const post = (query: string, variables: Record<string, unknown> = {}, timeoutMs = 30_000) =>
  postGraphql(state.port, query, variables, timeoutMs);

/** A training run ended (SUCCEEDED, FAILED or CANCELLED) before what was awaited. */
class RunEndedError extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const waitFor = (what: string, fn: () => Promise<boolean>, timeoutMs: number, intervalMs = 100) =>
  waitUntil(what, fn, timeoutMs, {
    intervalMs,
    fatal: (e) => e instanceof RunEndedError,
    abort: () => (state.exited ? 'the server exited' : null),
  });

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** autocannon on recommendations(limit: 20); every phase draws the same users in the same order. */
const recsCannon = (ids: string[], seconds: number, connections: number): Promise<RunResult> =>
  cannon(state.port, RECS, 'u', ids, seconds, connections, 20);

async function trainingRun(id: number): Promise<RunState> {
  const res = await post(RUN, { id });
  if (!res.data?.trainingRun) throw new Error(`trainingRun(${id}): ${JSON.stringify(res.errors)}`);
  return res.data.trainingRun as RunState;
}

/** Polls the run until `done`; throws RunEndedError if it ends first. */
async function waitForRun(
  id: number,
  what: string,
  done: (run: RunState) => boolean,
  timeoutMs: number,
): Promise<RunState> {
  let last: RunState | undefined;
  await waitFor(
    what,
    async () => {
      last = await trainingRun(id);
      if (done(last)) return true;
      if (TERMINAL.has(last.status)) {
        state.runEnded = true;
        throw new RunEndedError(
          `training run ${id} ended ${last.status}${last.error ? `: ${last.error}` : ''} while waiting for ${what} (at epoch ${last.epoch})`,
        );
      }
      return false;
    },
    timeoutMs,
    250,
  );
  return last!;
}

/** Mean seconds of the history's epochs in (after, upTo]; NaN when none. */
function meanSeconds(run: RunState, after: number, upTo: number): { n: number; mean: number } {
  const xs = run.history.filter((h) => h.epoch > after && h.epoch <= upTo).map((h) => h.seconds);
  return { n: xs.length, mean: xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN };
}

/** Cancels the run (through the API, else by flagging it in the database) and stops the server. Never throws. */
async function cleanup(): Promise<void> {
  const id = state.runId;
  if (id !== undefined && !state.runEnded) {
    try {
      if (state.exited) throw new Error('server gone');
      const res = await post('mutation($id: Int!) { cancelTrainingRun(id: $id) { status } }', { id }, 10_000);
      if (res.errors) throw new Error(JSON.stringify(res.errors));
      await waitFor(`run ${id} to end`, async () => TERMINAL.has((await trainingRun(id)).status), 120_000, 250);
      state.runEnded = true;
      console.error(`training run ${id} cancelled`);
    } catch (error) {
      // Same update as cancelTrainingRun; a RUNNING run of a dead worker is then ended by the next worker's orphan recovery.
      console.error(
        `cancelling run ${id} through the API failed (${(error as Error).message}); flagging it in the database`,
      );
      const client = new pg.Client({ connectionString: state.url });
      try {
        await client.connect();
        await client.query(
          `UPDATE training_runs SET cancel_requested = true,
             status = CASE WHEN status = 'QUEUED' THEN 'CANCELLED'::training_status ELSE status END,
             finished_at = CASE WHEN status = 'QUEUED' THEN now() ELSE finished_at END
           WHERE id = $1 AND status IN ('QUEUED', 'RUNNING')`,
          [id],
        );
        state.runEnded = true;
      } catch (e) {
        console.error(`could not flag run ${id}: ${(e as Error).message}`);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  }
  const server = state.server;
  if (server && !state.exited) {
    const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
    server.kill('SIGTERM');
    const timer = setTimeout(() => server.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '20' },
      connections: { type: 'string', default: '50' },
      port: { type: 'string', default: '4102' },
      nice: { type: 'string', default: '19' },
      epochs: { type: 'string', default: '200' },
      kind: { type: 'string', default: 'AUTO' },
      warmup: { type: 'string', default: '3' },
      'idle-epochs': { type: 'string', default: '2' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const url = process.env.DATABASE_URL;
  if (values.help || !url) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const int = (name: string, raw: string, min: number, max?: number) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || (max !== undefined && n > max)) {
      throw new Error(`--${name}: must be an integer ${max === undefined ? `≥ ${min}` : `in ${min}..${max}`}`);
    }
    return n;
  };
  const seconds = int('seconds', values.seconds, 1);
  const connections = int('connections', values.connections, 1);
  const port = int('port', values.port, 1, 65535);
  const nice = int('nice', values.nice, 0, 19);
  const epochs = int('epochs', values.epochs, 2);
  const warmup = int('warmup', values.warmup, 0);
  const kind = values.kind.toUpperCase();
  if (kind !== 'AUTO' && kind !== 'VAE') throw new Error('--kind: AUTO or VAE');
  const idleEpochs = kind === 'AUTO' ? 0 : int('idle-epochs', values['idle-epochs'], 0);
  state.port = port;
  state.url = url;
  if (!(await portFree(port))) throw new Error(`port ${port} is in use: stop what listens there or pass --port`);

  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let users: string[];
  try {
    users = (
      await client.query<{ id: string }>(
        'SELECT external_id AS id FROM users u WHERE EXISTS (SELECT 1 FROM interactions i WHERE i.user_id = u.id)',
      )
    ).rows.map((r) => r.id);
    const counts = (await client.query<{ n: string }>('SELECT count(*) AS n FROM interactions')).rows[0].n;
    const busy = (
      await client.query<{ id: number; status: string }>(
        `SELECT id, status FROM training_runs WHERE status IN ('QUEUED', 'RUNNING') ORDER BY id`,
      )
    ).rows;
    console.error(`database: ${users.length} users with interactions, ${counts} interactions`);
    if (busy.length > 0) {
      console.error(
        `warning: runs already queued or running (${busy.map((r) => `${r.id} ${r.status}`).join(', ')}): ours waits behind them (one run at a time)`,
      );
    }
  } finally {
    await client.end();
  }
  if (users.length === 0) throw new Error('no users with interactions in this database: import a data set first');

  const loadAtStart = os.loadavg();
  mkdirSync(path.dirname(LOG_PATH), { recursive: true });
  const log = openSync(LOG_PATH, 'w');
  const t0 = performance.now();
  // Own process group: a Ctrl-C in the terminal reaches only this script, which cancels the run first.
  const server = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'src', 'main.js')], {
    env: {
      ...process.env,
      ...BENCH_SERVER_ENV,
      PORT: String(port),
      DATABASE_URL: url,
      RECODER_TRAINING_WORKER: 'thread',
      RECODER_TRAINING_THREAD_NICE: String(nice),
    },
    stdio: ['ignore', log, log],
    detached: true,
  });
  stopWithBenchmark(server);
  closeSync(log);
  state.server = server;
  server.once('exit', (code, signal) => {
    state.exited = true;
    if (code !== 0 && signal !== 'SIGTERM') console.error(`server exited (${signal ?? `code ${code}`})`);
  });
  console.error(`server pid ${server.pid} on port ${port} (training thread nice ${nice}); log ${LOG_PATH}`);

  await waitFor(
    'the server to be warm',
    async () => (await post('{ servingStatus { warm } }')).data?.servingStatus?.warm === true,
    300_000,
  );
  const status = (await post('{ servingStatus { modelVersion { id kind } search backend populationSize } }')).data
    .servingStatus;
  if (!status.modelVersion)
    throw new Error('no active model version in this database: train one with --activate first');
  const afterBoot = rssMb(server.pid!);
  console.error(
    `warm after ${((performance.now() - t0) / 1000).toFixed(1)} s: version ${status.modelVersion.id} (${status.modelVersion.kind}), ${status.search} search, backend ${status.backend}, RSS ${afterBoot.rss.toFixed(0)} MB`,
  );

  if (warmup > 0) {
    console.error(`warm-up: ${warmup} s (not counted)`);
    await recsCannon(users, warmup, connections);
  }
  console.error(`phase A (idle): ${seconds} s, ${connections} connections`);
  const idle = await recsCannon(users, seconds, connections);

  const queued =
    kind === 'AUTO'
      ? await post('mutation { trainModel(input: { kind: AUTO, activate: NEVER, budgetSeconds: 86400 }) { id } }')
      : await post('mutation($e: Int!) { trainModel(input: { kind: VAE, epochs: $e, activate: NEVER }) { id } }', {
          e: epochs,
        });
  if (!queued.data?.trainModel) throw new Error(`trainModel: ${JSON.stringify(queued.errors)}`);
  const runId = queued.data.trainModel.id as number;
  state.runId = runId;
  const q0 = performance.now();
  console.error(
    `training run ${runId} queued (${kind === 'AUTO' ? 'AUTO' : `VAE, ${epochs} epochs`}, activate NEVER); waiting for ${kind === 'AUTO' ? 'its first model fit' : 'its first epoch'}`,
  );
  const first =
    kind === 'AUTO'
      ? await waitForRun(runId, 'the first model fit', (r) => r.status === 'RUNNING' && r.stage !== null, 900_000)
      : await waitForRun(runId, 'the first epoch', (r) => r.status === 'RUNNING' && r.epoch >= 1, 900_000);
  const firstEpochAt = (performance.now() - q0) / 1000;

  // Epoch ends are also observed through the API (every 250 ms, ~4 extra light requests/s) for a
  // wall-clock rate: history seconds count training steps only, not validation or progress writes.
  console.error(`phase B (while training): ${seconds} s`);
  const before = { epoch: first.epoch, at: performance.now() };
  const lastChange = { ...before };
  let polling = true;
  const poller = (async () => {
    while (polling) {
      await sleep(250);
      const r = await trainingRun(runId).catch(() => undefined);
      if (polling && r && r.epoch > lastChange.epoch)
        Object.assign(lastChange, { epoch: r.epoch, at: performance.now() });
    }
  })();
  const loaded = await recsCannon(users, seconds, connections);
  polling = false;
  await poller;
  const after = await trainingRun(runId);
  if (TERMINAL.has(after.status))
    throw new Error(`training run ${runId} ended ${after.status} during phase B; request more --epochs`);
  const autoProgress =
    kind === 'AUTO'
      ? ` | AUTO progress during load: ${(first.progress * 100).toFixed(0)} % → ${(after.progress * 100).toFixed(0)} % (${first.stage} → ${after.stage})`
      : '';
  const rssAfterLoad = rssMb(server.pid!);
  const underLoad = {
    ...meanSeconds(after, before.epoch, after.epoch),
    wall:
      lastChange.epoch > before.epoch
        ? (lastChange.at - before.at) / 1000 / (lastChange.epoch - before.epoch)
        : Number.NaN,
  };

  // The epoch in progress when the load stopped ran partly under it: wait for its end, then time `idleEpochs`.
  let withoutLoad = { n: 0, mean: Number.NaN, wall: Number.NaN };
  if (idleEpochs > 0) {
    console.error(`phase C (training alone): skipping epoch ${after.epoch + 1}, timing ${idleEpochs} more`);
    try {
      const c0 = await waitForRun(runId, `epoch ${after.epoch + 1}`, (r) => r.epoch > after.epoch, 600_000);
      const t0c = performance.now();
      const c1 = await waitForRun(
        runId,
        `epoch ${c0.epoch + idleEpochs}`,
        (r) => r.epoch >= c0.epoch + idleEpochs,
        600_000,
      );
      withoutLoad = {
        ...meanSeconds(c1, c0.epoch, c1.epoch),
        wall: (performance.now() - t0c) / 1000 / (c1.epoch - c0.epoch),
      };
    } catch (error) {
      if (!(error instanceof RunEndedError)) throw error;
      console.error(`${error.message}; no unloaded epochs timed`);
    }
  }

  const peak = rssMb(server.pid!);
  await cleanup();

  const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
  const fmt = (r: RunResult) => `${r.rps.toFixed(0)} req/s p50 ${r.p50} ms p99 ${r.p99} ms`;
  const perEpoch = (m: { n: number; mean: number; wall: number }) =>
    `${m.n > 0 ? ms(m.mean) : 'n/a'} s/epoch (wall ${ms(m.wall)})`;
  const slowdown =
    underLoad.n > 0 && withoutLoad.n > 0
      ? `; ×${(underLoad.mean / withoutLoad.mean).toFixed(2)} under load (wall ×${ms(underLoad.wall / withoutLoad.wall)})`
      : '';
  console.log(
    [
      `recommendations idle: ${fmt(idle)}`,
      `while training: ${fmt(loaded)}`,
      `ratio Y/X = ${(loaded.rps / idle.rps).toFixed(2)} (target ≥ 0.70)`,
      kind === 'AUTO'
        ? `training AUTO${autoProgress}`
        : `training: ${after.epoch - before.epoch} epochs during load, ${perEpoch(underLoad)} under load, ${perEpoch(withoutLoad)} without load${slowdown}`,
      `server RSS peak ${peak.peak.toFixed(0)} MB (after boot ${afterBoot.rss.toFixed(0)} MB, after load ${rssAfterLoad.rss.toFixed(0)} MB)`,
    ].join(' | '),
  );
  console.log(
    `failed requests: idle ${idle.failed} of ${idle.requests}, while training ${loaded.failed} of ${loaded.requests} | ` +
      `run ${runId}: ${kind === 'AUTO' ? 'training started' : 'first epoch done'} ${firstEpochAt.toFixed(1)} s after queueing | ` +
      `${seconds} s per phase, ${connections} connections, nice ${nice}, backend ${status.backend}, ${os.cpus().length} cores, ` +
      `load average at start ${loadAtStart.map((x) => x.toFixed(2)).join(' ')}`,
  );
}

let stopping = false;
/** Cleans up and exits; later calls (e.g. main failing because the first one stopped the server) wait for it. */
async function abort(reason: unknown, code: number): Promise<void> {
  if (stopping) return new Promise<void>(() => undefined);
  stopping = true;
  console.error(reason);
  await cleanup();
  if (state.server) console.error(`server log: ${LOG_PATH}`);
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => void abort(`interrupted (${signal}): cancelling the run and stopping the server`, 130));
}
// Last resort (e.g. process.exit elsewhere): never leave the server running.
process.once('exit', () => {
  if (state.server && !state.exited) state.server.kill('SIGKILL');
});

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => abort(error, 1),
);
