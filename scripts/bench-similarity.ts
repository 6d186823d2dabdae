/**
 * Similarity benchmark (issue 12, "Similarities that mean something"; docs/similarity.md): trains
 * Mult-DAE, Mult-VAE and EASE on a split folder and compares every candidate item representation
 * for `similarItems` by genre precision@k against item–item cosine over the raw interaction
 * columns (the reference), and every candidate user representation for `similarUsers` by its
 * collapse (mean pairwise cosine) and by what its neighbours predict (user-kNN NDCG@100), against
 * the cosine of the raw histories.
 *
 *   npm run bench:similarity -- --split <dir> --movies <movies.dat|movies.csv> [options]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Random } from '../src/core/data/random.js';
import { readSplitFiles, type SplitFiles } from '../src/core/data/split-files.js';
import { initBackend } from '../src/core/engine/backend.js';
import { evaluateRanking, nanMean, ndcgAtK } from '../src/core/eval/metrics.js';
import {
  genrePrecisionAtK,
  meanNeighbourPopularity,
  meanPairwiseCosine,
  userNeighbourScores,
} from '../src/core/eval/similarity.js';
import { Ease } from '../src/core/models/ease.js';
import { MultDAE } from '../src/core/models/mult-dae.js';
import { MultVAE } from '../src/core/models/mult-vae.js';
import type { MultinomialAutoencoder, Tf } from '../src/core/models/multinomial-ae.js';
import {
  centreRows,
  columnStats,
  cooccurrenceNeighbours,
  cooccurrenceScorer,
  cosineScorer,
  easeScorer,
  mixedScorer,
  neighboursFromScores,
  cosineNeighbours,
  cosineSimilarities,
  easeNeighbours,
  historyCosineSimilarities,
  responseLiftNeighbours,
  tfRowProduct,
  withoutLastColumn,
  autoencoderSimilarityVectors,
  itemSimilarityScorer,
  type AutoencoderItemWeights,
  type EaseNeighbourMode,
  type ItemSimilaritySources,
  type NeighbourLists,
} from '../src/core/serving/similarity.js';
import {
  readMovielens1mMovies,
  readMovielensLatestMovies,
  type ItemMetadata,
} from '../src/interactions/import/formats.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run bench:similarity -- --split <dir> --movies <file> [options]

  --split <dir>          strong-generalization split folder (train.csv, test_tr/te.csv, unique_sid.txt)
  --movies <file>        MovieLens movies with genres: movies.dat (ML-1M, MovieID::Title::Genres)
                         or movies.csv (latest, movieId,title,genres); unique_sid.txt maps columns
                         to these movie ids
  --models <list>        comma-separated: dae, vae, ease (default dae,vae,ease)
  --epochs <n>           Mult-DAE/VAE epochs (default 50; the best validation epoch is kept)
  --batch-size <n>       Mult-DAE/VAE users per step (default 500)
  --lambda <x>           EASE λ (default 500)
  --k <n>                neighbours per item (default 10)
  --min-users <n>        also report genre precision over items with ≥ n training users (default 20)
  --user-k <n>           neighbours per user for the user-kNN check (default 50)
  --alpha <a>            popularity-damped co-occurrence exponent also reported (default 0.75;
                         0.5 is the cosine reference)
  --show <title>         print the neighbours of this title for every representation
                         (default "Toy Story (1995)")
  --show-genres <list>   count the shown neighbours in any of these genres (default
                         Animation,Children,Children's: the demo's Toy Story check)
  --models-dir <dir>     keep trained models here and reuse them on later runs (keyed by
                         model, items, train users, epochs, batch size, seed, λ)
  --seed <n>             training seed (default 98765)
  --backend <b>          tfjs backend: auto | node | wasm | cpu (default auto)
  -h, --help             this text`;

interface ItemRow {
  name: string;
  lists: NeighbourLists;
  seconds: number;
}

async function readMovies(file: string): Promise<ItemMetadata[]> {
  return extname(file).toLowerCase() === '.dat' ? readMovielens1mMovies(file) : readMovielensLatestMovies(file);
}

function timed<T>(f: () => T): { value: T; seconds: number } {
  const t = performance.now();
  const value = f();
  return { value, seconds: (performance.now() - t) / 1000 };
}

/** A model from `dir` if saved there with the same key, else trained (and saved). */
async function cached<T>(
  dir: string | undefined,
  key: string,
  load: (b: Uint8Array) => T,
  train: () => Promise<T>,
  save: (m: T) => Uint8Array,
  log: (m: string) => void,
): Promise<T> {
  const file = dir ? join(dir, `${key}.bin`) : undefined;
  if (file && existsSync(file)) {
    log(`${key}: loaded from ${file}`);
    return load(new Uint8Array(readFileSync(file)));
  }
  const model = await train();
  if (dir && file) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, save(model));
    log(`${key}: saved to ${file}`);
  }
  return model;
}

function transpose(m: Float32Array, n: number): Float32Array {
  const t = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) t[j * n + i] = m[i * n + j];
  return t;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      split: { type: 'string' },
      movies: { type: 'string' },
      models: { type: 'string', default: 'dae,vae,ease' },
      epochs: { type: 'string', default: '50' },
      'batch-size': { type: 'string', default: '500' },
      lambda: { type: 'string', default: '500' },
      k: { type: 'string', default: '10' },
      'min-users': { type: 'string', default: '20' },
      'user-k': { type: 'string', default: '50' },
      alpha: { type: 'string', default: '0.75' },
      show: { type: 'string', default: 'Toy Story (1995)' },
      'show-genres': { type: 'string', default: "Animation,Children,Children's" },
      'models-dir': { type: 'string' },
      seed: { type: 'string', default: '98765' },
      backend: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(HELP);
  if (!values.split || !values.movies) throw new Error('--split and --movies are required (see --help)');
  const positiveInt = (name: string, v: string) => {
    const n = Number(v);
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`--${name} must be a positive integer, got ${v}`);
    return n;
  };
  const epochs = positiveInt('epochs', values.epochs!);
  const batchSize = positiveInt('batch-size', values['batch-size']!);
  const k = positiveInt('k', values.k!);
  const minUsers = positiveInt('min-users', values['min-users']!);
  const userK = positiveInt('user-k', values['user-k']!);
  const lambda = Number(values.lambda);
  if (!(lambda > 0)) throw new Error(`--lambda must be > 0, got ${values.lambda}`);
  const alpha = Number(values.alpha);
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`--alpha must be in [0, 1], got ${values.alpha}`);
  const seed = Number(values.seed);
  const models = values
    .models!.split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  for (const m of models)
    if (!['dae', 'vae', 'ease'].includes(m)) throw new Error(`--models: unknown model ${m} (dae, vae, ease)`);
  const prefer = values.backend as 'auto' | 'wasm' | 'cpu' | 'node';
  if (!['auto', 'wasm', 'cpu', 'node'].includes(prefer)) throw new Error('--backend must be auto, wasm, cpu or node');
  const log = (m: string) => console.log(m);

  const { tf } = await initBackend({ prefer, log });
  const product = tfRowProduct(tf);
  const data = await readSplitFiles(values.split);
  const n = data.numItems;
  const movies = new Map((await readMovies(values.movies)).map((m) => [m.externalId, m]));
  const genres = data.itemIds.map((id) => movies.get(id)?.categories ?? []);
  const titles = data.itemIds.map((id) => movies.get(id)?.title ?? `#${id}`);
  const missing = data.itemIds.filter((id) => !movies.has(id)).length;
  const counts = new Float64Array(n);
  for (let p = 0; p < data.train.indptr[data.train.numRows]; p++) counts[data.train.indices[p]]++;
  const headItems = Int32Array.from({ length: n }, (_, i) => i).filter((i) => counts[i] >= minUsers);
  log(
    `split ${values.split}: ${data.train.numRows} train users × ${n} items, ${data.train.indptr[data.train.numRows]} interactions; ` +
      `${n - missing} items with a title in ${values.movies}${missing ? ` (${missing} missing)` : ''}; ${headItems.length} items with ≥ ${minUsers} train users`,
  );
  const showCol = titles.indexOf(values.show!);
  if (showCol < 0) log(`"${values.show}" is not among the split's items: no neighbour lists printed`);

  const rows: ItemRow[] = [];
  const add = (name: string, f: () => NeighbourLists) => {
    const { value, seconds } = timed(f);
    rows.push({ name, lists: value, seconds });
    log(`  ${name}: ${seconds.toFixed(1)} s`);
  };

  log('item representations:');
  add('reference: cosine of raw interaction columns', () => cooccurrenceNeighbours(data.train, k));
  add(`co-occurrence, damped α = ${alpha}`, () => cooccurrenceNeighbours(data.train, k, { popularityExponent: alpha }));
  add('co-occurrence P(j | i) (α = 0)', () => cooccurrenceNeighbours(data.train, k, { popularityExponent: 0 }));
  const popular = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b);
  add('baseline: the most popular items', () => ({
    indices: Array.from({ length: n }, (_, i) => popular.filter((j) => j !== i).slice(0, k)),
    scores: Array.from({ length: n }, () => new Float32Array(k)),
  }));
  const rng = new Random(seed);
  add('baseline: random items', () => ({
    indices: Array.from({ length: n }, (_, i) => Int32Array.from({ length: k }, () => (i + 1 + rng.int(n - 1)) % n)),
    scores: Array.from({ length: n }, () => new Float32Array(k)),
  }));

  interface UserRow {
    name: string;
    meanCosine: number;
    knnNdcg: number;
  }
  const userRows: UserRow[] = [];
  const modelRows: string[] = [];
  const test = data.test;
  const userCheck = (name: string, testVectors: Float32Array, populationVectors: Float32Array, dim: number) => {
    const sims = cosineSimilarities(testVectors, populationVectors, dim);
    userRows.push({
      name,
      meanCosine: meanPairwiseCosine(testVectors, dim, seed),
      knnNdcg: nanMean(ndcgAtK(userNeighbourScores(sims, data.train, userK), test.foldIn, test.heldOut, 100)),
    });
  };
  // Reference: the raw histories (binary vectors over the items).
  {
    const sims = historyCosineSimilarities(test.foldIn, data.train);
    const dense = new Float32Array(test.foldIn.numRows * n);
    for (let r = 0; r < test.foldIn.numRows; r++)
      for (let p = test.foldIn.indptr[r]; p < test.foldIn.indptr[r + 1]; p++) dense[r * n + test.foldIn.indices[p]] = 1;
    userRows.push({
      name: 'reference: cosine of raw histories',
      meanCosine: meanPairwiseCosine(dense, n, seed),
      knnNdcg: nanMean(ndcgAtK(userNeighbourScores(sims, data.train, userK), test.foldIn, test.heldOut, 100)),
    });
  }

  const baseKey = `i${n}-u${data.train.numRows}`;
  const concatenated = new Map<string, { vectors: Float32Array; dim: number }>();
  const autoencoders = new Map<string, AutoencoderItemWeights>();
  /** The served recipe (itemSimilarityScorer) on the given sources. */
  const recommended = (sources: Omit<ItemSimilaritySources, 'numItems'>) => {
    const scorer = itemSimilarityScorer({ numItems: n, ...sources }, { product });
    try {
      return neighboursFromScores(n, k, scorer);
    } finally {
      scorer.dispose();
    }
  };
  /** Neighbours by a weighted sum of cosines / partial correlations / the reference's cosine. */
  const mixed = (
    parts: ({ weight: number } & (
      | { vectors: { vectors: Float32Array; dim: number } }
      | { ease: Float32Array; mode?: EaseNeighbourMode }
      | { raw: true }
    ))[],
  ) => {
    const disposers: (() => void)[] = [];
    const scorers = parts.map((p) => {
      if ('raw' in p) return { scorer: cooccurrenceScorer(data.train), weight: p.weight };
      if ('ease' in p) return { scorer: easeScorer(p.ease, n, p.mode ?? 'geometric'), weight: p.weight };
      const c = cosineScorer(p.vectors.vectors, p.vectors.dim, { product });
      disposers.push(c.dispose);
      return { scorer: c, weight: p.weight };
    });
    try {
      return neighboursFromScores(n, k, mixedScorer(n, scorers));
    } finally {
      disposers.forEach((d) => d());
    }
  };
  for (const kind of models.filter((m) => m !== 'ease')) {
    const label = kind === 'vae' ? 'Mult-VAE' : 'Mult-DAE';
    const key = `${kind}-${baseKey}-e${epochs}-b${batchSize}-s${seed}`;
    const started = performance.now();
    const model: MultinomialAutoencoder = await cached(
      values['models-dir'],
      key,
      (b) => (kind === 'vae' ? MultVAE.fromBytes(tf, b) : MultDAE.fromBytes(tf, b)),
      () => train(tf, kind as 'vae' | 'dae', data, epochs, batchSize, seed, log),
      (m) => m.toBytes(),
      log,
    );
    const trainSeconds = (performance.now() - started) / 1000;
    const testNdcg = evaluateRanking((h) => model.reconstruct(h), test.foldIn, test.heldOut, { ks: [100] })['ndcg@100'];
    const s = model.summary;
    modelRows.push(
      `| ${label} | ${s ? `${s.epochs} epochs (${s.steps} steps), kept epoch ${s.keptEpoch}, validation NDCG@100 ${s.validationNdcg?.toFixed(4) ?? '–'}` : 'loaded'} | ${testNdcg.toFixed(4)} | ${trainSeconds.toFixed(0)} s |`,
    );
    log(`${label}: test NDCG@100 ${testNdcg.toFixed(4)}`);
    const decoder = withoutLastColumn(model.itemVectors(), model.itemVectorDim);
    const decoderDim = model.itemVectorDim - 1;
    const input = model.inputItemVectors();
    add(`${label}: decoder W_i (today)`, () => cosineNeighbours(decoder, decoderDim, k, { product }));
    add(`${label}: decoder [W_i, b_i]`, () =>
      cosineNeighbours(model.itemVectors(), model.itemVectorDim, k, { product }),
    );
    add(`${label}: encoder input rows`, () => cosineNeighbours(input.vectors, input.dim, k, { product }));
    const weights: AutoencoderItemWeights = {
      itemVectors: model.itemVectors(),
      itemVectorDim: model.itemVectorDim,
      inputItemVectors: input,
    };
    autoencoders.set(label, weights);
    const both = autoencoderSimilarityVectors(weights);
    concatenated.set(label, both);
    add(`${label}: encoder + decoder (½ each)`, () => cosineNeighbours(both.vectors, both.dim, k, { product }));
    add(`${label}: ½ (encoder + decoder) + ½ reference [recipe]`, () =>
      recommended({ autoencoder: weights, interactions: data.train }),
    );
    add(`${label}: response lift`, () => responseLiftNeighbours((h) => model.reconstruct(h), n, k));

    // Users: the population = train users, the queries = test users' fold-in histories.
    const dims = model.latentDim;
    const popMu = model.encode(data.train);
    const testMu = model.encode(test.foldIn);
    const stats = columnStats(popMu, dims);
    userCheck(`${label}: encoder mean μ (today)`, testMu, popMu, dims);
    userCheck(`${label}: μ centred`, centreRows(testMu, dims, stats.mean), centreRows(popMu, dims, stats.mean), dims);
    userCheck(
      `${label}: μ standardised`,
      centreRows(testMu, dims, stats.mean, stats.std),
      centreRows(popMu, dims, stats.mean, stats.std),
      dims,
    );
    if (kind === 'vae') {
      const qd = model.itemVectorDim;
      const popH = withoutLastColumn(model.userQueries(data.train), qd);
      const testH = withoutLastColumn(model.userQueries(test.foldIn), qd);
      const hs = columnStats(popH, qd - 1);
      userCheck(`${label}: decoder query h_u`, testH, popH, qd - 1);
      userCheck(`${label}: h_u centred`, centreRows(testH, qd - 1, hs.mean), centreRows(popH, qd - 1, hs.mean), qd - 1);
    }
    model.dispose();
  }

  if (models.includes('ease')) {
    const started = performance.now();
    const ease = await cached(
      values['models-dir'],
      `ease-${baseKey}-l${lambda}`,
      (b) => Ease.fromBytes(b),
      async () => Ease.fit(data.train, { lambda }),
      (m) => m.toBytes(),
      log,
    );
    const seconds = (performance.now() - started) / 1000;
    const testNdcg = evaluateRanking((h) => ease.score(h), test.foldIn, test.heldOut, { ks: [100] })['ndcg@100'];
    modelRows.push(`| EASE | λ = ${lambda} | ${testNdcg.toFixed(4)} | ${seconds.toFixed(0)} s |`);
    log(`EASE: test NDCG@100 ${testNdcg.toFixed(4)}`);
    add('EASE: row B[i, ·] (today)', () => easeNeighbours(ease.weights, n, k, 'row'));
    add('EASE: column B[·, i]', () => easeNeighbours(ease.weights, n, k, 'column'));
    add('EASE: (B + Bᵀ) / 2', () => easeNeighbours(ease.weights, n, k, 'symmetric'));
    add('EASE: √(B_ij·B_ji) (partial correlation)', () => easeNeighbours(ease.weights, n, k, 'geometric'));
    add('EASE: cosine of rows B[i, ·]', () => cosineNeighbours(ease.weights, n, k, { product }));
    add('EASE: cosine of columns B[·, i]', () => cosineNeighbours(transpose(ease.weights, n), n, k, { product }));
    add('EASE: ½ partial correlation + ½ reference', () =>
      mixed([
        { ease: ease.weights, weight: 0.5 },
        { raw: true, weight: 0.5 },
      ]),
    );
    add('EASE: ½ column + ½ reference [recipe]', () =>
      recommended({ easeWeights: ease.weights, interactions: data.train }),
    );
    for (const [label, both] of concatenated) {
      const weights = autoencoders.get(label)!;
      add(`EASE + ${label}: ½ partial correlation + ½ (encoder + decoder)`, () =>
        mixed([
          { ease: ease.weights, weight: 0.5 },
          { vectors: both, weight: 0.5 },
        ]),
      );
      add(`EASE + ${label}: ½ column + ½ (encoder + decoder) [recipe]`, () =>
        recommended({ easeWeights: ease.weights, autoencoder: weights }),
      );
      add(`EASE + ${label}: ⅓ column + ⅓ (encoder + decoder) + ⅓ reference [recipe]`, () =>
        recommended({ easeWeights: ease.weights, autoencoder: weights, interactions: data.train }),
      );
    }
  }

  const reference = rows[0];
  const refAll = genrePrecisionAtK(reference.lists.indices, genres, k);
  console.log(`\n### Items: genre precision@${k} (reference: ${refAll.toFixed(4)} over all items)\n`);
  console.log(
    `| representation | all items | items with ≥ ${minUsers} users | vs reference (all) | neighbour popularity pct | seconds |`,
  );
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    const all = genrePrecisionAtK(r.lists.indices, genres, k);
    const head = genrePrecisionAtK(r.lists.indices, genres, k, headItems);
    const pop = meanNeighbourPopularity(r.lists.indices, counts, k);
    console.log(
      `| ${r.name} | ${all.toFixed(4)} | ${head.toFixed(4)} | ${(all / refAll).toFixed(3)}× | ${pop.toFixed(1)} | ${r.seconds.toFixed(1)} |`,
    );
  }
  console.log(`\n### Users: test users' fold-in histories against the ${data.train.numRows} train users\n`);
  console.log(`| representation | mean pairwise cosine (test users) | user-kNN NDCG@100 (k = ${userK}) |`);
  console.log('|---|---|---|');
  for (const u of userRows) console.log(`| ${u.name} | ${u.meanCosine.toFixed(4)} | ${u.knnNdcg.toFixed(4)} |`);
  console.log('\n### Models\n');
  console.log('| model | training | test NDCG@100 | seconds |');
  console.log('|---|---|---|---|');
  for (const m of modelRows) console.log(m);

  if (showCol >= 0) {
    const wanted = new Set(values['show-genres']!.split(',').map((g) => g.trim()));
    console.log(
      `\n### Neighbours of ${titles[showCol]} (${genres[showCol].join('|')}; ${counts[showCol]} train users); [x/${k}] = in ${[...wanted].join(' or ')}\n`,
    );
    for (const r of rows) {
      const list = Array.from(r.lists.indices[showCol]).slice(0, k);
      const inWanted = list.filter((j) => genres[j].some((g) => wanted.has(g))).length;
      console.log(`${pad(r.name, 48)} [${inWanted}/${k}] ${list.map((j) => titles[j]).join('; ')}`);
    }
  }
}

async function train(
  tf: Tf,
  kind: 'vae' | 'dae',
  data: SplitFiles,
  epochs: number,
  batchSize: number,
  seed: number,
  log: (m: string) => void,
): Promise<MultinomialAutoencoder> {
  const options = {
    validation: { foldIn: data.validation.foldIn, heldOut: data.validation.heldOut },
    onEpoch: (e: { epoch: number; epochs: number; loss: number; validation?: number; seconds: number }) => {
      if (e.epoch === 1 || e.epoch % 10 === 0 || e.epoch === e.epochs) {
        log(
          `  ${kind} epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(2)} val ndcg@100 ${e.validation?.toFixed(4)} (${e.seconds.toFixed(1)} s)`,
        );
      }
    },
  };
  return kind === 'vae'
    ? MultVAE.fit(tf, data.train, { epochs, batchSize, seed }, options)
    : MultDAE.fit(tf, data.train, { epochs, batchSize, seed }, options);
}

runMain(main, { print: 'stack' });
