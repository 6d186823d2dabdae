/**
 * `npm run bench:population`: what storing the population once per version saves an API process.
 * See HELP.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadEnv, PROJECT_ROOT } from '../src/config/env.js';
import { initBackend } from '../src/core/engine/backend.js';
import { openDatabaseFromEnv } from '../src/database/database-bootstrap.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { activeModelVersionId } from '../src/registry/model-versions.queries.js';
import { buildVersionPopulation } from '../src/registry/population.js';
import { BENCH_SERVER_ENV, machineLine, postGraphql, rssMb, waitUntil, stopWithBenchmark } from './bench-lib.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run bench:population -- [--rounds 2] [--port 4810]

On the active model version of DATABASE_URL (import data and train one first), starts a fresh API
process per measurement, alternating, with the version's population
  computed: no stored population (as before: every history read through COPY, every user encoded,
            the similar-item lists computed, in the process), and
  stored:   computed once beforehand (timed: what the training worker does after training) and
            loaded from model_populations,
and prints, per process: seconds from spawn to the first answer with the version, to the
population (servingStatus.populationSize > 0), to warm (similar-item lists too), and the RSS
(current and peak) once warm. It leaves the version with a stored population.
  --rounds <n>   computed/stored pairs (default 2)
  --port <p>     the API's port (default 4810)
  -h, --help`;

interface Activation {
  first: number;
  population: number;
  warm: number;
  rss: number;
  peak: number;
}

async function activate(url: string, port: number, versionId: number): Promise<Activation> {
  const t0 = performance.now();
  const api = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'src', 'main.js')], {
    env: { ...process.env, ...BENCH_SERVER_ENV, DATABASE_URL: url, PORT: String(port), RECODER_TRAINING_WORKER: 'off' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  stopWithBenchmark(api);
  const since = () => (performance.now() - t0) / 1000;
  const abort = () => (api.exitCode !== null ? `the API exited (code ${api.exitCode})` : null);
  const status = async () =>
    (
      await postGraphql(port, '{ servingStatus { modelVersion { id } populationSize warm } }').catch(() => ({
        data: null,
      }))
    ).data?.servingStatus as { modelVersion: { id: number } | null; populationSize: number; warm: boolean } | undefined;
  try {
    await waitUntil('the first answer', async () => (await status())?.modelVersion?.id === versionId, 3_600_000, {
      intervalMs: 50,
      abort,
    });
    const first = since();
    await waitUntil('the population', async () => ((await status())?.populationSize ?? 0) > 0, 3_600_000, {
      intervalMs: 50,
      abort,
    });
    const population = since();
    await waitUntil('warm', async () => (await status())?.warm === true, 3_600_000, { intervalMs: 100, abort });
    const warm = since();
    const { rss, peak } = rssMb(api.pid!);
    return { first, population, warm, rss, peak };
  } finally {
    api.kill('SIGTERM');
    await new Promise((r) => api.once('exit', r));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '2' },
      port: { type: 'string', default: '4810' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return console.log(HELP);
  const env = loadEnv();
  const db = await openDatabaseFromEnv(env, { log: (m) => console.error(`[db] ${m}`) });
  const prisma = createPrismaClient(db.url, 1);
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  try {
    const id = await activeModelVersionId(prisma);
    if (id === null) throw new Error('no active model version: train one (npm run train -- --model vae --activate)');
    const { tf } = await initBackend({ prefer: env.tfBackend, log: () => undefined });
    const port = Number(values.port);
    const rows: string[] = [];
    const cell = (a: Activation) =>
      `${a.first.toFixed(1)} | ${a.population.toFixed(1)} | ${a.warm.toFixed(1)} | ${a.rss.toFixed(0)} | ${a.peak.toFixed(0)}`;
    for (let round = 1; round <= Number(values.rounds); round++) {
      await pool.query('DELETE FROM model_populations WHERE version_id = $1', [id]);
      await pool.query(`DELETE FROM model_indexes WHERE version_id = $1 AND name = 'users-cosine'`, [id]);
      const computed = await activate(db.url, port, id);
      rows.push(`| ${round} | computed | | ${cell(computed)} |`);
      console.error(rows.at(-1));
      const built = await buildVersionPopulation(tf, pool, id, {
        index: { exactBelow: env.exactSearchBelow, hnsw: { ...env.hnsw, seed: 100 } },
      });
      if (!built) throw new Error(`model version ${id}: the population was not stored`);
      const stored = await activate(db.url, port, id);
      rows.push(`| ${round} | stored | ${built.seconds.toFixed(1)} | ${cell(stored)} |`);
      console.error(rows.at(-1));
    }
    console.log(`model version ${id}; seconds from spawn; RSS in MB`);
    console.log(
      '| round | population | stored once in (s) | first answer | population ready | warm | RSS | peak RSS |',
    );
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) console.log(r);
    console.log(`\n${machineLine()}`);
  } finally {
    await pool.end();
    await prisma.$disconnect();
    await db.close();
  }
}

runMain(main);
