import pg from 'pg';
import { createPrismaClient } from '../database/prisma.service.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { getModelIndex, putModelIndex } from './model-indexes.queries.js';
import { saveModelVersion } from './model-versions.queries.js';

describe('stored index graphs (real Postgres)', () => {
  let prisma: PrismaClient;
  let pool: pg.Pool;
  let versionId: number;

  beforeAll(async () => {
    const url = process.env.RECODER_TEST_DATABASE_URL;
    if (!url) throw new Error('RECODER_TEST_DATABASE_URL is unset: run through npm test');
    prisma = createPrismaClient(url, 2);
    pool = new pg.Pool({ connectionString: url, max: 2 });
    versionId = (
      await saveModelVersion(prisma, {
        name: 'index-holder',
        kind: 'DAE',
        hyperparameters: {},
        metrics: {},
        interactionCount: 0,
        dataLatestAt: null,
        itemIds: ['a'],
        weights: new Uint8Array(8),
        trainingSeconds: 0,
      })
    ).id;
  });
  afterAll(async () => {
    await prisma.modelVersion.delete({ where: { id: versionId } });
    await prisma.$disconnect();
    await pool.end();
  });

  it('reads a graph back byte for byte in chunks (one bytea over 256 MB cannot be read as one string)', async () => {
    const bytes = Uint8Array.from({ length: 10_007 }, (_, i) => (i * 31 + 7) & 255);
    const params = { metric: 'cosine', size: 3, m: 8 };
    await putModelIndex(pool, versionId, 'items-cosine', params, bytes);
    for (const chunk of [1_000, 3_000, 10_007, 1 << 20])
      expect(await getModelIndex(pool, versionId, 'items-cosine', params, chunk)).toEqual(bytes);
    expect(await getModelIndex(pool, versionId, 'items-cosine', { ...params, m: 16 })).toBeNull(); // other build
    expect(await getModelIndex(pool, versionId, 'items-ip', params)).toBeNull();
  });
});
