/**
 * What a served request costs the API process beyond the minimal same-stack server, measured in
 * CPU time rather than wall time, so that it holds on a busy machine: Recoder's application and the
 * baseline's (scripts/bench-baseline-server.ts) are built in this one process and take alternating
 * blocks of in-process requests (Fastify's inject: no sockets), the same queries bench:serve sends.
 * Per operation it prints the CPU µs per request of each (all threads), the event loop's busy µs
 * per request, and their difference; --cpu-prof writes a profile of Recoder's blocks.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import pg from 'pg';
import { createApp } from '../src/app.factory.js';
import { loadEnv } from '../src/config/env.js';
import { Random } from '../src/core/data/random.js';
import { createBaselineApp } from './bench-baseline-server.js';
import { BENCH_SERVER_ENV, type GraphqlAnswer, waitUntil } from './bench-lib.js';
import { runMain } from './cli.js';

const HELP = `Usage: DATABASE_URL=… npm run bench:overhead -- [--requests 4000] [--blocks 4] [--concurrency 16] [--only recommendations,similarItems] [--cpu-prof file]

Needs a database with an active model version (e.g. ML-1M imported and trained, as for bench:serve).
Per operation, --blocks alternating blocks of --requests in-process requests (--concurrency in
flight) against Recoder and against the baseline; prints CPU µs and event-loop µs per request.`;

const QUERIES = {
  recommendations: {
    query: 'query($u: ID!) { recommendations(userId: $u, limit: 20) { items { score item { id title } } } }',
    variable: 'u',
    ids: 'users',
  },
  similarItems: {
    query: 'query($i: ID!) { similarItems(itemId: $i, limit: 20) { score item { id title } } }',
    variable: 'i',
    ids: 'items',
  },
} as const;

type Operation = keyof typeof QUERIES;

/** One in-process GraphQL POST (Fastify's inject: the whole request path but the socket). */
function post(app: NestFastifyApplication, query: string, variables: Record<string, unknown> = {}) {
  return app.inject({
    method: 'POST',
    url: '/graphql',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ query, variables }),
  });
}

async function block(
  app: NestFastifyApplication,
  op: Operation,
  ids: string[],
  requests: number,
  concurrency: number,
  rng: Random,
): Promise<{ cpuUs: number; loopUs: number; failed: number }> {
  const { query, variable } = QUERIES[op];
  let next = 0;
  let failed = 0;
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const worker = async () => {
    while (next < requests) {
      next++;
      const res = await post(app, query, { [variable]: ids[rng.int(ids.length)] });
      if (res.statusCode !== 200 || res.body.includes('"errors"')) failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  return { cpuUs: (cpu.user + cpu.system) / requests, loopUs: (elu.active * 1000) / requests, failed };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      requests: { type: 'string', default: '4000' },
      blocks: { type: 'string', default: '4' },
      concurrency: { type: 'string', default: '16' },
      only: { type: 'string' },
      'cpu-prof': { type: 'string' },
    },
  });
  if (values.help) return void console.log(HELP);
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set (a database with an active model version)');
  const requests = Number(values.requests);
  const blocks = Number(values.blocks);
  const concurrency = Number(values.concurrency);
  const ops = (values.only?.split(',') ?? Object.keys(QUERIES)) as Operation[];
  for (const op of ops) if (!(op in QUERIES)) throw new Error(`--only: unknown operation ${op}`);

  const env = loadEnv({ ...process.env, ...BENCH_SERVER_ENV, LOG_LEVEL: 'error' });
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const users = (
    await db.query<{ id: string }>(
      `SELECT u.external_id AS id FROM users u WHERE EXISTS (SELECT 1 FROM interactions i WHERE i.user_id = u.id) ORDER BY u.id LIMIT 3000`,
    )
  ).rows.map((r) => r.id);
  const candidates = (
    await db.query<{ id: string }>(`SELECT external_id AS id FROM items WHERE NOT hidden ORDER BY id LIMIT 3000`)
  ).rows.map((r) => r.id);
  await db.end();

  const recoder = await createApp(env, url);
  await recoder.init();
  const baseline = await createBaselineApp(env);
  await baseline.init();
  // The served model's items only (an item outside it answers NOT_IN_MODEL), and a warm model.
  await waitUntil(
    'a warm model version',
    async () =>
      (JSON.parse((await post(recoder, '{ servingStatus { warm } }')).body) as GraphqlAnswer).data?.servingStatus
        ?.warm === true,
    300_000,
    { intervalMs: 500 },
  );
  const items: string[] = [];
  for (const id of candidates)
    if (!(await post(recoder, QUERIES.similarItems.query, { i: id })).body.includes('"errors"')) items.push(id);
  const idsOf = { users, items };

  const session = values['cpu-prof'] ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
  }
  console.log(
    `in-process requests, ${blocks} blocks of ${requests} each, ${concurrency} in flight; µs per request (median of blocks)`,
  );
  console.log(
    '| operation | Recoder CPU | baseline CPU | Recoder event loop | baseline event loop | extra event loop | failed |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const op of ops) {
    const ids = idsOf[QUERIES[op].ids];
    const rng = new Random(7);
    // Warm-up: JIT, the item cache, graphql-jit's compiled queries.
    await block(recoder, op, ids, requests / 2, concurrency, rng);
    await block(baseline, op, ids, requests / 2, concurrency, rng);
    const r: Awaited<ReturnType<typeof block>>[] = [];
    const b: Awaited<ReturnType<typeof block>>[] = [];
    for (let k = 0; k < blocks; k++) {
      if (session) await session.post('Profiler.start');
      r.push(await block(recoder, op, ids, requests, concurrency, rng));
      if (session) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(`${values['cpu-prof']}.${op}.${k}.cpuprofile`, JSON.stringify(profile));
      }
      b.push(await block(baseline, op, ids, requests, concurrency, rng));
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const f = (x: number) => x.toFixed(0);
    const rl = median(r.map((x) => x.loopUs));
    const bl = median(b.map((x) => x.loopUs));
    console.log(
      `| ${op} | ${f(median(r.map((x) => x.cpuUs)))} | ${f(median(b.map((x) => x.cpuUs)))} | ${f(rl)} | ${f(bl)} | ${f(rl - bl)} (${(bl / rl).toFixed(2)}×) | ${r.reduce((s, x) => s + x.failed, 0)} |`,
    );
  }
  session?.disconnect();
  await recoder.close();
  await baseline.close();
}

runMain(main, { exit: 'now' });
