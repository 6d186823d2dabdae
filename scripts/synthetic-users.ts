import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadEnv } from '../src/config/env.js';
import { csrFromTriples, csrSelectRows, type CsrMatrix } from '../src/core/data/csr.js';
import { initBackend, type InitBackendOptions } from '../src/core/engine/backend.js';
import { headShare, jensenShannon, spearman } from '../src/core/eval/distribution.js';
import { excludeSet } from '../src/core/index/top-k.js';
import type { MultVAE } from '../src/core/models/mult-vae.js';
import { LatentGaussianFit } from '../src/core/models/synthetic-users.js';
import { openDatabaseFromEnv } from '../src/database/database-bootstrap.js';
import { createPrismaClient } from '../src/database/prisma.service.js';
import { modelFromArtifact } from '../src/registry/model-artifact.js';
import { activeModelVersionId, loadModelVersion } from '../src/registry/model-versions.queries.js';
import { DEFAULT_MIN_RATING, interactionValue } from '../src/serving/loaded-version.js';
import { internalItemIds, streamInteractions } from '../src/serving/serving.queries.js';
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

/** A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * Every user's distinct positives over the model's columns (any non-RATING interaction, or a
 * rating ≥ minRating), one row per user with at least one.
 */
async function readHistories(pool: pg.Pool, itemOfColumn: Int32Array, minRating: number): Promise<CsrMatrix> {
  const columnOf = new Map<number, number>();
  itemOfColumn.forEach((itemId, col) => itemId >= 0 && columnOf.set(itemId, col));
  const rowOf = new Map<number, number>();
  const rows: number[] = [];
  const cols: number[] = [];
  await streamInteractions(pool, (userId, itemId, kind, value) => {
    const col = columnOf.get(itemId);
    if (col === undefined || interactionValue(false, kind, value, minRating) === null) return;
    let row = rowOf.get(userId);
    if (row === undefined) rowOf.set(userId, (row = rowOf.size));
    rows.push(row);
    cols.push(col);
  });
  return csrFromTriples(rowOf.size, itemOfColumn.length, rows, cols); // duplicates collapse to one entry
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
  let model: MultVAE | undefined;
  try {
    const id =
      values.version === undefined ? await activeModelVersionId(prisma) : positiveInt('version', values.version);
    if (id === null) throw new Error('no model version is active: pass --version <id> (npm run models -- list)');
    const artifact = await loadModelVersion(pool, id);
    if (!artifact) throw new Error(`model version ${id} not found`);
    if (artifact.kind !== 'VAE')
      throw new Error(`model version ${id} is ${artifact.kind}: synthetic users need a Mult-VAE (VAE) version`);
    const { tf, name: backend } = await initBackend({
      prefer: values.backend as InitBackendOptions['prefer'],
      log: (m) => console.error(m),
    });
    model = modelFromArtifact(tf, artifact) as MultVAE;
    // Items deleted since training are never drawn (the CSV would create them again on import).
    const itemOfColumn = await internalItemIds(pool, artifact.itemIds);
    const deleted: number[] = [];
    itemOfColumn.forEach((itemId, col) => itemId < 0 && deleted.push(col));
    const available = model.numItems - deleted.length;
    if (itemsPerUser > available)
      throw new Error(`--items-per-user must be at most ${available}, the items of model version ${id}`);

    const minRating =
      typeof artifact.hyperparameters.minRating === 'number' ? artifact.hyperparameters.minRating : DEFAULT_MIN_RATING;
    // The real users' positives over the version's items (as the version counts them), when needed.
    const histories =
      values.compare || latentFrom === 'population' ? await readHistories(pool, itemOfColumn, minRating) : null;

    let latent: { mean: Float32Array; std: Float32Array } | undefined;
    if (latentFrom === 'population') {
      const fit = new LatentGaussianFit(model.latentDim);
      const all = Array.from({ length: histories!.numRows }, (_, r) => r);
      for (let start = 0; start < all.length; start += 1000)
        fit.add(model.encode(csrSelectRows(histories!, all.slice(start, start + 1000))));
      if (fit.count === 0)
        throw new Error("--latent population: the database has no user with a positive on the version's items");
      latent = fit.result();
      const meanNorm = Math.hypot(...latent.mean);
      const meanStd = latent.std.reduce((a, b) => a + b, 0) / latent.std.length;
      console.error(
        `latent: diagonal Gaussian fitted to ${fit.count} users' encoder means (‖mean‖ ${meanNorm.toFixed(2)}, mean std ${meanStd.toFixed(3)})`,
      );
    }

    const started = performance.now();
    const samples = model.sampleUsers(users, itemsPerUser, seed, { temperature, exclude: excludeSet(deleted), latent });
    const seconds = (performance.now() - started) / 1000;
    console.error(
      `model version ${id} (VAE, ${model.numItems} items, ${backend}): ${users} users × ${itemsPerUser} items sampled in ${seconds.toFixed(1)} s (seed ${seed}, temperature ${temperature}, latent ${latentFrom})`,
    );

    const out = values.out ? createWriteStream(values.out) : process.stdout;
    const write = async (text: string) => {
      if (!out.write(text)) await once(out, 'drain');
    };
    await write('user,item\n');
    const itemField = artifact.itemIds.map(csvField);
    for (let u = 0; u < samples.length; u++) {
      const user = csvField(`${values.prefix}${u + 1}`);
      let chunk = '';
      for (const col of samples[u].items) chunk += `${user},${itemField[col]}\n`;
      await write(chunk);
    }
    if (values.out) {
      (out as ReturnType<typeof createWriteStream>).end();
      await once(out, 'finish');
      console.error(`wrote ${users * itemsPerUser} interactions to ${values.out}`);
    }

    if (values.compare) {
      const h = histories!;
      const real = new Float64Array(model.numItems);
      for (let k = 0; k < h.indptr[h.numRows]; k++) real[h.indices[k]]++;
      const synthetic = new Float64Array(model.numItems);
      for (const sample of samples) for (const col of sample.items) synthetic[col]++;
      const cols = Array.from({ length: model.numItems }, (_, c) => c).filter((c) => itemOfColumn[c] >= 0);
      const r = cols.map((c) => real[c]);
      const s = cols.map((c) => synthetic[c]);
      const head = headShare(r, s, 0.1);
      const covered = (xs: number[]) => xs.filter((x) => x > 0).length;
      const positives = h.indptr[h.numRows];
      report(
        `real: ${positives} positives (rating ≥ ${minRating} or any other kind) of ${h.numRows} users, ${(positives / h.numRows).toFixed(1)} per user, on ${covered(r)} of ${cols.length} items`,
      );
      report(
        `synthetic: ${users * itemsPerUser} interactions of ${users} users, ${itemsPerUser} per user, on ${covered(s)} of ${cols.length} items`,
      );
      report(`Spearman ρ of item counts (synthetic vs real, ${cols.length} items): ${spearman(r, s).toFixed(4)}`);
      report(
        `Jensen–Shannon divergence of the item distributions (bits, 0 = same, 1 = disjoint): ${jensenShannon(r, s).toFixed(4)}`,
      );
      report(
        `share on the real top-10 % items (${head.items}): real ${(100 * head.reference).toFixed(1)} %, synthetic ${(100 * head.other).toFixed(1)} %`,
      );
    }
  } finally {
    model?.dispose();
    await pool.end();
    await prisma.$disconnect();
    await db.close();
  }
}

runMain(main, { print: 'message' });
