/**
 * Scale benchmark (issue 20): where Recoder bends as the catalog and the population grow. For each
 * size, on synthetic data (src/core/data/synthetic.ts) in a scratch database of its own:
 * - import: wall seconds and rows/s of `npm run import` (COPY), and its peak RSS;
 * - training: seconds per epoch and peak RSS of Mult-DAE and Mult-VAE (`npm run train -- --epochs 1`,
 *   each in its own process; a run past --train-timeout is stopped and reported as such); whether
 *   AUTO would include EASE (the dense items² inverse against its memory limit);
 * - the population the worker stores with the (activated) VAE version, by step: reading histories,
 *   model work (errors, user vectors), storing, the user graph, the item graphs. The DAE's run
 *   skips it (--skip-population): only its epoch is measured;
 * - activation: an API process started on the database with the VAE active: seconds until its
 *   first model answer and until its background work (population, similar-item lists) is done,
 *   and its RSS then;
 * - serving: `recommendations(limit: 20)` for random users and `similarItems(limit: 20)` for random
 *   items, autocannon with 20 connections: req/s, p50, p99;
 * - HNSW recall@10 against exact search on the VAE's item vectors (300 users).
 * Prints one Markdown table, a row per size.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PROJECT_ROOT } from '../src/config/env.js';
import { csrFromTriples } from '../src/core/data/csr.js';
import { initBackend } from '../src/core/engine/backend.js';
import type { Autoencoder } from '../src/core/models/autoencoder.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { writeSynthetic } from '../src/datasets/synthetic.js';
import { modelFromArtifact } from '../src/registry/model-artifact.js';
import { activeModelVersionId, loadModelVersion } from '../src/registry/model-versions.queries.js';
import { DEFAULT_MAX_EASE_ITEMS } from '../src/training/train-version.js';
import {
  BENCH_SERVER_ENV,
  cannon,
  hnswRecall,
  machineLine,
  postGraphql,
  rssMb,
  waitUntil,
  stopWithBenchmark,
} from './bench-lib.js';

const SIZES: Record<string, { users: number; items: number; interactions: number }> = {
  tiny: { users: 5_000, items: 2_000, interactions: 100_000 }, // a smoke test of the benchmark itself
  small: { users: 100_000, items: 10_000, interactions: 1_000_000 },
  medium: { users: 250_000, items: 50_000, interactions: 5_000_000 },
  large: { users: 500_000, items: 100_000, interactions: 10_000_000 },
};

const HELP = `Usage: npm run bench:scale -- [--sizes small,medium,large] [--seconds 15] [--train-timeout 3600] [--port 4110] [--keep] [--reuse]

Needs DATABASE_URL pointing at a PostgreSQL server: each size gets a scratch database
(<database>_scale_<size>), dropped at the end unless --keep. --reuse: a kept database that has an
active version is used as it is, and only the activation, serving and recall are measured. Sizes (tiny only when asked): ${Object.entries(
  SIZES,
)
  .map(
    ([k, s]) =>
      `${k} ${s.items.toLocaleString('en-US')} items / ${s.users.toLocaleString('en-US')} users / ${s.interactions.toLocaleString('en-US')} interactions`,
  )
  .join('; ')}.
The largest may take an hour or more on 2 cores.`;

interface Measured {
  seconds: number;
  peakMb: number;
  output: string;
  timedOut: boolean;
  code: number | null;
}

/** Runs a compiled script to its end (or the timeout), sampling its peak RSS. */
function run(script: string, args: string[], env: Record<string, string>, timeoutSeconds: number): Promise<Measured> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'scripts', script), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stopWithBenchmark(child);
    let output = '';
    let peakMb = 0;
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const sampler = setInterval(() => {
      try {
        peakMb = Math.max(peakMb, rssMb(child.pid!).peak);
      } catch {
        // exited between two samples
      }
    }, 250);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, timeoutSeconds * 1000);
    child.on('exit', (code) => {
      clearInterval(sampler);
      clearTimeout(timer);
      resolve({ seconds: (performance.now() - t0) / 1000, peakMb, output, timedOut, code });
    });
  });
}

/** Whether a scratch database exists with an active model version (for --reuse). */
async function hasActiveVersion(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const { rows } = await client.query(`SELECT 1 FROM active_models WHERE slot = 'default'`);
    return rows.length > 0;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function recreateDatabase(adminUrl: string, name: string, drop = false): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    if (!drop) await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
}

/** The seconds of epoch 1 as the train script prints them ("… epoch 1/1 loss … 12.39 s"). */
function epochSeconds(m: Measured): string {
  const match = /epoch 1\/\d+ .* ([\d.]+) s/.exec(m.output);
  // The run also stores the version and its population: it may be stopped after the epoch.
  if (m.timedOut)
    return match
      ? `${Number(match[1]).toFixed(1)} s (run stopped at ${m.seconds.toFixed(0)} s, after the epoch)`
      : `> ${m.seconds.toFixed(0)} s (stopped)`;
  if (m.code !== 0 || !match) return `failed (exit ${m.code}): ${m.output.trim().split('\n').slice(-2).join(' ')}`;
  return `${Number(match[1]).toFixed(1)} s`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      sizes: { type: 'string', default: 'small,medium,large' },
      seconds: { type: 'string', default: '15' },
      'train-timeout': { type: 'string', default: '3600' },
      port: { type: 'string', default: '4110' },
      keep: { type: 'boolean', default: false },
      reuse: { type: 'boolean', default: false },
    },
  });
  const base = process.env.DATABASE_URL;
  if (values.help || !base) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const sizes = values.sizes.split(',').map((s) => s.trim());
  for (const s of sizes) if (!SIZES[s]) throw new Error(`unknown size "${s}": ${Object.keys(SIZES).join(', ')}`);
  const seconds = Number(values.seconds);
  const trainTimeout = Number(values['train-timeout']);
  const port = Number(values.port);
  const rows: string[] = [];
  const print = () => {
    console.log(
      [
        '| size | import | Mult-DAE epoch (peak RSS) | Mult-VAE epoch (peak RSS) | population by the worker | EASE in AUTO | activation: first answer / background done | API RSS | recommendations p50 / p99 (req/s) | similarItems p50 / p99 (req/s) | HNSW recall@10 |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
        ...rows,
      ].join('\n'),
    );
  };

  for (const name of sizes) {
    const size = SIZES[name];
    const url = new URL(base);
    const dbName = `${url.pathname.slice(1) || 'postgres'}_scale_${name}`;
    url.pathname = `/${dbName}`;
    const dbUrl = url.toString();
    const dir = path.join(os.tmpdir(), `recoder-scale-${name}`);
    console.error(`== ${name}: ${JSON.stringify(size)} → ${dbName}`);
    // --reuse: a scratch database kept (--keep) from an earlier run, with its VAE active: only the
    // activation, serving and recall are measured again.
    const reuse = values.reuse && (await hasActiveVersion(dbUrl));
    if (!reuse) await recreateDatabase(base, dbName);
    const env = { DATABASE_URL: dbUrl };
    try {
      const skipped: Measured = { seconds: 0, peakMb: 0, output: '', timedOut: false, code: null };
      let importCell = 'reused';
      let dae = skipped;
      let vae = skipped;
      let populationCell = 'reused';
      if (!reuse) {
        const written = await writeSynthetic(dir, { ...size, seed: 1 });
        console.error(`   synthetic data written in ${written.seconds.toFixed(1)} s`);
        const migrate = await run('migrate.js', ['deploy'], env, 600);
        if (migrate.code !== 0) throw new Error(`migrate failed: ${migrate.output}`);
        const imported = await run('import.js', [dir, '--format', 'movielens-latest'], env, 3600);
        if (imported.code !== 0) throw new Error(`import failed: ${imported.output}`);
        importCell = `${imported.seconds.toFixed(0)} s, ${Math.round(size.interactions / imported.seconds).toLocaleString('en-US')} rows/s (${imported.peakMb.toFixed(0)} MB)`;
        console.error(`   import ${importCell}`);
        // The DAE is measured for its epoch only; the VAE's run (activated) also stores the population.
        dae = await run('train.js', ['--model', 'dae', '--epochs', '1', '--skip-population'], env, trainTimeout);
        console.error(`   dae ${epochSeconds(dae)}`);
        vae = await run('train.js', ['--model', 'vae', '--epochs', '1', '--activate'], env, trainTimeout);
        console.error(`   vae ${epochSeconds(vae)}`);
        const stored = /population stored: .* in ([\d.]+) s \((.*)\)/.exec(vae.output);
        populationCell = stored ? `${Number(stored[1]).toFixed(0)} s (${stored[2]})` : 'not stored';
        console.error(`   population ${populationCell}`);
      }
      const ease =
        size.items <= DEFAULT_MAX_EASE_ITEMS
          ? `yes (≤ ${DEFAULT_MAX_EASE_ITEMS.toLocaleString('en-US')} items)`
          : `skipped (> ${DEFAULT_MAX_EASE_ITEMS.toLocaleString('en-US')} items)`;
      let activation = 'no VAE version';
      let apiRss = '';
      let recs = '';
      let similar = '';
      let recall = '';
      const prisma = createPrismaClient(dbUrl, 2);
      const activeId = await activeModelVersionId(prisma);
      if (activeId !== null) {
        const t0 = performance.now();
        const api = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'src', 'main.js')], {
          env: {
            ...process.env,
            ...BENCH_SERVER_ENV,
            DATABASE_URL: dbUrl,
            PORT: String(port),
            RECODER_TRAINING_WORKER: 'off',
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        stopWithBenchmark(api);
        try {
          await waitUntil(
            'the API',
            async () =>
              (await postGraphql(port, '{ servingStatus { modelVersion { id } } }').catch(() => ({ data: null }))).data
                ?.servingStatus?.modelVersion?.id === activeId,
            1_800_000,
            { intervalMs: 100 },
          );
          const first = (performance.now() - t0) / 1000;
          await waitUntil(
            'the background work',
            async () => (await postGraphql(port, '{ servingStatus { warm } }')).data?.servingStatus?.warm === true,
            3_600_000,
            { intervalMs: 250 },
          );
          const warm = (performance.now() - t0) / 1000;
          activation = `${first.toFixed(1)} s / ${warm.toFixed(1)} s`;
          apiRss = `${rssMb(api.pid!).rss.toFixed(0)} MB`;
          const client = new pg.Client({ connectionString: dbUrl });
          await client.connect();
          const users = (
            await client.query<{ id: string }>('SELECT external_id AS id FROM users ORDER BY random() LIMIT 5000')
          ).rows.map((r) => r.id);
          const items = (
            await client.query<{ id: string }>('SELECT external_id AS id FROM items ORDER BY random() LIMIT 5000')
          ).rows.map((r) => r.id);
          const RECS =
            'query($u: ID!) { recommendations(userId: $u, limit: 20) { items { score item { id title } } } }';
          const SIMILAR = 'query($i: ID!) { similarItems(itemId: $i, limit: 20) { score item { id title } } }';
          await cannon(port, RECS, 'u', users, 3, 20, 20);
          const r = await cannon(port, RECS, 'u', users, seconds, 20, 20);
          recs = `${r.p50} / ${r.p99} ms (${r.rps.toFixed(0)}${r.failed ? `, ${r.failed} failed` : ''})`;
          const s = await cannon(port, SIMILAR, 'i', items, seconds, 20, 20);
          similar = `${s.p50} / ${s.p99} ms (${s.rps.toFixed(0)}${s.failed ? `, ${s.failed} failed` : ''})`;
          // Recall on 300 users' histories.
          const sample = await client.query<{ u: string; c: number }>(
            `WITH u AS (SELECT id FROM users ORDER BY random() LIMIT 300)
             SELECT i.user_id::text AS u, i.item_id AS c FROM interactions i JOIN u ON u.id = i.user_id`,
          );
          const artifact = (await loadModelVersion(client, activeId))!;
          await client.end();
          const colOf = new Map<number, number>();
          const ids = (await prisma.item.findMany({ select: { id: true, externalId: true } })) as {
            id: number;
            externalId: string;
          }[];
          const external = new Map(artifact.itemIds.map((e, c) => [e, c]));
          for (const it of ids) if (external.has(it.externalId)) colOf.set(it.id, external.get(it.externalId)!);
          const rowOf = new Map<string, number>();
          const rr: number[] = [];
          const cc: number[] = [];
          for (const x of sample.rows) {
            const col = colOf.get(x.c);
            if (col === undefined) continue;
            if (!rowOf.has(x.u)) rowOf.set(x.u, rowOf.size);
            rr.push(rowOf.get(x.u)!);
            cc.push(col);
          }
          const { tf } = await initBackend({ log: () => undefined });
          const model = modelFromArtifact(tf, artifact);
          const ae = model.factor as Autoencoder;
          const h = await hnswRecall(ae, csrFromTriples(rowOf.size, ae.numItems, rr, cc));
          recall = `${h.recall.toFixed(3)} (build ${h.buildSeconds.toFixed(0)} s)`;
          model.dispose();
        } finally {
          api.kill('SIGTERM');
          await new Promise((r) => api.once('exit', r));
        }
      }
      await prisma.$disconnect();
      const cell = (m: Measured) => (m === skipped ? 'reused' : `${epochSeconds(m)} (${m.peakMb.toFixed(0)} MB)`);
      rows.push(
        `| ${size.items.toLocaleString('en-US')} items / ${size.users.toLocaleString('en-US')} users / ${size.interactions.toLocaleString('en-US')} | ${importCell} | ${cell(dae)} | ${cell(vae)} | ${populationCell} | ${ease} | ${activation} | ${apiRss} | ${recs} | ${similar} | ${recall} |`,
      );
      print();
    } finally {
      rmSync(dir, { recursive: true, force: true });
      if (!values.keep) await recreateDatabase(base, dbName, true);
    }
  }
  console.log(`\n${machineLine()}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
