/**
 * Client overhead benchmark (issue 18): `recommendations` through @recoder/client against a raw
 * `fetch` of the same document and variables, in the same run, against the same API process.
 *
 * The two are interleaved request by request (ABAB…, the order flipped every request, the same
 * user for both of a pair), one request at a time, so both see the same server state, cache
 * warmth and machine load; the script prints p50/p90/p99/mean of each and the p50 ratio, and
 * whether the target (client ≤ 5 % slower at p50) is met.
 *
 * Needs DATABASE_URL. With an active model version in that database it is used as it is (e.g. ML-1M
 * with a trained model); on a database without interactions the script seeds taste-group data
 * (--users users × 12 items of one of 4 groups) through the client and trains EASE first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { RecoderClient, RecommendationsDocument, type RecommendationsQuery } from '@recoder/client';
import pg from 'pg';
import { PROJECT_ROOT } from '../src/config/env.js';
import { Random } from '../src/core/data/random.js';
import { BENCH_SERVER_ENV, waitUntil, stopWithBenchmark } from './bench-lib.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run bench:client -- [--requests 3000] [--warmup 300] [--limit 20] [--port 4102] [--users 2000]

Needs DATABASE_URL. Starts the API on --port, then times recommendations(limit) through the client
and through a raw fetch, interleaved, one at a time, and prints both and the p50 ratio.`;

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '3000' },
    warmup: { type: 'string', default: '300' },
    limit: { type: 'string', default: '20' },
    port: { type: 'string', default: '4102' },
    users: { type: 'string', default: '2000' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(HELP);
  process.exit(0);
}
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error(`DATABASE_URL is unset.\n\n${HELP}`);
  process.exit(2);
}
const REQUESTS = Number(args.requests);
const WARMUP = Number(args.warmup);
const LIMIT = Number(args.limit);
const PORT = Number(args.port);
const URL = `http://127.0.0.1:${PORT}/graphql`;

function startApi(): ChildProcess {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'src', 'main.js')], {
    env: {
      ...process.env,
      ...BENCH_SERVER_ENV,
      PORT: String(PORT),
      DATABASE_URL: databaseUrl,
      RECODER_TRAINING_WORKER: 'thread',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  stopWithBenchmark(child);
  return child;
}

async function query<T extends pg.QueryResultRow>(text: string): Promise<T[]> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    return (await db.query<T>(text)).rows;
  } finally {
    await db.end();
  }
}

/** Seeds taste groups (4 × 50 items; each user likes 12 items of one group) and trains EASE. */
async function seedAndTrain(client: RecoderClient, users: number): Promise<void> {
  const rng = new Random(18);
  const items = [];
  for (let g = 0; g < 4; g++)
    for (let i = 0; i < 50; i++) items.push({ id: `bc-${g}-${i}`, title: `Item ${g}/${i}`, categories: [`g${g}`] });
  await client.upsertItems(items);
  for (let u = 0; u < users; u++) {
    const picked = new Set<number>();
    while (picked.size < 12) picked.add(Math.floor(50 * rng.uniform() ** 1.7));
    for (const i of picked)
      client.track({ userId: `bc-u${u}`, itemId: `bc-${u % 4}-${i}`, kind: 'VIEW', eventId: `bc-u${u}-${i}` });
  }
  await client.flush();
  console.error(`seeded ${items.length} items and ${client.stats().tracked} interactions; training EASE…`);
  const run = await client.waitForTrainingRun((await client.trainModel({ kind: 'EASE', activate: 'ALWAYS' })).id, {
    pollMs: 500,
    waitMs: 600_000,
  });
  if (run.status !== 'SUCCEEDED') throw new Error(`training ${run.status}: ${run.error}`);
}

function summary(ms: number[]): { p50: number; p90: number; p99: number; mean: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

async function main(): Promise<void> {
  const api = startApi();
  const stop = () => api.exitCode === null && api.kill('SIGTERM');
  process.once('SIGINT', () => {
    stop();
    process.exit(130);
  });
  try {
    await waitUntil(
      'the API',
      async () => {
        try {
          return (
            await fetch(URL, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: '{"query":"{ __typename }"}',
            })
          ).ok;
        } catch {
          return false;
        }
      },
      120_000,
    );
    const client = new RecoderClient({ url: URL, timeoutMs: 30_000 });
    const [{ n }] = await query<{ n: number }>('SELECT count(*)::int AS n FROM interactions');
    const [{ active }] = await query<{ active: number }>('SELECT count(*)::int AS active FROM active_models');
    if (active === 0) {
      if (n > 0)
        throw new Error(
          'the database has interactions but no active model version: train one (npm run train -- --activate) or use an empty database',
        );
      await seedAndTrain(client, Number(args.users));
    }
    await waitUntil(
      'the model to serve',
      async () => (await client.recommendations({ userId: (await anyUser()) ?? '', limit: 1 })).source === 'MODEL',
      300_000,
      { intervalMs: 500 },
    );
    const userIds = (await query<{ id: string }>('SELECT external_id AS id FROM users ORDER BY id LIMIT 5000')).map(
      (r) => r.id,
    );
    const rng = new Random(7);
    const document = String(RecommendationsDocument);
    const rawHeaders = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
    };

    const viaClient = async (userId: string) => {
      const t0 = performance.now();
      const recs = await client.recommendations({ userId, limit: LIMIT });
      const ms = performance.now() - t0;
      if (recs.items.length === 0) throw new Error(`no recommendations for ${userId}`);
      return ms;
    };
    const viaFetch = async (userId: string) => {
      const t0 = performance.now();
      const res = await fetch(URL, {
        method: 'POST',
        headers: rawHeaders,
        body: JSON.stringify({
          query: document,
          operationName: 'Recommendations',
          variables: { userId, limit: LIMIT },
        }),
      });
      const body = (await res.json()) as { data?: RecommendationsQuery; errors?: unknown };
      const ms = performance.now() - t0;
      if (!body.data || body.errors || body.data.recommendations.items.length === 0)
        throw new Error(`raw fetch failed: ${JSON.stringify(body).slice(0, 300)}`);
      return ms;
    };

    const clientMs: number[] = [];
    const fetchMs: number[] = [];
    for (let i = 0; i < WARMUP + REQUESTS; i++) {
      const userId = userIds[rng.int(userIds.length)];
      const [a, b] =
        i % 2 === 0
          ? [await viaClient(userId), await viaFetch(userId)]
          : [await viaFetch(userId), await viaClient(userId)].reverse();
      if (i >= WARMUP) {
        clientMs.push(a);
        fetchMs.push(b);
      }
    }
    const c = summary(clientMs);
    const f = summary(fetchMs);
    const ratio = c.p50 / f.p50;
    const row = (name: string, s: ReturnType<typeof summary>) =>
      `| ${name} | ${s.p50.toFixed(3)} | ${s.p90.toFixed(3)} | ${s.p99.toFixed(3)} | ${s.mean.toFixed(3)} |`;
    console.log(
      `\nrecommendations(limit: ${LIMIT}) for random users, ${REQUESTS} requests each (after ${WARMUP} warm-up pairs), interleaved, one at a time; ms`,
    );
    console.log('| path | p50 | p90 | p99 | mean |\n| --- | --- | --- | --- | --- |');
    console.log(row('@recoder/client', c));
    console.log(row('raw fetch', f));
    console.log(
      `\nclient / raw fetch at p50: ${ratio.toFixed(4)} (${((ratio - 1) * 100).toFixed(2)} %); target ≤ 1.05: ${ratio <= 1.05 ? 'met' : 'NOT met'}`,
    );
    await client.close();
  } finally {
    stop();
  }
}

async function anyUser(): Promise<string | undefined> {
  return (await query<{ id: string }>('SELECT external_id AS id FROM users ORDER BY id LIMIT 1'))[0]?.id;
}

runMain(main, { exit: 'now' });
