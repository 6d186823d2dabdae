import pg from 'pg';
import { checkRateLimitStore } from '../scripts/check-rate-limit-store.js';
import { memoryStore, PgRateLimitStore, type RateLimitStore } from '../src/graphql/rate-limit-store.js';
import { Budget } from '../src/graphql/rate-limit.js';
import { sql, testDatabaseUrl } from './helpers.js';

/**
 * The shared rate-limit store on the real PostgreSQL: two store instances on two pools (as two API
 * replicas) count concurrent requests without losing or doubling one, windows restart, expired rows
 * are swept. The same check runs against Redis with `npm run check:rate-limit-store -- redis <url>`
 * (README, "GraphQL over HTTP"); CI has no Redis.
 */
describe('rate-limit stores', () => {
  const pools: pg.Pool[] = [];
  beforeAll(async () => {
    for (let k = 0; k < 2; k++) pools.push(new pg.Pool({ connectionString: testDatabaseUrl(), max: 5 }));
  });
  afterAll(async () => {
    await sql('TRUNCATE rate_limit_buckets');
    for (const pool of pools) await pool.end();
  });

  it('PostgreSQL: exact counts under concurrency across two instances, and a new window once one ends', async () => {
    const { problems, report } = await checkRateLimitStore(
      pools.map((p) => new PgRateLimitStore(p)),
      300,
    );
    console.log(`postgres rate-limit store: ${report}`);
    expect(problems).toEqual([]);
  });

  it('PostgreSQL: sweeps rows whose window ended over a minute ago, and only those', async () => {
    await sql(
      `INSERT INTO rate_limit_buckets (key, count, reset_at) VALUES ('old', 3, now() - interval '2 minutes'), ('live', 3, now() + interval '1 minute')`,
    );
    const store = new PgRateLimitStore(pools[0]);
    expect(await store.sweep()).toBeGreaterThanOrEqual(1);
    const left = await sql<{ key: string }>(`SELECT key FROM rate_limit_buckets WHERE key IN ('old', 'live')`);
    expect(left.map((r) => r.key)).toEqual(['live']);
  });

  it('a spent budget is refused from memory until its window ends: no store call per refused request', async () => {
    const inner = memoryStore();
    let calls = 0;
    const counting: RateLimitStore = {
      incr: (...args) => {
        calls++;
        inner.incr(...args);
      },
    };
    const budget = new Budget(counting, 3, () => undefined);
    const verdicts = [];
    for (let k = 0; k < 10; k++) verdicts.push(await budget.consume('b'));
    expect(verdicts.map((v) => v.exceeded)).toEqual([false, false, false, true, true, true, true, true, true, true]);
    expect(verdicts.map((v) => v.remaining)).toEqual([2, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(calls).toBe(3);
    expect(verdicts[9].resetSeconds).toBeGreaterThan(0);
    expect((await budget.consume('other')).remaining).toBe(2);
    // A long name (a forged X-Forwarded-For behind RECODER_TRUST_PROXY=true) is hashed, still one bucket.
    const long = `authfail:${'x'.repeat(5000)}`;
    expect((await budget.consume(long)).remaining).toBe(2);
    expect((await budget.consume(long)).remaining).toBe(1);
  });

  it('an unreachable store lets requests pass uncounted and reports the error', async () => {
    const errors: string[] = [];
    const broken: RateLimitStore = { incr: (_key, callback) => callback(new Error('connection refused')) };
    const verdict = await new Budget(broken, 3, (e) => errors.push(e.message)).consume('b');
    expect(verdict.exceeded).toBe(false);
    expect(errors).toEqual(['connection refused']);
  });
});
