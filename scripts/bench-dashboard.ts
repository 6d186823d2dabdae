/**
 * Dashboard benchmark (issue 17): the built bundle's size (gzip), and the time to first render of
 * the latent-space map with 20,000 points in headless Chromium, against the same page with one
 * point (the reference: page load, scripts, the GraphQL round trip) measured in the same run;
 * also the redraw time of the map while zooming, and the server-side projection (PCA) of 20,000
 * vectors.
 *
 *   npm run bench:dashboard -- [--points 20000] [--dim 200] [--runs 5] [--port 4310]
 *
 * The page is the real build (dist/dashboard, served by registerDashboard); /graphql answers from a
 * generated map (clusters of points with titles and categories), so the numbers are the browser's
 * alone. Chromium: CHROMIUM_PATH, else /usr/bin/chromium (Debian's `chromium` package).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import Fastify from 'fastify';
import { chromium } from 'playwright-core';
import { loadEnv } from '../src/config/env.js';
import { Random } from '../src/core/data/random.js';
import { pca } from '../src/core/projection/pca.js';
import { DASHBOARD_DIST, registerDashboard } from '../src/dashboard/serve-dashboard.js';

const { values: args } = parseArgs({
  options: {
    points: { type: 'string', default: '20000' },
    dim: { type: 'string', default: '200' },
    runs: { type: 'string', default: '5' },
    port: { type: 'string', default: '4310' },
  },
});
const POINTS = Number(args.points);
const DIM = Number(args.dim);
const RUNS = Number(args.runs);
const CATEGORIES = [
  'Drama',
  'Comedy',
  'Thriller',
  'Action',
  'Romance',
  'Adventure',
  'Crime',
  'Sci-Fi',
  'Horror',
  'Fantasy',
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `n` vectors in 12 clusters, projected by the server's PCA: the map as latentMap returns it. */
async function makeMap(n: number, dim: number): Promise<{ map: Record<string, unknown>; pcaMs: number }> {
  const rng = new Random(17);
  const centres = Array.from({ length: 12 }, () => Float32Array.from({ length: dim }, () => rng.normal()));
  const vectors = new Float32Array(n * dim);
  const cluster = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    cluster[i] = rng.int(12);
    for (let d = 0; d < dim; d++) vectors[i * dim + d] = centres[cluster[i]][d] + 0.8 * rng.normal();
  }
  const started = performance.now();
  const { coordinates, explainedVariance } = await pca(vectors, dim);
  const pcaMs = performance.now() - started;
  const round = (v: number) => Math.round(v * 1e5) / 1e5;
  const ids = Array.from({ length: n }, (_, i) => String(i + 1));
  return {
    pcaMs,
    map: {
      modelVersionId: 1,
      of: 'ITEMS',
      method: 'PCA',
      explainedVariance,
      total: n,
      ids,
      x: ids.map((_, i) => round(coordinates[i * 2])),
      y: ids.map((_, i) => round(coordinates[i * 2 + 1])),
      labels: ids.map((id, i) => `Film ${id} (${1950 + (i % 70)})`),
      categories: CATEGORIES,
      category: ids.map((_, i) => (cluster[i] < 10 ? cluster[i] : -1)),
      anomalyPercentile: [],
    },
  };
}

async function main(): Promise<void> {
  if (!existsSync(path.join(DASHBOARD_DIST, 'index.html')))
    throw new Error(`${DASHBOARD_DIST} is missing: run npm run build`);
  const assets = readdirSync(path.join(DASHBOARD_DIST, 'assets'));
  let js = 0;
  let css = 0;
  for (const name of assets) {
    const bytes = readFileSync(path.join(DASHBOARD_DIST, 'assets', name));
    const gz = gzipSync(bytes, { level: 9 }).length;
    console.log(`asset ${name}: ${(bytes.length / 1024).toFixed(1)} KiB, gzip ${(gz / 1024).toFixed(1)} KiB`);
    if (name.endsWith('.js')) js += gz;
    if (name.endsWith('.css')) css += gz;
  }
  console.log(
    `bundle (gzip -9): JS ${(js / 1024).toFixed(1)} KiB + CSS ${(css / 1024).toFixed(1)} KiB = ${((js + css) / 1024).toFixed(1)} KiB`,
  );

  const big = await makeMap(POINTS, DIM);
  const one = await makeMap(1, DIM);
  console.log(`server-side PCA of ${POINTS.toLocaleString('en-US')} × ${DIM} vectors: ${big.pcaMs.toFixed(0)} ms`);
  const maps: Record<string, Record<string, unknown>> = { big: big.map, one: one.map };
  let current = 'big';

  const fastify = Fastify();
  registerDashboard(fastify, { ...loadEnv({ RECODER_AUTH: 'off' }), dashboard: true });
  fastify.post<{ Body: { query: string } }>('/graphql', async (request) => {
    if (request.body.query.includes('viewer'))
      return { data: { viewer: { role: 'READER', authRequired: false, keyPrefix: null } } };
    if (request.body.query.includes('latentMap')) return { data: { latentMap: maps[current] } };
    return { errors: [{ message: 'not in this benchmark', extensions: { code: 'BAD_USER_INPUT' } }] };
  });
  await fastify.listen({ port: Number(args.port), host: '127.0.0.1' });
  const url = `http://127.0.0.1:${args.port}/dashboard/#/latent`;
  const executablePath =
    process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
  if (!executablePath) throw new Error('no Chromium: apt-get install -y chromium, or set CHROMIUM_PATH');
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  try {
    const firstRender = async (which: string): Promise<number> => {
      current = which;
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(url);
      const ms = await page.waitForFunction(
        () => (globalThis as unknown as { __latentFirstDraw?: number }).__latentFirstDraw,
        undefined,
        { timeout: 60_000 },
      );
      const value = (await ms.jsonValue()) as number;
      await context.close();
      return value;
    };
    await firstRender('big'); // warm-up (disk cache, JIT)
    const big: number[] = [];
    const ref: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      ref.push(await firstRender('one'));
      big.push(await firstRender('big'));
    }
    console.log(
      `first render of the latent map, ${POINTS.toLocaleString('en-US')} points: median ${median(big).toFixed(0)} ms (runs: ${big.map((v) => v.toFixed(0)).join(', ')})`,
    );
    console.log(
      `reference, the same page with 1 point: median ${median(ref).toFixed(0)} ms (runs: ${ref.map((v) => v.toFixed(0)).join(', ')})`,
    );
    console.log(
      `ratio ${(median(big) / median(ref)).toFixed(2)}; the 20,000 points add ${(median(big) - median(ref)).toFixed(0)} ms`,
    );

    // Zooming: 40 wheel steps, the draw time of each frame.
    current = 'big';
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(url);
    await page.locator('[data-testid="scatter"][data-drawn]').waitFor({ timeout: 60_000 });
    const box = (await page.locator('[data-testid="scatter"]').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    const frames: number[] = [];
    for (let k = 0; k < 40; k++) {
      await page.mouse.wheel(0, k < 20 ? -120 : 120);
      await page.waitForTimeout(30);
      frames.push(Number(await page.locator('[data-testid="scatter"]').getAttribute('data-draw-ms')));
    }
    console.log(
      `redraw while zooming (${POINTS.toLocaleString('en-US')} points): median ${median(frames).toFixed(1)} ms, max ${Math.max(...frames).toFixed(1)} ms per frame`,
    );
    await context.close();
  } finally {
    await browser.close();
    await fastify.close();
  }
}

await main();
