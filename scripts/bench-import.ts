/**
 * Ingest benchmark (docs/benchmarks.md, "Ingest"): the Recoder import of the 1,000,209 ML-1M
 * ratings vs `psql -c "\copy …"` of the same rows into an equivalent table, in the same run.
 *
 *   npm run bench:import -- [path-to-ml-1m] [--runs 3] [--no-bulk-load]
 *
 * Admin connection: BENCH_DATABASE_URL, else DATABASE_URL, else postgresql://root@127.0.0.1:5432/postgres.
 * Scratch databases recoder_bench_import (Recoder) and recoder_bench_import_ref (reference) are
 * created fresh for every run and dropped at the end.
 *
 * Reference: the rows exactly as Recoder's COPY sends them (internal user/item ids, kind, value,
 * event_id) are dumped once from an untimed warm-up import; users and items are loaded into the
 * reference database untimed; then `psql -c "\copy ref_interactions(…) from '<file>'"` is timed
 * into `ref_interactions`, created LIKE interactions INCLUDING ALL plus the same two foreign keys
 * (same columns, defaults, indexes, constraints). Recoder: a fresh database with the migrations
 * applied, then `importInteractions` timed end to end (connect, parse, users/items, COPY, indexes,
 * commit), then the same import again (must insert 0 rows). A CHECKPOINT precedes each timed step.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { importInteractions, interactionCopyColumns, type ImportResult } from '../src/interactions/import/importer.js';
import { planImport } from '../src/interactions/import/formats.js';
import { PROJECT_ROOT } from '../src/config/env.js';
import { applyMigrations } from '../src/database/migrations.js';
import { quoteIdent, withDatabase } from '../src/database/pg-url.js';
import { runMain } from './cli.js';
import { stopWithBenchmark } from './bench-lib.js';

const HELP = `Usage: npm run bench:import -- [path] [--runs N] [--no-bulk-load]

  path            ML-1M directory (ratings.dat, or ratings.user-movie-pairs.dat) or one of those
                  files (default data/ml-1m: npm run data -- fetch ml-1m)
  --runs N        timed runs of each side (default 3); medians are reported
  --no-bulk-load  time Recoder's plain COPY path instead of the empty-table bulk load

Admin URL: BENCH_DATABASE_URL, else DATABASE_URL, else postgresql://root@127.0.0.1:5432/postgres.`;

const RECODER_DB = 'recoder_bench_import';
const REF_DB = 'recoder_bench_import_ref';
const FORMAT = 'movielens-1m';

interface RunResult {
  refSeconds: number;
  refRows: number;
  recoder: ImportResult;
  rerun: ImportResult;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string', default: '3' },
      'no-bulk-load': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return void console.log(HELP);
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  const bulkLoad = values['no-bulk-load'] ? 'off' : 'auto';

  const projectRoot = PROJECT_ROOT;
  const dataPath = resolve(positionals[0] ?? join(projectRoot, 'data', 'ml-1m'));
  if (!existsSync(dataPath))
    throw new Error(
      `${dataPath} does not exist: give the ML-1M folder, or fetch it with \`npm run data -- fetch ml-1m\``,
    );
  const adminUrl =
    process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://root@127.0.0.1:5432/postgres';
  const recoderUrl = withDatabase(adminUrl, RECODER_DB);
  const refUrl = withDatabase(adminUrl, REF_DB);
  const plan = await planImport(dataPath, FORMAT);
  const columns = interactionCopyColumns(plan.hasTime);
  const work = mkdtempSync(join(tmpdir(), 'recoder-bench-import-'));
  const files = {
    rows: join(work, 'interactions.tsv'),
    users: join(work, 'users.tsv'),
    items: join(work, 'items.tsv'),
  };

  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const version = (await admin.query('SHOW server_version')).rows[0].server_version as string;
  const recreate = async (name: string) => {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
  };
  const withClient = async <T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  const checkpoint = () => admin.query('CHECKPOINT');

  try {
    // Untimed warm-up import; its result gives the reference rows, byte for byte what Recoder's COPY sends.
    console.error(`Preparing: warm-up import of ${plan.file} …`);
    await recreate(RECODER_DB);
    await applyMigrations(recoderUrl);
    const warm = await importInteractions(recoderUrl, { path: dataPath, format: FORMAT, bulkLoad });
    await withClient(recoderUrl, async (c) => {
      await copyToFile(c, `COPY (SELECT ${columns.join(', ')} FROM interactions ORDER BY id) TO STDOUT`, files.rows);
      await copyToFile(c, 'COPY users (id, external_id) TO STDOUT', files.users);
      await copyToFile(c, 'COPY items (id, external_id, title, categories) TO STDOUT', files.items);
    });
    console.error(
      `  ${warm.rows} rows (${warm.strategy}, ${warm.seconds.toFixed(1)} s); reference rows in ${files.rows}`,
    );

    const results: RunResult[] = [];
    for (let run = 1; run <= runs; run++) {
      // Alternate the order so that neither side always runs on a freshly checkpointed server.
      const refFirst = run % 2 === 1;
      let ref: { seconds: number; rows: number } | undefined;
      let rec: { first: ImportResult; again: ImportResult } | undefined;
      for (const side of refFirst ? ['ref', 'recoder'] : ['recoder', 'ref']) {
        if (side === 'ref')
          ref = await runReference(refUrl, recreate, checkpoint, withClient, projectRoot, columns, files);
        else rec = await runRecoder(recoderUrl, recreate, checkpoint, withClient, projectRoot, dataPath, bulkLoad);
      }
      const result = { refSeconds: ref!.seconds, refRows: ref!.rows, recoder: rec!.first, rerun: rec!.again };
      results.push(result);
      console.error(
        `run ${run}: psql \\copy ${result.refSeconds.toFixed(2)} s | Recoder ${result.recoder.seconds.toFixed(2)} s (${result.recoder.strategy}) | ` +
          `re-run ${result.rerun.seconds.toFixed(2)} s, ${result.rerun.inserted} inserted`,
      );
      if (result.refRows !== result.recoder.rows)
        throw new Error(`row counts differ: psql ${result.refRows}, Recoder ${result.recoder.rows}`);
      if (result.rerun.inserted !== 0) throw new Error(`re-run inserted ${result.rerun.inserted} rows`);
    }
    printReport(results, { dataPath: plan.file, version, bulkLoad, runs });
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(RECODER_DB)} WITH (FORCE)`).catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(REF_DB)} WITH (FORCE)`).catch(() => {});
    await admin.end();
    rmSync(work, { recursive: true, force: true });
  }
}

type Recreate = (name: string) => Promise<void>;
type WithClient = <T>(url: string, fn: (c: pg.Client) => Promise<T>) => Promise<T>;

async function runReference(
  url: string,
  recreate: Recreate,
  checkpoint: () => Promise<unknown>,
  withClient: WithClient,
  projectRoot: string,
  columns: string[],
  files: { rows: string; users: string; items: string },
): Promise<{ seconds: number; rows: number }> {
  await recreate(REF_DB);
  await applyMigrations(url);
  await withClient(url, async (c) => {
    // Same columns, defaults, indexes and constraints as interactions; LIKE does not copy foreign keys.
    await c.query('CREATE TABLE ref_interactions (LIKE interactions INCLUDING ALL)');
    const fks = await c.query<{ def: string }>(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = 'interactions'::regclass AND contype = 'f' ORDER BY conname`,
    );
    for (const fk of fks.rows) await c.query(`ALTER TABLE ref_interactions ADD ${fk.def}`);
    await copyFromFile(c, 'COPY users (id, external_id) FROM STDIN', files.users);
    await copyFromFile(c, 'COPY items (id, external_id, title, categories) FROM STDIN', files.items);
    await c.query('ANALYZE users; ANALYZE items');
  });
  await checkpoint();
  const started = performance.now();
  const out = await run('psql', [
    '-X',
    '-q',
    '-v',
    'ON_ERROR_STOP=1',
    '-d',
    url,
    '-c',
    `\\copy ref_interactions(${columns.join(', ')}) from '${files.rows}'`,
  ]);
  const seconds = (performance.now() - started) / 1000;
  if (out.code !== 0) throw new Error(`psql failed (${out.code}): ${out.stderr}`);
  const rows = await withClient(url, async (c) =>
    Number((await c.query('SELECT count(*) AS n FROM ref_interactions')).rows[0].n),
  );
  return { seconds, rows };
}

async function runRecoder(
  url: string,
  recreate: Recreate,
  checkpoint: () => Promise<unknown>,
  withClient: WithClient,
  projectRoot: string,
  dataPath: string,
  bulkLoad: 'auto' | 'off',
): Promise<{ first: ImportResult; again: ImportResult }> {
  await recreate(RECODER_DB);
  await applyMigrations(url);
  await checkpoint();
  const first = await importInteractions(url, { path: dataPath, format: FORMAT, bulkLoad });
  await checkpoint();
  const again = await importInteractions(url, { path: dataPath, format: FORMAT, bulkLoad });
  const stored = await withClient(
    url,
    async (c) => (await c.query('SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM interactions')).rows[0],
  );
  if (Number(stored.n) !== first.rows || Number(stored.d) !== first.rows) {
    throw new Error(`expected ${first.rows} distinct interactions, found ${stored.n} (${stored.d} distinct event ids)`);
  }
  return { first, again };
}

async function copyToFile(client: pg.Client, sql: string, file: string): Promise<void> {
  await pipeline(client.query(copyTo(sql)), createWriteStream(file));
}

async function copyFromFile(client: pg.Client, sql: string, file: string): Promise<void> {
  await pipeline(createReadStream(file), client.query(copyFrom(sql)));
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    stopWithBenchmark(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, stdout, stderr }));
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function printReport(
  results: RunResult[],
  info: { dataPath: string; version: string; bulkLoad: string; runs: number },
): void {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const rows = results[0].recoder.rows;
  const refRate = results.map((r) => r.refRows / r.refSeconds);
  const recRate = results.map((r) => r.recoder.rowsPerSecond);
  const lines = [
    `### Ingest: ${n(rows)} ML-1M interactions (${info.dataPath})`,
    '',
    `PostgreSQL ${info.version}, ${info.runs} run(s), medians; Recoder bulk load ${info.bulkLoad}.`,
    '',
    '| run | psql \\copy s | psql rows/s | Recoder import s | Recoder rows/s | ratio | strategy | re-run s | re-run inserted |',
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r, i) =>
        `| ${i + 1} | ${r.refSeconds.toFixed(2)} | ${n(refRate[i])} | ${r.recoder.seconds.toFixed(2)} | ${n(recRate[i])} | ` +
        `${(recRate[i] / refRate[i]).toFixed(2)} | ${r.recoder.strategy} | ${r.rerun.seconds.toFixed(2)} | ${r.rerun.inserted} |`,
    ),
    `| **median** | **${median(results.map((r) => r.refSeconds)).toFixed(2)}** | **${n(median(refRate))}** | ` +
      `**${median(results.map((r) => r.recoder.seconds)).toFixed(2)}** | **${n(median(recRate))}** | ` +
      `**${(median(recRate) / median(refRate)).toFixed(2)}** | | **${median(results.map((r) => r.rerun.seconds)).toFixed(2)}** | |`,
    '',
    'ratio = Recoder rows/s ÷ psql rows/s. psql: `\\copy` of the pre-converted rows (internal ids, kind, value, event_id) ' +
      'into ref_interactions (LIKE interactions INCLUDING ALL + the same foreign keys), users/items preloaded. ' +
      'Recoder: importInteractions end to end from the raw file into a freshly migrated database; re-run: the same import again.',
  ];
  console.log(lines.join('\n'));
}

runMain(main, { print: 'stack' });
