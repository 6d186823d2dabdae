/**
 * Bulk import of interactions (and item titles/genres) from MovieLens dumps or a CSV file, and/or
 * of item images from a folder.
 *
 *   npm run import -- <path> --format movielens-100k|movielens-1m|movielens-latest|csv [--source name] [--images <folder>]
 *   npm run import -- --images <folder>
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
import { loadEnv, type Env } from '../src/config/env.js';
import { importItemImageFolder, type ImageFolderResult } from '../src/images/image-folder.js';
import pg from 'pg';

const USAGE = `Usage: import <path> --format ${IMPORT_FORMATS.join('|')} [--source name] [--images <folder>]
       import --images <folder>

Imports interactions into Recoder's database in one transaction (all or nothing). Re-running the
same import adds nothing: every row gets a deterministic event id <source>:<user>:<item>:<time>.

  <path>            data set directory, or the interactions file itself
  -f, --format      movielens-1m      ratings.dat or ratings.user-movie-pairs.dat (+ movies.dat)
                    movielens-100k    u.data (+ u.item, u.genre)
                    movielens-latest  ratings.csv (+ movies.csv)
                    csv               header user,item[,kind,value,timestamp,event_id]
  -s, --source      event id prefix (default: ml-1m, ml-100k, ml-latest, or the csv file name)
      --no-bulk-load  never drop/rebuild indexes, even when the interactions table is empty
      --images      a folder of item images <item id>.png|.jpg|.jpeg (the file name without its
                    extension is the external item id, verbatim): each image of an existing item
                    is normalised like setItemImage does and stored (replacing the item's image);
                    unknown items are skipped, unusable files listed. Runs after the interactions
                    import when both are given.
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
        images: { type: 'string' },
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
  const imagesOnly = positionals.length === 0 && values.images !== undefined && !values.format;
  if (!imagesOnly && (positionals.length !== 1 || !values.format)) {
    console.error(USAGE);
    return 1;
  }

  const env = loadEnv();
  const db = await openDatabaseFromEnv(env, {
    log: (msg) => console.error(msg),
  });
  if (imagesOnly) {
    try {
      return await importImages(db.url, resolve(values.images!), env);
    } finally {
      await db.close();
    }
  }

  const path = resolve(positionals[0]);

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
    rate:
      copyStarted && rows ? Math.round(rows / ((performance.now() - copyStarted) / 1000)).toLocaleString('en-US') : '-',
  });
  let last = { rows: 0, bytes: 0, total: 0 };

  try {
    const result = await importInteractions(db.url, {
      path,
      format: values.format!, // (checked above: set unless images only)
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
    return values.images === undefined ? 0 : await importImages(db.url, resolve(values.images), env);
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
  console.log(
    `Imported ${r.file} (${r.format}, source "${r.source}", ${r.strategy}${embedded ? ', embedded PostgreSQL' : ''})`,
  );
  console.log(`  rows      ${n(r.rows)}: ${n(r.inserted)} inserted, ${n(r.skippedDuplicates)} already present`);
  console.log(`  users     ${n(r.users)} (${n(r.newUsers)} new)`);
  console.log(`  items     ${n(r.items)} (${n(r.newItems)} new)`);
  console.log(`  time      ${r.seconds.toFixed(2)} s, ${n(Math.round(r.rowsPerSecond))} rows/s`);
}

/** The --images part: a folder of <item id>.png|.jpg|.jpeg files. */
async function importImages(url: string, folder: string, env: Env): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    console.error(
      `images: ${folder} (${env.images.size}×${env.images.size}, ${env.images.channels === 1 ? 'grayscale' : 'RGB'})`,
    );
    const result = await importItemImageFolder(client, folder, {
      ...env.images,
      onProgress: (done, total) =>
        console.error(`images: ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} files`),
    });
    printImageSummary(result);
    return 0;
  } catch (err) {
    const e = err as Error & { code?: string };
    console.error(`Image import failed: ${e.message}`);
    if (e.code === '42P01') console.error('The database has no Recoder schema yet: run `npm run db:migrate` first.');
    return 1;
  } finally {
    await client.end();
  }
}

function printImageSummary(r: ImageFolderResult): void {
  const n = (x: number) => x.toLocaleString('en-US');
  const shown = 20;
  console.log(
    `Imported images from ${r.folder}: ${n(r.files)} image files${r.ignored ? `, ${n(r.ignored)} other entries ignored` : ''}`,
  );
  console.log(`  stored    ${n(r.stored)}`);
  console.log(
    `  skipped   ${n(r.skippedUnknownItem.length)} (unknown item)${r.skippedUnknownItem.length ? ': ' + r.skippedUnknownItem.slice(0, shown).join(', ') + (r.skippedUnknownItem.length > shown ? ', …' : '') : ''}`,
  );
  console.log(`  rejected  ${n(r.rejected.length)}`);
  for (const x of r.rejected.slice(0, shown)) console.log(`    ${x.file}: ${x.reason}`);
  if (r.rejected.length > shown) console.log(`    … and ${n(r.rejected.length - shown)} more`);
  console.log(`  time      ${r.seconds.toFixed(2)} s`);
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
