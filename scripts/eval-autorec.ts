import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Random } from '../src/core/data/random.js';
import { holdOutRatings, ratingsToCsr, readRatingsSplit, type IndexedRatings } from '../src/core/data/ratings-files.js';
import { initBackend } from '../src/core/engine/backend.js';
import { mae, rmse } from '../src/core/eval/metrics.js';
import { AUTOREC_DEFAULTS, AutoRec } from '../src/core/models/autorec.js';

const HELP = `Usage: node dist/scripts/eval-autorec.js --train <file> --test <file> [options]

Trains I-AutoRec (src/core/models/autorec.ts) on --train and prints RMSE/MAE on --test (predictions
clipped to [1, 5]; users/items absent from --train get the global training mean) and the seconds.
Files: "user<TAB>item<TAB>rating[<TAB>time]" (or "::", "," or space separated), e.g. ML-100K u1.base.

Options:
  --epochs N          training epochs (default ${AUTOREC_DEFAULTS.epochs})
  --lambda X          L2 weight λ (default ${AUTOREC_DEFAULTS.lambda})
  --hidden N          hidden units (default ${AUTOREC_DEFAULTS.hidden})
  --lr X              Adam step size (default ${AUTOREC_DEFAULTS.learningRate})
  --batch N           items per mini-batch (default ${AUTOREC_DEFAULTS.batchSize})
  --seed N            initialisation/shuffle seed (default ${AUTOREC_DEFAULTS.seed})
  --refit-decoder     after training, re-solve each user's decoder row in closed form (ridge toward
                      the mean user, as fold-in does); not in the reference
  --validate F        tuning mode: hold out a random fraction F of --train (seeded by --seed) as a
                      validation set, train on the rest, print validation RMSE per epoch; --test is
                      then optional and still scored with the model trained on the reduced set
  --validate-every N  validation interval in epochs (default 5)
  --foldin            also score --test with every test user treated as NEW (their query folded
                      in from their --train history, see AutoRec's doc) instead of their trained row
  --reference         also run the PyTorch reference (after this model, same settings) and print
                      its RMSE and time; needs python3 with torch and numpy
  --python PATH       interpreter for --reference (default /usr/bin/python3)
  --reference-script  path of autorec.py (default <project>/../shared/refs/autorec.py)
  --backend NAME      tfjs backend: auto (default: tfjs-node, else wasm, else cpu), node, wasm, cpu
  --json              print one JSON line instead of text
  -h, --help          this text`;

function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

function num(name: string, v: string | undefined, integer = false): number {
  const x = Number(v);
  if (v === undefined || !Number.isFinite(x) || (integer && !Number.isInteger(x))) throw new Error(`--${name}: expected a${integer ? 'n integer' : ' number'}, got ${v}`);
  return x;
}

interface ReferenceResult {
  rmse: number;
  train_s: number;
  epoch_s: number;
  wall_s: number;
}

function runReference(python: string, script: string, args: string[]): Promise<ReferenceResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(python, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = (performance.now() - t0) / 1000;
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`reference exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      try {
        const j = JSON.parse(line) as { rmse: number; train_s: number; epoch_s: number };
        resolve({ rmse: j.rmse, train_s: j.train_s, epoch_s: j.epoch_s, wall_s: Math.round(wall * 10) / 10 });
      } catch {
        reject(new Error(`reference printed no JSON: ${line}`));
      }
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h' },
      train: { type: 'string' },
      test: { type: 'string' },
      epochs: { type: 'string', default: String(AUTOREC_DEFAULTS.epochs) },
      lambda: { type: 'string', default: String(AUTOREC_DEFAULTS.lambda) },
      hidden: { type: 'string', default: String(AUTOREC_DEFAULTS.hidden) },
      lr: { type: 'string', default: String(AUTOREC_DEFAULTS.learningRate) },
      batch: { type: 'string', default: String(AUTOREC_DEFAULTS.batchSize) },
      seed: { type: 'string', default: String(AUTOREC_DEFAULTS.seed) },
      validate: { type: 'string' },
      'validate-every': { type: 'string', default: '5' },
      foldin: { type: 'boolean', default: false },
      'refit-decoder': { type: 'boolean', default: false },
      reference: { type: 'boolean', default: false },
      python: { type: 'string', default: '/usr/bin/python3' },
      'reference-script': { type: 'string' },
      backend: { type: 'string', default: 'auto' },
      json: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void console.log(HELP);
  if (!values.train || (!values.test && !values.validate)) throw new Error('--train and --test are required (see --help)');
  const hyper = {
    epochs: num('epochs', values.epochs, true),
    lambda: num('lambda', values.lambda),
    hidden: num('hidden', values.hidden, true),
    learningRate: num('lr', values.lr),
    batchSize: num('batch', values.batch, true),
    seed: num('seed', values.seed, true),
    refitDecoder: values['refit-decoder']!,
  };
  const say = (s: string) => {
    if (!values.json) console.log(s);
  };

  const prefer = values.backend as 'auto' | 'node' | 'wasm' | 'cpu';
  if (!['auto', 'node', 'wasm', 'cpu'].includes(prefer)) throw new Error(`--backend: expected auto, node, wasm or cpu, got ${prefer}`);
  const { tf, name: backend } = await initBackend({ prefer, log: say });
  const split = await readRatingsSplit(values.train, values.test);
  const numUsers = split.userIds.length;
  const numItems = split.itemIds.length;
  let train: IndexedRatings = split.train;
  let validation: IndexedRatings | undefined;
  if (values.validate) {
    const rng = new Random(hyper.seed);
    const parts = holdOutRatings(split.train, num('validate', values.validate), () => rng.uniform());
    train = parts.train;
    validation = parts.validation;
  }
  say(
    `data: ${numUsers} users × ${numItems} items, ${train.ratings.length} training ratings` +
      (validation ? `, ${validation.ratings.length} validation ratings (held out of --train)` : '') +
      (values.test ? `, ${split.test.ratings.length} test ratings (unknown users ${split.unknownTestUsers}, unknown items ${split.unknownTestItems})` : '') +
      `; backend ${backend}`,
  );
  say(`I-AutoRec: ${JSON.stringify(hyper)}`);

  const before = tf.memory().numTensors;
  const t0 = performance.now();
  const epochSeconds: number[] = [];
  const model = await AutoRec.fit(tf, ratingsToCsr(train, numUsers, numItems), hyper, {
    validation,
    validateEvery: num('validate-every', values['validate-every'], true),
    onEpoch: (r) => {
      epochSeconds.push(r.seconds);
      if (r.validation !== undefined || r.epoch === 1 || r.epoch % 10 === 0 || r.epoch === r.epochs) {
        say(`  epoch ${r.epoch}/${r.epochs} loss ${r.loss.toFixed(0)} ${r.validation !== undefined ? `val RMSE ${r.validation.toFixed(4)} ` : ''}(${r.seconds.toFixed(2)} s)`);
      }
    },
  });
  const trainSeconds = (performance.now() - t0) / 1000;
  const median = [...epochSeconds].sort((a, b) => a - b)[Math.floor(epochSeconds.length / 2)];
  const result: Record<string, unknown> = {
    model: 'i-autorec',
    backend,
    ...hyper,
    train_s: round(trainSeconds, 1),
    epoch_s: round(median, 3),
  };
  if (validation) result.validation_rmse = round(rmse(model.predict(validation.users, validation.items), validation.ratings), 4);
  if (values.test) {
    const t1 = performance.now();
    const pred = model.predict(split.test.users, split.test.items);
    const testRmse = rmse(pred, split.test.ratings);
    const testMae = mae(pred, split.test.ratings);
    Object.assign(result, { test_rmse: round(testRmse, 4), test_mae: round(testMae, 4), predict_s: round((performance.now() - t1) / 1000, 3) });
    say(`test: RMSE ${testRmse.toFixed(4)}  MAE ${testMae.toFixed(4)}  (train ${trainSeconds.toFixed(1)} s, median epoch ${median.toFixed(3)} s)`);
    if (values.foldin) Object.assign(result, foldInScore(model, train, split.test, numUsers, numItems, say));
  } else if (validation) {
    say(`validation RMSE ${String(result.validation_rmse)} (train ${trainSeconds.toFixed(1)} s)`);
  }
  model.dispose();
  result.leaked_tensors = tf.memory().numTensors - before;

  if (values.reference) {
    const script = values['reference-script'] ?? path.resolve(projectRoot(), '..', 'shared', 'refs', 'autorec.py');
    if (!values.test || values.validate) throw new Error('--reference needs --test and no --validate (the reference trains on the whole --train file)');
    const args = [values.train, values.test, '--lam', String(hyper.lambda), '--epochs', String(hyper.epochs), '--hidden', String(hyper.hidden)];
    args.push('--lr', String(hyper.learningRate), '--batch', String(hyper.batchSize), '--seed', String(hyper.seed));
    say(`reference: ${values.python} ${script} ${args.join(' ')}`);
    const ref = await runReference(values.python!, script, args);
    result.reference = ref;
    say(`reference (PyTorch): RMSE ${ref.rmse.toFixed(4)}  (train ${ref.train_s} s, median epoch ${ref.epoch_s} s, process ${ref.wall_s} s)`);
    say(`time ratio (train, Recoder / PyTorch): ${(trainSeconds / ref.train_s).toFixed(2)}×`);
  }
  if (values.json) console.log(JSON.stringify(result));
}

/** Test RMSE when every test user is treated as new: the query is folded in from their training ratings. */
function foldInScore(
  model: AutoRec,
  train: IndexedRatings,
  test: IndexedRatings,
  numUsers: number,
  numItems: number,
  say: (s: string) => void,
): Record<string, number> {
  const t0 = performance.now();
  const csr = ratingsToCsr(train, numUsers, numItems);
  const testUsers = [...new Set(Array.from(test.users).filter((u) => u >= 0))].sort((a, b) => a - b);
  const rowOf = new Map(testUsers.map((u, r) => [u, r]));
  // Histories of the test users, folded in (no user index passed).
  const indptr = new Int32Array(testUsers.length + 1);
  const idx: number[] = [];
  const vals: number[] = [];
  testUsers.forEach((u, r) => {
    for (let p = csr.indptr[u]; p < csr.indptr[u + 1]; p++) {
      idx.push(csr.indices[p]);
      vals.push(csr.values[p]);
    }
    indptr[r + 1] = idx.length;
  });
  const scores = model.reconstruct({ numRows: testUsers.length, numCols: numItems, indptr, indices: Int32Array.from(idx), values: Float32Array.from(vals) });
  const fallback = Math.min(5, Math.max(1, model.globalMean));
  const itemSeen = new Uint8Array(numItems);
  for (let k = 0; k < train.items.length; k++) itemSeen[train.items[k]] = 1;
  const pred = new Float32Array(test.ratings.length);
  for (let k = 0; k < pred.length; k++) {
    const u = test.users[k];
    const i = test.items[k];
    const known = u >= 0 && i >= 0 && itemSeen[i] === 1 && csr.indptr[u + 1] > csr.indptr[u];
    pred[k] = known ? Math.min(5, Math.max(1, scores[rowOf.get(u)! * numItems + i])) : fallback;
  }
  const foldRmse = rmse(pred, test.ratings);
  const seconds = (performance.now() - t0) / 1000;
  say(`fold-in (test users treated as new, ${testUsers.length} users): RMSE ${foldRmse.toFixed(4)} (${seconds.toFixed(1)} s)`);
  return { foldin_rmse: round(foldRmse, 4), foldin_s: round(seconds, 1) };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
