/**
 * Bulk import of interactions (and item titles/genres) from MovieLens dumps or a CSV file.
 *
 *   npm run import -- <path> --format movielens-100k|movielens-1m|movielens-latest|csv [--source name]
 *
 * Uses DATABASE_URL when set, else the embedded PostgreSQL in <project>/.data/postgres (port
 * RECODER_EMBEDDED_PG_PORT, default 54329; migrations applied on open).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { openDatabaseFromEnv } from '../src/database/database-bootstrap.js';
import { importInteractions, type ImportPhase, type ImportResult } from '../src/interactions/import/importer.js';
import { IMPORT_FORMATS } from '../src/interactions/import/formats.js';
import { loadEnv } from '../src/config/env.js';

const USAGE = `Usage: import <path> --format ${IMPORT_FORMATS.join('|')} [--source name]

Imports interactions into Recoder's database in one transaction (all or nothing). Re-running the
same import adds nothing: every row gets a deterministic event id <source>:<user>:<item>:<time>.

  <path>            data set directory, or the interactions file itself
  -f, --format      movielens-1m      ratings.dat or ratings.user-movie-pairs.dat (+ movies.dat)
                    movielens-100k    u.data (+ u.item, u.genre)
                    movielens-latest  ratings.csv (+ movies.csv)
                    csv               header user,item[,kind,value,timestamp,event_id]
  -s, --source      event id prefix (default: ml-1m, ml-100k, ml-latest, or the csv file name)
      --no-bulk-load  never drop/rebuild indexes, even when the interactions table is empty
  -h, --help        this text

Database: DATABASE_URL, else the embedded PostgreSQL (.data/postgres, port RECODER_EMBEDDED_PG_PORT or 54329).`;

const PHASES: Record<ImportPhase, string> = {
  scan: 'reading',
  entities: 'users/items',
  copy: 'copying',
  index: 'indexing',
  dedup: 'deduplicating',
  commit: 'committing',
};

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      allowPositionals: true,
      options: {
        format: { type: 'string', short: 'f' },
        source: { type: 'string', short: 's' },
        'no-bulk-load': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = args;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || !values.format) {
    console.error(USAGE);
    return 1;
  }

  const path = resolve(positionals[0]);
  const env = loadEnv();
  const db = await openDatabaseFromEnv(env, {
    log: (msg) => console.error(msg),
  });

  const interactive = process.stderr.isTTY === true;
  const bar = new cliProgress.SingleBar(
    {
      format: '{phase} [{bar}] {percentage}% | {rows} rows | {mb}/{totalMb} MB | {rate} rows/s',
      hideCursor: true,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  let barStarted = false;
  let copyStarted = 0;
  let phase: ImportPhase = 'scan';
  const payload = (rows: number, bytes: number, total: number) => ({
    phase: PHASES[phase].padEnd(13),
    rows: rows.toLocaleString('en-US'),
    mb: (bytes / 1e6).toFixed(1),
    totalMb: (total / 1e6).toFixed(1),
    rate: copyStarted && rows ? Math.round(rows / ((performance.now() - copyStarted) / 1000)).toLocaleString('en-US') : '-',
  });
  let last = { rows: 0, bytes: 0, total: 0 };

  try {
    const result = await importInteractions(db.url, {
      path,
      format: values.format,
      source: values.source,
      bulkLoad: values['no-bulk-load'] ? 'off' : 'auto',
      onPhase: (p) => {
        phase = p;
        if (p === 'copy' && !copyStarted) copyStarted = performance.now();
        if (!interactive) {
          console.error(`${PHASES[p]}…`);
        } else if (!barStarted) {
          bar.start(1, 0, payload(0, 0, 0));
          barStarted = true;
        } else {
          bar.update(last.bytes, payload(last.rows, last.bytes, last.total));
        }
      },
      onProgress: (rows, bytes, total) => {
        if (interactive && total !== last.total) bar.setTotal(total);
        last = { rows, bytes, total };
        if (interactive) bar.update(bytes, payload(rows, bytes, total));
      },
    });
    if (barStarted) bar.stop();
    printSummary(result, db.embedded);
    return 0;
  } catch (err) {
    if (barStarted) bar.stop();
    const e = err as Error & { code?: string };
    console.error(`Import failed: ${e.message}`);
    if (e.code === '42P01') console.error('The database has no Recoder schema yet: run `npm run db:migrate` first.');
    return 1;
  } finally {
    await db.close();
  }
}

function printSummary(r: ImportResult, embedded: boolean): void {
  const n = (x: number) => x.toLocaleString('en-US');
  console.log(`Imported ${r.file} (${r.format}, source "${r.source}", ${r.strategy}${embedded ? ', embedded PostgreSQL' : ''})`);
  console.log(`  rows      ${n(r.rows)}: ${n(r.inserted)} inserted, ${n(r.skippedDuplicates)} already present`);
  console.log(`  users     ${n(r.users)} (${n(r.newUsers)} new)`);
  console.log(`  items     ${n(r.items)} (${n(r.newItems)} new)`);
  console.log(`  time      ${r.seconds.toFixed(2)} s, ${n(Math.round(r.rowsPerSecond))} rows/s`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`Import failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
