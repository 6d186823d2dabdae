import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { PgRateLimitStore, redisStore, storeCall, type RateLimitStore } from '../src/graphql/rate-limit-store.js';

/**
 * Checks a shared rate-limit store the way two API replicas use it: `replicas` store instances (each
 * with its own connection) count `perReplica` concurrent requests each in one bucket; the counts
 * answered must be exactly 1..N (no lost or doubled increment) and the window must restart once it
 * has ended. Returns the problems found (none when the store is sound).
 *
 *   npm run check:rate-limit-store -- postgres postgresql://…   (migrated database)
 *   npm run check:rate-limit-store -- redis redis://127.0.0.1:6379
 */
export async function checkRateLimitStore(
  stores: RateLimitStore[],
  perReplica = 500,
): Promise<{ problems: string[]; report: string }> {
  const problems: string[] = [];
  const bucket = `check:${randomBytes(6).toString('hex')}`;
  const t0 = performance.now();
  const answers = await Promise.all(
    stores.flatMap((store) => Array.from({ length: perReplica }, () => storeCall(store, bucket, 60_000, 10))),
  );
  const ms = performance.now() - t0;
  const counts = answers.map((a) => a.current).sort((a, b) => a - b);
  const n = stores.length * perReplica;
  if (counts.some((c, i) => c !== i + 1))
    problems.push(
      `concurrent increments answered ${counts.slice(0, 5).join(', ')} … ${counts.slice(-3).join(', ')}, expected 1..${n}`,
    );
  if (answers.some((a) => !(a.ttl > 0 && a.ttl <= 60_000)))
    problems.push(`a ttl outside (0, 60000] ms: ${answers.map((a) => a.ttl).find((t) => !(t > 0 && t <= 60_000))}`);
  const other = await storeCall(stores[0], `${bucket}:other`, 60_000, 10);
  if (other.current !== 1) problems.push(`another bucket started at ${other.current}, expected 1`);
  // A window of 300 ms, waited out generously: the next request starts a new window at 1.
  const short = `${bucket}:short`;
  await storeCall(stores[0], short, 300, 10);
  await storeCall(stores[1 % stores.length], short, 300, 10);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const restarted = await storeCall(stores[stores.length - 1], short, 300, 10);
  if (restarted.current !== 1)
    problems.push(`after its window ended a bucket answered ${restarted.current}, expected 1`);
  const report = `${n} concurrent increments over ${stores.length} store instances in ${ms.toFixed(0)} ms (${((1000 * n) / ms).toFixed(0)}/s): counts ${counts[0]}..${counts[n - 1]}; window restart ${restarted.current === 1 ? 'ok' : 'FAILED'}`;
  return { problems, report };
}

async function main(): Promise<void> {
  const [kind, url] = process.argv.slice(2);
  if (!kind || !url || !['postgres', 'redis'].includes(kind)) {
    console.error('usage: npm run check:rate-limit-store -- postgres|redis <url>');
    process.exit(2);
  }
  const closers: (() => Promise<unknown>)[] = [];
  const stores: RateLimitStore[] = [];
  for (let k = 0; k < 2; k++) {
    if (kind === 'postgres') {
      const pool = new pg.Pool({ connectionString: url, max: 10 });
      closers.push(() => pool.end());
      stores.push(new PgRateLimitStore(pool));
    } else {
      const client = new Redis(url, { maxRetriesPerRequest: 1 });
      closers.push(() => client.quit());
      stores.push(redisStore(client));
    }
  }
  try {
    const { problems, report } = await checkRateLimitStore(stores);
    console.log(`${kind} rate-limit store: ${report}`);
    for (const p of problems) console.error(`PROBLEM: ${p}`);
    process.exitCode = problems.length > 0 ? 1 : 0;
  } finally {
    for (const close of closers) await close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
