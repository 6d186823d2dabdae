/**
 * `npm run bench:experiment -- <split dir> [--requests N] [--check-every N] [--click-prob p] [--seed s] [--weak-epochs N]`
 *
 * An online experiment simulated end to end on a strong-generalization split folder (train.csv,
 * test_tr.csv, test_te.csv, unique_sid.txt; e.g. ML-1M's split from `npm run data`): in a scratch
 * database on the server of DATABASE_URL (dropped at the end), train.csv and test_tr.csv are
 * loaded as interactions, two versions of different offline quality are trained (EASE λ = 500,
 * and a Mult-DAE of `weak-epochs` epochs, default 1), and an experiment is started between them (the weak one is the
 * control). Simulated test users then ask for 10 recommendations through GraphQL; a user clicks
 * the first recommended item that is among their held-out items (test_te.csv, the ground truth)
 * with probability `click-prob`, recorded with the answer's recommendationId. Every
 * `check-every` requests the experiment is read back over GraphQL. Reports each arm's CTR@10 with
 * its Wilson interval, the difference with its Newcombe interval, how many requests it took until
 * the difference was significant (and stayed so), and whether the better offline version won.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createApp } from '../src/app.factory.js';
import { loadEnv } from '../src/config/env.js';
import { Random } from '../src/core/data/random.js';
import { readSplitFiles } from '../src/core/data/split-files.js';
import { initBackend } from '../src/core/engine/backend.js';
import { applyMigrations } from '../src/database/migrations.js';
import { withDatabase } from '../src/database/pg-url.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { ExperimentsService } from '../src/experiments/experiments.service.js';
import { trainVersion } from '../src/training/train-version.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    requests: { type: 'string', default: '20000' },
    'check-every': { type: 'string', default: '500' },
    'click-prob': { type: 'string', default: '0.5' },
    seed: { type: 'string', default: '1' },
    'weak-epochs': { type: 'string', default: '1' },
  },
});
const dir = positionals[0];
if (!dir) {
  console.error(
    'usage: npm run bench:experiment -- <split dir> [--requests N] [--check-every N] [--click-prob p] [--seed s] [--weak-epochs N]',
  );
  process.exit(2);
}
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.error('DATABASE_URL must point at a PostgreSQL server (a scratch database is created there and dropped)');
  process.exit(2);
}
const requests = Number(values.requests);
const checkEvery = Number(values['check-every']);
const clickProb = Number(values['click-prob']);
const rng = new Random(Number(values.seed));

interface ArmReport {
  arm: number;
  versionId: number;
  metrics: { impressions: number; ctr: { successes: number; trials: number; rate: number; low: number; high: number } };
  ctrDifference: { estimate: number; low: number; high: number; pValue: number; significant: boolean } | null;
}

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function load(
  url: string,
  split: Awaited<ReturnType<typeof readSplitFiles>>,
): Promise<{ testUsers: string[]; heldOut: Map<string, Set<string>> }> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    await db.query(`INSERT INTO items (external_id) SELECT unnest($1::text[])`, [split.itemIds]);
    const pairs: { u: string[]; i: string[] } = { u: [], i: [] };
    const add = (uid: number, row: number, m: typeof split.train) => {
      for (let p = m.indptr[row]; p < m.indptr[row + 1]; p++) {
        pairs.u.push(`u${uid}`);
        pairs.i.push(split.itemIds[m.indices[p]]);
      }
    };
    for (let r = 0; r < split.trainUserIds.length; r++) add(split.trainUserIds[r], r, split.train);
    const t = split.test;
    for (let r = 0; r < t.userIds.length; r++) add(t.userIds[r], r, t.foldIn);
    await db.query(`INSERT INTO users (external_id) SELECT DISTINCT unnest($1::text[])`, [pairs.u]);
    const CHUNK = 100_000;
    for (let s = 0; s < pairs.u.length; s += CHUNK) {
      await db.query(
        `INSERT INTO interactions (user_id, item_id, kind, value, occurred_at)
         SELECT u.id, it.id, 'IMPLICIT', 1, now() - interval '1 day' FROM unnest($1::text[], $2::text[]) AS x(u, i)
         JOIN users u ON u.external_id = x.u JOIN items it ON it.external_id = x.i`,
        [pairs.u.slice(s, s + CHUNK), pairs.i.slice(s, s + CHUNK)],
      );
    }
    console.log(
      `loaded ${pairs.u.length} interactions of ${split.trainUserIds.length + t.userIds.length} users, ${split.numItems} items`,
    );
    const heldOut = new Map<string, Set<string>>();
    for (let r = 0; r < t.userIds.length; r++) {
      const set = new Set<string>();
      for (let p = t.heldOut.indptr[r]; p < t.heldOut.indptr[r + 1]; p++) set.add(split.itemIds[t.heldOut.indices[p]]);
      heldOut.set(`u${t.userIds[r]}`, set);
    }
    return { testUsers: [...heldOut.keys()], heldOut };
  } finally {
    await db.end();
  }
}

async function main(): Promise<void> {
  const name = `recoder_bench_experiment_${process.pid}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = withDatabase(adminUrl!, name);
  let app: Awaited<ReturnType<typeof createApp>> | null = null;
  try {
    await applyMigrations(url);
    const split = await readSplitFiles(dir);
    const { testUsers, heldOut } = await load(url, split);
    const { tf } = await initBackend();
    const prisma = createPrismaClient(url, 2);
    const strong = (await trainVersion(tf, url, prisma, { kind: 'ease', lambda: 500, seed: 1 })).version;
    const weak = (await trainVersion(tf, url, prisma, { kind: 'dae', epochs: Number(values['weak-epochs']), seed: 1 }))
      .version;
    await prisma.$disconnect();
    const ndcg = (v: { metrics: Record<string, Record<string, number>> }) => v.metrics.validation?.['ndcg@100'];
    console.log(
      `offline: strong version ${strong.id} (EASE) ndcg@100 ${ndcg(strong)?.toFixed(4)}, weak version ${weak.id} (DAE, ${values['weak-epochs']} epochs) ${ndcg(weak)?.toFixed(4)}`,
    );

    const env = {
      ...loadEnv({
        LOG_LEVEL: 'warn',
        RECODER_TRAINING_WORKER: 'off',
        RECODER_AUTH: 'off',
        RECODER_RATE_LIMIT_PER_MINUTE: '0',
        GRAPHIQL: 'false',
      }),
    };
    app = await createApp(env, url);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    const gql = async (query: string, variables: Record<string, unknown> = {}) => {
      const res = await app!.inject({ method: 'POST', url: '/graphql', payload: { query, variables } });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- GraphQL answers, checked by use
      const body = JSON.parse(res.body) as { data?: any; errors?: { message: string }[] };
      if (body.errors) throw new Error(body.errors.map((e) => e.message).join('; '));
      return body.data;
    };
    await gql(`mutation($id: Int!) { activateModelVersion(id: $id) { id } }`, { id: weak.id });
    const started = await gql(
      `mutation($arms: [ExperimentArmInput!]!) { startExperiment(arms: $arms, name: "bench") { id } }`,
      {
        arms: [
          { versionId: weak.id, weight: 1 },
          { versionId: strong.id, weight: 1 },
        ],
      },
    );
    const experimentId = started.startExperiment.id as number;
    const experiments = app.get(ExperimentsService);

    const REPORT = `query($id: Int!) { experiment(id: $id) { arms { arm versionId metrics { impressions ctr { successes trials rate low high } }
      ctrDifference { estimate low high pValue significant } } } }`;
    let significantSince: number | null = null;
    let last: { arms: ArmReport[] } | null = null;
    const t0 = performance.now();
    for (let r = 1; r <= requests; r++) {
      const userId = testUsers[rng.int(testUsers.length)];
      const rec = (
        await gql(
          `query($u: ID!) { recommendations(userId: $u, limit: 10) { recommendationId items { item { id } } } }`,
          { u: userId },
        )
      ).recommendations;
      const truth = heldOut.get(userId)!;
      const hit = (rec.items as { item: { id: string } }[]).find((x) => truth.has(x.item.id));
      if (hit && rng.uniform() < clickProb) {
        await gql(`mutation($i: [RecordInteractionInput!]!) { recordInteractions(interactions: $i) { duplicates } }`, {
          i: [{ userId, itemId: hit.item.id, kind: 'CLICK', recommendationId: rec.recommendationId }],
        });
      }
      if (r % checkEvery === 0 || r === requests) {
        await experiments.flushImpressions();
        last = (await gql(REPORT, { id: experimentId })).experiment;
        const d = last!.arms[1].ctrDifference!;
        if (d.significant) significantSince ??= r;
        else significantSince = null;
        const arm = (a: ArmReport) =>
          `v${a.versionId} ${(a.metrics.ctr.rate * 100).toFixed(2)} % [${(a.metrics.ctr.low * 100).toFixed(2)}, ${(a.metrics.ctr.high * 100).toFixed(2)}] of ${a.metrics.impressions}`;
        console.log(
          `${r} requests: CTR@10 ${arm(last!.arms[0])} | ${arm(last!.arms[1])} | diff ${(d.estimate * 100).toFixed(2)} pp [${(d.low * 100).toFixed(2)}, ${(d.high * 100).toFixed(2)}] p=${d.pValue.toExponential(2)}${d.significant ? ' significant' : ''}`,
        );
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const d = last!.arms[1].ctrDifference!;
    const winner = d.significant ? (d.estimate > 0 ? strong.id : weak.id) : null;
    console.log(
      `\n${requests} requests in ${seconds.toFixed(1)} s (load ${(await import('node:os')).loadavg()[0].toFixed(1)})`,
    );
    console.log(
      `significant (and stayed so) from request ${significantSince ?? '— (not reached)'}; checked every ${checkEvery}`,
    );
    console.log(
      winner === null
        ? 'no significant difference: no winner'
        : `winner: version ${winner} (${winner === strong.id ? 'the better offline version — as expected' : 'the WEAKER offline version — unexpected'})`,
    );
    if (winner !== strong.id) process.exitCode = 1;
  } finally {
    await app?.close();
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
