import type pg from 'pg';
import { csrFromTriples, type CsrMatrix } from '../core/data/csr.js';
import { initBackend, type InitBackendOptions } from '../core/engine/backend.js';
import { compareItemCounts } from '../core/eval/distribution.js';
import { excludeSet } from '../core/index/top-k.js';
import type { MultVAE } from '../core/models/mult-vae.js';
import { fitLatentToHistories } from '../core/models/synthetic-users.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { modelFromArtifact } from '../registry/model-artifact.js';
import { activeModelVersionId, loadModelVersion } from '../registry/model-versions.queries.js';
import { DEFAULT_MIN_RATING, interactionValue } from './loaded-version.js';
import { internalItemIds, streamInteractions } from './serving.queries.js';

export interface SyntheticUsersExport {
  users: number;
  itemsPerUser: number;
  /** The Mult-VAE version to sample (default: the active one). */
  versionId?: number;
  seed: number;
  temperature: number;
  /** Latent draws from the prior N(0, I), or from a diagonal Gaussian fitted to the users' encoder means. */
  latent: 'prior' | 'population';
  /** User ids are `${prefix}1`, `${prefix}2`, … */
  prefix: string;
  /** Also compare the synthetic item distribution with the real one (through `report`). */
  compare: boolean;
  backend: InitBackendOptions['prefer'];
  /** Receives the CSV (`user,item` header, then a line per interaction) in chunks, awaited in turn; ended before the comparison. */
  out: { write(text: string): Promise<void>; end(): Promise<void> };
  /** Notes on what was done (the CLI's stderr). */
  log: (line: string) => void;
  /** The comparison's lines. */
  report: (line: string) => void;
}

/**
 * `npm run synthetic-users`: synthetic users sampled from a Mult-VAE version, written as a CSV
 * the `csv` import format reads (items deleted since training are never drawn, so an import does
 * not create them again). Returns the version sampled.
 */
export async function exportSyntheticUsers(
  prisma: PrismaClient,
  pool: pg.Pool,
  o: SyntheticUsersExport,
): Promise<{ versionId: number }> {
  const id = o.versionId ?? (await activeModelVersionId(prisma));
  if (id === null) throw new Error('no model version is active: pass --version <id> (npm run models -- list)');
  const artifact = await loadModelVersion(pool, id);
  if (!artifact) throw new Error(`model version ${id} not found`);
  if (artifact.kind !== 'VAE')
    throw new Error(`model version ${id} is ${artifact.kind}: synthetic users need a Mult-VAE (VAE) version`);
  const { tf, name: backend } = await initBackend({ prefer: o.backend, log: o.log });
  const model = modelFromArtifact(tf, artifact) as MultVAE;
  try {
    const itemOfColumn = await internalItemIds(pool, artifact.itemIds);
    const deleted: number[] = [];
    itemOfColumn.forEach((itemId, col) => itemId < 0 && deleted.push(col));
    const available = model.numItems - deleted.length;
    if (o.itemsPerUser > available)
      throw new Error(`--items-per-user must be at most ${available}, the items of model version ${id}`);

    const minRating =
      typeof artifact.hyperparameters.minRating === 'number' ? artifact.hyperparameters.minRating : DEFAULT_MIN_RATING;
    // The real users' positives over the version's items (as the version counts them), when needed.
    const histories =
      o.compare || o.latent === 'population' ? await readPositiveHistories(pool, itemOfColumn, minRating) : null;

    let latent: { mean: Float32Array; std: Float32Array } | undefined;
    if (o.latent === 'population') {
      const { count, fit } = fitLatentToHistories((h) => model.encode(h), model.latentDim, histories!);
      if (!fit) throw new Error("--latent population: the database has no user with a positive on the version's items");
      latent = fit;
      const meanNorm = Math.hypot(...latent.mean);
      const meanStd = latent.std.reduce((a, b) => a + b, 0) / latent.std.length;
      o.log(
        `latent: diagonal Gaussian fitted to ${count} users' encoder means (‖mean‖ ${meanNorm.toFixed(2)}, mean std ${meanStd.toFixed(3)})`,
      );
    }

    const { users, itemsPerUser, seed, temperature } = o;
    const started = performance.now();
    const samples = model.sampleUsers(users, itemsPerUser, seed, { temperature, exclude: excludeSet(deleted), latent });
    const seconds = (performance.now() - started) / 1000;
    o.log(
      `model version ${id} (VAE, ${model.numItems} items, ${backend}): ${users} users × ${itemsPerUser} items sampled in ${seconds.toFixed(1)} s (seed ${seed}, temperature ${temperature}, latent ${o.latent})`,
    );

    await o.out.write('user,item\n');
    const itemField = artifact.itemIds.map(csvField);
    for (let u = 0; u < samples.length; u++) {
      const user = csvField(`${o.prefix}${u + 1}`);
      let chunk = '';
      for (const col of samples[u].items) chunk += `${user},${itemField[col]}\n`;
      await o.out.write(chunk);
    }
    await o.out.end();

    if (o.compare) {
      const h = histories!;
      const real = new Float64Array(model.numItems);
      for (let k = 0; k < h.indptr[h.numRows]; k++) real[h.indices[k]]++;
      const synthetic = new Float64Array(model.numItems);
      for (const sample of samples) for (const col of sample.items) synthetic[col]++;
      const cols = Array.from({ length: model.numItems }, (_, c) => c).filter((c) => itemOfColumn[c] >= 0);
      const c = compareItemCounts(
        cols.map((k) => real[k]),
        cols.map((k) => synthetic[k]),
      );
      const positives = h.indptr[h.numRows];
      o.report(
        `real: ${positives} positives (rating ≥ ${minRating} or any other kind) of ${h.numRows} users, ${(positives / h.numRows).toFixed(1)} per user, on ${c.coveredReal} of ${cols.length} items`,
      );
      o.report(
        `synthetic: ${users * itemsPerUser} interactions of ${users} users, ${itemsPerUser} per user, on ${c.coveredSynthetic} of ${cols.length} items`,
      );
      o.report(`Spearman ρ of item counts (synthetic vs real, ${cols.length} items): ${c.spearman.toFixed(4)}`);
      o.report(
        `Jensen–Shannon divergence of the item distributions (bits, 0 = same, 1 = disjoint): ${c.jensenShannon.toFixed(4)}`,
      );
      o.report(
        `share on the real top-10 % items (${c.head.items}): real ${(100 * c.head.reference).toFixed(1)} %, synthetic ${(100 * c.head.other).toFixed(1)} %`,
      );
    }
    return { versionId: id };
  } finally {
    model.dispose();
  }
}

/** A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/**
 * Every user's distinct positives over the model's columns (any non-RATING interaction, or a
 * rating ≥ minRating), one row per user with at least one.
 */
async function readPositiveHistories(pool: pg.Pool, itemOfColumn: Int32Array, minRating: number): Promise<CsrMatrix> {
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
