/**
 * Integration test of the importer against a real PostgreSQL: a scratch database on the server of
 * TEST_PG_ADMIN_URL ?? DATABASE_URL ?? postgresql://root@127.0.0.1:5432/postgres, created with the
 * migration SQL (prisma/migrations) and dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { importInteractions } from './importer.js';
import { ImportFormatError } from './line-reader.js';
import { applyMigrations } from '../../database/migrations.js';
import { withDatabase } from '../../database/pg-url.js';

const adminUrl =
  process.env.TEST_PG_ADMIN_URL ?? process.env.DATABASE_URL ?? 'postgresql://root@127.0.0.1:5432/postgres';
const dbName = `recoder_import_test_${randomBytes(4).toString('hex')}`;
const url = withDatabase(adminUrl, dbName);
let db: pg.Client;
let dir: string;

beforeAll(async () => {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  db = new pg.Client({ connectionString: url });
  await db.connect();
  await applyMigrations(url);
  dir = mkdtempSync(join(tmpdir(), 'recoder-import-'));
});

afterAll(async () => {
  await db?.end();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  await db.query('TRUNCATE interactions, items, users RESTART IDENTITY CASCADE');
});

async function counts(): Promise<{ users: number; items: number; interactions: number; events: number }> {
  const { rows } = await db.query(
    `SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM items)::int AS items,
            (SELECT count(*) FROM interactions)::int AS interactions,
            (SELECT count(DISTINCT event_id) FROM interactions)::int AS events`,
  );
  return rows[0];
}

async function schemaObjects(): Promise<string[]> {
  const { rows } = await db.query(
    `SELECT indexdef AS def FROM pg_indexes WHERE tablename = 'interactions'
     UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'interactions'::regclass
     ORDER BY 1`,
  );
  return rows.map((r) => r.def as string);
}

/** An ML-1M style directory: `users` × `items` ratings (a deterministic subset) and movies.dat. */
function movielens1m(users: number, items: number, titleSuffix = ''): { path: string; rows: number } {
  const d = mkdtempSync(join(dir, 'ml1m-'));
  let ratings = '';
  let rows = 0;
  for (let u = 1; u <= users; u++) {
    for (let i = 1; i <= items; i++) {
      if ((u * 7 + i * 3) % 4 === 0) continue;
      ratings += `${u}::${i}::${1 + ((u + i) % 5)}::${978300000 + u * 1000 + i}\n`;
      rows++;
    }
  }
  writeFileSync(join(d, 'ratings.dat'), ratings);
  let movies = '';
  for (let i = 1; i <= items + 5; i++) movies += `${i}::Movie ${i} Misérables${titleSuffix} (1995)::Drama|Musical\n`;
  writeFileSync(join(d, 'movies.dat'), Buffer.from(movies, 'latin1'));
  return { path: d, rows };
}

function csv(name: string, lines: string[]): string {
  const file = join(mkdtempSync(join(dir, 'csv-')), name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('importInteractions', () => {
  it('imports a generated file, and importing it again adds nothing', async () => {
    const { path, rows } = movielens1m(40, 25);
    const indexesBefore = await schemaObjects();
    let lastProgress: number[] = [];
    const first = await importInteractions(url, {
      path,
      format: 'movielens-1m',
      onProgress: (...args) => (lastProgress = args),
    });
    expect(first).toMatchObject({
      rows,
      inserted: rows,
      skippedDuplicates: 0,
      users: 40,
      newUsers: 40,
      items: 30,
      newItems: 30,
    });
    expect(first.strategy).toBe('bulk'); // the table was empty
    expect(lastProgress[0]).toBe(rows);
    expect(lastProgress[1]).toBe(lastProgress[2]); // all bytes read
    expect(await counts()).toEqual({ users: 40, items: 30, interactions: rows, events: rows });
    expect(await schemaObjects()).toEqual(indexesBefore); // indexes and foreign keys rebuilt as they were
    // Planner statistics of the tables it grew (reltuples is -1 until a table is first analyzed).
    const { rows: stats } = await db.query(
      `SELECT relname, reltuples::int AS n FROM pg_class WHERE relname IN ('users', 'items', 'interactions') ORDER BY 1`,
    );
    expect(stats).toEqual([
      { relname: 'interactions', n: rows },
      { relname: 'items', n: 30 },
      { relname: 'users', n: 40 },
    ]);

    const { rows: sample } = await db.query(
      `SELECT u.external_id AS user, i.external_id AS item, i.title, i.categories, x.kind, x.value, x.occurred_at, x.event_id
         FROM interactions x JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id
        WHERE u.external_id = '3' AND i.external_id = '7'`,
    );
    expect(sample).toEqual([
      {
        user: '3',
        item: '7',
        title: 'Movie 7 Misérables (1995)',
        categories: ['Drama', 'Musical'],
        kind: 'RATING',
        value: 1 + ((3 + 7) % 5),
        occurred_at: new Date((978300000 + 3007) * 1000),
        event_id: `ml-1m:3:7:${978300000 + 3007}`,
      },
    ]);

    const again = await importInteractions(url, { path, format: 'movielens-1m' });
    expect(again).toMatchObject({
      rows,
      inserted: 0,
      skippedDuplicates: rows,
      newUsers: 0,
      newItems: 0,
      strategy: 'staging',
    });
    expect(await counts()).toEqual({ users: 40, items: 30, interactions: rows, events: rows });
  });

  it('updates changed item titles on re-import without duplicating anything', async () => {
    const a = movielens1m(5, 5);
    await importInteractions(url, { path: a.path, format: 'movielens-1m' });
    const b = movielens1m(5, 5, ' (restored)');
    const result = await importInteractions(url, { path: b.path, format: 'movielens-1m' });
    expect(result).toMatchObject({ inserted: 0, newItems: 0 });
    const { rows } = await db.query(`SELECT title FROM items WHERE external_id = '2'`);
    expect(rows[0].title).toBe('Movie 2 Misérables (restored) (1995)');
    expect((await counts()).interactions).toBe(a.rows);
  });

  it('writes nothing when the file has a malformed line', async () => {
    const file = csv('events.csv', [
      'user,item,kind',
      'u1,i1,view',
      'u2,i2,click',
      'u3,i3,like',
      'u4,i4,blink',
      'u5,i5,view',
    ]);
    await expect(importInteractions(url, { path: file, format: 'csv' })).rejects.toThrow(
      `${file}:5: kind "blink" is not one of`,
    );
    await expect(importInteractions(url, { path: file, format: 'csv' })).rejects.toBeInstanceOf(ImportFormatError);
    expect(await counts()).toEqual({ users: 0, items: 0, interactions: 0, events: 0 });
  });

  it('rolls everything back, schema included, when the import fails midway', async () => {
    const { path } = movielens1m(30, 30);
    const before = await schemaObjects();
    const failing = importInteractions(url, {
      path,
      format: 'movielens-1m',
      onProgress: () => {
        throw new Error('disk on fire');
      },
    });
    await expect(failing).rejects.toThrow('disk on fire');
    expect(await counts()).toEqual({ users: 0, items: 0, interactions: 0, events: 0 });
    expect(await schemaObjects()).toEqual(before);
  });

  it('copies directly into a non-empty table and falls back to staging on a collision the probe missed', async () => {
    const header = 'user,item,kind,timestamp';
    const old = Array.from({ length: 300 }, (_, k) => `old${k},item${k % 17},VIEW,${1700000000 + k}`);
    const fresh = Array.from({ length: 400 }, (_, k) => `new${k},item${k % 23},CLICK,${1700000000 + k}`);
    const first = await importInteractions(url, {
      path: csv('a.csv', [header, ...old]),
      format: 'csv',
      source: 'shop',
      bulkLoad: 'off',
    });
    expect(first).toMatchObject({ strategy: 'direct', inserted: 300 });
    // Sampled rows (the first 256) are new, the old ones come later: the direct COPY hits the unique index.
    const second = await importInteractions(url, {
      path: csv('b.csv', [header, ...fresh, ...old]),
      format: 'csv',
      source: 'shop',
    });
    expect(second).toMatchObject({ strategy: 'direct-then-staging', rows: 700, inserted: 400, skippedDuplicates: 300 });
    expect(await counts()).toMatchObject({ interactions: 700, events: 700 });
    // A probe hit goes to staging straight away.
    const third = await importInteractions(url, {
      path: csv('c.csv', [header, ...old]),
      format: 'csv',
      source: 'shop',
    });
    expect(third).toMatchObject({ strategy: 'staging', inserted: 0, skippedDuplicates: 300 });
  });

  it('accepts a file with a header and no rows', async () => {
    const result = await importInteractions(url, { path: csv('empty.csv', ['user,item']), format: 'csv' });
    expect(result).toMatchObject({ rows: 0, inserted: 0, users: 0, items: 0, strategy: 'direct' });
    expect(await counts()).toEqual({ users: 0, items: 0, interactions: 0, events: 0 });
  });

  it('stores events repeated inside one file once (bulk and staging paths)', async () => {
    const lines = [
      'user,item,kind,value,event_id',
      'a,x,LIKE,1,e1',
      'b,y,LIKE,1,e2',
      'a,x,LIKE,1,e1',
      'c,z,RATING,4,e3',
      'b,y,LIKE,1,e2',
    ];
    const bulk = await importInteractions(url, { path: csv('dups.csv', lines), format: 'csv' });
    expect(bulk).toMatchObject({ strategy: 'bulk', rows: 5, inserted: 3, skippedDuplicates: 2 });
    expect(await counts()).toEqual({ users: 3, items: 3, interactions: 3, events: 3 });

    const more = [...lines, 'd,w,VIEW,1,e4', 'd,w,VIEW,1,e4'];
    const staged = await importInteractions(url, { path: csv('dups2.csv', more), format: 'csv' });
    expect(staged).toMatchObject({ rows: 7, inserted: 1, skippedDuplicates: 6 });
    expect(await counts()).toMatchObject({ interactions: 4, events: 4 });
  });
});
