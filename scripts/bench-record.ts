import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createApp } from '../src/app.factory.js';
import { loadEnv } from '../src/config/env.js';
import { openDatabaseFromEnv } from '../src/database/database-bootstrap.js';
import { applyMigrations } from '../src/database/migrations.js';
import { ensureUsers, findItemsByExternalId, insertInteractions } from '../src/interactions/interactions.queries.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run bench:record [-- --calls 60 --batch 1000 --items 5000 --users 2000]

Latency of recordInteractions over HTTP (loopback) with batches of --batch new events, --calls
sequential calls after 5 warm-up calls, in a scratch database on DATABASE_URL's server (or the
embedded PostgreSQL). Prints p50/p90/p99/max in ms, and as a yardstick the same calls' SQL alone
(the statements recordInteractions runs, in one transaction, from a plain pg client).`;

const MUTATION = `mutation($interactions: [RecordInteractionInput!]!) {
  recordInteractions(interactions: $interactions) { duplicates stored { id } }
}`;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      calls: { type: 'string', default: '60' },
      batch: { type: 'string', default: '1000' },
      items: { type: 'string', default: '5000' },
      users: { type: 'string', default: '2000' },
    },
  });
  if (values.help) return void console.log(HELP);
  const calls = Number(values.calls);
  const batch = Number(values.batch);
  const nItems = Number(values.items);
  const nUsers = Number(values.users);

  const env = loadEnv();
  const server = await openDatabaseFromEnv(env, {
    migrate: false,
  });
  const name = `recoder_bench_record_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  try {
    await applyMigrations(url.toString());
    const app = await createApp(
      { ...env, logLevel: 'error', graphiql: false, auth: 'off', rateLimitPerMinute: 0 },
      url.toString(),
    );
    await app.listen(0, '127.0.0.1');
    const address = app.getHttpServer().address() as { port: number };
    const endpoint = `http://127.0.0.1:${address.port}/graphql`;
    const post = async (query: string, variables: object) => {
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.json()) as { errors?: unknown[] };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body;
    };
    for (let i = 0; i < nItems; i += 5000) {
      const items = Array.from({ length: Math.min(5000, nItems - i) }, (_, j) => ({
        id: `item-${i + j}`,
        title: `Item ${i + j}`,
      }));
      await post(`mutation($items: [UpsertItemInput!]!) { upsertItems(items: $items) { id } }`, { items });
    }
    let seq = 0;
    const makeBatch = () =>
      Array.from({ length: batch }, () => {
        seq++;
        return {
          userId: `user-${Math.floor(Math.random() * nUsers)}`,
          itemId: `item-${Math.floor(Math.random() * nItems)}`,
          kind: 'CLICK',
          eventId: `bench-${seq}`,
        };
      });
    for (let i = 0; i < 5; i++) await post(MUTATION, { interactions: makeBatch() });
    const times: number[] = [];
    for (let i = 0; i < calls; i++) {
      const interactions = makeBatch();
      const t0 = performance.now();
      await post(MUTATION, { interactions });
      times.push(performance.now() - t0);
    }
    await app.close();
    // The yardstick: the statements a call runs (the service's own queries), from a plain client.
    const sqlTimes: number[] = [];
    const direct = new pg.Client({ connectionString: url.toString() });
    await direct.connect();
    try {
      for (let i = 0; i < calls + 5; i++) {
        const events = makeBatch();
        const t0 = performance.now();
        await direct.query('BEGIN');
        const items = await findItemsByExternalId(direct, [...new Set(events.map((e) => e.itemId))]);
        const users = await ensureUsers(direct, [...new Set(events.map((e) => e.userId))]);
        const itemOf = new Map(items.map((it) => [it.externalId, it.id]));
        await insertInteractions(
          direct,
          events.map((e) => ({
            userId: users.ids.get(e.userId)!,
            itemId: itemOf.get(e.itemId)!,
            kind: e.kind,
            value: 1,
            occurredAt: null,
            eventId: e.eventId,
          })),
        );
        await direct.query('COMMIT');
        if (i >= 5) sqlTimes.push(performance.now() - t0);
      }
    } finally {
      await direct.end();
    }
    times.sort((a, b) => a - b);
    sqlTimes.sort((a, b) => a - b);
    const f = (x: number) => x.toFixed(1);
    console.log(`\nrecordInteractions, ${batch} events per call, ${calls} calls (after 5 warm-up), HTTP loopback`);
    console.log('| | p50 ms | p90 ms | p99 ms | max ms | events/s (median call) |');
    console.log('|---|---|---|---|---|---|');
    for (const [what, t] of [
      ['recordInteractions', times],
      ['its SQL alone (pg client)', sqlTimes],
    ] as const) {
      console.log(
        `| ${what} | ${f(percentile(t, 50))} | ${f(percentile(t, 90))} | ${f(percentile(t, 99))} | ${f(t[t.length - 1])} | ${Math.round(
          batch / (percentile(t, 50) / 1000),
        )} |`,
      );
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    await server.close();
  }
}

runMain(main);
