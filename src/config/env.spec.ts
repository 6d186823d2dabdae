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
});
