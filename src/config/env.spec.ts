import { loadEnv } from './env.js';

describe('loadEnv', () => {
  it('applies defaults: no DATABASE_URL means the embedded Postgres', () => {
    const env = loadEnv({});
    expect(env.databaseUrl).toBeUndefined();
    expect(env.embeddedPgPort).toBe(54329);
    expect(env.port).toBe(4000);
    expect(env.maxBatchSize).toBe(10_000);
    expect(env.createUnknownItems).toBe(false);
    expect(env.popularityWeights).toEqual({});
  });

  it('parses every setting', () => {
    const env = loadEnv({
      DATABASE_URL: 'postgresql://u@h:5432/d',
      PORT: '8080',
      RECODER_CREATE_UNKNOWN_ITEMS: 'true',
      RECODER_MAX_BATCH_SIZE: '500',
      RECODER_POPULARITY_WEIGHTS: 'purchase=5, LIKE=2',
    });
    expect(env).toMatchObject({
      databaseUrl: 'postgresql://u@h:5432/d',
      port: 8080,
      createUnknownItems: true,
      maxBatchSize: 500,
      popularityWeights: { PURCHASE: 5, LIKE: 2 },
    });
  });

  it('fails listing every bad variable at once', () => {
    let message = '';
    try {
      loadEnv({ PORT: 'eighty', RECODER_CREATE_UNKNOWN_ITEMS: 'maybe', LOG_LEVEL: 'loud' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('PORT');
    expect(message).toContain('RECODER_CREATE_UNKNOWN_ITEMS');
    expect(message).toContain('LOG_LEVEL');
  });

  it('rejects out-of-range caps and malformed weights', () => {
    expect(() => loadEnv({ RECODER_MAX_BATCH_SIZE: '0' })).toThrow(/RECODER_MAX_BATCH_SIZE/);
    expect(() => loadEnv({ RECODER_POPULARITY_WEIGHTS: 'PURCHASE' })).toThrow(/RECODER_POPULARITY_WEIGHTS/);
  });

  it('configures the training worker and the retraining schedule', () => {
    expect(loadEnv({})).toMatchObject({
      trainingWorker: 'thread',
      trainingThreadNice: 19,
      retrain: { schedule: '', kind: 'AUTO', activate: 'IF_BETTER', epochs: null },
      autoBudgetSeconds: 900,
    });
    const env = loadEnv({
      RECODER_TRAINING_WORKER: 'off',
      RECODER_TRAINING_THREAD_NICE: '5',
      RECODER_RETRAIN_SCHEDULE: ' 0 */6 * * * ',
      RECODER_RETRAIN_KIND: 'DAE',
      RECODER_RETRAIN_ACTIVATE: 'ALWAYS',
      RECODER_RETRAIN_EPOCHS: '80',
    });
    expect(env).toMatchObject({
      trainingWorker: 'off',
      trainingThreadNice: 5,
      retrain: { schedule: '0 */6 * * *', kind: 'DAE', activate: 'ALWAYS', epochs: 80 },
    });
    expect(() => loadEnv({ RECODER_RETRAIN_SCHEDULE: 'hourly' })).toThrow(
      /RECODER_RETRAIN_SCHEDULE: "hourly" is not a cron expression/,
    );
    expect(() => loadEnv({ RECODER_TRAINING_THREAD_NICE: '25' })).toThrow(/RECODER_TRAINING_THREAD_NICE/);
    expect(() => loadEnv({ RECODER_TRAINING_WORKER: 'process' })).toThrow(/RECODER_TRAINING_WORKER/);
    expect(() => loadEnv({ RECODER_RETRAIN_SCHEDULE: '0 3 * * *', RECODER_RETRAIN_KIND: 'AUTOREC' })).toThrow(
      /IF_BETTER compares NDCG@100/,
    );
    expect(
      loadEnv({ RECODER_RETRAIN_SCHEDULE: '0 3 * * *', RECODER_RETRAIN_ACTIVATE: 'EXPERIMENT' }).retrain.activate,
    ).toBe('EXPERIMENT');
  });

  it('configures the rate-limit store, the failure budget and trusted proxies', () => {
    expect(loadEnv({})).toMatchObject({
      rateLimitStore: 'postgres',
      authFailuresPerMinute: 30,
      redisUrl: undefined,
      trustProxy: false,
    });
    expect(loadEnv({ REDIS_URL: 'redis://127.0.0.1:6379' })).toMatchObject({
      rateLimitStore: 'redis',
      redisUrl: 'redis://127.0.0.1:6379',
    });
    expect(loadEnv({ REDIS_URL: 'redis://127.0.0.1:6379', RECODER_RATE_LIMIT_STORE: 'postgres' }).rateLimitStore).toBe(
      'postgres',
    );
    expect(loadEnv({ RECODER_TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadEnv({ RECODER_TRUST_PROXY: '2' }).trustProxy).toBe(2);
    expect(loadEnv({ RECODER_TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).trustProxy).toBe('10.0.0.0/8, 127.0.0.1');
    expect(() => loadEnv({ RECODER_RATE_LIMIT_STORE: 'redis' })).toThrow(/redis needs REDIS_URL/);
    expect(() => loadEnv({ RECODER_AUTH_FAILURES_PER_MINUTE: '-1' })).toThrow(/RECODER_AUTH_FAILURES_PER_MINUTE/);
  });
});
