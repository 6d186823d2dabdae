import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/config/env.js';
import { DatasetError, fetchDataset, MOVIELENS } from '../src/datasets/movielens.js';
import { writeSynthetic } from '../src/datasets/synthetic.js';
import { runMain } from './cli.js';

const DATA_DIR = path.join(PROJECT_ROOT, 'data');

const HELP = `Usage: npm run data -- list
       npm run data -- fetch <name> [--zip <file>] [--force]
       npm run data -- synth --users U --items I --interactions N [--seed S] [--categories C] [--out <dir>]

The public MovieLens data sets (GroupLens) for benchmarks and evaluation, in data/<name>
(git-ignored; ml-latest-small is shipped with the repository):
${Object.values(MOVIELENS)
  .map((s) => `  ${s.name.padEnd(16)} ${s.size}; ${s.licence}`)
  .join('\n')}

fetch   downloads ${'<name>'}.zip from files.grouplens.org, checks the MD5 GroupLens publishes
        beside it and the SHA-256 of the files the reference numbers were measured on, and
        extracts it into data/<name>. Offline, it prints where to download the file and where to
        put it (exit code 1); a zip at data/<name>.zip (or --zip <file>) is used instead of the
        network.
  --force   replace an installed copy

synth   writes a synthetic data set (power-law item popularity, users with 1-3 favourite taste
        clusters, categories as genres; docs/benchmarks.md#synthetic-data) into --out (default
        data/synthetic-<U>u-<I>i-<N>n-s<S>) as ratings.csv + movies.csv, imported with
        npm run import -- <dir> --format movielens-latest
  --noise P               share of draws by global popularity (default 0.2)
  --popularity-exponent A item weight = rank^-A (default 1)
  --min-per-user K        interactions of the least active user (default 5)
  -h, --help`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      zip: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
      users: { type: 'string' },
      items: { type: 'string' },
      interactions: { type: 'string' },
      seed: { type: 'string', default: '1' },
      categories: { type: 'string', default: '20' },
      noise: { type: 'string', default: '0.2' },
      'popularity-exponent': { type: 'string', default: '1' },
      'min-per-user': { type: 'string', default: '5' },
      out: { type: 'string' },
    },
  });
  const [command, name] = positionals;
  if (values.help || !['list', 'fetch', 'synth'].includes(command) || (command === 'fetch' && !name)) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
    return;
  }
  if (command === 'synth') {
    const int = (flag: string, v: string | undefined) => {
      const n = Number(v);
      if (v === undefined || !Number.isInteger(n))
        throw new DatasetError(`--${flag} must be an integer, got ${v ?? 'nothing'}`);
      return n;
    };
    const options = {
      users: int('users', values.users),
      items: int('items', values.items),
      interactions: int('interactions', values.interactions),
      seed: int('seed', values.seed),
      categories: int('categories', values.categories),
      noise: Number(values.noise),
      popularityExponent: Number(values['popularity-exponent']),
      minPerUser: int('min-per-user', values['min-per-user']),
    };
    const dir =
      values.out ??
      path.join(DATA_DIR, `synthetic-${options.users}u-${options.items}i-${options.interactions}n-s${options.seed}`);
    const written = await writeSynthetic(dir, options).catch((error: unknown) => {
      throw error instanceof Error && error.message.startsWith('synthetic data:')
        ? new DatasetError(error.message)
        : error;
    });
    const shown = path.relative(process.cwd(), dir).startsWith('..')
      ? path.resolve(dir)
      : path.relative(process.cwd(), dir) || '.';
    console.log(
      `wrote ${options.interactions.toLocaleString('en-US')} interactions of ${options.users.toLocaleString('en-US')} users over ${options.items.toLocaleString('en-US')} items into ${shown} in ${written.seconds.toFixed(1)} s`,
    );
    console.log(`import: npm run import -- ${shown} --format movielens-latest`);
    return;
  }
  if (command === 'list') {
    for (const s of Object.values(MOVIELENS)) {
      const installed = existsSync(path.join(DATA_DIR, s.name, s.marker));
      console.log(`${s.name.padEnd(16)} ${installed ? `installed in data/${s.name}` : 'not installed'}  (${s.url})`);
    }
    return;
  }
  const source = MOVIELENS[name];
  if (!source) {
    console.error(`Unknown data set "${name}": one of ${Object.keys(MOVIELENS).join(', ')}`);
    process.exitCode = 1;
    return;
  }
  const result = await fetchDataset(source, {
    dataDir: DATA_DIR,
    log: (m) => console.log(m),
    zip: values.zip,
    force: values.force,
  });
  if (result.status === 'unreachable') {
    console.error(result.message);
    process.exitCode = 1;
  } else if (result.status === 'present') {
    console.log(
      `${source.name} is already in ${path.relative(process.cwd(), result.dir) || result.dir}${result.files ? ` (${result.files} files verified)` : ''}; --force replaces it`,
    );
  }
}

runMain(main, { print: (error) => (error instanceof DatasetError ? `Error: ${error.message}` : error), exit: 'now' });
