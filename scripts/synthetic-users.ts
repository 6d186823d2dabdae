import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadEnv } from '../src/config/env.js';
import type { InitBackendOptions } from '../src/core/engine/backend.js';
import { openDatabaseFromEnv } from '../src/database/database-bootstrap.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { exportSyntheticUsers } from '../src/serving/synthetic-users-export.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run synthetic-users -- --users N --items-per-user K [options]

Samples synthetic users from a Mult-VAE version's generative model (latent vectors from the prior
N(0, I), decoded, K distinct items per user drawn from the decoder's softmax without replacement)
and writes them as an interactions CSV (header user,item; user ids <prefix>1, <prefix>2, …; items
as external ids) that \`npm run import -- file.csv --format csv\` loads. Reads DATABASE_URL only.

  --users <n>           synthetic users (required)
  --items-per-user <k>  distinct items per user (required; at most the version's items)
  --version <id>        model version (default: the active one); must be a VAE version
  --seed <n>            seed of the prior draws and the sampling (default 1)
  --temperature <t>     softmax temperature (default 1; < 1 sharper, > 1 flatter)
  --latent <where>      prior: z ~ N(0, I) (default); population: z ~ a diagonal Gaussian fitted to
                        the encoder means of the database's users (their current histories), which
                        a VAE trained with a small KL weight needs for realistic users (only the
                        2 × latentDim aggregate numbers are used, no user's history is copied)
  --prefix <p>          user id prefix (default synthetic-)
  --out <file>          write the CSV there (default: stdout)
  --compare             also compare the synthetic item popularity with the real one (the
                        version's positives per item in the database): Spearman rank correlation,
                        Jensen–Shannon divergence, share of the real top-10 % items (stderr, or
                        stdout with --out)
  --backend <b>         tfjs backend: auto | node | wasm | cpu (default auto)
  -h, --help`;

function positiveInt(name: string, text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < 1)
    throw new Error(`--${name} must be a positive integer, got ${text ?? 'nothing'}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string' },
      'items-per-user': { type: 'string' },
      version: { type: 'string' },
      seed: { type: 'string', default: '1' },
      temperature: { type: 'string', default: '1' },
      latent: { type: 'string', default: 'prior' },
      prefix: { type: 'string', default: 'synthetic-' },
      out: { type: 'string' },
      compare: { type: 'boolean', default: false },
      backend: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || values.users === undefined || values['items-per-user'] === undefined) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
    return;
  }
  const users = positiveInt('users', values.users);
  const itemsPerUser = positiveInt('items-per-user', values['items-per-user']);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  const temperature = Number(values.temperature);
  if (!(Number.isFinite(temperature) && temperature > 0))
    throw new Error(`--temperature must be a number > 0, got ${values.temperature}`);
  const latentFrom = values.latent;
  if (latentFrom !== 'prior' && latentFrom !== 'population')
    throw new Error(`--latent must be prior or population, got ${latentFrom}`);
  const report = (line: string) => (values.out ? console.log(line) : console.error(line));

  const env = loadEnv();
  // Read only: no migrations (a database holding a version is migrated).
  const db = await openDatabaseFromEnv(env, { migrate: false, log: (m) => console.error(`[db] ${m}`) });
  const prisma = createPrismaClient(db.url, 1);
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  pool.on('error', () => undefined); // an idle client's broken connection fails the next query instead
  // Opened at the first line of CSV: a run that fails before sampling leaves no file behind.
  let stream: NodeJS.WritableStream | undefined;
  const output = () => (stream ??= values.out ? createWriteStream(values.out) : process.stdout);
  try {
    await exportSyntheticUsers(prisma, pool, {
      users,
      itemsPerUser,
      versionId: values.version === undefined ? undefined : positiveInt('version', values.version),
      seed,
      temperature,
      latent: latentFrom,
      prefix: values.prefix,
      compare: values.compare,
      backend: values.backend as InitBackendOptions['prefer'],
      out: {
        write: async (text) => {
          if (!output().write(text)) await once(output(), 'drain');
        },
        end: async () => {
          if (!values.out) return;
          output().end();
          await once(output(), 'finish');
          console.error(`wrote ${users * itemsPerUser} interactions to ${values.out}`);
        },
      },
      log: (m) => console.error(m),
      report,
    });
  } finally {
    await pool.end();
    await prisma.$disconnect();
    await db.close();
  }
}

runMain(main, { print: 'message' });
