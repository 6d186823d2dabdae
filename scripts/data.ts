import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../src/config/env.js';
import { DatasetError, fetchDataset, MOVIELENS } from '../src/datasets/movielens.js';
import { runMain } from './cli.js';

const DATA_DIR = path.join(PROJECT_ROOT, 'data');

const HELP = `Usage: npm run data -- list
       npm run data -- fetch <name> [--zip <file>] [--force]

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
  -h, --help`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { zip: { type: 'string' }, force: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, name] = positionals;
  if (values.help || !['list', 'fetch'].includes(command) || (command === 'fetch' && !name)) {
    console.log(HELP);
    if (!values.help) process.exitCode = 1;
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
  const result = await fetchDataset(source, { dataDir: DATA_DIR, log: (m) => console.log(m), zip: values.zip, force: values.force });
  if (result.status === 'unreachable') {
    console.error(result.message);
    process.exitCode = 1;
  } else if (result.status === 'present') {
    console.log(`${source.name} is already in ${path.relative(process.cwd(), result.dir) || result.dir}${result.files ? ` (${result.files} files verified)` : ''}; --force replaces it`);
  }
}

runMain(main, { print: (error) => error instanceof DatasetError ? `Error: ${error.message}` : error, exit: 'now' });
