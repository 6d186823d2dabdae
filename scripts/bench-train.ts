/**
 * Training-speed benchmark (docs/benchmarks.md, "Training speed"): Recoder's Mult-VAE vs the
 * PyTorch reference (`scripts/reference/reference.py --models multvae`) on the same split, in the
 * same run.
 * Prints the median seconds per epoch of both (training steps only, as reference.py's epoch_s),
 * their ratio, and this process's peak RSS (it is the training process).
 *
 *   npm run bench:train -- [split-dir] [--epochs 5] [--threads 2] [--backend auto|wasm|cpu|node] [--no-reference]
 *     [--softmax auto|full|sampled] [--samples N]
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/config/env.js';
import { readSplitFiles } from '../src/core/data/split-files.js';
import { activeNativeGemm, initBackend } from '../src/core/engine/backend.js';
import { evaluateRanking } from '../src/core/eval/metrics.js';
import { MULT_VAE_DEFAULTS, MultVAE } from '../src/core/models/mult-vae.js';
import { runMain } from './cli.js';
import { stopWithBenchmark } from './bench-lib.js';

const HELP = `Usage: npm run bench:train -- [split-dir] [options]

  split-dir          strong-generalization split folder (default data/ml-1m/split; to make it:
                     npm run data -- fetch ml-1m, then scripts/reference/split.py, see
                     docs/benchmarks.md)
  --epochs N         epochs for both sides (default 5); medians over epochs are reported
  --backend NAME     tfjs backend: auto (default), wasm, cpu or node
  --native MODE      on wasm, large matMuls on ONNX Runtime's native GEMM: auto (default) or off
  --threads N        training threads of both sides (default 2, reference.py's default): Recoder
                     k > 1 = data-parallel worker threads, PyTorch's intra-op threads
  --validation       also evaluate NDCG@100 on the validation users after every Recoder epoch
                     (not part of the timed epoch, as in reference.py), and the kept epoch's
                     NDCG@100 on the test users at the end
  --softmax MODE     Recoder's training softmax: auto (default: sampled from 20,000 items on),
                     full or sampled
  --samples N        proposal draws per batch of the sampled softmax (default 2048)
  --steps N          with --epochs 1: stop after N training steps and extrapolate the epoch's
                     seconds from them (for slow configurations, e.g. the full softmax at 10⁵ items)
  --no-reference     skip the PyTorch reference
  --python PATH      Python for the reference (default /usr/bin/python3)
  --reference PATH   reference script (default scripts/reference/reference.py; needs python3 with
                     numpy and torch, e.g. Debian's python3-torch)
  --seed N           Recoder seed (default 98765, reference.py's default)
  -h, --help         this text`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs reference.py and returns its multvae JSON line. */
function runReference(
  python: string,
  script: string,
  split: string,
  epochs: number,
  threads: number,
): Promise<Record<string, unknown>> {
  return new Promise((resolvePromise, reject) => {
    const args = [script, split, '--models', 'multvae', '--epochs', String(epochs), '--threads', String(threads)];
    const child = spawn(python, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    stopWithBenchmark(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.includes('"multvae"'));
      if (code !== 0 || !line)
        return reject(new Error(`reference exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      resolvePromise(JSON.parse(line) as Record<string, unknown>);
    });
  });
}

/**
 * The BLAS shared libraries a PyTorch process has mapped after a matrix product (their real paths
 * from /proc/self/maps; Linux only), or undefined when torch cannot be run. Not BLAS_INFO of
 * torch.__config__: Debian's python3-torch always reports "generic" there, while its libblas.so.3
 * is whatever the alternatives system points at (often OpenBLAS). An empty list means no separate
 * BLAS library (e.g. the pip wheels, which link MKL/OpenBLAS statically).
 */
function torchBlasLibraries(python: string): Promise<string[] | undefined> {
  const probe = [
    'import re, torch',
    'torch.ones(256, 256) @ torch.ones(256, 256)',
    "libs = {l.split()[-1] for l in open('/proc/self/maps') if re.search(r'/lib[^/]*(blas|mkl|blis)[^/]*\\.so', l)}",
    "print('\\n'.join(sorted(libs)))",
  ].join('\n');
  return new Promise((resolvePromise) => {
    const child = spawn(python, ['-c', probe], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', () => resolvePromise(undefined));
    child.on('close', (code) =>
      resolvePromise(code === 0 ? out.split('\n').filter((l) => l.trim() !== '') : undefined),
    );
  });
}

/**
 * True when the only BLAS among `libs` (see {@link torchBlasLibraries}) is the unoptimised
 * reference (netlib) one, e.g. Debian's /usr/lib/x86_64-linux-gnu/blas/libblas.so.3; false when
 * an optimised one (OpenBLAS, MKL, BLIS, ATLAS) is mapped or nothing is known.
 */
function onReferenceBlas(libs: string[] | undefined): boolean {
  if (!libs || libs.length === 0) return false;
  return !libs.some((l) => /openblas|mkl|blis|atlas/i.test(l));
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      epochs: { type: 'string', default: '5' },
      backend: { type: 'string', default: 'auto' },
      native: { type: 'string', default: 'auto' },
      threads: { type: 'string', default: '2' },
      softmax: { type: 'string', default: 'auto' },
      samples: { type: 'string' },
      steps: { type: 'string' },
      validation: { type: 'boolean' },
      'no-reference': { type: 'boolean' },
      python: { type: 'string', default: '/usr/bin/python3' },
      reference: { type: 'string' },
      seed: { type: 'string', default: '98765' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(HELP);
  const epochs = Number(values.epochs);
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new Error('--epochs must be a positive integer');
  const threads = Number(values.threads);
  if (!(Number.isInteger(threads) && threads >= 1)) throw new Error('--threads must be a positive integer');
  const softmax = values.softmax as 'auto' | 'full' | 'sampled';
  if (!['auto', 'full', 'sampled'].includes(softmax)) throw new Error('--softmax must be auto, full or sampled');
  const samples = values.samples === undefined ? undefined : Number(values.samples);
  const maxSteps = values.steps === undefined ? undefined : Number(values.steps);
  if (maxSteps !== undefined && !(Number.isInteger(maxSteps) && maxSteps >= 1 && epochs === 1))
    throw new Error('--steps must be a positive integer, with --epochs 1');
  const prefer = values.backend as 'auto' | 'wasm' | 'cpu' | 'node';
  if (!['auto', 'wasm', 'cpu', 'node'].includes(prefer)) throw new Error('--backend must be auto, wasm, cpu or node');
  const split = resolve(positionals[0] ?? join(PROJECT_ROOT, 'data', 'ml-1m', 'split'));
  const refScript = resolve(values.reference ?? join(PROJECT_ROOT, 'scripts', 'reference', 'reference.py'));
  if (!existsSync(join(split, 'train.csv'))) {
    throw new Error(
      `no split in ${split}: give a split folder, or make the ML-1M one (docs/benchmarks.md):\n  npm run data -- fetch ml-1m\n  python3 scripts/reference/split.py data/ml-1m/ratings.dat data/ml-1m/split --format ml1m-pairs --heldout 500`,
    );
  }

  const native = values.native as 'auto' | 'off';
  if (!['auto', 'off'].includes(native)) throw new Error('--native must be auto or off');
  const { tf, name } = await initBackend({ prefer, native, log: (m) => console.log(m) });
  const gemm = activeNativeGemm();
  const data = await readSplitFiles(split);
  console.log(
    `split ${split}: ${data.train.numRows} train users × ${data.numItems} items, ${data.train.indptr[data.train.numRows]} interactions`,
  );

  const seconds: number[] = [];
  let stopChecks = 0;
  const tensorsBefore = tf.memory().numTensors;
  const model = await MultVAE.fit(
    tf,
    data.train,
    { epochs, seed: Number(values.seed) },
    {
      validation: values.validation ? data.validation : undefined,
      threads,
      softmax: { mode: softmax, samples },
      // Called before the epoch, then after each step.
      shouldStop: maxSteps === undefined ? undefined : () => ++stopChecks > maxSteps,
      log: (m) => console.log(m),
      onEpoch: (e) => {
        if (maxSteps !== undefined) {
          const batches = Math.ceil(data.train.numRows / MULT_VAE_DEFAULTS.batchSize);
          const perStep = e.seconds / Math.min(maxSteps, batches);
          console.log(
            `recoder: ${perStep.toFixed(2)} s/step over ${maxSteps} steps; the epoch (${batches} steps) extrapolated`,
          );
          e = { ...e, seconds: perStep * batches };
        }
        seconds.push(e.seconds);
        const v = e.validation === undefined ? '' : `  val ndcg@100 ${e.validation.toFixed(4)}`;
        console.log(
          `recoder epoch ${e.epoch}/${e.epochs}: ${e.seconds.toFixed(2)} s  loss ${e.loss.toFixed(2)}${v}  tensors ${tf.memory().numTensors}`,
        );
      },
    },
  );
  let testNdcg: number | undefined;
  if (values.validation) {
    testNdcg = evaluateRanking((h) => model.score(h), data.test.foldIn, data.test.heldOut, { ks: [100] })['ndcg@100'];
    console.log(`recoder kept epoch ${model.summary?.keptEpoch}: test ndcg@100 ${testNdcg.toFixed(4)}`);
  }
  model.dispose();
  const leaked = tf.memory().numTensors - tensorsBefore;
  const recoder = median(seconds);
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    `recoder (${name}, ${threads} thread${threads === 1 ? '' : 's'}): median ${recoder.toFixed(3)} s/epoch over ${seconds.length} epochs; peak RSS ${peakRssMb.toFixed(0)} MB; tensors left ${leaked}`,
  );

  let reference: number | undefined;
  if (!values['no-reference']) {
    console.log(
      `reference: ${values.python} ${refScript} ${split} --models multvae --epochs ${epochs} --threads ${threads} …`,
    );
    const ref = await runReference(values.python!, refScript, split, epochs, threads);
    reference = Number(ref.epoch_s);
    const blas = await torchBlasLibraries(values.python!);
    const blasNote = blas === undefined ? 'BLAS ?' : blas.length === 0 ? 'BLAS built in' : `BLAS ${blas.join(', ')}`;
    console.log(`reference (PyTorch, ${blasNote}): median ${reference.toFixed(3)} s/epoch (${JSON.stringify(ref)})`);
    if (onReferenceBlas(blas)) {
      console.log(
        'note: this PyTorch runs on the unoptimised reference BLAS (netlib libblas), far slower than OpenBLAS/MKL; the ratio is not representative',
      );
    }
  }
  const ratio = reference ? recoder / reference : undefined;
  if (ratio !== undefined) console.log(`ratio recoder / PyTorch: ${ratio.toFixed(2)}× (target ≤ 1.5×)`);
  console.log(
    JSON.stringify({
      bench: 'train',
      model: 'multvae',
      backend: name,
      native_gemm: gemm ? gemm.description : 'off',
      threads,
      softmax: model.summary?.sampledSoftmax ? 'sampled' : 'full',
      epochs,
      test_ndcg100: testNdcg === undefined ? undefined : Number(testNdcg.toFixed(4)),
      recoder_epoch_s: Number(recoder.toFixed(3)),
      reference_epoch_s: reference,
      ratio: ratio === undefined ? undefined : Number(ratio.toFixed(2)),
      peak_rss_mb: Math.round(peakRssMb),
    }),
  );
}

runMain(main, { print: 'message' });
