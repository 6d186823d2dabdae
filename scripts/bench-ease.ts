/**
 * EASE fit benchmark: seconds per phase (Gram, inverse, weights), total, peak RSS and the
 * machine's load, on generated data (power-law item popularity, seeded) or a split folder's
 * training users; the old scalar Gauss-Jordan on a smaller catalog in the same run for the
 * ratio (and the fast fit's accuracy against it); a cancellation check; and the memory table of
 * easeMemoryBytes. With --split, also the test NDCG@100.
 *
 *   npm run bench:ease -- [--items 10000] [--users 20000] [--threads 1,2] [--split DIR] ...
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { csrFromTriples, type CsrMatrix } from '../src/core/data/csr.js';
import { Random } from '../src/core/data/random.js';
import { readSplitFiles } from '../src/core/data/split-files.js';
import { initBackend } from '../src/core/engine/backend.js';
import { evaluateRanking } from '../src/core/eval/metrics.js';
import {
  Ease,
  EaseFitCancelled,
  easeMemoryBytes,
  easeWeightsFloat64,
  invertSpdInPlace,
  maxEaseItems,
  type EaseMethod,
  type EasePhase,
} from '../src/core/models/ease.js';
import { runMain } from './cli.js';

const HELP = `Usage: npm run bench:ease -- [options]

  --items N          generated catalog size (default 10000)
  --users N          generated users (default 20000)
  --per-user N       mean items per generated user (default 50)
  --seed N           generator seed (default 1)
  --split DIR        use a strong-generalization split folder's train users instead, and report
                     test NDCG@100 (e.g. a copy of ml-latest-small/split)
  --lambda X         λ (default 100)
  --threads LIST     comma-separated thread counts to run, e.g. 1,2 (default 1)
  --method LIST      comma-separated: auto, primal, dual (default auto)
  --gj-items N       catalog size of the old Gauss-Jordan comparison (default 2000; 0 skips it)
  --cancel-after S   also start a fit and stop it after S seconds, reporting the delay (default 5; 0 skips)
  --backend NAME     tfjs backend: auto (default), wasm, cpu or node
  -h, --help         this text`;

/** Users × items with item popularity ∝ 1/(rank+10)^0.9 and history lengths around perUser. */
function generate(users: number, items: number, perUser: number, seed: number): CsrMatrix {
  const rng = new Random(seed);
  const weights = Float64Array.from({ length: items }, (_, i) => 1 / Math.pow(i + 10, 0.9));
  const cdf = new Float64Array(items);
  let acc = 0;
  for (let i = 0; i < items; i++) cdf[i] = acc += weights[i];
  // A random permutation so that popular items are spread over the index range.
  const perm = Int32Array.from({ length: items }, (_, i) => i);
  for (let i = items - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
  const rows: number[] = [];
  const cols: number[] = [];
  for (let u = 0; u < users; u++) {
    const h = Math.max(1, Math.min(items, Math.round(perUser * Math.exp(rng.normal() * 0.7 - 0.245))));
    const seen = new Set<number>();
    for (let tries = 0; seen.size < h && tries < 20 * h; tries++) {
      const x = rng.uniform() * acc;
      let lo = 0;
      let hi = items - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf[mid] < x) lo = mid + 1;
        else hi = mid;
      }
      seen.add(perm[lo]);
    }
    for (const c of seen) {
      rows.push(u);
      cols.push(c);
    }
  }
  return csrFromTriples(users, items, rows, cols);
}

/** The old fit: dense float64 Gram matrix and scalar Gauss-Jordan (2·n³ flops). */
const oldGaussJordan = easeWeightsFloat64;

/**
 * Float64 EASE weights through the Woodbury identity, exploiting X's sparsity (for few users):
 * K = XXᵀ + λI inverted by Gauss-Jordan, Z = K⁻¹X, Q = XᵀZ, B_ij = Q_ij / (1 − Q_jj).
 */
function float64Woodbury(train: CsrMatrix, lambda: number): Float64Array {
  const n = train.numCols;
  const users: number[] = [];
  for (let r = 0; r < train.numRows; r++) if (train.indptr[r + 1] > train.indptr[r]) users.push(r);
  const u = users.length;
  const k = new Float64Array(u * u);
  const cols: Array<Array<[number, number]>> = Array.from({ length: n }, () => []);
  users.forEach((r, a) => {
    for (let p = train.indptr[r]; p < train.indptr[r + 1]; p++) cols[train.indices[p]].push([a, train.values[p]]);
  });
  for (const col of cols) for (const [a, x] of col) for (const [b, y] of col) k[a * u + b] += x * y;
  for (let a = 0; a < u; a++) k[a * u + a] += lambda;
  invertSpdInPlace(k, u);
  const z = new Float64Array(u * n); // K⁻¹X, row-major u × n
  cols.forEach((col, j) => {
    for (const [v, x] of col) for (let a = 0; a < u; a++) z[a * n + j] += k[a * u + v] * x;
  });
  const q = new Float64Array(n * n);
  cols.forEach((col, i) => {
    for (const [a, x] of col) for (let j = 0; j < n; j++) q[i * n + j] += x * z[a * n + j];
  });
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) w[i * n + j] = q[i * n + j] / (1 - q[j * n + j]);
  return w;
}

/** Users of `foldIn` whose top-k (fold-in excluded) under `w` differs from `ref`'s, beyond exact ties. */
function rankingMismatches(w: Float32Array, ref: Float64Array, n: number, foldIn: CsrMatrix, k: number): number {
  let bad = 0;
  for (let u = 0; u < foldIn.numRows; u++) {
    const a = new Float64Array(n);
    const b = new Float64Array(n);
    const seen = new Set<number>();
    for (let p = foldIn.indptr[u]; p < foldIn.indptr[u + 1]; p++) {
      const o = foldIn.indices[p] * n;
      seen.add(foldIn.indices[p]);
      for (let j = 0; j < n; j++) {
        a[j] += w[o + j];
        b[j] += ref[o + j];
      }
    }
    const items = Array.from(b.keys()).filter((j) => !seen.has(j));
    const byRef = [...items].sort((x, y) => b[y] - b[x]).slice(0, k);
    const byW = [...items].sort((x, y) => a[y] - a[x]).slice(0, k);
    const scale = Math.max(1e-12, ...byRef.map((j) => Math.abs(b[j])));
    if (byRef.some((j, r) => Math.abs(b[j] - b[byW[r]]) > 1e-9 * scale)) bad++;
  }
  return bad;
}

const gb = (bytes: number) => (bytes / 2 ** 30).toFixed(2);
const load = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

interface Timed {
  ease: Ease;
  seconds: number;
  /** CPU seconds of the process (every thread) during the fit. */
  cpuSeconds: number;
  phases: Record<EasePhase, number>;
  maxGap: number;
  method: string;
  threads: number;
}

async function timedFit(
  tf: Awaited<ReturnType<typeof initBackend>>['tf'],
  train: CsrMatrix,
  lambda: number,
  threads: number,
  method: 'auto' | EaseMethod,
): Promise<Timed> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const marks: Array<[EasePhase, number]> = [];
  let last = t0;
  let maxGap = 0;
  let planned = '';
  const ease = await Ease.fitAsync(tf, train, {
    lambda,
    threads,
    method,
    onPlan: (p) => {
      planned = `${p.method} (${p.numItems} items, ${p.numUsers} users, ${(p.totalFlops / 1e9).toFixed(0)} GFLOP, ${gb(p.memoryBytes)} GiB planned)`;
    },
    onProgress: (_done, _total, phase) => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      if (marks.length === 0 || marks[marks.length - 1][0] !== phase) marks.push([phase, now]);
    },
  });
  const end = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const phases: Record<EasePhase, number> = { gram: 0, inverse: 0, weights: 0 };
  marks.forEach(
    ([phase, at], i) =>
      (phases[phase] += ((i + 1 < marks.length ? marks[i + 1][1] : end) - (i === 0 ? t0 : at)) / 1000),
  );
  return {
    ease,
    seconds: (end - t0) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    phases,
    maxGap: maxGap / 1000,
    method: planned,
    threads,
  };
}

function report(label: string, r: Timed): void {
  console.log(
    `${label}: ${r.method}, threads ${r.threads}: gram ${r.phases.gram.toFixed(2)} s, inverse ${r.phases.inverse.toFixed(2)} s, ` +
      `weights ${r.phases.weights.toFixed(2)} s, total ${r.seconds.toFixed(2)} s (CPU ${r.cpuSeconds.toFixed(2)} s); longest gap between progress reports ${r.maxGap.toFixed(2)} s; ` +
      `peak RSS so far ${peakRssMb().toFixed(0)} MB; load ${load()}`,
  );
}

/** Scores X·B for float64 weights (as Ease.score). */
function scoreWith(w: Float64Array, n: number, h: CsrMatrix): Float32Array {
  const out = new Float32Array(h.numRows * n);
  for (let u = 0; u < h.numRows; u++) {
    for (let p = h.indptr[u]; p < h.indptr[u + 1]; p++) {
      const o = h.indices[p] * n;
      for (let j = 0; j < n; j++) out[u * n + j] += h.values[p] * w[o + j];
    }
  }
  return out;
}

/** Relative Frobenius error of `w` against `ref`, and the share of users whose top-20 agree. */
function compare(
  w: Float32Array,
  ref: Float64Array,
  n: number,
  users: CsrMatrix,
): { relError: number; sameTop: number } {
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (w[i] - ref[i]) ** 2;
    den += ref[i] ** 2;
  }
  let same = 0;
  const rows = Math.min(users.numRows, 300);
  for (let u = 0; u < rows; u++) {
    const a = new Float64Array(n);
    const b = new Float64Array(n);
    for (let p = users.indptr[u]; p < users.indptr[u + 1]; p++) {
      const o = users.indices[p] * n;
      for (let j = 0; j < n; j++) {
        a[j] += w[o + j];
        b[j] += ref[o + j];
      }
    }
    const top = (s: Float64Array) =>
      Array.from(s.keys())
        .sort((x, y) => s[y] - s[x])
        .slice(0, 20)
        .join(',');
    if (top(a) === top(b)) same++;
  }
  return { relError: Math.sqrt(num / den), sameTop: same / rows };
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      items: { type: 'string', default: '10000' },
      users: { type: 'string', default: '20000' },
      'per-user': { type: 'string', default: '50' },
      seed: { type: 'string', default: '1' },
      split: { type: 'string' },
      lambda: { type: 'string', default: '100' },
      threads: { type: 'string', default: '1' },
      method: { type: 'string', default: 'auto' },
      'gj-items': { type: 'string', default: '2000' },
      'cancel-after': { type: 'string', default: '5' },
      backend: { type: 'string', default: 'auto' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (a.help) {
    console.log(HELP);
    return;
  }
  const lambda = Number(a.lambda);
  const threadList = a.threads.split(',').map(Number);
  const methods = a.method.split(',') as Array<'auto' | EaseMethod>;
  const { tf, name } = await initBackend({ prefer: a.backend as 'auto' });
  console.log(
    `backend ${name}; ${os.cpus().length} CPUs (${os.cpus()[0]?.model}); load average ${load()}; node ${process.version}`,
  );

  console.log('\nmemory of the dense fit (easeMemoryBytes, 1 thread; primal, or the worst case over users):');
  for (const n of [5000, 10000, 20000, 50000]) {
    console.log(
      `  ${String(n).padStart(6)} items: ${gb(easeMemoryBytes(n, { method: 'primal' }))} GiB primal, ${gb(easeMemoryBytes(n))} GiB worst case`,
    );
  }
  for (const budget of [1, 2, 4, 8])
    console.log(`  largest catalog in ${budget} GiB: ${maxEaseItems(budget * 2 ** 30)} items`);

  let train: CsrMatrix;
  let split: Awaited<ReturnType<typeof readSplitFiles>> | undefined;
  if (a.split) {
    split = await readSplitFiles(a.split);
    train = split.train;
    console.log(
      `\nsplit ${a.split}: ${train.numRows} training users, ${train.numCols} items, ${train.indptr[train.numRows]} interactions; λ = ${lambda}`,
    );
  } else {
    train = generate(Number(a.users), Number(a.items), Number(a['per-user']), Number(a.seed));
    console.log(
      `\ngenerated: ${train.numRows} users, ${train.numCols} items, ${train.indptr[train.numRows]} interactions (power-law popularity, seed ${a.seed}); λ = ${lambda}`,
    );
  }
  let ref: Float64Array | undefined;
  if (split && train.numRows <= 5000) {
    const t0 = performance.now();
    ref = float64Woodbury(train, lambda);
    const m = evaluateRanking((h) => scoreWith(ref!, train.numCols, h), split.test.foldIn, split.test.heldOut, {
      ks: [20, 50, 100],
    });
    console.log(
      `float64 reference (Woodbury, sparse, ${((performance.now() - t0) / 1000).toFixed(1)} s): test NDCG@100 ${m['ndcg@100'].toFixed(5)}, ` +
        `Recall@20 ${m['recall@20'].toFixed(5)}, Recall@50 ${m['recall@50'].toFixed(5)}`,
    );
  }
  for (const method of methods) {
    for (const threads of threadList) {
      const r = await timedFit(tf, train, lambda, threads, method);
      report(`EASE fitAsync`, r);
      if (split) {
        const m = evaluateRanking((h) => r.ease.score(h), split.test.foldIn, split.test.heldOut, { ks: [20, 50, 100] });
        console.log(
          `  test NDCG@100 ${m['ndcg@100'].toFixed(5)}, Recall@20 ${m['recall@20'].toFixed(5)}, Recall@50 ${m['recall@50'].toFixed(5)} (${m.users} users)`,
        );
        if (ref) {
          const c = compare(r.ease.weights, ref, train.numCols, split.test.foldIn);
          const bad = rankingMismatches(r.ease.weights, ref, train.numCols, split.test.foldIn, 100);
          console.log(
            `  against float64: B relative error ${c.relError.toExponential(2)}; top-100 of the ${split.test.foldIn.numRows} test users identical (up to exact ties) for all but ${bad}`,
          );
        }
      }
    }
  }

  const gjItems = Number(a['gj-items']);
  if (gjItems > 0) {
    const small = generate(
      Math.round((Number(a.users) * gjItems) / Number(a.items)),
      gjItems,
      Number(a['per-user']),
      Number(a.seed) + 1,
    );
    console.log(`\nold Gauss-Jordan comparison on generated ${small.numRows} users × ${gjItems} items:`);
    const t0 = performance.now();
    const ref = oldGaussJordan(small, lambda);
    const gjSeconds = (performance.now() - t0) / 1000;
    console.log(`  old scalar Gauss-Jordan (float64, 2·n³ flops): ${gjSeconds.toFixed(2)} s; load ${load()}`);
    for (const threads of threadList) {
      const r = await timedFit(tf, small, lambda, threads, 'primal');
      const c = compare(r.ease.weights, ref, gjItems, small);
      console.log(
        `  new fitAsync primal, threads ${r.threads}: ${r.seconds.toFixed(2)} s → ${(gjSeconds / r.seconds).toFixed(1)}× faster; ` +
          `B relative error ${c.relError.toExponential(2)}, identical top-20 for ${(100 * c.sameTop).toFixed(1)} % of 300 users`,
      );
    }
    const n = Number(a.items);
    console.log(
      `  old Gauss-Jordan projected to ${n} items (×(${n}/${gjItems})³): ${((gjSeconds * (n / gjItems) ** 3) / 60).toFixed(1)} min`,
    );
  }

  const cancelAfter = Number(a['cancel-after']);
  if (cancelAfter > 0) {
    let stopAt = Infinity;
    const started = performance.now();
    const timer = setTimeout(() => (stopAt = performance.now()), cancelAfter * 1000);
    try {
      await Ease.fitAsync(tf, train, {
        lambda,
        threads: threadList[threadList.length - 1],
        method: 'primal',
        shouldStop: () => performance.now() >= stopAt,
      });
      console.log(`\ncancellation: the fit finished before ${cancelAfter} s`);
    } catch (error) {
      if (!(error instanceof EaseFitCancelled)) throw error;
      console.log(
        `\ncancellation: stop requested at ${((stopAt - started) / 1000).toFixed(2)} s, fit rejected ${((performance.now() - stopAt) / 1000).toFixed(3)} s later; tensors left: ${tf.memory().numTensors}`,
      );
    } finally {
      clearTimeout(timer);
    }
  }
  console.log(`\npeak RSS ${peakRssMb().toFixed(0)} MB; load average ${load()}`);
}

runMain(main);
