/**
 * `npm run bench:hnsw`: HNSW recall@10 against exact search, build time and query time by index
 * size and build parameters on a version's stored user vectors, the evidence behind
 * hnswParamsFor (src/core/index/vector-index.ts). See HELP.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadEnv } from '../src/config/env.js';
import { ExactIndex, HnswIndex, hnswParamsFor, recallAtK } from '../src/core/index/vector-index.js';
import { centreRows } from '../src/core/serving/served-model.js';
import { openDatabaseFromEnv } from '../src/database/database-bootstrap.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { activeModelVersionId } from '../src/registry/model-versions.queries.js';
import { loadPopulation } from '../src/registry/population.js';
import { machineLine } from './bench-lib.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run bench:hnsw -- [--version <id>] [--sizes 10000,50000,100000] [--queries 300]
                          [--builds 16/200,24/200,32/200] [--efs 50,100,200,400]

Real embeddings: the stored population (npm run models -- population <id>) of DATABASE_URL's
active version (or --version): its user vectors, centred as served, in the user→user cosine
index. For each size N (the first N users; sizes above the population are skipped), each build
(m/efConstruction) and each query-time ef: recall@10 against the exact scan for --queries other
users' vectors (the last rows, never indexed), the build time, and the mean query time (the exact
scan's in the same run is the reference). The row marked "auto" is hnswParamsFor(N).`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      version: { type: 'string' },
      sizes: { type: 'string', default: '10000,50000,100000' },
      queries: { type: 'string', default: '300' },
      builds: { type: 'string', default: '16/200,24/200,32/200' },
      efs: { type: 'string', default: '50,100,200,400' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return console.log(HELP);
  const env = loadEnv();
  const db = await openDatabaseFromEnv(env, { log: (m) => console.error(`[db] ${m}`) });
  const prisma = createPrismaClient(db.url, 1);
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  try {
    const id = values.version ? Number(values.version) : await activeModelVersionId(prisma);
    if (id === null) throw new Error('no active model version (or --version)');
    const population = await loadPopulation(pool, id, 0).catch(() => null);
    if (!population?.vectors)
      throw new Error(
        `model version ${id} has no stored population with user vectors (npm run models -- population ${id})`,
      );
    const dim = population.dim;
    const all = population.vectors;
    centreRows(all, dim);
    const nq = Number(values.queries);
    const total = all.length / dim;
    const queries = all.subarray((total - nq) * dim);
    console.log(
      `model version ${id}: ${total} users' vectors (dim ${dim}), ${nq} query users; recall@10 against the exact scan`,
    );
    console.log('| size | m / efConstruction | build s | ef | recall@10 | query ms | exact ms |');
    console.log('|---|---|---|---|---|---|---|');
    for (const size of values.sizes.split(',').map(Number)) {
      if (size > total - nq) continue;
      const vectors = all.subarray(0, size * dim);
      const auto = hnswParamsFor(size);
      const builds = values.builds.split(',').map((b) => b.split('/').map(Number) as [number, number]);
      if (!builds.some(([m, efc]) => m === auto.m && efc === auto.efConstruction))
        builds.push([auto.m, auto.efConstruction]);
      const exact = new ExactIndex('cosine', dim, vectors);
      let t = performance.now();
      const truth = Array.from({ length: nq }, (_, q) => exact.search(queries.subarray(q * dim, (q + 1) * dim), 10));
      const exactMs = (performance.now() - t) / nq;
      exact.dispose();
      for (const [m, efConstruction] of builds) {
        const efs = values.efs.split(',').map(Number);
        if (m === auto.m && efConstruction === auto.efConstruction && !efs.includes(auto.ef)) efs.push(auto.ef);
        t = performance.now();
        const built = await HnswIndex.build('cosine', dim, vectors, { m, efConstruction, ef: efs[0], seed: 100 });
        const buildSeconds = (performance.now() - t) / 1000;
        const bytes = built.toBytes();
        built.dispose();
        for (const ef of efs.sort((a, b) => a - b)) {
          const index = HnswIndex.fromBytes('cosine', dim, vectors, bytes, ef);
          t = performance.now();
          const found = Array.from({ length: nq }, (_, q) =>
            index.search(queries.subarray(q * dim, (q + 1) * dim), 10),
          );
          const ms = (performance.now() - t) / nq;
          index.dispose();
          const isAuto = m === auto.m && efConstruction === auto.efConstruction && ef === auto.ef;
          console.log(
            `| ${size.toLocaleString('en-US')} | ${m} / ${efConstruction}${isAuto ? ' (auto)' : ''} | ${buildSeconds.toFixed(1)} | ${ef} | ${recallAtK(found, truth).toFixed(3)} | ${ms.toFixed(2)} | ${exactMs.toFixed(2)} |`,
          );
        }
      }
    }
    console.log(`\n${machineLine()}`);
  } finally {
    await pool.end();
    await prisma.$disconnect();
    await db.close();
  }
}

runMain(main);
