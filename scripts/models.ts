import { parseArgs } from 'node:util';
import { loadEnv } from '../src/config/env.js';
import { openDatabaseFromEnv } from '../src/database/database-bootstrap.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { activateModelVersion } from '../src/registry/activation.js';
import { activeModelVersionId, listModelVersions } from '../src/registry/model-versions.queries.js';
import pg from 'pg';
import { initBackend } from '../src/core/engine/backend.js';
import { buildVersionPopulation } from '../src/registry/population.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run models -- list [--limit 20]
       npm run models -- activate <id>
       npm run models -- population <id>

list      model versions, newest first: id, kind, name, validation metrics, data snapshot, active flag
activate  makes version <id> the active one; every running API process loads it and swaps
          atomically (LISTEN/NOTIFY). Rollback = activate an older version.
population  computes and stores version <id>'s population from the current interactions (user
          vectors, reconstruction errors, similar-item lists), as the training worker does after
          training, so API processes load it instead of computing it (for versions trained before
          populations were stored; a version that has one keeps it)
  -h, --help`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { limit: { type: 'string', default: '20' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, arg] = positionals;
  if (
    values.help ||
    !['list', 'activate', 'population'].includes(command) ||
    (command !== 'list' && !/^\d+$/.test(arg ?? ''))
  ) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const env = loadEnv();
  const db = await openDatabaseFromEnv(env, {
    log: (m) => console.error(`[db] ${m}`),
  });
  const prisma = createPrismaClient(db.url, 1);
  try {
    if (command === 'activate') {
      const id = Number(arg);
      if (!(await activateModelVersion(prisma, id))) throw new Error(`model version ${id} not found`);
      console.log(`model version ${id} is now active`);
      return;
    }
    if (command === 'population') {
      const id = Number(arg);
      const { tf } = await initBackend({ prefer: env.tfBackend, log: (m) => console.error(m) });
      const pool = new pg.Pool({ connectionString: db.url, max: 2 });
      try {
        const done = await buildVersionPopulation(tf, pool, id);
        console.log(
          done
            ? `model version ${id}: population stored (${done.users} users${done.lists ? ', similar-item lists' : ''}, ${done.seconds.toFixed(1)} s)`
            : `model version ${id}: not found, or its population is already stored`,
        );
      } finally {
        await pool.end();
      }
      return;
    }
    const [versions, active] = await Promise.all([
      listModelVersions(prisma, Number(values.limit)),
      activeModelVersionId(prisma),
    ]);
    if (versions.length === 0) {
      console.log('no model versions yet: npm run train -- --model vae');
      return;
    }
    console.log('| id | kind | name | validation | interactions | trained | created | active |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const v of versions) {
      const validation = Object.entries(v.metrics.validation ?? {})
        .filter(([k]) => ['ndcg@100', 'recall@20', 'rmse'].includes(k))
        .map(([k, x]) => `${k} ${x.toFixed(4)}`)
        .join(', ');
      console.log(
        `| ${v.id} | ${v.kind} | ${v.name} | ${validation} | ${v.interactionCount} | ${v.trainingSeconds.toFixed(0)} s | ${v.createdAt.toISOString().slice(0, 19)} | ${v.id === active ? 'yes' : ''} |`,
      );
    }
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}

runMain(main, { print: 'message' });
